"""Shared benchmark harness: a PostgreSQL database, gunicorn on loopback, wrk as the client.

Every figure is printed next to a baseline measured on the same server in the same run, so the
ratio means something on any machine. Nothing here is a test: run it by hand (`make bench`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/vpos_bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_django(database_url: str | None = None) -> None:
    os.environ["DATABASE_URL"] = database_url or os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    # Production runs with Redis as cache and broker: so does the benchmark.
    os.environ.setdefault(
        "REDIS_URL", os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
    )
    sys.path.insert(0, str(ROOT))
    _create_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _create_database(url: str) -> None:
    match = re.match(r"postgres(?:ql)?://([^@]+)@([^:/]+):?(\d*)/(\w+)", url)
    if not match:
        return
    user, host, port, name = match.groups()
    import psycopg

    with psycopg.connect(
        f"host={host} port={port or 5432} user={user} dbname=postgres", autocommit=True
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


@contextlib.contextmanager
def gunicorn(workers: int = 2, threads: int = 1) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "vpos.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)  # noqa: S310 - loopback only
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


@dataclass
class Result:
    url: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str,
    *,
    seconds: int = 10,
    connections: int = 16,
    threads: int = 2,
    headers: dict[str, str] | None = None,
) -> Result:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    header_args = [
        arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")
    ]
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            *header_args,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))

    def parse(v: str) -> float:
        number, unit = re.match(r"([\d.]+)(\w+)", v).groups()
        return _ms(number, unit)

    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(non2xx.group(1)) if non2xx else 0
    return Result(url, rps, parse(lat.get("50", "0ms")), parse(lat.get("99", "0ms")), errors)


def compare(
    label: str,
    target: str,
    baseline: str,
    *,
    seconds: int = 10,
    rounds: int = 2,
    headers: dict[str, str] | None = None,
) -> float:
    """Alternate baseline and target runs, print the best of each and the ratio.

    `headers` (e.g. a session cookie) are sent to both, so the baseline pays for them too."""
    wrk(baseline, seconds=2, headers=headers)
    wrk(target, seconds=2, headers=headers)  # warm up both
    best_t = best_b = None
    for _ in range(rounds):
        b = wrk(baseline, seconds=seconds, headers=headers)
        t = wrk(target, seconds=seconds, headers=headers)
        best_b = (
            b if best_b is None or b.requests_per_second > best_b.requests_per_second else best_b
        )
        best_t = (
            t if best_t is None or t.requests_per_second > best_t.requests_per_second else best_t
        )
    ratio = best_t.requests_per_second / best_b.requests_per_second
    print(f"{'':2}{'endpoint':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, r in (("baseline (bare view, 1 query)", best_b), (label, best_t)):
        print(
            f"  {name:<28}{r.requests_per_second:>10.0f}{r.p50_ms:>10.1f}{r.p99_ms:>10.1f}{r.errors:>8}"
        )
    print(f"  ratio {label} / baseline: {ratio:.2f}")
    return ratio


def pending_payments(link, *, prefix: str, count: int) -> list:
    """`count` payments of `link` left pending with a fake PaymentIntent id, each with its own
    customer email: what finalization benchmarks and fault runs start from."""
    from links.models import Payment

    return Payment.objects.bulk_create(
        Payment(
            merchant=link.merchant,
            link=link,
            attempt_key=f"{prefix}-{i}",
            provider_id=f"pi_{prefix}_{i}".replace("-", "_"),
            amount=link.amount,
            currency=link.currency,
            customer_email=f"{prefix}-{i}@example.com",
        )
        for i in range(count)
    )
