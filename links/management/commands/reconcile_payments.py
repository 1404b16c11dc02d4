"""`manage.py reconcile_payments --since 2025-01-01 [--until 2025-01-31]`

Asks the provider again about every payment still open (pending, requires action, processing)
that was started in the date range, and applies the answer through the same service as the
browser, the webhook and the periodic task (`payment_refresh`): a payment already settled is a
no-op. For after an outage longer than the periodic task's reach, or a restore from backup.
"""

from __future__ import annotations

import datetime
from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from links.models import OPEN_PAYMENT_STATUSES, Payment
from links.payments import payment_refresh
from links.providers import ProviderError
from vpos.logging import log_context


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from error


class Command(BaseCommand):
    help = (
        "Re-run payment reconciliation with the provider for open payments started in a date range."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", required=True, help="first day, YYYY-MM-DD (inclusive)")
        parser.add_argument("--until", help="last day, YYYY-MM-DD (inclusive; default: today)")

    def handle(self, *args, since: str, until: str | None, verbosity: int, **options) -> None:
        first = _date(since)
        last = _date(until) if until else timezone.localdate()
        if last < first:
            raise CommandError("--until is before --since")
        tz = timezone.get_current_timezone()
        start = datetime.datetime.combine(first, datetime.time.min, tzinfo=tz)
        end = datetime.datetime.combine(
            last + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz
        )

        payments = (
            Payment.objects.filter(
                status__in=OPEN_PAYMENT_STATUSES, created_at__gte=start, created_at__lt=end
            )
            .select_related("merchant")
            .order_by("created_at")
        )
        outcome: Counter[str] = Counter()
        checked = 0
        for payment in payments.iterator(chunk_size=200):
            checked += 1
            if not payment.provider_id:
                outcome["never reached the provider"] += 1
                continue
            with log_context(shop_id=payment.merchant.public_id, payment_id=payment.public_id):
                try:
                    payment = payment_refresh(payment=payment, source="reconciliation")
                except ProviderError as error:
                    outcome["provider error"] += 1
                    self.stderr.write(f"payment {payment.public_id}: {error.message}")
                    continue
            outcome[payment.status] += 1
            if verbosity > 1:
                self.stdout.write(f"payment {payment.public_id}: {payment.status}")

        details = ", ".join(f"{count} {name}" for name, count in sorted(outcome.items()))
        self.stdout.write(
            f"Reconciled {checked} open payment(s) started {first} to {last}"
            + (f": {details}." if details else ".")
        )
