"""Checkout page throughput against a bare one-query Django view, same gunicorn, same run.

    python bench/checkout.py [--payments 1000] [--seconds 10] [--sizes 10000,100000,1000000]
                             [--json PATH]

Goal (issue 3): the checkout page serves at least 0.85 of the bare view's throughput.

`--sizes` adds how the cost grows with the payments on the link. Each size has its own shop with
one reusable link and that many payments (seeded once with SQL, bench/seed.py, and kept), and is
measured three ways, each against the bare view:

- cached: the page as every visitor gets it, from the page cache;
- uncached: the same page with the cache off (CHECKOUT_PAGE_CACHE_SECONDS=0 in gunicorn's
  environment), so a cache miss on every request: the link query, the rendering;
- closed: the link marked completed for the measurement (and active again afterwards): the 410
  page, never cached, which looks up the link's last successful payment.

The per-IP rate limit is raised, not switched off: wrk is one IP (see bench/load.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, seed

# What the seeded payments of a busy reusable link look like: mostly paid, some declined.
SUCCEEDED_SQL = "i % 20 < 16"
CREATED_SQL = "now() - interval '365 days' * (1 - i::float8 / {total})"  # oldest first, to now
# wrk's timeout for the size runs: a page that takes seconds is measured, not counted as an error.
SLOW_TIMEOUT = 30


def checkout_link(payments: int) -> Any:
    """The reusable link of shop "Checkout bench <payments>", topped up to `payments` payments."""
    from django.utils import timezone

    from links.models import LinkKind, LinkStatus, Payment, PaymentLink

    merchant = seed.merchant(f"Checkout bench {payments}")
    link, _ = PaymentLink.objects.get_or_create(
        merchant=merchant,
        description="Bench checkout",
        defaults={"amount": 1999, "currency": "EUR", "kind": LinkKind.REUSABLE},
    )
    have = Payment.objects.filter(link=link).count()
    if have < payments:
        created = CREATED_SQL.format(total=payments)
        seconds = seed.insert_series(
            Payment,
            payments - have,
            start=have,
            values={
                "merchant_id": merchant.pk,
                "link_id": link.pk,
                "amount": link.amount,
                "currency": link.currency,
            },
            sql={
                "attempt_key": "'seed-' || i",
                "provider_id": f"'pi_seed_{link.pk}_' || i",
                "status": f"CASE WHEN {SUCCEEDED_SQL} THEN 'succeeded' "
                "WHEN i % 20 < 18 THEN 'failed' ELSE 'canceled' END",
                "card_brand": f"CASE WHEN {SUCCEEDED_SQL} THEN 'visa' ELSE '' END",
                "card_last4": f"CASE WHEN {SUCCEEDED_SQL} THEN lpad((i % 10000)::text, 4, '0') "
                "ELSE '' END",
                "customer_email": "'customer' || (i % 7000) || '@example.com'",
                "created_at": created,
                "updated_at": created,
                "succeeded_at": f"CASE WHEN {SUCCEEDED_SQL} THEN {created} END",
            },
            label=f"payments of {merchant.name}",
        )
        seed.analyze(Payment)
        print(f"seeded {payments - have:,} payments in {seconds:.1f} s", flush=True)
    succeeded = Payment.objects.filter(link=link, status="succeeded").count()
    PaymentLink.objects.filter(pk=link.pk).update(
        status=LinkStatus.ACTIVE,
        closed_at=None,
        payments_count=succeeded,
        updated_at=timezone.now(),
    )
    link.refresh_from_db()
    return link


@contextlib.contextmanager
def closed(link: Any) -> Iterator[None]:
    """The link completed (its limit reached) while the block runs, then active again."""
    from django.utils import timezone

    from links.models import LinkStatus, PaymentLink
    from links.page_cache import page_cache_forget

    links = PaymentLink.objects.filter(pk=link.pk)
    links.update(
        status=LinkStatus.COMPLETED, max_payments=link.payments_count, closed_at=timezone.now()
    )
    page_cache_forget(link.token)
    try:
        yield
    finally:
        links.update(status=LinkStatus.ACTIVE, max_payments=None, closed_at=None)
        page_cache_forget(link.token)


def compare_size(
    size: int, variant: str, url: str, base: str, seconds: int, **options: Any
) -> None:
    """One page of the size table against the bare view, recorded with its size and variant."""
    with harness.context(payments=size, variant=variant):
        harness.compare(
            f"{variant} page, {size:,} payments",
            url,
            f"{base}/bench/bare/",
            seconds=seconds,
            timeout=SLOW_TIMEOUT,
            **options,
        )


def measure_sizes(sizes: list[int], seconds: int) -> None:
    """Cached, uncached and closed checkout pages of links with `sizes` payments each."""
    from links.page_cache import page_cache_forget

    links = {size: checkout_link(size) for size in sizes}
    print(f"\ncheckout cost vs payments on the link ({', '.join(f'{s:,}' for s in sizes)})")
    with harness.gunicorn() as base:
        for size, link in links.items():
            url = f"{base}/pay/{link.token}/"
            harness.expect_page(url, 200, 'id="checkout-form"')
            compare_size(size, "cached", url, base, seconds)
    for link in links.values():  # the cached pages must not answer for the uncached runs
        page_cache_forget(link.token)
    os.environ["CHECKOUT_PAGE_CACHE_SECONDS"] = "0"  # read by gunicorn's settings, not ours
    print("page cache off in gunicorn: CHECKOUT_PAGE_CACHE_SECONDS=0")
    try:
        with harness.gunicorn() as base:
            for size, link in links.items():
                url = f"{base}/pay/{link.token}/"
                harness.expect_page(url, 200, 'id="checkout-form"')
                compare_size(size, "uncached", url, base, seconds)
                with closed(link):
                    harness.expect_page(url, 410, 'id="closed-paid-at"')
                    compare_size(size, "closed", url, base, seconds, expect_non_2xx=True)
    finally:
        del os.environ["CHECKOUT_PAGE_CACHE_SECONDS"]


def main() -> None:
    # wrk is one IP: raise the per-IP limit (the limiter stays on and costs what it costs).
    os.environ.setdefault("RATELIMIT_CHECKOUT", "100000000/60")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(size) for size in text.split(",")],
        default=[],
        help="comma-separated payment counts, e.g. 10000,100000,1000000",
    )
    harness.add_json_argument(parser)
    args = parser.parse_args()
    harness.setup_django()
    link = checkout_link(args.payments)
    print(
        f"checkout page vs bare view ({args.payments:,} payments on the link), gunicorn 2 workers,"
        f" wrk 16 connections; per-IP limit RATELIMIT_CHECKOUT={os.environ['RATELIMIT_CHECKOUT']}"
    )
    with harness.gunicorn() as base, harness.context(payments=args.payments, variant="cached"):
        harness.compare(
            "checkout page",
            f"{base}/pay/{link.token}/",
            f"{base}/bench/bare/",
            seconds=args.seconds,
        )
    if args.sizes:
        measure_sizes(args.sizes, args.seconds)
    harness.write_json(args.json)


if __name__ == "__main__":
    main()
