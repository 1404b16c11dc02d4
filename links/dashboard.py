"""The dashboard's figures: takings, payments and links for today, 7 and 30 days in the shop's time
zone, a 30-day chart of daily takings (drawn by vpos.charts), the latest payments and the links
about to expire.

Five queries whatever the shop's size, each bounded by an index to recent or open rows: the
link counts (one statement), the daily takings (which also give the period totals), the payments
not settled yet and the two short lists (a sixth, only when nothing counts, tells a quiet shop
from a new one). A payment counts on the day it was made in the shop's time zone (the date the
payments list shows and filters on), net of what was refunded. The daily takings are read from
the shop's daily totals (links.daily_totals): at most 30 rows per currency, however many payments
the shop has.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from merchants.models import Merchant
from vpos.charts import Chart, daily_chart
from vpos.money import format_money

from .models import DailyTotal, LinkStatus, Payment, PaymentLink, PaymentStatus
from .payment_selectors import PAYMENT_ROW, day_start

PERIODS = (("today", 1), ("week", 7), ("month", 30))
CHART_DAYS = 30
EXPIRING_WITHIN = timedelta(hours=48)
LIST_SIZE = 10


@dataclass
class PeriodFigures:
    key: str
    label: str
    collected: list[str]  # one formatted amount per currency, the shop's own first
    payments: int
    links_created: int
    links_paid: int


@dataclass
class Dashboard:
    has_links: bool
    periods: list[PeriodFigures] = field(default_factory=list)
    links_open: int = 0
    chart: Chart | None = None
    latest_payments: list[Payment] = field(default_factory=list)
    expiring_links: list[PaymentLink] = field(default_factory=list)
    # Authorizations awaiting capture: how many, and what they hold (one amount per currency).
    awaiting_capture: int = 0
    awaiting_capture_amounts: list[str] = field(default_factory=list)
    # Payments processing (bank debits the bank has not answered yet).
    being_confirmed: int = 0
    being_confirmed_amounts: list[str] = field(default_factory=list)


def _currency_order(merchant: Merchant, currencies: set[str]) -> list[str]:
    return sorted(currencies, key=lambda c: (c != merchant.default_currency, c))


def _daily_takings(merchant: Merchant, first: date) -> dict[tuple[date, str], tuple[int, int]]:
    """(local day, currency) -> (amount net of refunds, number of payments), from day `first`."""
    rows = DailyTotal.objects.filter(merchant=merchant, day__gte=first).values_list(
        "day", "currency", "payments", "gross", "refunded"
    )
    return {
        (day, currency): (gross - refunded, payments)
        for day, currency, payments, gross, refunded in rows
    }


@functools.cache
def _link_counts_sql(periods: tuple[str, ...]) -> tuple[str, list[str]]:
    """One statement of scalar counts over the shop's links: the open ones, and the ones created
    and paid since each period's start; with the names of its parameters, in order.

    Plain SQL: the same counts as querysets (a subquery each, grouped by shop) cost the
    dashboard about 3 ms of query building on every visit, more than PostgreSQL takes to count a
    big shop's 20,000 open links. Each count reads one index only: the shop's links by status and
    expiry, by creation date, by payment date."""
    table = connection.ops.quote_name(PaymentLink._meta.db_table)

    def column(name: str) -> str:
        return connection.ops.quote_name(PaymentLink._meta.get_field(name).column)

    def count(condition: str) -> str:
        return f"(SELECT COUNT(*) FROM {table} WHERE {column('merchant')} = %s AND {condition})"  # noqa: S608

    expires = column("expires_at")
    counts = [count(f"{column('status')} = %s AND ({expires} IS NULL OR {expires} > %s)")]
    names = ["merchant", "status", "now"]
    for key in periods:
        counts.append(count(f"{column('created_at')} >= %s"))
        counts.append(count(f"{column('paid_at')} >= %s"))
        names += ["merchant", key, "merchant", key]
    return f"SELECT {', '.join(counts)}", names


def _link_counts(merchant: Merchant, starts: dict[str, datetime], now: datetime) -> dict[str, int]:
    """Open links, and links created and paid since each start: one query of seven counts,
    never reading the shop's other links."""
    sql, names = _link_counts_sql(tuple(starts))
    adapt = connection.ops.adapt_datetimefield_value
    values = {"merchant": merchant.pk, "status": LinkStatus.ACTIVE.value, "now": adapt(now)}
    values.update({key: adapt(start) for key, start in starts.items()})
    with connection.cursor() as cursor:
        cursor.execute(sql, [values[name] for name in names])
        row = cursor.fetchone()
    keys = ["open"] + [f"{kind}_{key}" for key in starts for kind in ("created", "paid")]
    return dict(zip(keys, row, strict=True))


