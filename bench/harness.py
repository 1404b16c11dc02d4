"""Shared benchmark harness: a PostgreSQL database, gunicorn on loopback, wrk as the client.

Every figure is printed next to a baseline measured on the same server in the same run, so the
ratio means something on any machine. Nothing here is a test: run it by hand (`make bench`).
Each script also keeps its figures as rows (compare() records its own, record() the others) and
writes them with `--json PATH` (add_json_argument, write_json): bench/report.py turns them into
docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass
class Server:
    """A gunicorn started by gunicorn_start: its master process and its base URL."""

    process: subprocess.Popen
    base: str


def gunicorn_start(workers: int = 2, threads: int = 1, *, own_group: bool = False) -> Server:
    """Start gunicorn on a free loopback port and wait until /healthz answers. `own_group`: in a
    process group of its own, so that os.killpg takes the master and its workers at once (a
    killed machine) without touching this process."""
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
        start_new_session=own_group,
    )
    server = Server(process, f"http://127.0.0.1:{port}")
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(server.base + "/healthz", timeout=1)  # noqa: S310
                break
            except OSError:
                time.sleep(0.1)
    except BaseException:
        gunicorn_stop(server)
        raise
    return server


def gunicorn_stop(server: Server) -> None:
    """SIGTERM (graceful) and wait; nothing to do if it is gone already (killed)."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=20)


@contextlib.contextmanager
def gunicorn(workers: int = 2, threads: int = 1) -> Iterator[str]:
    server = gunicorn_start(workers, threads)
    try:
        yield server.base
    finally:
        gunicorn_stop(server)


def expect_page(url: str, status: int, text: str) -> None:
    """Fail before measuring unless `url` answers `status` with `text` in it: a 404, a redirect
    or an error page would look fast."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - loopback only
            got, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        got, body = error.code, error.read()
    if got != status or text.encode() not in body:
        raise SystemExit(f"{url}: HTTP {got}, expected {status} with {text!r}")


@dataclass
class Result:
    url: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors plus non-2xx/3xx responses
    requests: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)  # connect, read, write, timeout
    non_2xx: int = 0  # wrk's "Non-2xx or 3xx responses"
    output: str = field(default="", repr=False)  # wrk's report, with what a script's done() wrote


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _latency_ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return _ms(number, unit)


def wrk(
    url: str,
    *,
    seconds: int = 10,
    connections: int = 16,
    threads: int = 2,
    headers: dict[str, str] | None = None,
    script: str | Path | None = None,
    timeout: int | None = None,
    echo: bool = False,
) -> Result:
    """One wrk run; `script` is a Lua file (e.g. POST requests with their own headers);
    `timeout` (s, wrk's default 2): a slower answer counts as a socket error, not a latency."""
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    header_args = [
        arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")
    ]
    script_args = ["-s", str(script)] if script else []
    timeout_args = [f"--timeout={timeout}s"] if timeout else []
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        *script_args,
        *timeout_args,
        *header_args,
        url,
    ]
    if echo:
        print(f"+ {' '.join(command)}", flush=True)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    socket_errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    socket_errors.update(
        (name, int(n)) for name, n in re.findall(r"(connect|read|write|timeout) (\d+)", out)
    )
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non_2xx = int(non2xx.group(1)) if non2xx else 0
    return Result(
        url,
        rps,
        _latency_ms(lat.get("50", "0ms")),
        _latency_ms(lat.get("99", "0ms")),
        sum(socket_errors.values()) + non_2xx,
        requests=int(re.search(r"(\d+) requests in", out).group(1)),
        socket_errors=socket_errors,
        non_2xx=non_2xx,
        output=out,
    )


def settle(url: str, headers: dict[str, str] | None = None) -> None:
    """Wait for one answer from `url`. wrk stops with requests in flight, which gunicorn still
    works through; a slow page would leave its backlog to the next run, so the request waits
    behind it (the accept queue is first in, first out)."""
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310
            response.read()
    except OSError:
        pass  # an error answer still means the queue before it was worked through


def _best(results: list[Result]) -> Result:
    return max(results, key=lambda r: r.requests_per_second)


