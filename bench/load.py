"""Sustained load on the checkout page: 64 connections for 60 s, then the bare view the same way.

    python bench/load.py [--payments 1000] [--seconds 60] [--connections 64] [--workers 2]
                         [--json PATH]

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
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

RAISED_CHECKOUT_LIMIT = "100000000/60"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    harness.add_json_argument(parser)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    # Read by vpos/settings/base.py; gunicorn inherits os.environ through the harness.
    os.environ["RATELIMIT_CHECKOUT"] = RAISED_CHECKOUT_LIMIT
    os.environ["RATELIMIT_ENABLED"] = "True"
    harness.setup_django()
    from django.conf import settings

    from bench.checkout import checkout_link

    token = checkout_link(args.payments).token
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
        checkout, bare = (
            harness.wrk(url, seconds=args.seconds, connections=args.connections, echo=True)
            for url in (checkout_url, bare_url)
        )

    print(
        f"  {'endpoint':<22}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'socket errors (c/r/w/t)':>26}{'non-2xx/3xx':>13}"
    )
    for label, r in (("checkout page", checkout), ("bare view (1 query)", bare)):
        e = r.socket_errors
        socket = f"{e['connect']}/{e['read']}/{e['write']}/{e['timeout']}"
        print(
            f"  {label:<22}{r.requests:>10}{r.requests_per_second:>9.0f}{r.p50_ms:>9.1f}"
            f"{r.p99_ms:>9.1f}{socket:>26}{r.non_2xx:>13}"
        )
    ratio = checkout.requests_per_second / bare.requests_per_second
    print(f"  ratio checkout / bare view: {ratio:.2f}")
    harness.record(
        "checkout page under load",
        kind="load",
        payments=args.payments,
        connections=args.connections,
        seconds=args.seconds,
        requests=checkout.requests,
        target=harness.measurement(checkout),
        baseline=harness.measurement(bare),
        ratio=round(ratio, 3),
        socket_errors=checkout.socket_errors,
        non_2xx=checkout.non_2xx,
        bare_requests=bare.requests,
        bare_socket_errors=bare.socket_errors,
        bare_non_2xx=bare.non_2xx,
        rate_limit=settings.RATELIMITS["checkout"],
    )
    harness.write_json(args.json)
    failed = [label for label, r in (("checkout page", checkout), ("bare view", bare)) if r.errors]
    if failed:
        print(f"FAILED: socket errors or non-2xx/3xx (incl. 5xx, 429) on: {', '.join(failed)}")
        sys.exit(1)
    print("OK: no socket errors, no non-2xx/3xx responses")


if __name__ == "__main__":
    main()
