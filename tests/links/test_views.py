"""The back office for payment links: who may see what, creating, duplicating, deactivating, listing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from links.models import LinkKind, LinkStatus, PaymentLink
from tests.support.factories import PaymentLinkFactory

ACTORS_WHO_MAY = ["owner", "staff"]


def url(name: str, shop, link: PaymentLink | None = None) -> str:
    args = [shop.merchant.public_id] + ([link.pk] if link is not None else [])
    return reverse(f"links:{name}", args=args)


def form_data(**overrides: str) -> dict[str, str]:
    data = {
        "amount": "19,99",
        "currency": "EUR",
        "description": "Cena per due",
        "reference": "",
        "customer_name": "",
        "customer_email": "",
        "language": "it",
        "kind": LinkKind.SINGLE,
        "max_payments": "",
        "expiry": "none",
        "expires_on": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def link(shop) -> PaymentLink:
    return PaymentLinkFactory(merchant=shop.merchant, description="Cena per due", amount=4550)


@pytest.fixture
def other_link(shop) -> PaymentLink:
    return PaymentLinkFactory(merchant=shop.outsider.merchant, description="Segreto altrui")


# --- Who may see what ------------------------------------------------------------------------


PAGES = ["list", "create", "detail", "deactivate"]


def page_url(name: str, shop, link: PaymentLink) -> str:
    return url(name, shop, link if name in ("detail", "deactivate") else None)


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("actor", ACTORS_WHO_MAY)
def test_owner_and_staff_open_every_link_page(client_as, shop, link, name, actor):
    response = client_as(actor).get(page_url(name, shop, link))
    assert response.status_code == 200


@pytest.mark.parametrize("name", PAGES)
def test_a_member_of_another_shop_gets_404(client_as, shop, link, name):
    response = client_as("outsider").get(page_url(name, shop, link))
    assert response.status_code == 404


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitor_is_sent_to_login(client_as, shop, link, name):
    response = client_as("anonymous").get(page_url(name, shop, link))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_outsider_cannot_create_or_deactivate(client_as, shop, link):
    outsider = client_as("outsider")
    assert outsider.post(url("create", shop), form_data()).status_code == 404
    assert outsider.post(url("deactivate", shop, link)).status_code == 404
    link.refresh_from_db()
    assert link.status == LinkStatus.ACTIVE
    assert PaymentLink.objects.filter(merchant=shop.merchant).count() == 1


@pytest.mark.parametrize("name", ["detail", "deactivate"])
@pytest.mark.parametrize("actor", ACTORS_WHO_MAY)
def test_another_shops_link_under_this_shops_url_is_404(client_as, shop, other_link, name, actor):
    client = client_as(actor)
    assert client.get(url(name, shop, other_link)).status_code == 404
    assert client.post(url("deactivate", shop, other_link)).status_code == 404
    other_link.refresh_from_db()
    assert other_link.status == LinkStatus.ACTIVE


def test_list_shows_only_this_shops_links(client_as, shop, link, other_link):
    response = client_as("staff").get(url("list", shop))
    assert "Cena per due" in response.text
    assert "Segreto altrui" not in response.text


# --- Creating ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["19,99", "19.99", "€ 19,99", "19,99 €"])
def test_amount_typed_either_way_is_stored_in_cents(client_as, shop, typed):
    response = client_as("owner").post(url("create", shop), form_data(amount=typed))

    link = PaymentLink.objects.get(merchant=shop.merchant)
    assert response.status_code == 302
    assert response.url == url("detail", shop, link)
    assert (link.amount, link.currency) == (1999, "EUR")


def test_staff_create_a_link_and_land_on_its_page_to_send_it(client_as, shop):
    client = client_as("staff")

    response = client.post(
        url("create", shop),
        form_data(
            description="  Riparazione bici  ",
            reference="ORD-42",
            customer_name="Mario Rossi",
            customer_email="mario@example.com",
            language="en",
        ),
        follow=True,
    )

    link = PaymentLink.objects.get(merchant=shop.merchant)
    assert link.created_by == shop.staff.user
    assert link.description == "Riparazione bici"
    assert (link.reference, link.customer_email, link.language) == (
        "ORD-42",
        "mario@example.com",
        "en",
    )
    assert link.status == LinkStatus.ACTIVE
    assert link.expires_at is None
    assert "Payment link created. Share it with your customer." in response.text
    assert f"http://testserver/pay/{link.token}/" in response.text
    assert len(link.token) >= 22  # >= 128 random bits, never the id
    assert str(link.pk) != link.token


def test_customer_name_and_reference_are_stored_as_one_line(client_as, shop):
    """They print on receipts and emails: a pasted line break must not add lines there."""
    client_as("owner").post(
        url("create", shop),
        form_data(customer_name="Mario\r\nRossi\x1b[2J", reference="ORD\t42\n"),
    )

    link = PaymentLink.objects.get(merchant=shop.merchant)
    assert (link.customer_name, link.reference) == ("Mario Rossi [2J", "ORD 42")


def test_yen_amount_has_no_decimals(client_as, shop):
    client_as("owner").post(url("create", shop), form_data(amount="1000", currency="JPY"))

    link = PaymentLink.objects.get(merchant=shop.merchant)
    assert (link.amount, link.currency) == (1000, "JPY")


def test_reusable_link_keeps_its_limit_and_single_use_drops_it(client_as, shop):
    client = client_as("owner")
    client.post(
        url("create", shop), form_data(kind=LinkKind.REUSABLE, max_payments="3", description="A")
    )
    client.post(
        url("create", shop), form_data(kind=LinkKind.SINGLE, max_payments="3", description="B")
    )

    assert PaymentLink.objects.get(description="A").max_payments == 3
    assert PaymentLink.objects.get(description="B").max_payments is None


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": "0,49"}, "amount", "The minimum amount is €0.50."),
        ({"amount": "0"}, "amount", "The minimum amount is €0.50."),
        ({"amount": "1.000.000,00"}, "amount", "The maximum amount is €999,999.99."),
        ({"amount": "abc"}, "amount", "Enter an amount such as 19,99."),
        ({"amount": "-5"}, "amount", "Enter an amount such as 19,99."),
        ({"amount": "19,99,5"}, "amount", "Enter an amount such as 19,99."),
        ({"amount": "19,9999"}, "amount", "Enter an amount such as 19,99."),
        ({"amount": "10,5", "currency": "JPY"}, "amount", "Enter an amount such as 19,99."),
        ({"amount": ""}, "amount", "This field is required."),
        ({"description": ""}, "description", "This field is required."),
        ({"description": "   "}, "description", "This field is required."),
        (
            {"expiry": "date", "expires_on": "2020-01-01T10:00"},
            "expires_on",
            "The expiry must be in the future.",
        ),
        ({"expiry": "date", "expires_on": ""}, "expires_on", "Choose the expiry date."),
        ({"expiry": "date", "expires_on": "tomorrow"}, "expires_on", "Enter a valid date/time."),
        ({"customer_email": "mario@"}, "customer_email", "Enter a valid email address."),
        (
            {"kind": LinkKind.REUSABLE, "max_payments": "0"},
            "max_payments",
            "greater than or equal to 1",
        ),
        ({"kind": LinkKind.REUSABLE, "max_payments": "\u0661\u0662"}, "max_payments", "number"),
        ({"amount": "\u0661\u0662\u0663"}, "amount", "Enter an amount such as 19,99."),
        ({"currency": "XXX"}, "currency", "Select a valid choice."),
    ],
)
def test_bad_input_gets_a_clear_message_and_creates_nothing(
    client_as, shop, overrides, field, message
):
    response = client_as("owner").post(url("create", shop), form_data(**overrides))

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert message in response.text
    assert not PaymentLink.objects.exists()


@pytest.mark.parametrize(
    ("preset", "ahead"),
    [("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("30d", timedelta(days=30))],
)
def test_expiry_presets(client_as, shop, preset, ahead):
    client_as("owner").post(url("create", shop), form_data(expiry=preset))

    link = PaymentLink.objects.get(merchant=shop.merchant)
    assert abs(link.expires_at - (timezone.now() + ahead)) < timedelta(minutes=1)


def test_expiry_on_a_date(client_as, shop):
    when = timezone.localtime() + timedelta(days=3)
    client_as("owner").post(
        url("create", shop), form_data(expiry="date", expires_on=when.strftime("%Y-%m-%dT%H:%M"))
    )

    link = PaymentLink.objects.get(merchant=shop.merchant)
    assert abs(link.expires_at - when) < timedelta(minutes=1)


def test_form_reads_italian_amounts_for_an_italian_user(shop):
    client = shop.client_for("owner")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "it"
    client.post(url("create", shop), form_data(amount="1.234,50"))
    assert PaymentLink.objects.get(merchant=shop.merchant).amount == 123450


# --- Duplicating ------------------------------------------------------------------------------


def test_duplicate_prefills_the_form(client_as, shop):
    source = PaymentLinkFactory(
        merchant=shop.merchant,
        amount=123456,
        description="Abbonamento annuale",
        reference="ABB-7",
        kind=LinkKind.REUSABLE,
        max_payments=5,
        language="en",
    )

    response = client_as("staff").get(url("create", shop) + f"?from={source.pk}")

    form = response.context["form"]
    assert form["amount"].value() == "1234.56"
    assert form["description"].value() == "Abbonamento annuale"
    assert form["reference"].value() == "ABB-7"
    assert form["kind"].value() == LinkKind.REUSABLE
    assert form["max_payments"].value() == 5
    assert form["language"].value() == "en"
    assert 'value="Abbonamento annuale"' in response.text


def test_duplicate_amount_is_written_the_italian_way_for_italians_and_posts_back(shop):
    source = PaymentLinkFactory(merchant=shop.merchant, amount=123456, description="Abbonamento")
    client = shop.client_for("owner")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "it"

    form = client.get(url("create", shop) + f"?from={source.pk}").context["form"]
    assert form["amount"].value() == "1234,56"

    data = form_data(amount=form["amount"].value(), description=form["description"].value())
    client.post(url("create", shop), data)
    assert PaymentLink.objects.filter(amount=123456).count() == 2


@pytest.mark.parametrize("source", ["other", "999999", "abc", "", "\u00b9", "\u2460", "\u0661"])
def test_duplicate_of_another_shops_or_unknown_link_prefills_nothing(
    client_as, shop, other_link, source
):
    value = str(other_link.pk) if source == "other" else source

    response = client_as("owner").get(url("create", shop) + f"?from={value}")

    assert response.status_code == 200
    form = response.context["form"]
    assert not form["description"].value()
    assert not form["amount"].value()
    assert "Segreto altrui" not in response.text


# --- Deactivating -----------------------------------------------------------------------------


def test_deactivate_asks_for_confirmation_first(client_as, shop, link):
    response = client_as("staff").get(url("deactivate", shop, link))

    assert response.status_code == 200
    assert "Deactivate this link?" in response.text
    assert "Cena per due" in response.text
    link.refresh_from_db()
    assert link.status == LinkStatus.ACTIVE


@pytest.mark.parametrize("actor", ACTORS_WHO_MAY)
def test_deactivate_on_post(client_as, shop, link, actor):
    response = client_as(actor).post(url("deactivate", shop, link), follow=True)

    assert response.redirect_chain[-1][0] == url("detail", shop, link)
    assert "The link was deactivated: customers can no longer pay it." in response.text
    link.refresh_from_db()
    assert link.status == LinkStatus.DEACTIVATED
    assert link.closed_at is not None
    assert not link.is_payable


@pytest.mark.parametrize(
    ("status", "label"), [(LinkStatus.PAID, "paid"), (LinkStatus.DEACTIVATED, "deactivated")]
)
def test_a_closed_link_cannot_be_deactivated(client_as, shop, status, label):
    link = PaymentLinkFactory(merchant=shop.merchant, status=status, payments_count=1)

    response = client_as("owner").post(url("deactivate", shop, link), follow=True)

    assert f"This link is {label} and cannot be deactivated." in response.text
    link.refresh_from_db()
    assert link.status == status


def test_detail_of_a_paid_link_offers_no_deactivation(client_as, shop):
    link = PaymentLinkFactory(merchant=shop.merchant, status=LinkStatus.PAID)
    response = client_as("owner").get(url("detail", shop, link))
    assert url("deactivate", shop, link) not in response.text


# --- Listing ----------------------------------------------------------------------------------


@pytest.fixture
def assorted(shop) -> dict[str, PaymentLink]:
    past = timezone.now() - timedelta(hours=1)
    make = PaymentLinkFactory
    return {
        "active": make(merchant=shop.merchant, description="Active one"),
        "overdue": make(merchant=shop.merchant, description="Overdue one", expires_at=past),
        "expired": make(
            merchant=shop.merchant,
            description="Expired one",
            status=LinkStatus.EXPIRED,
            expires_at=past,
        ),
        "paid": make(merchant=shop.merchant, description="Paid one", status=LinkStatus.PAID),
        "deactivated": make(
            merchant=shop.merchant, description="Deactivated one", status=LinkStatus.DEACTIVATED
        ),
    }


def listed(response) -> set[str]:
    return {link.description for link in response.context["page_obj"].object_list}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("", {"Active one", "Overdue one", "Expired one", "Paid one", "Deactivated one"}),
        ("active", {"Active one"}),
        ("expired", {"Overdue one", "Expired one"}),  # an active link past its expiry is expired
        ("paid", {"Paid one"}),
        ("deactivated", {"Deactivated one"}),
        ("completed", set()),
    ],
)
def test_list_status_filter(client_as, shop, assorted, status, expected):
    response = client_as("owner").get(url("list", shop), {"status": status})
    assert listed(response) == expected


def test_active_link_past_its_expiry_is_shown_as_expired(client_as, shop, assorted):
    response = client_as("owner").get(url("list", shop), {"q": "Overdue"})
    assert listed(response) == {"Overdue one"}
    badges = re.findall(r'<span class="badge [^"]*">([^<]+)</span>', response.text)
    assert badges == ["Expired"]


def test_unknown_status_filter_is_ignored_not_an_error(client_as, shop, assorted):
    response = client_as("owner").get(url("list", shop), {"status": "bogus"})
    assert response.status_code == 200
    assert len(listed(response)) == 5


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("bici", {"Riparazione bici"}),
        ("ORD-77", {"Riparazione bici"}),
        ("LUIGI@example", {"Corso di cucina"}),
        ("nothing like it", set()),
    ],
)
def test_list_search_by_description_reference_and_customer_email(client_as, shop, q, expected):
    PaymentLinkFactory(merchant=shop.merchant, description="Riparazione bici", reference="ORD-77")
    PaymentLinkFactory(
        merchant=shop.merchant, description="Corso di cucina", customer_email="luigi@example.com"
    )
    PaymentLinkFactory(merchant=shop.outsider.merchant, description="Riparazione bici altrui")

    response = client_as("owner").get(url("list", shop), {"q": q})

    assert listed(response) == expected
    if not expected:
        assert "No links match these filters." in response.text


def test_empty_list_invites_to_create_the_first_link(client_as, shop):
    response = client_as("owner").get(url("list", shop))
    assert "Create your first link" in response.text


def test_list_is_paginated_newest_first(client_as, shop):
    for n in range(30):
        PaymentLinkFactory(merchant=shop.merchant, description=f"Link {n:02d}")
    client = client_as("owner")

    first = client.get(url("list", shop))
    second = client.get(url("list", shop), {"page": 2})

    assert len(first.context["page_obj"].object_list) == 25
    assert first.context["page_obj"].object_list[0].description == "Link 29"
    assert listed(second) == {f"Link {n:02d}" for n in range(5)}
    assert "Page 2 of 2" in second.text


def test_list_query_count_does_not_grow_with_the_number_of_links(client_as, shop):
    client = client_as("owner")
    PaymentLinkFactory.create_batch(5, merchant=shop.merchant)
    client.get(url("list", shop))  # the first visit also stores the current shop in the session
    with CaptureQueriesContext(connection) as few:
        client.get(url("list", shop))

    PaymentLinkFactory.create_batch(
        55, merchant=shop.merchant, reference="R", customer_email="c@example.com"
    )
    with CaptureQueriesContext(connection) as many:
        response = client.get(url("list", shop))

    assert response.context["page_obj"].paginator.count == 60
    assert len(many) == len(few)
    assert len(many) <= 10


# --- Sending ----------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ACTORS_WHO_MAY)
def test_owner_and_staff_send_the_link_by_email(client_as, shop, link, actor):
    from vpos.models import OutboxEmail

    response = client_as(actor).post(
        url("detail", shop, link),
        {"to": "cliente@example.com", "message": "", "language": "it"},
        follow=True,
    )

    assert "The link is on its way to cliente@example.com." in response.text
    email = OutboxEmail.objects.get(to_email="cliente@example.com")
    assert email.merchant == shop.merchant
    assert link.token in email.body_text


def test_outsider_cannot_send_another_shops_link(client_as, shop, link):
    from vpos.models import OutboxEmail

    response = client_as("outsider").post(
        url("detail", shop, link), {"to": "cliente@example.com", "language": "it"}
    )

    assert response.status_code == 404
    assert not OutboxEmail.objects.exists()
