"""Daily totals: a shop's succeeded payments added up by day and currency (`DailyTotal`), so the
dashboard reads a month of rows instead of a month of payments.

A payment counts on the day it was made in the shop's time zone, net of whatever was refunded of
it since: the figures the payments list gives for that day. They are kept in the transaction of
the change, from the events that state it (links.subscribers): `record_payment` when a payment
succeeds (the transition, recorded once however often the provider says so), `record_refund`
when a refund succeeds. `rebuild` recounts them from the payments, one shop per transaction
(`manage.py rebuild_daily_totals`, and a change of the shop's time zone, which moves payments to
other days); the migration that made the table filled it with the same query (`totals_by_day`).

Writers of a shop's totals share a lock on the shop (PostgreSQL's advisory locks: no row of the
shop is locked, no other code takes them) and add to a day's row in one statement; a rebuild takes
the lock alone. So concurrent payments never wait for each other here (only for the day's row), and
a rebuild never interleaves with them: a payment is counted once, by the recount or by its own
update, never by both or neither, and in the time zone the recount used.
"""

from __future__ import annotations

import zoneinfo

from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate

from merchants.models import Merchant

from .models import DailyTotal, Payment, PaymentStatus

TOTALS = ("payments", "gross", "refunded")


# The advisory locks' first key: "daily totals". The second is the shop's id (two shops whose
# ids are equal modulo 2**31 only wait for each other's rebuild).
_LOCK_SPACE = 0x64746F74


def _lock_shop(merchant_id: int, *, alone: bool = False) -> str:
    """Lock the shop's totals until the transaction ends, shared with other writers or `alone`;
    the shop's time zone, as committed by then. SQLite needs no lock: it runs one writing
    transaction at a time."""
    if connection.vendor == "postgresql":
        function = "pg_advisory_xact_lock" if alone else "pg_advisory_xact_lock_shared"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s, %s)", [_LOCK_SPACE, merchant_id % 2**31])
    return Merchant.objects.values_list("time_zone", flat=True).get(pk=merchant_id)


def _upsert_sql() -> str:
    """Add a day's figures to its row, or make the row: one statement (PostgreSQL, SQLite)."""
    table = connection.ops.quote_name(DailyTotal._meta.db_table)
    key = ("merchant_id", "day", "currency")
    columns = ", ".join((*key, *TOTALS))
    added = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in TOTALS)
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * 6)}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {added}"
    )


def _add(payment: Payment, *, payments: int = 0, gross: int = 0, refunded: int = 0) -> None:
    """Add to the totals of the day `payment` was made, in its currency (in a transaction)."""
    time_zone = _lock_shop(payment.merchant_id)
    day = payment.created_at.astimezone(zoneinfo.ZoneInfo(time_zone)).date()
    with connection.cursor() as cursor:
        cursor.execute(
            _upsert_sql(),
            [
                payment.merchant_id,
                connection.ops.adapt_datefield_value(day),
                payment.currency,
                payments,
                gross,
                refunded,
            ],
        )


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
            time_zone = _lock_shop(merchant_id, alone=True)
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
