"""The dashboard's daily totals: kept by finalizing payments and refunds, recounted by a command,
and giving exactly the figures the payment rows give (the dashboard's query before the totals)."""

from __future__ import annotations

import importlib
import secrets
from datetime import date, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate
from django.utils import translation

from links import dashboard
from links.daily_totals import rebuild
from links.models import DailyTotal, LinkKind, Payment, PaymentLink, PaymentStatus
from links.payment_selectors import day_start
from links.payments import payment_apply
from links.providers import PaymentState, ProviderPayment, ProviderRefund
from links.refunds import refund_record_external
from merchants.services import merchant_update
from receipts import tasks as receipt_tasks
from tests.support.concurrency import run_concurrently
from tests.support.factories import PaymentLinkFactory

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=ROME)


@pytest.fixture(autouse=True)
def followups():
    """The PDFs and emails after commit are not what these tests are about."""
    with (
        mock.patch.object(receipt_tasks.payment_followups, "delay"),
        mock.patch.object(receipt_tasks.refund_followups, "delay"),
    ):
        yield


def reusable(merchant, currency: str = "EUR") -> PaymentLink:
    return PaymentLinkFactory(
        merchant=merchant, kind=LinkKind.REUSABLE, amount=1000, currency=currency
    )


def started(link: PaymentLink, at: datetime, amount: int, **fields) -> Payment:
    """A payment started at `at` that the provider has not settled yet."""
    payment = Payment.objects.create(
        merchant=link.merchant,
        link=link,
        attempt_key=secrets.token_hex(12),
        provider_id=f"pi_{secrets.token_hex(12)}",
        amount=amount,
        currency=link.currency,
        **fields,
    )
    Payment.objects.filter(pk=payment.pk).update(created_at=at)
    return payment


def succeeded(payment: Payment, *, captured: int | None = None) -> Payment:
    """The provider reports `payment` paid (for what it held; `captured`: an authorization's
    capture), as the webhook, the browser and reconciliation do."""
    answer = ProviderPayment(
        id=payment.provider_id,
        state=PaymentState.SUCCEEDED,
        amount=payment.authorized_amount or payment.amount,
        currency=payment.currency,
        amount_captured=captured,
    )
    return payment_apply(payment_id=payment.pk, provider_payment=answer, source="webhook")


def paid(link: PaymentLink, at: datetime, amount: int) -> Payment:
    return succeeded(started(link, at, amount))


def refunded(payment: Payment, amount: int) -> None:
    """A refund made in the Stripe dashboard, reported by webhook."""
    answer = ProviderRefund(id=f"re_{secrets.token_hex(12)}", amount=amount, succeeded=True)
    refund_record_external(payment=payment, answer=answer)


def from_payment_rows(merchant, first: date) -> dict[tuple[date, str], tuple[int, int]]:
    """The dashboard's daily takings as they were computed before the totals: from every
    succeeded payment since the day `first` began."""
    rows = (
        Payment.objects.filter(
            merchant=merchant,
            status=PaymentStatus.SUCCEEDED,
            created_at__gte=day_start(first, merchant.time_zone),
        )
        .annotate(day=TruncDate("created_at", tzinfo=ZoneInfo(merchant.time_zone)))
        .values("day", "currency")
        .annotate(net=Sum(F("amount") - F("refunded_amount")), count=Count("id"))
        .order_by()
    )
    return {(row["day"], row["currency"]): (row["net"] or 0, row["count"]) for row in rows}


def figures_both_ways(merchant, now: datetime = NOW):
    """The dashboard's figures from the daily totals, and from the payment rows."""
    merchant.refresh_from_db()
    with translation.override("en"):
        from_totals = dashboard.dashboard_figures(merchant=merchant, now=now)
        with mock.patch.object(dashboard, "_daily_takings", from_payment_rows):
            from_rows = dashboard.dashboard_figures(merchant=merchant, now=now)
    assert from_totals.periods == from_rows.periods
    assert from_totals.chart == from_rows.chart
    return from_totals


@pytest.fixture
def month(shop) -> dict[str, Payment]:
    """A Rome shop's month through the real services: payments on several days and in two
    currencies, partial and full refunds, a capture for less than was held, a failure, a payment
    reported paid twice, another shop's sale."""
    merchant = shop.merchant
    euros, dollars = reusable(merchant), reusable(merchant, "USD")
    made = {
        "today": paid(euros, NOW.replace(hour=9), 5000),
        "just after midnight": paid(euros, datetime(2026, 3, 10, 0, 10, tzinfo=ROME), 2000),
        "late yesterday": paid(euros, datetime(2026, 3, 9, 23, 50, tzinfo=ROME), 3000),
        "five days ago": paid(euros, NOW - timedelta(days=5), 10000),
        "twenty days ago": paid(euros, NOW - timedelta(days=20), 1000),
        "before the month": paid(euros, NOW - timedelta(days=35), 99900),
        "dollars": paid(dollars, NOW.replace(hour=8), 500),
        "dollars refunded": paid(dollars, NOW - timedelta(days=2), 700),
    }
    refunded(made["five days ago"], 4000)
    refunded(made["five days ago"], 1000)
    refunded(made["dollars refunded"], 700)
    refunded(made["before the month"], 900)
    held = started(
        euros,
        NOW - timedelta(days=1),
        8000,
        status=PaymentStatus.AUTHORIZED,
        authorized_amount=8000,
    )
    made["captured"] = succeeded(held, captured=6000)
    failed = started(euros, NOW.replace(hour=10), 7700)
    payment_apply(
        payment_id=failed.pk,
        provider_payment=ProviderPayment(
            id=failed.provider_id,
            state=PaymentState.NEEDS_PAYMENT_METHOD,
            amount=7700,
            currency="EUR",
            failure_code="card_declined",
        ),
        source="webhook",
    )
    succeeded(made["today"])  # reported again: counted once
    started(euros, NOW.replace(hour=11), 1234)  # still open: not counted
    paid(reusable(shop.outsider.merchant), NOW.replace(hour=10), 50000)
    return made


