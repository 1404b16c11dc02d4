"""Sustained load on the checkout page: 64 connections for 60 s, then the bare view the same way.

    python bench/load.py [--payments 1000] [--seconds 60] [--connections 64] [--workers 2]

Same harness as bench/checkout.py (gunicorn on loopback, PostgreSQL `vpos_bench`, Redis), the
same seeded reusable link, `wrk -t2 -c64 -d60s --latency` against the checkout page and then
against the bare one-query view for comparison. Prints throughput, p50/p99, socket errors and
non-2xx/3xx responses for both; exits 1 if either run had a socket error or a non-2xx/3xx
response (which includes every 5xx, and every 429 from the rate limiter).

Rate limit: the checkout page is limited per client IP (vpos/ratelimit.py, settings RATELIMITS,
default "60/60"), and wrk is one IP. The limit is raised here through the RATELIMIT_CHECKOUT
environment variable the settings read (vpos/settings/base.py), not switched off, so every
request still pays for the limiter's Redis counter as it would in production.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

RAISED_CHECKOUT_LIMIT = "100000000/60"


@dataclass
class Load:
    label: str
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    socket_errors: dict[str, int]
    non_2xx_3xx: int

    @property
    def failed(self) -> bool:
        return bool(sum(self.socket_errors.values()) or self.non_2xx_3xx)


def run_wrk(label: str, url: str, *, seconds: int, connections: int, threads: int = 2) -> Load:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    print(f"+ {' '.join(cmd)}", flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))

    def ms(v: str) -> float:
        number, unit = re.match(r"([\d.]+)(\w+)", v).groups()
        return harness._ms(number, unit)

    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = dict(
        zip(("connect", "read", "write", "timeout"), map(int, socket.groups()), strict=True)
        if socket
        else dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    )
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Load(
        label,
        int(re.search(r"(\d+) requests in", out).group(1)),
        float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        ms(lat.get("50", "0ms")),
        ms(lat.get("99", "0ms")),
        errors,
        int(non2xx.group(1)) if non2xx else 0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    # Read by vpos/settings/base.py; gunicorn inherits os.environ through the harness.
    os.environ["RATELIMIT_CHECKOUT"] = RAISED_CHECKOUT_LIMIT
    os.environ["RATELIMIT_ENABLED"] = "True"
    harness.setup_django()
    from django.conf import settings

    from bench.checkout import seed

    token = seed(args.payments)
    print(
        f"load: checkout page of a reusable link with {args.payments} payments, then the bare "
        f"view; gunicorn {args.workers} workers on loopback, PostgreSQL + Redis, "
        f"wrk 2 threads, {args.connections} connections, {args.seconds} s each"
    )
    print(
        f"rate limit: checkout limit raised from the default 60/60 to "
        f"{settings.RATELIMITS['checkout']} per IP via RATELIMIT_CHECKOUT (wrk is a single IP); "
        f"the limiter stays on (RATELIMIT_ENABLED={settings.RATELIMIT_ENABLED}), so each "
        f"request still pays its Redis counter"
    )
    with harness.gunicorn(workers=args.workers) as base:
        checkout_url, bare_url = f"{base}/pay/{token}/", f"{base}/bench/bare/"
        for url in (checkout_url, bare_url):  # warm up: workers, connections, page cache
            harness.wrk(url, seconds=3, connections=args.connections)
        results = [
            run_wrk(
                "checkout page", checkout_url, seconds=args.seconds, connections=args.connections
            ),
            run_wrk(
                "bare view (1 query)", bare_url, seconds=args.seconds, connections=args.connections
            ),
        ]

    print(
        f"  {'endpoint':<22}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'socket errors (c/r/w/t)':>26}{'non-2xx/3xx':>13}"
    )
    for r in results:
        e = r.socket_errors
        socket = f"{e['connect']}/{e['read']}/{e['write']}/{e['timeout']}"
        print(
            f"  {r.label:<22}{r.requests:>10}{r.requests_per_second:>9.0f}{r.p50_ms:>9.1f}"
            f"{r.p99_ms:>9.1f}{socket:>26}{r.non_2xx_3xx:>13}"
        )
    checkout, bare = results
    print(
        f"  ratio checkout / bare view: {checkout.requests_per_second / bare.requests_per_second:.2f}"
    )
    failed = [r.label for r in results if r.failed]
    if failed:
        print(f"FAILED: socket errors or non-2xx/3xx (incl. 5xx, 429) on: {', '.join(failed)}")
        sys.exit(1)
    print("OK: no socket errors, no non-2xx/3xx responses")


if __name__ == "__main__":
    main()
