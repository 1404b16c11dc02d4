"""The dashboard: who may see it, its figures in the shop's time zone, the chart and the lists."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from links import daily_totals
from links.dashboard import dashboard_figures
from links.models import LinkKind, LinkStatus, Payment, PaymentLink, PaymentStatus
from tests.support.factories import MerchantFactory, PaymentFactory, PaymentLinkFactory

ROME = ZoneInfo("Europe/Rome")
# A Tuesday in winter: Rome is UTC+1, so 00:10 in Rome is still yesterday in UTC.
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=ROME)


def url(shop) -> str:
    return reverse("links:dashboard", args=[shop.merchant.public_id])


def pay(
    link: PaymentLink,
    at: datetime,
    *,
    amount: int | None = None,
    status: str = PaymentStatus.SUCCEEDED,
    refunded: int = 0,
    currency: str | None = None,
) -> Payment:
    payment = PaymentFactory(
        link=link,
        amount=amount or link.amount,
        currency=currency or link.currency,
        status=status,
        refunded_amount=refunded,
    )
    Payment.objects.filter(pk=payment.pk).update(created_at=at)
    payment.refresh_from_db()
    if status == PaymentStatus.SUCCEEDED:  # what finalizing the payment and its refund count
        daily_totals.record_payment(payment=payment)
        if refunded:
            daily_totals.record_refund(payment=payment, amount=refunded)
    return payment


def make_link(merchant, *, created: datetime, **fields) -> PaymentLink:
    link = PaymentLinkFactory(merchant=merchant, **fields)
    PaymentLink.objects.filter(pk=link.pk).update(created_at=created)
    link.refresh_from_db()
    return link


@pytest.fixture
def known(shop) -> dict[str, object]:
    """A known month of a Rome shop, with a refund, a failure, dollars and another shop's sale."""
    merchant = shop.merchant
    old = make_link(
        merchant,
        created=NOW - timedelta(days=40),
        description="Abbonamento",
        amount=10000,
        kind=LinkKind.REUSABLE,
    )
    old.paid_at = NOW - timedelta(days=20)
    old.save(update_fields=["paid_at"])
    sold_out = make_link(
        merchant, created=NOW - timedelta(days=3), description="Cena", status=LinkStatus.PAID
    )
    sold_out.paid_at = NOW - timedelta(hours=1)
    sold_out.save(update_fields=["paid_at"])
    expiring = make_link(
        merchant,
        created=NOW - timedelta(hours=2),
        description="Scade presto",
        expires_at=NOW + timedelta(hours=10),
    )
    make_link(  # past its expiry, not yet marked expired: not open
        merchant,
        created=NOW - timedelta(days=8),
        description="Scaduto",
        expires_at=NOW - timedelta(hours=1),
    )
    make_link(  # expires in three days: open, but not "about to expire"
        merchant,
        created=NOW - timedelta(days=1),
        description="Dopodomani",
        expires_at=NOW + timedelta(days=3),
    )
    other = make_link(
        shop.outsider.merchant,
        created=NOW,
        description="Altro negozio",
        expires_at=NOW + timedelta(hours=5),
    )

    pay(old, NOW.replace(hour=10), amount=5000)
    pay(old, datetime(2026, 3, 10, 0, 10, tzinfo=ROME), amount=2000)  # today, 23:10 UTC yesterday
    pay(old, datetime(2026, 3, 9, 23, 50, tzinfo=ROME), amount=3000)  # yesterday late evening
    pay(old, NOW - timedelta(days=5), amount=10000, refunded=4000)
    pay(old, NOW - timedelta(days=20), amount=1000)
    pay(old, NOW - timedelta(days=35), amount=99900)  # before the 30 days
    pay(old, NOW.replace(hour=11), amount=7700, status=PaymentStatus.FAILED)
    pay(old, NOW.replace(hour=9), amount=500, currency="USD")
    pay(other, NOW.replace(hour=10), amount=50000)
    return {"expiring": expiring, "other": other}


