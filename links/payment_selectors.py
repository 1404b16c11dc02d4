"""Read paths for the payments list and its CSV export: filters, sorting and keyset pages.

A shop may have hundreds of thousands of payments, so a page never counts them: it asks for one
row more than it shows (is there a next page?) and continues from the last row it showed, a
cursor on (sort value, id) that an index on (merchant, sort value) answers without an OFFSET.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import F, Q, QuerySet

from merchants.models import Merchant

from .models import Payment, PaymentLink, PaymentStatus

PAGE_SIZE = 25
# What a row of payments shows (the list, the dashboard's latest): the rest is not loaded.
PAYMENT_ROW = (
    "public_id",
    "created_at",
    "amount",
    "refunded_amount",
    "currency",
    "status",
    "flag",
    "card_brand",
    "card_last4",
    "customer_email",
    "customer_name",
    "link__id",
    "link__description",
    "link__reference",
    "link__kind",
    "is_moto",
    "capture_before",
)

# The sort a person picks -> (model field, descending?). Anything else is refused by the form.
SORTS: dict[str, tuple[str, bool]] = {
    "-date": ("created_at", True),
    "date": ("created_at", False),
    "-amount": ("amount", True),
    "amount": ("amount", False),
}
DEFAULT_SORT = "-date"


@dataclass(frozen=True)
class PaymentFilters:
    q: str = ""
    status: str = ""  # a PaymentStatus value, "refunded" or "partially_refunded"
    date_from: date | None = None  # days in the shop's time zone, both included
    date_to: date | None = None
    amount_min: int | None = None  # minor units
    amount_max: int | None = None
    link_id: int | None = None
    kind: str = ""
    channel: str = ""  # "online" (the customer on the pay page) or "moto" (keyed by the shop)
    method: str = ""  # a PaymentMethodKind value

    @property
    def active(self) -> bool:
        return any(value not in ("", None) for value in vars(self).values())


def day_start(day: date, time_zone: str) -> datetime:
    """The instant a day begins in the shop's time zone."""
    return datetime.combine(day, time.min, tzinfo=zoneinfo.ZoneInfo(time_zone))


def payment_list(
    *, merchant: Merchant, filters: PaymentFilters, sort: str = DEFAULT_SORT
) -> QuerySet[Payment]:
    """The shop's payments matching `filters`, in the order of `sort` (ties broken by id)."""
    payments = Payment.objects.filter(merchant=merchant)
    f = filters
    if f.q:
        # The shop's links are searched once, not once per payment through a join: ten times
        # fewer rows, and the payments then only compare an id and their own email.
        links = PaymentLink.objects.filter(merchant=merchant).filter(
            Q(reference__icontains=f.q) | Q(description__icontains=f.q)
        )
        search = Q(link_id__in=links.values("id")) | Q(customer_email__icontains=f.q)
        if len(f.q) == 4 and f.q.isascii() and f.q.isdigit():
            search |= Q(card_last4=f.q)
        payments = payments.filter(search)
    if f.status == "refunded":
        payments = payments.filter(
            status=PaymentStatus.SUCCEEDED, refunded_amount__gt=0, refunded_amount__gte=F("amount")
        )
    elif f.status == "partially_refunded":
        payments = payments.filter(
            status=PaymentStatus.SUCCEEDED, refunded_amount__gt=0, refunded_amount__lt=F("amount")
        )
    elif f.status:
        payments = payments.filter(status=f.status)
    if f.date_from:
        payments = payments.filter(created_at__gte=day_start(f.date_from, merchant.time_zone))
    if f.date_to:
        end = day_start(f.date_to + timedelta(days=1), merchant.time_zone)
        payments = payments.filter(created_at__lt=end)
    if f.amount_min is not None:
        payments = payments.filter(amount__gte=f.amount_min)
    if f.amount_max is not None:
        payments = payments.filter(amount__lte=f.amount_max)
    if f.link_id is not None:
        payments = payments.filter(link_id=f.link_id)
    if f.kind:
        payments = payments.filter(link__kind=f.kind)
    if f.channel:
        payments = payments.filter(is_moto=f.channel == "moto")
    if f.method:
        payments = payments.filter(method=f.method)
    name, descending = SORTS[sort]
    prefix = "-" if descending else ""
    return payments.order_by(f"{prefix}{name}", f"{prefix}id")


# --- Keyset pages -------------------------------------------------------------------------------


class CursorError(ValueError):
    """The page link was edited: its cursor is not two numbers."""