def compare(
    label: str,
    target: str,
    baseline: str,
    *,
    seconds: int = 10,
    rounds: int = 2,
    headers: dict[str, str] | None = None,
    script: str | Path | None = None,
    baseline_script: str | Path | None = None,
    baseline_label: str = "baseline (bare view, 1 query)",
    expect_non_2xx: bool = False,
    timeout: int | None = None,
) -> float:
    """Alternate baseline and target runs, print the best of each and the ratio; record the row.

    `headers` (e.g. a session cookie) are sent to both, so the baseline pays for them too.
    `script` (a wrk Lua file) drives the target only: the baseline stays a plain GET, unless
    `baseline_script` drives it (e.g. a bare view that writes, POSTed the same way).
    `expect_non_2xx`: the target answers 4xx by design (a closed link's 410 page), so its
    errors are the socket errors and any 2xx/3xx answer instead. `timeout`: wrk's, for both."""
    common = {"headers": headers, "timeout": timeout}
    wrk(baseline, seconds=2, script=baseline_script, **common)
    wrk(target, seconds=2, script=script, **common)  # warm up both
    baselines, targets = [], []
    settle(baseline, headers)
    for _ in range(rounds):
        baselines.append(wrk(baseline, seconds=seconds, script=baseline_script, **common))
        targets.append(wrk(target, seconds=seconds, script=script, **common))
        settle(baseline, headers)
    best_b, best_t = _best(baselines), _best(targets)
    if expect_non_2xx:
        best_t.errors = sum(best_t.socket_errors.values()) + best_t.requests - best_t.non_2xx
    ratio = best_t.requests_per_second / best_b.requests_per_second
    width = max(30, len(label) + 1, len(baseline_label) + 1)
    print(f"{'':2}{'endpoint':<{width}}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, r in ((baseline_label, best_b), (label, best_t)):
        print(
            f"  {name:<{width}}{r.requests_per_second:>10.0f}{r.p50_ms:>10.1f}{r.p99_ms:>10.1f}"
            f"{r.errors:>8}"
        )
    print(f"  ratio {label} / baseline: {ratio:.{2 if ratio >= 0.1 else 3}f}")
    record(
        label,
        kind="compare",
        target=measurement(best_t),
        baseline=measurement(best_b),
        ratio=round(ratio, 3),
        seconds=seconds,
        rounds=rounds,
    )
    return ratio


# Where the CPU goes, by process: each role's processes are found by their command line.
CPU_ROLES = (
    ("web", "gunicorn"),
    ("postgresql", "postgres"),
    ("redis", "redis-server"),
)


def cpu_seconds_by_role() -> dict[str, float]:
    """CPU seconds (user + system) used so far by the processes of each role on this machine,
    from /proc (Linux); a role whose processes cannot be seen here reads 0."""
    totals = dict.fromkeys((role for role, _marker in CPU_ROLES), 0.0)
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:  # the process ended meanwhile
            continue
        for role, marker in CPU_ROLES:
            if marker.encode() in command:
                totals[role] += (int(fields[11]) + int(fields[12])) / ticks_per_second
                break
    return totals


def cpu_per_request(
    label: str, url: str, *, seconds: int = 10, script: str | Path | None = None
) -> dict[str, Any]:
    """One wrk run against `url`, with the CPU milliseconds each role spent per answered request:
    the web workers, PostgreSQL, Redis and wrk itself (this process's children). Every process
    of a role counts, so run it with nothing else loading the machine. Printed and recorded."""
    before, client_before = cpu_seconds_by_role(), resource.getrusage(resource.RUSAGE_CHILDREN)
    result = wrk(url, seconds=seconds, script=script)
    after, client_after = cpu_seconds_by_role(), resource.getrusage(resource.RUSAGE_CHILDREN)
    used = {role: after[role] - before[role] for role in before}
    used["wrk"] = (client_after.ru_utime + client_after.ru_stime) - (
        client_before.ru_utime + client_before.ru_stime
    )
    answered = max(result.requests, 1)
    per_request = {
        role: round(seconds_used * 1000 / answered, 3) for role, seconds_used in used.items()
    }
    total = round(sum(per_request.values()), 3)
    print(
        f"  CPU per request, {label}: "
        + ", ".join(f"{role} {value:.2f} ms" for role, value in per_request.items())
        + f"; total {total:.2f} ms ({result.requests_per_second:.0f} req/s)"
    )
    return record(
        label,
        kind="cpu",
        cpu_ms=per_request,
        total_ms=total,
        requests_per_second=round(result.requests_per_second, 1),
    )


def measurement(result: Result) -> dict[str, float | int]:
    """What a report needs of one wrk run."""
    return {
        "requests_per_second": round(result.requests_per_second, 1),
        "p50_ms": round(result.p50_ms, 2),
        "p99_ms": round(result.p99_ms, 2),
        "errors": result.errors,
    }


# --- Results as JSON (bench/report.py reads them) -------------------------------------------

RESULTS: list[dict[str, Any]] = []
_CONTEXT: dict[str, Any] = {}


@contextlib.contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Add `fields` (e.g. payments=100000) to every row recorded inside the block: the same
    label measured at two data sizes stays two distinguishable rows."""
    saved = dict(_CONTEXT)
    _CONTEXT.update(fields)
    try:
        yield
    finally:
        _CONTEXT.clear()
        _CONTEXT.update(saved)


def record(label: str, **fields: Any) -> dict[str, Any]:
    """Keep one result row (compare() records its own); JSON-serializable values only."""
    row = {"label": label, **_CONTEXT, **fields}
    RESULTS.append(row)
    return row


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    """The same `--json PATH` option on every script."""
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="also write the recorded results to PATH as JSON (bench/report.py reads it)",
    )


def write_json(path: str | Path | None) -> None:
    """Write the rows recorded so far, with the command that produced them; None: do nothing."""
    if path is None:
        return
    argv, skip = [], False
    for arg in sys.argv[1:]:  # the reproducing command, without --json and its path
        if skip or arg == "--json":
            skip = not skip
            continue
        if not arg.startswith("--json="):
            argv.append(arg)
    script = Path(sys.argv[0]).resolve()
    name = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    document = {"command": " ".join(["python", str(name), *argv]), "results": RESULTS}
    Path(path).write_text(json.dumps(document, indent=2, default=str) + "\n")


def new_shop(name: str, legal_name: str = "Bench S.r.l.") -> Any:
    """A shop with the legal details a receipt needs (valid Partita IVA, Milan address)."""
    from merchants.models import Merchant

    return Merchant.objects.create(
        name=name,
        legal_name=legal_name,
        vat_number="12345670017",
        tax_code="12345670017",
        address="Via Roma 1",
        postal_code="20121",
        city="Milano",
        province="MI",
        country="IT",
        contact_email="shop@example.com",
    )


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


def provider_succeeded(payment: Any) -> Any:
    """What the provider answers for `payment` once its (fake) PaymentIntent has succeeded."""
    from links.providers import PaymentState, ProviderPayment

    return ProviderPayment(
        id=payment.provider_id,
        state=PaymentState.SUCCEEDED,
        amount=payment.amount,
        currency=payment.currency,
        card_brand="visa",
        card_last4="4242",
    )