def test_figures_from_the_totals_are_those_of_the_payment_rows(shop, month):
    figures = figures_both_ways(shop.merchant)

    today, week, month_ = figures.periods
    assert today.collected == ["€70.00", "US$5.00"]
    assert today.payments == 3
    # + 30 late yesterday, + 60 captured of 80 held, + (100 - 50 refunded) five days ago; the
    # dollars refunded in full still count as a payment, for nothing.
    assert week.collected == ["€210.00", "US$5.00"]
    assert week.payments == 7
    assert month_.collected == ["€220.00", "US$5.00"]
    assert month_.payments == 8
    assert DailyTotal.objects.filter(merchant=shop.outsider.merchant).get().gross == 50000


def test_a_new_time_zone_moves_payments_to_their_days_there(shop, month):
    merchant_update(merchant=shop.merchant, data={"time_zone": "America/New_York"})

    figures = figures_both_ways(shop.merchant)

    # 00:10 in Rome is still the evening before in New York; 9:00 and 8:00 are today there too.
    assert figures.periods[0].payments == 2
    assert figures.periods[1].payments == 7


def test_the_command_recounts_the_totals_of_one_shop_or_all(shop, month):
    other = shop.outsider.merchant
    DailyTotal.objects.filter(merchant=shop.merchant).update(payments=99, gross=1)
    DailyTotal.objects.create(merchant=shop.merchant, day=date(2020, 1, 1), currency="EUR")
    DailyTotal.objects.filter(merchant=other).delete()

    call_command("rebuild_daily_totals", "--shop", str(shop.merchant.public_id))

    figures_both_ways(shop.merchant)
    assert not DailyTotal.objects.filter(merchant=shop.merchant, day=date(2020, 1, 1)).exists()
    assert not DailyTotal.objects.filter(merchant=other).exists()  # another shop's: untouched
    call_command("rebuild_daily_totals")
    assert DailyTotal.objects.filter(merchant=other).get().payments == 1
    with pytest.raises(CommandError, match="no shop with id"):
        call_command("rebuild_daily_totals", "--shop", "not-a-shop")


def test_the_migration_fills_the_totals_of_existing_payments(shop, month):
    kept = sorted(DailyTotal.objects.values_list("merchant", "day", "currency", "gross"))
    DailyTotal.objects.all().delete()

    importlib.import_module("links.migrations.0015_daily_total").fill(apps, None)

    assert sorted(DailyTotal.objects.values_list("merchant", "day", "currency", "gross")) == kept
    figures_both_ways(shop.merchant)


def test_a_shop_without_payments_has_no_totals(shop):
    reusable(shop.merchant)

    assert rebuild(merchant=shop.merchant) == 0
    assert figures_both_ways(shop.merchant).periods[2].payments == 0


@pytest.mark.django_db(transaction=True)
def test_payments_and_refunds_finalized_at_once_leave_exact_totals(shop):
    """Ten payments of one shop finalized at once, one of them reported paid by five callers at
    once, and refunds settled meanwhile: each payment and refund is counted once."""
    link = reusable(shop.merchant)
    now = datetime.now(tz=ROME)
    earlier = [paid(link, now - timedelta(days=1), 1000) for _ in range(3)]
    payments = [started(link, now, 100 * (i + 1)) for i in range(10)]

    def refund_job(payment: Payment):
        return lambda: refunded(Payment.objects.get(pk=payment.pk), 300)

    jobs = [lambda p=p: succeeded(p) for p in payments]
    jobs += [lambda: succeeded(payments[0])] * 4
    jobs += [refund_job(payment) for payment in earlier]
    results = run_concurrently(jobs)

    assert not [r for r in results if isinstance(r, Exception)], results
    today, yesterday = now.date(), (now - timedelta(days=1)).date()
    totals = {
        row.day: (row.payments, row.gross, row.refunded)
        for row in DailyTotal.objects.filter(merchant=shop.merchant)
    }
    assert totals == {today: (10, 5500, 0), yesterday: (3, 3000, 900)}
    figures_both_ways(shop.merchant, now=now)