def _latest_payments(merchant: Merchant) -> list[Payment]:
    return list(
        Payment.objects.filter(merchant=merchant)
        .select_related("link")
        .only(*PAYMENT_ROW)
        .order_by("-created_at", "-id")[:LIST_SIZE]
    )


def _in_flight(merchant: Merchant) -> dict[str, tuple[int, list[str]]]:
    """Money not settled yet, by status: authorizations awaiting capture (what they hold) and
    payments processing (bank debits awaiting the bank): how many, one amount per currency."""
    rows = (
        Payment.objects.filter(
            merchant=merchant, status__in=[PaymentStatus.AUTHORIZED, PaymentStatus.PROCESSING]
        )
        .values("status", "currency")
        .annotate(total=Sum(Coalesce("authorized_amount", "amount")), count=Count("id"))
        .order_by()
    )
    found: dict[str, dict[str, tuple[int, int]]] = {}
    for row in rows:
        found.setdefault(row["status"], {})[row["currency"]] = (row["total"] or 0, row["count"])
    return {
        status: (
            sum(count for _total, count in sums.values()),
            [format_money(sums[c][0], c) for c in _currency_order(merchant, set(sums))],
        )
        for status, sums in found.items()
    }


def _expiring_links(merchant: Merchant, now: datetime) -> list[PaymentLink]:
    return list(
        PaymentLink.objects.filter(
            merchant=merchant,
            status=LinkStatus.ACTIVE,
            expires_at__gt=now,
            expires_at__lte=now + EXPIRING_WITHIN,
        )
        .only("id", "description", "reference", "amount", "currency", "expires_at", "status")
        .order_by("expires_at", "id")[:LIST_SIZE]
    )


def dashboard_figures(*, merchant: Merchant, now: datetime | None = None) -> Dashboard:
    """Everything the dashboard shows. A shop without links gets `has_links=False` and nothing
    else: the page shows its getting-started checklist instead."""
    now = now or timezone.now()
    today = now.astimezone(zoneinfo.ZoneInfo(merchant.time_zone)).date()
    firsts = {key: today - timedelta(days=days - 1) for key, days in PERIODS}
    starts = {key: day_start(first, merchant.time_zone) for key, first in firsts.items()}
    links = _link_counts(merchant, starts, now)
    if not any(links.values()) and not PaymentLink.objects.filter(merchant=merchant).exists():
        return Dashboard(has_links=False)

    chart_days = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    takings = _daily_takings(merchant, min(chart_days[0], *firsts.values()))
    currencies = _currency_order(merchant, {currency for _day, currency in takings})
    labels = {"today": _("Today"), "week": _("Last 7 days"), "month": _("Last 30 days")}
    periods = []
    for key, first in firsts.items():
        net: dict[str, int] = defaultdict(int)
        payments = 0
        for (day, currency), (amount, count) in takings.items():
            if day >= first:
                net[currency] += amount
                payments += count
        shown = [c for c in currencies if c in net] or [merchant.default_currency]
        periods.append(
            PeriodFigures(
                key=key,
                label=labels[key],
                collected=[format_money(net.get(c, 0), c) for c in shown],
                payments=payments,
                links_created=links[f"created_{key}"],
                links_paid=links[f"paid_{key}"],
            )
        )

    # The shop's own currency, unless all its takings are in others.
    chart_currency = (
        merchant.default_currency
        if merchant.default_currency in currencies or not currencies
        else currencies[0]
    )
    daily = {day: amount for (day, c), (amount, _count) in takings.items() if c == chart_currency}
    others = [c for c in currencies if c != chart_currency]
    in_flight = _in_flight(merchant)
    awaiting, awaiting_amounts = in_flight.get(PaymentStatus.AUTHORIZED, (0, []))
    confirming, confirming_amounts = in_flight.get(PaymentStatus.PROCESSING, (0, []))
    return Dashboard(
        has_links=True,
        periods=periods,
        links_open=links["open"],
        chart=daily_chart(chart_days, daily, chart_currency, others),
        latest_payments=_latest_payments(merchant),
        expiring_links=_expiring_links(merchant, now),
        awaiting_capture=awaiting,
        awaiting_capture_amounts=awaiting_amounts,
        being_confirmed=confirming,
        being_confirmed_amounts=confirming_amounts,
    )
