"""gunicorn's access log never holds a query string or a referrer (gunicorn.conf.py), so a token someone
puts in an address does not end up in the logs."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-token-from-the-pbx"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(port: int, process: subprocess.Popen, error_log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"gunicorn exited: {error_log.read_text()}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not start")


def test_the_access_log_of_the_real_gunicorn_has_no_query_string_or_referrer(tmp_path):
    port, access_log, error_log = free_port(), tmp_path / "access.log", tmp_path / "error.log"
    command = [
        *(sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"),
        "atlanset_portal.wsgi:application",
        *("--bind", f"127.0.0.1:{port}", "--workers", "1", "--access-logfile", str(access_log)),
    ]
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "atlanset_portal.settings.test"}
    with error_log.open("w") as errors:
        gunicorn = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=errors, stderr=errors)
    try:
        wait_for(port, gunicorn, error_log)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/kpi/telephony/cdr/?token={SECRET}&cdr=1",
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
                status = answer.status
        except urllib.error.HTTPError as refused:
            status = refused.code
        deadline = time.monotonic() + 5
        while not access_log.exists() or not access_log.read_text().strip():
            assert time.monotonic() < deadline, "nothing was logged"
            time.sleep(0.1)
    finally:
        os.kill(gunicorn.pid, signal.SIGTERM)
        gunicorn.wait(timeout=15)

    assert status == 403
    [line] = access_log.read_text().splitlines()
    assert '"POST /kpi/telephony/cdr/ HTTP/1.1" 403' in line and '"PortSIP"' in line
    assert SECRET not in line and "token" not in line and "?" not in line


def test_the_image_and_compose_start_gunicorn_with_the_portal_s_config():
    dockerfile = (ROOT / "Dockerfile").read_text()
    [cmd] = [line for line in dockerfile.splitlines() if line.startswith("CMD ")]
    image_command = json.loads(cmd.removeprefix("CMD "))
    web_command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["command"]

    for command in (image_command, web_command):
        assert command[0] == "gunicorn"
        assert command[command.index("--config") + 1] == "gunicorn.conf.py"