def test_figures_for_today_7_and_30_days_in_the_shops_time_zone(shop, known):
    with translation.override("en"):
        figures = dashboard_figures(merchant=shop.merchant, now=NOW)

    today, week, month = figures.periods
    assert [p.label for p in figures.periods] == ["Today", "Last 7 days", "Last 30 days"]
    # 50 + 20 today (00:10 in Rome is today); yesterday's 30 at 23:50 is not.
    assert today.collected == ["€70.00", "US$5.00"]
    assert today.payments == 3
    # + 30 yesterday + (100 - 40 refunded) five days ago.
    assert week.collected == ["€160.00", "US$5.00"]
    assert week.payments == 5
    # + 10 twenty days ago; the 999 of 35 days ago, the failure, the other shop's 500 are out.
    assert month.collected == ["€170.00", "US$5.00"]
    assert month.payments == 6
    # Links: one created today (2 hours ago), "Cena" paid today and created 3 days ago.
    assert (today.links_created, today.links_paid) == (1, 1)
    assert (week.links_created, week.links_paid) == (3, 1)
    assert (month.links_created, month.links_paid) == (4, 2)
    assert figures.links_open == 3  # the old reusable one, "Scade presto", "Dopodomani"
    assert [link.description for link in figures.expiring_links] == ["Scade presto"]
    assert len(figures.latest_payments) == 8
    assert all(p.merchant_id == shop.merchant.pk for p in figures.latest_payments)


def test_chart_has_one_bar_per_day_in_the_shops_currency(shop, known):
    with translation.override("en"):
        chart = dashboard_figures(merchant=shop.merchant, now=NOW).chart

    assert chart.currency == "EUR"
    assert len(chart.bars) == 30
    assert chart.bars[0].day == date(2026, 2, 9)
    assert chart.bars[-1].day == date(2026, 3, 10)
    values = {bar.day: bar.value for bar in chart.bars if bar.value != "€0.00"}
    assert values == {
        date(2026, 3, 10): "€70.00",
        date(2026, 3, 9): "€30.00",
        date(2026, 3, 5): "€60.00",
        date(2026, 2, 18): "€10.00",
    }
    tallest = max(chart.bars, key=lambda bar: bar.height)
    assert tallest.day == date(2026, 3, 10)
    # Round gridlines in whole euros that cover the best day.
    assert [tick.text for tick in chart.y_ticks] == ["€0", "€20", "€40", "€60", "€80"]
    assert chart.other_currencies == ["USD"]
    assert "€170.00 collected in the last 30 days" in chart.summary
    assert "USD" in chart.summary


def test_the_chart_is_in_each_readers_language_one_after_the_other(shop, known):
    # Its labels are remembered between visits: by language, never the first reader's for all.
    charts = {}
    for language in ("it", "en", "it"):
        with translation.override(language):
            charts.setdefault(language, []).append(
                dashboard_figures(merchant=shop.merchant, now=NOW).chart
            )

    for first, *again in charts.values():
        for chart in again:
            assert [bar.label for bar in chart.bars] == [bar.label for bar in first.bars]
    italian, english = charts["it"][0], charts["en"][0]
    assert italian.bars[-1].label == "10 marzo 2026"
    assert english.bars[-1].label == "10 March 2026"
    assert italian.x_labels[0].text == "10 mar"
    assert english.x_labels[0].text == "10 Mar"
    assert italian.y_ticks[-1].text == "80\xa0€"
    assert english.y_ticks[-1].text == "€80"


def test_a_payment_late_in_the_evening_west_of_greenwich_counts_on_its_own_day(db):
    merchant = MerchantFactory(time_zone="America/New_York", default_currency="USD")
    link = make_link(merchant, created=NOW - timedelta(days=2), currency="USD", amount=1000)
    new_york = ZoneInfo("America/New_York")
    now = datetime(2026, 3, 10, 9, 0, tzinfo=new_york)
    pay(link, datetime(2026, 3, 9, 21, 30, tzinfo=new_york))  # 02:30 UTC on the 10th

    with translation.override("en"):
        figures = dashboard_figures(merchant=merchant, now=now)

    assert figures.periods[0].payments == 0
    assert figures.periods[1].payments == 1
    assert [bar.day for bar in figures.chart.bars if bar.height] == [date(2026, 3, 9)]


