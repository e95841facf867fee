"""A bounded closed-loop HTTP load (``manage.py benchmark --load-users N``): N signed-in hunters, each
asking for a page, waiting for the answer, pausing, and asking again, against the portal under gunicorn,
for a fixed time. Reports throughput, latency percentiles and errors.

Closed loop: a user never has more than one request in flight, so a slow portal gets fewer requests
(as with people), and the figures say what N people pausing between clicks get. The client is plain
asyncio over sockets (one connection per request, as gunicorn's sync workers close them), light enough to
share the two cores with the server it measures; its own CPU time is reported.
"""

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.test import Client as TestClient
from django.urls import reverse

from accounts.models import User
from accounts.roles import Role
from deals.models import ClientPhone, Deal
from deals.stages import DealStatus

ROOT = Path(__file__).resolve().parent.parent
REQUEST_TIMEOUT = 30.0


@dataclass
class VirtualUser:
    username: str
    cookie: str
    paths: list[tuple[str, str]]  # (page, path)


@dataclass
class LoadResult:
    users: int
    seconds: float
    pause: float
    latencies_ms: list[float] = field(default_factory=list)
    by_page: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)
    client_cpu_s: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + sum(self.errors.values())

    def as_dict(self) -> dict:
        def percentile(values: list[float], share: float) -> float | None:
            if not values:
                return None
            ordered = sorted(values)
            return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)

        return {
            "users": self.users,
            "seconds": self.seconds,
            "pause_s": self.pause,
            "requests": self.requests,
            "ok": len(self.latencies_ms),
            "errors": dict(self.errors),
            "throughput_rps": round(len(self.latencies_ms) / self.seconds, 1),
            "p50_ms": percentile(self.latencies_ms, 0.50),
            "p95_ms": percentile(self.latencies_ms, 0.95),
            "p99_ms": percentile(self.latencies_ms, 0.99),
            "by_page": {
                page: {
                    "requests": len(values),
                    "p50_ms": percentile(values, 0.50),
                    "p95_ms": percentile(values, 0.95),
                }
                for page, values in sorted(self.by_page.items())
            },
            "load_client_cpu_s": round(self.client_cpu_s, 1),
        }


def hunter_sessions(count: int) -> list[VirtualUser]:
    """``count`` signed-in hunters (the generated hunters round-robin, busiest first), each with the
    pages a hunter opens most: «Мой день», the board, one of their deals, a client search by phone."""
    hunters = list(User.objects.filter(role=Role.HUNTER, is_active=True).order_by("pk"))
    if not hunters:
        raise RuntimeError("No hunters: load data first (generate_data).")
    users = []
    for index in range(count):
        hunter = hunters[index % len(hunters)]
        browser = TestClient()
        browser.force_login(hunter)
        deal = Deal.objects.filter(owner=hunter, status=DealStatus.OPEN).order_by("-pk").first() or (
            Deal.objects.filter(owner=hunter).order_by("-pk").first()
        )
        phone = ClientPhone.objects.filter(client__owner=hunter).order_by("pk").first()
        paths = [("«Мой день»", reverse("kpi:my_day")), ("board", reverse("deals:board"))]
        if deal is not None:
            paths.append(("deal page", reverse("deals:detail", args=[deal.pk])))
        if phone is not None:
            paths.append(("client search by phone", f"{reverse('clients:list')}?q={phone.number[-7:-2]}"))
        users.append(
            VirtualUser(
                username=hunter.username,
                cookie=f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}",
                paths=paths,
            )
        )
    return users


def forget_sessions(users: list[VirtualUser]) -> None:
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore
    for user in users:
        store(session_key=user.cookie.split("=", 1)[1]).delete()


async def _get(host: str, port: int, path: str, cookie: str) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
                # As the HTTPS proxy in front of the portal says (SECURE_PROXY_SSL_HEADER).
                "X-Forwarded-Proto: https\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()  # the whole answer, until the server closes
        parts = status_line.split()
        return int(parts[1]) if len(parts) > 1 else 0
    finally:
        writer.close()


async def _run(
    base_url: str, users: list[VirtualUser], seconds: float, pause: float, warmup: float, seed: int
) -> LoadResult:
    address = urlsplit(base_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    result = LoadResult(users=len(users), seconds=seconds, pause=pause)
    # Requests that start during the warm-up (each worker's first pages) are made but not counted.
    counted_from = time.monotonic() + warmup
    deadline = counted_from + seconds

    async def person(user: VirtualUser, rng: random.Random) -> None:
        # Start spread over the first pause, as people do not all click at the same instant.
        await asyncio.sleep(rng.random() * pause)
        while time.monotonic() < deadline:
            page, path = rng.choice(user.paths)
            started = time.perf_counter()
            counted = time.monotonic() >= counted_from
            try:
                status = await asyncio.wait_for(_get(host, port, path, user.cookie), REQUEST_TIMEOUT)
            except (TimeoutError, OSError) as error:
                if counted:
                    result.errors[type(error).__name__] += 1
            else:
                elapsed = (time.perf_counter() - started) * 1000
                if not counted:
                    pass
                elif status == 200:
                    result.latencies_ms.append(elapsed)
                    result.by_page.setdefault(page, []).append(elapsed)
                else:
                    result.errors[f"HTTP {status}"] += 1
            await asyncio.sleep(pause)

    cpu = time.process_time()
    await asyncio.gather(*(person(user, random.Random(seed + index)) for index, user in enumerate(users)))
    result.client_cpu_s = time.process_time() - cpu
    return result


def run_load(
    *, base_url: str, users: int, seconds: float, pause: float, warmup: float = 10, seed: int = 7
) -> LoadResult:
    sessions = hunter_sessions(users)
    try:
        return asyncio.run(_run(base_url, sessions, seconds, pause, warmup, seed))
    finally:
        forget_sessions(sessions)


@contextmanager
def gunicorn(bind: str, workers: int, log: Path) -> Iterator[str]:
    """The portal under gunicorn as the Dockerfile starts it (its config, sync workers), with this
    process's environment (DEBUG, DATABASE_URL …); yields its base URL and stops it by its pid."""
    host, _, port = bind.partition(":")
    command = [
        *(sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"),
        "atlanset_portal.wsgi:application",
        *("--bind", bind, "--workers", str(workers), "--timeout", "60", "--access-logfile", "/dev/null"),
    ]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start in 30 s")
            try:
                socket.create_connection((host, int(port)), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"http://{bind}"
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)


def summary(result: LoadResult) -> str:
    data = result.as_dict()
    errors = sum(data["errors"].values())
    return (
        f"load: {data['users']} hunters, {data['pause_s']:g} s pause, {data['seconds']:g} s: "
        f"{data['throughput_rps']} requests/s, p50 {data['p50_ms']} ms, p95 {data['p95_ms']} ms, "
        f"p99 {data['p99_ms']} ms, {errors} errors"
        + (f" {data['errors']}" if errors else "")
        + f" (load client CPU {data['load_client_cpu_s']} s)"
    )
