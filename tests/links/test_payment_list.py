"""The shop's payments: who may see them, search, filters, sorting, keyset pages and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from links.models import LinkKind, Payment, PaymentLink, PaymentStatus
from receipts.models import Receipt
from tests.support.factories import PaymentFactory, PaymentLinkFactory

ROME = ZoneInfo("Europe/Rome")


def list_url(shop) -> str:
    return reverse("links:payments", args=[shop.merchant.public_id])


def csv_url(shop) -> str:
    return reverse("links:payments_csv", args=[shop.merchant.public_id])


def pay(
    link: PaymentLink,
    *,
    amount: int | None = None,
    at: datetime | None = None,
    status: str = PaymentStatus.SUCCEEDED,
    refunded: int = 0,
    **fields,
) -> Payment:
    """A payment on `link` made at `at` (created_at cannot be set on create: auto_now_add)."""
    payment = PaymentFactory(
        link=link,
        amount=amount or link.amount,
        status=status,
        refunded_amount=refunded,
        **fields,
    )
    if at is not None:
        Payment.objects.filter(pk=payment.pk).update(created_at=at)
        payment.refresh_from_db()
    return payment


def listed(response) -> list[int]:
    return [p.pk for p in response.context["pager"].payments]


def csv_rows(response, delimiter: str = ",") -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body), delimiter=delimiter))


@pytest.fixture
def sample(shop) -> dict[str, Payment]:
    """Seven payments of the shop over a few March days (Rome time), and one of another shop."""
    dinner = PaymentLinkFactory(
        merchant=shop.merchant, description="Cena per due", reference="ORD-77", amount=4550
    )
    course = PaymentLinkFactory(
        merchant=shop.merchant,
        description="Corso di ceramica",
        kind=LinkKind.REUSABLE,
        amount=12000,
    )
    other = PaymentLinkFactory(
        merchant=shop.outsider.merchant, description="Cena per due", reference="ORD-77"
    )
    day = datetime(2026, 3, 10, 12, 0, tzinfo=ROME)
    return {
        "dinner": pay(
            dinner,
            at=day,
            customer_email="anna@example.com",
            card_brand="visa",
            card_last4="4242",
            provider_id="pi_dinner",
        ),
        "course_1": pay(course, at=day + timedelta(days=1), customer_email="bruno@example.com"),
        "course_2": pay(
            course, at=day + timedelta(days=2), refunded=12000, customer_email="carla@example.com"
        ),
        "course_3": pay(course, at=day + timedelta(days=3), refunded=2000, card_last4="0005"),
        "failed": pay(course, at=day + timedelta(days=4), status=PaymentStatus.FAILED),
        # Just before and just after midnight in Rome: 22:59 and 23:01 UTC on the 14th.
        "late": pay(course, amount=1050, at=datetime(2026, 3, 14, 23, 59, tzinfo=ROME)),
        "early": pay(course, amount=100000, at=datetime(2026, 3, 15, 0, 1, tzinfo=ROME)),
        "other_shop": pay(other, at=day, customer_email="anna@example.com", card_last4="4242"),
    }


def ids(sample, *names: str) -> list[int]:
    return [sample[name].pk for name in names]


NEWEST_FIRST = ["early", "late", "failed", "course_3", "course_2", "course_1", "dinner"]


# --- Who may see what ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", [list_url, csv_url])
@pytest.mark.parametrize("actor", ["owner", "staff"])
def test_owner_and_staff_see_the_payments(client_as, shop, sample, url, actor):
    response = client_as(actor).get(url(shop))

    assert response.status_code == 200


@pytest.mark.parametrize("url", [list_url, csv_url])
def test_a_member_of_another_shop_gets_404(client_as, shop, sample, url):
    assert client_as("outsider").get(url(shop)).status_code == 404


@pytest.mark.parametrize("url", [list_url, csv_url])
def test_anonymous_visitor_is_sent_to_login(client_as, shop, url):
    response = client_as("anonymous").get(url(shop))

    assert response.status_code == 302
    assert response.url == f"{reverse('account_login')}?next={url(shop)}"


def test_list_shows_the_shops_payments_newest_first_with_their_details(client_as, shop, sample):
    response = client_as("staff").get(list_url(shop))

    assert listed(response) == ids(sample, *NEWEST_FIRST)
    content = response.content.decode()
    detail = reverse(
        "links:payment_detail", args=[shop.merchant.public_id, sample["dinner"].public_id]
    )
    assert f'href="{detail}"' in content
    assert "Cena per due" in content
    assert "ORD-77" in content
    assert "Visa ···· 4242" in content
    assert "€45.50" in content
    assert "Partially refunded" in content
    assert "Refunded" in content
    assert sample["other_shop"].public_id.hex not in content.replace("-", "")
    assert 'aria-current="page">Payments</a>' in content  # the navigation marks where we are


def test_a_shop_without_payments_says_so(client_as, shop):
    response = client_as("owner").get(list_url(shop))

    assert response.status_code == 200
    assert "No payments yet" in response.content.decode()


# --- Search and filters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "ord-77"}, ["dinner"]),  # link reference, any case
        ({"q": "ceramica"}, ["early", "late", "failed", "course_3", "course_2", "course_1"]),
        ({"q": "bruno@"}, ["course_1"]),  # customer email
        ({"q": "4242"}, ["dinner"]),  # card last 4
        ({"q": "0005"}, ["course_3"]),
        ({"q": "nobody"}, []),
        ({"status": "succeeded"}, ["early", "late", "course_3", "course_2", "course_1", "dinner"]),
        ({"status": "failed"}, ["failed"]),
        ({"status": "refunded"}, ["course_2"]),
        ({"status": "partially_refunded"}, ["course_3"]),
        ({"status": "pending"}, []),
        # Days are the shop's: 23:59 in Rome on the 14th is the 14th, 00:01 is the 15th.
        ({"date_from": "2026-03-14", "date_to": "2026-03-14"}, ["late", "failed"]),
        ({"date_from": "2026-03-15"}, ["early"]),
        ({"date_to": "2026-03-11"}, ["course_1", "dinner"]),
        # Amounts typed the local way, in the shop's currency (EUR), both bounds included.
        ({"amount_min": "45,50", "amount_max": "120"}, NEWEST_FIRST[2:]),
        ({"amount_min": "1.000"}, ["early"]),
        ({"amount_max": "10.50"}, ["late"]),
        ({"amount_min": "€ 100,01"}, ["early", "failed", "course_3", "course_2", "course_1"]),
        ({"kind": "single"}, ["dinner"]),
        (
            {"kind": "reusable", "status": "succeeded", "amount_max": "120,00"},
            ["late", "course_3", "course_2", "course_1"],
        ),
    ],
)
def test_search_and_filters_return_exactly_the_matching_payments(
    client_as, shop, sample, query, expected
):
    response = client_as("owner").get(list_url(shop), query)

    assert response.status_code == 200
    assert listed(response) == ids(sample, *expected)
    if not expected:
        assert "No payments match these filters." in response.content.decode()


def test_dates_may_be_typed_the_italian_way(shop, sample):
    client = shop.client_for("staff")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "it"

    response = client.get(list_url(shop), {"date_from": "11/03/2026", "date_to": "12/03/2026"})

    assert listed(response) == ids(sample, "course_2", "course_1")


def test_filter_by_link_id(client_as, shop, sample):
    dinner_link = sample["dinner"].link_id

    response = client_as("owner").get(list_url(shop), {"link": dinner_link})
    other = client_as("owner").get(list_url(shop), {"link": sample["other_shop"].link_id})

    assert listed(response) == ids(sample, "dinner")
    assert listed(other) == []  # another shop's link id finds nothing here


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-date", NEWEST_FIRST),
        ("date", NEWEST_FIRST[::-1]),
        # Equal amounts (the course) keep a stable order: newest id first when descending.
        ("-amount", ["early", "failed", "course_3", "course_2", "course_1", "dinner", "late"]),
        ("amount", ["late", "dinner", "course_1", "course_2", "course_3", "failed", "early"]),
    ],
)
def test_sorting(client_as, shop, sample, sort, expected):
    response = client_as("owner").get(list_url(shop), {"sort": sort})

    assert listed(response) == ids(sample, *expected)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"date_from": "2026-13-45"}, "From: Enter a valid date."),
        ({"date_to": "yesterday"}, "To: Enter a valid date."),
        ({"date_from": "0001-01-01"}, "Enter a date between 2000 and 2999."),
        (
            {"date_from": "2026-03-02", "date_to": "2026-03-01"},
            "The end date is before the start date.",
        ),
        ({"amount_min": "dieci"}, "Minimum amount: Enter an amount such as 19,99."),
        ({"amount_max": "1,2,3"}, "Maximum amount: Enter an amount such as 19,99."),
        ({"amount_min": "50", "amount_max": "10"}, "The maximum is below the minimum."),
        ({"status": "lost"}, "Status: Select a valid choice. lost is not one of"),
        ({"kind": "weekly"}, "Link kind: Select a valid choice."),
        ({"sort": "customer_email"}, "Sort: Select a valid choice."),
        ({"link": "abc"}, "Link id: Enter a whole number."),
        ({"link": "\u0661\u0662"}, "Link id: Enter a whole number."),  # Arabic-Indic digits
        ({"amount_min": "\u0661\u0662"}, "Minimum amount: Enter an amount such as 19,99."),
        ({"after": "yesterday"}, "This page link is not valid any more"),
        ({"after": "\u0661.\u0662"}, "This page link is not valid any more"),
        ({"before": "1.2.3"}, "This page link is not valid any more"),
        ({"after": "1.2", "before": "3.4"}, "This page link is not valid any more"),
        ({"format": "xlsx"}, "Format: Select a valid choice."),
    ],
)
@pytest.mark.parametrize("url", [list_url, csv_url])
def test_bad_input_gets_a_clear_message_and_a_400(client_as, shop, sample, query, message, url):
    response = client_as("owner").get(url(shop), query)

    assert response.status_code == 400
    assert not getattr(response, "streaming", False)  # never a CSV of everything
    assert message in response.content.decode()


def test_huge_amounts_and_ids_filter_without_an_error(client_as, shop, sample):
    client = client_as("owner")

    amounts = client.get(list_url(shop), {"amount_max": "9" * 20, "amount_min": "0"})
    link = client.get(list_url(shop), {"link": "9" * 18})

    assert amounts.status_code == link.status_code == 200
    assert len(listed(amounts)) == 7
    assert listed(link) == []


# --- Pages ---------------------------------------------------------------------------------------


@pytest.fixture
def sixty(shop) -> list[Payment]:
    """60 payments; many share a timestamp and an amount, so only the id tells them apart."""
    link = PaymentLinkFactory(merchant=shop.merchant, kind=LinkKind.REUSABLE)
    start = timezone.now() - timedelta(days=1)
    payments = []
    for i in range(60):
        payments.append(
            pay(link, amount=1000 + 100 * (i % 4), at=start + timedelta(minutes=i // 3))
        )
    return payments


def walk(client, url: str, query: dict, direction: str = "next") -> tuple[list[list[int]], str]:
    """Follow Next links from `url` to the end; the pages' ids and the last page's URL."""
    pages = []
    response = client.get(url, query)
    while True:
        assert response.status_code == 200
        pages.append(listed(response))
        pager = response.context["pager"]
        if not (pager.has_next if direction == "next" else pager.has_previous):
            return pages, response
        step = (
            {"after": pager.next_cursor}
            if direction == "next"
            else {"before": pager.previous_cursor}
        )
        response = client.get(url, {**query, **step})


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("-date", lambda p: (p.created_at, p.pk)),
        ("date", lambda p: (p.created_at, p.pk)),
        ("-amount", lambda p: (p.amount, p.pk)),
        ("amount", lambda p: (p.amount, p.pk)),
    ],
)
def test_next_and_previous_cover_every_payment_once(client_as, shop, sixty, sort, key):
    client = client_as("owner")
    expected = [p.pk for p in sorted(sixty, key=key, reverse=sort.startswith("-"))]

    pages, last = walk(client, list_url(shop), {"sort": sort})

    assert [len(page) for page in pages] == [25, 25, 10]
    assert [pk for page in pages for pk in page] == expected  # no duplicate, no gap
    assert last.context["pager"].has_previous
    assert not last.context["pager"].has_next

    # And back from the last page to the first, through the Previous links.
    back = [pages[-1]]
    pager = last.context["pager"]
    while pager.has_previous:
        response = client.get(list_url(shop), {"sort": sort, "before": pager.previous_cursor})
        back.append(listed(response))
        pager = response.context["pager"]
    assert back[::-1] == pages
    assert not pager.has_previous
    assert pager.has_next


def test_pages_keep_the_filters_in_their_links(client_as, shop, sixty):
    response = client_as("owner").get(list_url(shop), {"amount_min": "11,00", "q": ""})

    content = response.content.decode()
    pager = response.context["pager"]
    assert len(pager.payments) == 25
    assert pager.has_next
    assert not pager.has_previous
    assert f"amount_min=11%2C00&amp;q=&amp;after={pager.next_cursor}" in content
    assert 'rel="prev"' not in content


def test_pages_filter_too(client_as, shop, sixty):
    client = client_as("owner")
    query = {"amount_min": "12,00"}  # 1200 and 1300: half of them

    pages, _last = walk(client, list_url(shop), query)

    expected = [
        p.pk
        for p in sorted(sixty, key=lambda p: (p.created_at, p.pk), reverse=True)
        if p.amount >= 1200
    ]
    assert [pk for page in pages for pk in page] == expected


def test_the_list_never_counts_and_its_queries_do_not_grow(
    client_as, shop, django_assert_max_num_queries
):
    client = client_as("owner")
    link = PaymentLinkFactory(merchant=shop.merchant)
    for _ in range(5):
        pay(link)
    client.get(list_url(shop))  # the first visit also stores the current shop in the session
    with CaptureQueriesContext(connection) as few:
        client.get(list_url(shop))

    for _ in range(55):
        pay(link)
    # Savepoints, session, user, membership, the shop switcher, the page.
    with django_assert_max_num_queries(8), CaptureQueriesContext(connection) as many:
        response = client.get(list_url(shop), {"status": "succeeded"})

    assert len(response.context["pager"].payments) == 25
    assert len(many) == len(few)
    assert not any("COUNT(" in q["sql"].upper() for q in many.captured_queries)


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_has_the_filtered_payments_with_every_column(client_as, shop, sample):
    Receipt.objects.create(
        merchant=shop.merchant,
        payment=sample["dinner"],
        year=2026,
        sequence=7,
        number="2026-000007",
        issued_at=sample["dinner"].created_at,
        language="it",
        snapshot={},
        amount=4550,
        currency="EUR",
    )

    response = client_as("owner").get(csv_url(shop), {"date_to": "2026-03-12"})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="payments.csv"'
    rows = csv_rows(response)
    assert rows[0] == [
        "Date",
        "Status",
        "Amount",
        "Refunded",
        "Currency",
        "Description",
        "Reference",
        "Customer email",
        "Card brand",
        "Last 4",
        "Stripe id",
        "Link id",
        "Receipt number",
        "Channel",
        "Payment method",
    ]
    assert rows[1:] == [
        [
            "2026-03-12T12:00:00+01:00",
            "Refunded",
            "120.00",
            "120.00",
            "EUR",
            "Corso di ceramica",
            "",
            "carla@example.com",
            "",
            "",
            "",
            str(sample["course_2"].link_id),
            "",
            "Online",
            "Card",
        ],
        [
            "2026-03-11T12:00:00+01:00",
            "Succeeded",
            "120.00",
            "0.00",
            "EUR",
            "Corso di ceramica",
            "",
            "bruno@example.com",
            "",
            "",
            "",
            str(sample["course_1"].link_id),
            "",
            "Online",
            "Card",
        ],
        [
            "2026-03-10T12:00:00+01:00",
            "Succeeded",
            "45.50",
            "0.00",
            "EUR",
            "Cena per due",
            "ORD-77",
            "anna@example.com",
            "visa",
            "4242",
            "pi_dinner",
            str(sample["dinner"].link_id),
            "2026-000007",
            "Online",
            "Card",
        ],
    ]


def test_italian_csv_opens_in_an_italian_spreadsheet(client_as, shop, sample):
    response = client_as("owner").get(
        csv_url(shop), {"format": "it", "status": "partially_refunded"}
    )

    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())  # UTF-8 byte order mark
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:4] == ["Date", "Status", "Amount", "Refunded"]
    assert rows[1][:5] == ["13/03/2026 12:00:00", "Partially refunded", "120,00", "20,00", "EUR"]
    assert len(rows) == 2
    assert response["Content-Disposition"] == 'attachment; filename="payments-it.csv"'


def test_csv_headers_follow_the_language(shop, sample):
    client = shop.client_for("owner")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "it"

    rows = csv_rows(client.get(csv_url(shop), {"format": "it"}), delimiter=";")

    assert rows[0][0].lstrip("\ufeff") == "Data"


def test_csv_cells_never_become_spreadsheet_formulas(client_as, shop):
    link = PaymentLinkFactory(
        merchant=shop.merchant, description='=HYPERLINK("http://x")', reference="+39 02"
    )
    pay(link, customer_email="@evil@example.com")

    rows = csv_rows(client_as("owner").get(csv_url(shop)))

    assert rows[1][5:8] == ['\'=HYPERLINK("http://x")', "'+39 02", "'@evil@example.com"]


def test_csv_queries_do_not_grow_with_the_rows(client_as, shop, django_assert_max_num_queries):
    client = client_as("owner")
    link = PaymentLinkFactory(merchant=shop.merchant)
    for _ in range(5):
        pay(link)
    client.get(csv_url(shop))
    with CaptureQueriesContext(connection) as few:
        assert len(csv_rows(client.get(csv_url(shop)))) == 6

    for i in range(55):
        payment = pay(link)
        if i % 2:
            Receipt.objects.create(
                merchant=shop.merchant,
                payment=payment,
                year=2026,
                sequence=i + 1,
                number=f"2026-{i + 1:06d}",
                issued_at=payment.created_at,
                language="it",
                snapshot={},
                amount=payment.amount,
                currency="EUR",
            )
    with django_assert_max_num_queries(8), CaptureQueriesContext(connection) as many:
        rows = csv_rows(client.get(csv_url(shop)))

    assert len(rows) == 61
    assert sum(1 for row in rows[1:] if row[12]) == 27
    assert len(many) == len(few)


def test_phone_and_mail_orders_show_as_such_in_the_list_and_csv_and_can_be_filtered(
    client_as, shop
):
    PaymentLinkFactory(merchant=shop.merchant)
    online = pay(PaymentLinkFactory(merchant=shop.merchant, description="Espresso at the counter"))
    moto = pay(PaymentLinkFactory(merchant=shop.merchant, description="Cake ordered by telephone"))
    Payment.objects.filter(pk=moto.pk).update(is_moto=True)
    client = client_as("staff")

    listing = client.get(list_url(shop))
    only_moto = client.get(list_url(shop), {"channel": "moto"})
    only_online = client.get(list_url(shop), {"channel": "online"})
    rows = csv_rows(client.get(csv_url(shop), {"channel": "moto"}))

    assert "Phone or mail order" in listing.text
    assert "Cake ordered by telephone" in only_moto.text
    assert "Espresso at the counter" not in only_moto.text
    assert "Espresso at the counter" in only_online.text
    assert "Cake ordered by telephone" not in only_online.text
    assert [row[-2] for row in rows[1:]] == ["Phone or mail order (MOTO)"]
    assert online.pk != moto.pk
    assert client.get(list_url(shop), {"channel": "carrier-pigeon"}).status_code == 400


@pytest.mark.parametrize("sort", ["-date", "date", "-amount", "amount"])
def test_a_csv_read_in_pages_has_every_payment_once_in_the_lists_order(
    client_as, shop, monkeypatch, sort
):
    """The CSV reads its rows a page at a time (no server-side cursor behind PgBouncer): pages
    of two rows, amounts and times that tie across pages, still every payment once, in order."""
    link = PaymentLinkFactory(merchant=shop.merchant)
    at = timezone.now() - timedelta(hours=1)
    amounts = (500, 500, 700, 500, 700)
    made = [
        pay(link, amount=amount, at=at, customer_email=f"c{n}@example.com")
        for n, amount in enumerate(amounts)
    ]
    made += [
        pay(link, amount=500, at=at + timedelta(minutes=1), customer_email=f"d{n}@example.com")
        for n in range(2)
    ]
    monkeypatch.setattr("links.payment_csv.CSV_CHUNK", 2)
    client = client_as("owner")

    rows = csv_rows(client.get(csv_url(shop), {"sort": sort}))
    page = client.get(list_url(shop), {"sort": sort})

    emails = [row[7] for row in rows[1:]]
    assert sorted(emails) == sorted(p.customer_email for p in made)  # each once
    assert emails == [Payment.objects.get(pk=pk).customer_email for pk in listed(page)]
