"""The HTTPS front of the compose file (Caddyfile), checked by Caddy itself where its binary is installed.

The live test runs the real Caddyfile on 127.0.0.1 with a local-CA certificate for ``localhost`` (as a
fresh `docker compose up` serves it), in front of a stand-in for gunicorn that reports what it received.
"""

import http.client
import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from compensation.bank_statement import MAX_STATEMENT_BYTES
from deals.lead_import import MAX_FILE_SIZE as LEAD_IMPORT_BYTES
from deals.services import MAX_UPLOAD_BYTES
from kpi.telephony import MAX_FILE_SIZE as CALL_LOG_BYTES

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "Caddyfile"
CADDY = shutil.which("caddy")
needs_caddy = pytest.mark.skipif(
    CADDY is None,
    reason="caddy is not installed (Debian: apt-get install caddy): the Caddyfile is checked by Caddy's own "
    "parser only where its binary is; CI installs it",
)
LARGEST_UPLOAD = max(CALL_LOG_BYTES, MAX_UPLOAD_BYTES, LEAD_IMPORT_BYTES, MAX_STATEMENT_BYTES)


def proxy_limits() -> set[int]:
    """Every byte limit the Caddyfile states (the Content-Length check and request_body's max_size)."""
    text = CADDYFILE.read_text()
    return {int(n) for n in re.findall(r"max_size (\d+)", text)} | {
        int(n) for n in re.findall(r"Content-Length}\) > (\d+)", text)
    }


def test_the_proxy_lets_the_largest_upload_and_its_form_through_and_nothing_much_bigger():
    [limit] = proxy_limits()  # one number, stated twice
    assert LARGEST_UPLOAD + 256 * 1024 <= limit <= LARGEST_UPLOAD + 2 * 1024 * 1024


def caddy(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        **env,
    }
    return subprocess.run([CADDY, *args], env=environment, capture_output=True, text=True, timeout=60)