@dataclass(frozen=True)
class Cursor:
    """A position in the list: the sort value and id of a row (a date as microseconds)."""

    value: int
    id: int

    def __str__(self) -> str:
        return f"{self.value}.{self.id}"

    @classmethod
    def of(cls, payment: Payment, sort: str = DEFAULT_SORT) -> Cursor:
        """The position of `payment` in the list sorted by `sort`."""
        return cls(_sort_value(payment, SORTS[sort][0]), payment.pk)

    @classmethod
    def parse(cls, text: str) -> Cursor:
        value, _, row_id = text.partition(".")
        if not text.isascii():  # int() reads other scripts' digits too
            raise CursorError(text)
        try:
            cursor = cls(int(value), int(row_id))
        except ValueError as error:
            raise CursorError(text) from error
        if cursor.id <= 0 or abs(cursor.value) > 2**62:
            raise CursorError(text)
        return cursor


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sort_value(payment: Payment, name: str) -> int:
    if name == "created_at":
        delta = payment.created_at - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return payment.amount


def _field_value(cursor: Cursor, name: str) -> datetime | int:
    if name == "created_at":
        return _EPOCH + timedelta(microseconds=cursor.value)
    return cursor.value


@dataclass
class PaymentPage:
    payments: list[Payment] = field(default_factory=list)
    has_previous: bool = False
    has_next: bool = False
    previous_cursor: str = ""  # ?before=... shows the rows just before this page
    next_cursor: str = ""  # ?after=... shows the rows just after it
    is_first: bool = True  # no cursor: the list from its start


def _beyond(cursor: Cursor, name: str, *, forward: bool, descending: bool) -> Q:
    """Rows strictly after `cursor` in the direction of travel."""
    return _past(_field_value(cursor, name), cursor.id, name, greater=forward != descending)


def _past(value: datetime | int, row_id: int, name: str, *, greater: bool) -> Q:
    """Rows strictly past (`value`, `row_id`). The plain range on the sort field comes first so
    the (merchant, field) index bounds the scan; the id breaks ties."""
    if greater:
        return Q(**{f"{name}__gte": value}) & (Q(**{f"{name}__gt": value}) | Q(id__gt=row_id))
    return Q(**{f"{name}__lte": value}) & (Q(**{f"{name}__lt": value}) | Q(id__lt=row_id))


def rows_in_pages(
    payments: QuerySet[Payment], columns: Sequence[str], size: int
) -> Iterator[tuple]:
    """`payments` (sorted by a sort of SORTS then id, as `filtered_payments` sorts them) as tuples
    of `columns`, read `size` rows at a time by keyset: memory stays flat however many there are,
    without a server-side cursor, which transaction pooling (PgBouncer) rules out."""
    first = payments.query.order_by[0]
    name, descending = first.lstrip("-"), first.startswith("-")
    query = payments.values_list(*columns, name, "id")
    page = list(query[:size])
    while page:
        for row in page:
            yield row[:-2]
        if len(page) < size:
            return
        value, row_id = page[-1][-2:]
        page = list(query.filter(_past(value, row_id, name, greater=not descending))[:size])


def payment_page(
    payments: QuerySet[Payment],
    *,
    sort: str = DEFAULT_SORT,
    after: Cursor | None = None,
    before: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> PaymentPage:
    """One page of `payments` (already ordered by `sort`) without counting them: `size + 1` rows
    are fetched, the extra one only says that there is more."""
    name, descending = SORTS[sort]
    is_first = after is None and before is None
    if before is not None:
        # Walk backwards: the reversed order from the cursor, then flip the rows back.
        backwards = payments.filter(_beyond(before, name, forward=False, descending=descending))
        rows = list(backwards.reverse()[: size + 1])
        page = PaymentPage(payments=rows[:size][::-1], has_previous=len(rows) > size, has_next=True)
    else:
        if after is not None:
            payments = payments.filter(_beyond(after, name, forward=True, descending=descending))
        rows = list(payments[: size + 1])
        page = PaymentPage(
            payments=rows[:size], has_previous=after is not None, has_next=len(rows) > size
        )
    page.is_first = is_first
    if not page.payments:  # an edited or stale cursor past either end: nowhere to go from here
        page.has_previous = page.has_next = False
        return page
    page.previous_cursor = str(Cursor.of(page.payments[0], sort))
    page.next_cursor = str(Cursor.of(page.payments[-1], sort))
    return page
