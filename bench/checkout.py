"""Checkout page throughput against a bare one-query Django view, same gunicorn, same run.

    python bench/checkout.py [--payments 1000] [--seconds 10]

Goal (issue 3): the checkout page serves at least 0.85 of the bare view's throughput.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness


def seed(payments: int) -> str:
    from links.models import Payment, PaymentLink, PaymentStatus
    from merchants.models import Merchant

    merchant, _ = Merchant.objects.get_or_create(
        name="Bench shop",
        defaults={
            "legal_name": "Bench S.r.l.",
            "vat_number": "12345678903",
            "address": "Via Roma 1",
            "postal_code": "20121",
            "city": "Milano",
            "contact_email": "bench@example.com",
        },
    )
    link = PaymentLink.objects.filter(merchant=merchant, description="Bench checkout").first()
    if link is None:
        link = PaymentLink.objects.create(
            merchant=merchant,
            amount=1999,
            currency="EUR",
            description="Bench checkout",
            kind="reusable",
        )
    missing = payments - Payment.objects.filter(link=link).count()
    Payment.objects.bulk_create(
        Payment(
            merchant=merchant,
            link=link,
            attempt_key=f"bench-{link.pk}-{i}",
            amount=1999,
            currency="EUR",
            status=PaymentStatus.FAILED,
        )
        for i in range(max(missing, 0))
    )
    return link.token


def main() -> None:
    # wrk is one IP: raise the per-IP limit (the limiter stays on and costs what it costs).
    os.environ.setdefault("RATELIMIT_CHECKOUT", "100000000/60")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    harness.setup_django()
    token = seed(args.payments)
    print(
        f"checkout page vs bare view ({args.payments} payments on the link), gunicorn 2 workers, wrk 16 connections"
    )
    with harness.gunicorn() as base:
        harness.compare(
            "checkout page", f"{base}/pay/{token}/", f"{base}/bench/bare/", seconds=args.seconds
        )


if __name__ == "__main__":
    main()
