"""Daily totals: a shop's succeeded payments added up by day and currency (`DailyTotal`), so the
dashboard reads a month of rows instead of a month of payments.

A payment counts on the day it was made in the shop's time zone, net of whatever was refunded of
it since: the figures the payments list gives for that day. They are kept in the transaction of
the change, from the events that state it (links.subscribers): `record_payment` when a payment
succeeds (the transition, recorded once however often the provider says so), `record_refund`
when a refund succeeds. `rebuild` recounts them from the payments, one shop per transaction: the
migration that made the table, `manage.py rebuild_daily_totals`, and a change of the shop's time
zone, which moves payments to other days.

Every writer locks the shop's row first. Writers of one shop then take turns (their receipt
numbers already make them), and a rebuild never interleaves with an update: a payment is counted
once, by the recount or by its own update, never by both or neither.
"""

from __future__ import annotations

import zoneinfo

from django.db import transaction
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncDate

from merchants.models import Merchant

from .models import DailyTotal, Payment, PaymentStatus

TOTALS = ("payments", "gross", "refunded")


def _lock_shop(merchant_id: int) -> str:
    """Lock the shop's row until the transaction ends; its time zone, as last committed."""
    return (
        Merchant.objects.select_for_update(no_key=True)
        .values_list("time_zone", flat=True)
        .get(pk=merchant_id)
    )


def _add(payment: Payment, *, payments: int = 0, gross: int = 0, refunded: int = 0) -> None:
    """Add to the totals of the day `payment` was made, in its currency (in a transaction)."""
    time_zone = _lock_shop(payment.merchant_id)
    day = payment.created_at.astimezone(zoneinfo.ZoneInfo(time_zone)).date()
    key = {"merchant_id": payment.merchant_id, "day": day, "currency": payment.currency}
    added = DailyTotal.objects.filter(**key).update(
        payments=F("payments") + payments,
        gross=F("gross") + gross,
        refunded=F("refunded") + refunded,
    )
    if not added:  # the day's first payment (the shop's lock keeps another from creating it too)
        DailyTotal.objects.create(**key, payments=payments, gross=gross, refunded=refunded)


def record_payment(*, payment: Payment) -> None:
    """Count a payment that has just succeeded, for what it took. Call it once, in the
    transaction that finalizes the payment."""
    _add(payment, payments=1, gross=payment.amount)


def record_refund(*, payment: Payment, amount: int) -> None:
    """Count `amount` (minor units) just refunded of `payment`, on the day of the payment. Call it
    once, in the transaction that records the refund as succeeded."""
    _add(payment, refunded=amount)


def totals_by_day(payments: QuerySet, time_zone: str) -> QuerySet:
    """The succeeded ones of `payments` added up by shop, day in `time_zone` and currency, as
    DailyTotal's fields. Any Payment queryset: the migration passes its historical model's."""
    return (
        payments.filter(status=PaymentStatus.SUCCEEDED)
        .annotate(day=TruncDate("created_at", tzinfo=zoneinfo.ZoneInfo(time_zone)))
        .values("merchant_id", "day", "currency")
        .annotate(payments=Count("id"), gross=Sum("amount"), refunded=Sum("refunded_amount"))
        .order_by()
    )


def rebuild(*, merchant: Merchant | None = None) -> int:
    """Recount the daily totals from the payments: `merchant`'s, or every shop's, each shop in a
    transaction of its own. Returns how many (day, currency) rows the shops have."""
    if merchant is not None:
        shops = [merchant.pk]
    else:
        shops = list(Merchant.objects.order_by("pk").values_list("pk", flat=True))
    rows = 0
    for merchant_id in shops:
        with transaction.atomic():
            time_zone = _lock_shop(merchant_id)
            # Overwritten in place, not deleted and made again: a delete signals once per row
            # (the back-office cache), and most rows stay.
            mine = DailyTotal.objects.filter(merchant_id=merchant_id)
            mine.update(payments=0, gross=0, refunded=0)
            counted = [
                DailyTotal(**row)
                for row in totals_by_day(Payment.objects.filter(merchant_id=merchant_id), time_zone)
            ]
            DailyTotal.objects.bulk_create(
                counted,
                batch_size=1000,
                update_conflicts=True,
                unique_fields=["merchant", "day", "currency"],
                update_fields=list(TOTALS),
            )
            mine.filter(payments=0).delete()  # days left without payments (another time zone)
            rows += len(counted)
    return rows
