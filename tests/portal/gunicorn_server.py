"""The portal under a real gunicorn on 127.0.0.1, started as the Dockerfile starts it (with
gunicorn.conf.py) and stopped by its pid."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    port: int
    access_log: Path
    error_log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_gunicorn(folder: Path, seconds: float = 30) -> Iterator[Server]:
    server = Server(port=_free_port(), access_log=folder / "access.log", error_log=folder / "error.log")
    command = [
        *(sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"),
        "atlanset_portal.wsgi:application",
        *("--bind", f"127.0.0.1:{server.port}", "--workers", "1", "--access-logfile", str(server.access_log)),
    ]
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "atlanset_portal.settings.test",
        # Whatever it touches stays in the test's folder, never the project's database.
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "VAR_DIR": str(folder / "var"),
    }
    with server.error_log.open("w") as errors:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=errors, stderr=errors)
    try:
        deadline = time.monotonic() + seconds
        while True:
            assert process.poll() is None, f"gunicorn exited: {server.error_log.read_text()}"
            assert time.monotonic() < deadline, "gunicorn did not start"
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield server
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
