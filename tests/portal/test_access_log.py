"""gunicorn's access log never holds a query string or a referrer (gunicorn.conf.py), so a token someone
puts in an address does not end up in the logs."""

import json
import time
import urllib.error
import urllib.request

import yaml

from .gunicorn_server import ROOT, running_gunicorn

SECRET = "s3cret-token-from-the-pbx"


def test_the_access_log_of_the_real_gunicorn_has_no_query_string_or_referrer(tmp_path):
    with running_gunicorn(tmp_path) as server:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/kpi/telephony/cdr/?token={SECRET}&cdr=1",
            data=b"{}",
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Referer": f"https://pbx.example/settings?token={SECRET}",
                "User-Agent": "PortSIP",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, request_id = answer.status, answer.headers["X-Request-ID"]
        except urllib.error.HTTPError as refused:
            status, request_id = refused.code, refused.headers["X-Request-ID"]
        deadline = time.monotonic() + 5
        while not server.access_log.exists() or not server.access_log.read_text().strip():
            assert time.monotonic() < deadline, "nothing was logged"
            time.sleep(0.1)

    assert status == 403
    [line] = server.access_log.read_text().splitlines()
    assert '"POST /kpi/telephony/cdr/ HTTP/1.1" 403' in line and '"PortSIP"' in line
    assert SECRET not in line and "token" not in line and "?" not in line
    assert request_id and line.split()[-1] == request_id  # the id the portal's own log lines carry


def test_the_image_and_compose_start_gunicorn_with_the_portal_s_config():
    dockerfile = (ROOT / "Dockerfile").read_text()
    [cmd] = [line for line in dockerfile.splitlines() if line.startswith("CMD ")]
    image_command = json.loads(cmd.removeprefix("CMD "))
    web_command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["command"]

    for command in (image_command, web_command):
        assert command[0] == "gunicorn"
        assert command[command.index("--config") + 1] == "gunicorn.conf.py"