# --- The page ------------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["owner", "staff"])
def test_owner_and_staff_see_the_dashboard(client_as, shop, actor):
    PaymentLinkFactory(merchant=shop.merchant)

    response = client_as(actor).get(url(shop))

    assert response.status_code == 200
    assert "Daily takings, last 30 days (EUR)" in response.content.decode()


def test_a_member_of_another_shop_gets_404(client_as, shop):
    assert client_as("outsider").get(url(shop)).status_code == 404


def test_anonymous_visitor_is_sent_to_login(shop):
    response = Client().get(url(shop))

    assert response.status_code == 302
    assert response.url == f"{reverse('account_login')}?next={url(shop)}"


def test_a_new_shop_gets_its_checklist_instead_of_empty_figures(client_as, shop):
    response = client_as("owner").get(url(shop))

    content = response.content.decode()
    assert "Getting started" in content
    assert "Legal details for receipts" in content
    assert "Daily takings" not in content


def test_the_page_shows_figures_chart_and_lists(client_as, shop):
    link = PaymentLinkFactory(
        merchant=shop.merchant,
        description="Scade stasera",
        expires_at=timezone.now() + timedelta(hours=5),
        amount=2500,
    )
    payment = pay(link, timezone.now(), refunded=500)
    other = PaymentLinkFactory(merchant=shop.outsider.merchant, description="Segreto altrui")
    pay(other, timezone.now(), amount=123456)

    response = client_as("staff").get(url(shop))

    content = response.content.decode()
    assert "Getting started" not in content
    assert content.count("€20.00") >= 3  # today, 7 and 30 days, net of the 5 refunded
    assert "Segreto altrui" not in content
    assert "€1,234.56" not in content
    # The chart: an image with a name and a description, and a table as its text alternative.
    svg = re.search(r"<svg[^>]*>", content).group(0)
    assert 'role="img"' in svg
    assert 'aria-labelledby="chart-title chart-desc"' in svg
    assert '<title id="chart-title">Daily takings, last 30 days (EUR)</title>' in content
    assert content.count("<rect ") == 30
    hidden_table = re.search(
        r'<div class="visually-hidden"><table>.*?</table>', content, re.S
    ).group(0)
    assert hidden_table.count("<tr>") == 31
    # The latest payment links to its page; the link about to expire is listed.
    detail = reverse("links:payment_detail", args=[shop.merchant.public_id, payment.public_id])
    assert f'href="{detail}"' in content
    assert "Partially refunded" in content
    assert "Scade stasera" in content
    assert reverse("links:detail", args=[shop.merchant.public_id, link.pk]) in content


def test_in_italian_numbers_are_italian_but_the_chart_coordinates_are_not(shop):
    link = PaymentLinkFactory(merchant=shop.merchant, amount=1234)
    pay(link, timezone.now())
    client = shop.client_for("owner")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "it"

    content = client.get(url(shop)).content.decode()

    assert "12,34\xa0€" in content
    svg = re.search(r"<svg.*?</svg>", content, re.S).group(0)
    coordinates = re.findall(r'\b(?:x|y|x1|x2|y1|y2|width|height)="([^"]*)"', svg)
    assert coordinates
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", value) for value in coordinates)


def test_query_count_does_not_grow_with_payments_and_links(
    client_as, shop, django_assert_max_num_queries
):
    client = client_as("owner")
    link = PaymentLinkFactory(merchant=shop.merchant, kind=LinkKind.REUSABLE)
    for i in range(5):
        pay(link, timezone.now() - timedelta(days=i))
    client.get(url(shop))  # the first visit also stores the current shop in the session
    with CaptureQueriesContext(connection) as few:
        client.get(url(shop))

    for i in range(55):
        pay(link, timezone.now() - timedelta(days=i % 30, hours=i % 7), refunded=i % 3)
        PaymentLinkFactory(merchant=shop.merchant, expires_at=timezone.now() + timedelta(hours=i))
    # Savepoints, session, user, membership, the shop switcher, and the dashboard's four.
    with django_assert_max_num_queries(11), CaptureQueriesContext(connection) as many:
        response = client.get(url(shop))

    assert response.status_code == 200
    assert len(response.context["figures"].latest_payments) == 10
    assert len(many) == len(few)