def adapted(tmp_path: Path, **env: str) -> dict:
    result = caddy("adapt", "--config", str(CADDYFILE), tmp_path=tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert "not formatted" not in result.stderr, "run `caddy fmt --overwrite Caddyfile`"
    return json.loads(result.stdout)


def handlers(config: dict) -> list[dict]:
    """Every handler of the config, depth first."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "handler" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config["apps"]["http"])
    return found


@needs_caddy
@pytest.mark.parametrize("domain", [None, "portal.atlanset.ru", "192.168.10.5"])
def test_caddy_accepts_the_caddyfile_for_localhost_a_domain_or_an_address(tmp_path, domain):
    env = {"PORTAL_DOMAIN": domain} if domain else {}
    result = caddy("validate", "--config", str(CADDYFILE), tmp_path=tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert "Valid configuration" in result.stdout + result.stderr

    config = adapted(tmp_path, **env)
    [server] = config["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"]
    assert server["routes"][0]["match"] == [{"host": [domain or "localhost"]}]
    by_kind = {handler["handler"]: handler for handler in handlers(config)}
    assert by_kind["reverse_proxy"]["upstreams"] == [{"dial": "web:8000"}]
    assert by_kind["request_body"]["max_size"] == proxy_limits().pop()
    assert by_kind["static_response"]["status_code"] == 413


# --- the live check ---------------------------------------------------------------------------------------


class Upstream:
    """Stands in for gunicorn: answers 200 with the headers it got and how many body bytes arrived."""

    def __init__(self):
        self.received: list[dict] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket):
        with connection, connection.makefile("rb") as stream:
            while True:
                request_line = stream.readline()
                if not request_line:
                    return
                headers = {}
                while (line := stream.readline().decode()) not in ("\r\n", ""):
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                record = {"path": request_line.split()[1].decode(), "headers": headers, "body": 0}
                self.received.append(record)
                if not self._read_body(stream, headers, record):
                    return
                body = json.dumps(record).encode()
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )

    @staticmethod
    def _read_body(stream, headers: dict, record: dict) -> bool:
        """Counts the body into ``record`` as it arrives; False when the connection broke off."""
        if headers.get("transfer-encoding") == "chunked":
            while True:
                size_line = stream.readline()
                if not size_line:
                    return False
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    stream.readline()
                    return True
                while size:
                    chunk = stream.read(min(size, 1 << 16))
                    if not chunk:
                        return False
                    record["body"] += len(chunk)
                    size -= len(chunk)
                stream.readline()
        remaining = int(headers.get("content-length", 0))
        while remaining:
            chunk = stream.read(min(remaining, 1 << 16))
            if not chunk:
                return False
            record["body"] += len(chunk)
            remaining -= len(chunk)
        return True

    def close(self):
        self.listener.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def caddy_in_front_of(upstream: Upstream, tmp_path: Path):
    """The Caddyfile as compose runs it, for ``localhost`` on a free port of 127.0.0.1 only (no admin
    endpoint, no HTTP→HTTPS listener on port 80), and a TLS context trusting its local CA."""
    port = free_port()
    config = adapted(
        tmp_path, PORTAL_DOMAIN=f"localhost:{port}", PORTAL_UPSTREAM=f"127.0.0.1:{upstream.port}"
    )
    config["admin"] = {"disabled": True}
    [server] = config["apps"]["http"]["servers"].values()
    server["listen"] = [f"127.0.0.1:{port}"]
    server["automatic_https"] = {"disable_redirects": True}
    (tmp_path / "caddy.json").write_text(json.dumps(config))
    environment = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    environment["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    log = (tmp_path / "caddy.log").open("w")
    process = subprocess.Popen(
        [CADDY, "run", "--config", str(tmp_path / "caddy.json")], env=environment, stdout=log, stderr=log
    )
    # The root certificate that the README tells people to import into their browser.
    root = tmp_path / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                context = ssl.create_default_context(cafile=str(root))
                with context.wrap_socket(
                    socket.create_connection(("127.0.0.1", port), timeout=2), server_hostname="localhost"
                ):
                    break
            except (OSError, ssl.SSLError):
                assert process.poll() is None, (tmp_path / "caddy.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "caddy.log").read_text()
                time.sleep(0.2)
        yield port, context
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


class LoopbackHTTPS(http.client.HTTPSConnection):
    """HTTPS to ``localhost`` by its IPv4 address (Caddy listens on 127.0.0.1 only)."""

    def connect(self):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname="localhost")


@needs_caddy
def test_through_caddy_https_forwarded_headers_and_the_body_limit(tmp_path):
    upstream = Upstream()
    try:
        with caddy_in_front_of(upstream, tmp_path) as (port, context):
            limit = proxy_limits().pop()

            def send(method, path, body=None, headers=None):
                connection = LoopbackHTTPS("localhost", port, context=context, timeout=60)
                try:
                    connection.request(method, path, body=body, headers=headers or {})
                    response = connection.getresponse()
                    return response.status, response.read()
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as error:
                    return error, b""
                finally:
                    connection.close()

            # HTTPS with the local CA's certificate; a client's own forwarding headers are replaced.
            status, body = send(
                "GET", "/kpi/", headers={"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "http"}
            )
            assert status == 200
            seen = json.loads(body)["headers"]
            assert seen["x-forwarded-for"] == "127.0.0.1"
            assert seen["x-forwarded-proto"] == "https"
            assert seen["host"] == f"localhost:{port}"

            # A body of exactly the limit reaches the portal whole.
            status, body = send("POST", "/at-limit/", body=b"x" * limit)
            assert status == 200 and json.loads(body)["body"] == limit

            # One byte more is refused with 413 from its Content-Length, before the body is sent.
            raw = context.wrap_socket(
                socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost"
            )
            with raw:
                raw.sendall(
                    f"POST /over-limit/ HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Length: {limit + 1}\r\n"
                    "Content-Type: application/octet-stream\r\n\r\n".encode()
                )
                answer = raw.recv(4096).decode(errors="replace")
            assert answer.startswith("HTTP/1.1 413"), answer

            # A body sent without a length is cut off at the limit: the portal never gets more.
            chunks = (b"y" * (1 << 20) for _ in range(limit // (1 << 20) + 2))
            status, _ = send("POST", "/chunked/", body=chunks)  # an iterable goes chunked
            assert status != 200  # 413 (Caddy 2.6 may say 502, or break the connection off)

        paths = [record["path"] for record in upstream.received]
        assert paths == ["/kpi/", "/at-limit/", "/chunked/"]
        assert all(record["body"] <= limit for record in upstream.received)
    finally:
        upstream.close()
