"""Mail and telephone orders: the phone order link a clerk makes with the customer on the line, and
the virtual terminal where the clerk keys in the card the customer reads out (MOTO)."""

from __future__ import annotations

import html
import io
import re
import secrets
import urllib.parse
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import stripe
import zxingcpp
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone, translation
from PIL import Image
from pypdf import PdfReader

from links import payments, services
from links.models import LinkChannel, LinkKind, LinkStatus, Payment, PaymentLink, PaymentStatus
from links.qr import qr_svg
from merchants.models import PaymentAccount
from receipts.models import Receipt
from receipts.services import receipt_ensure_pdf
from tests.support.factories import PaymentLinkFactory
from tests.support.stripe import CARD_DECLINED, CARD_OK, card_payment_method
from vpos.audit import Action
from vpos.crypto import encrypt
from vpos.models import AuditEntry, OutboxEmail

pytestmark = pytest.mark.django_db

PHONE_URLS = ["phone_order"]
TERMINAL_URLS = ["terminal_pay", "terminal_setup", "terminal_attempt", "terminal_complete"]
LINK_URLS = ["status", *PHONE_URLS, *TERMINAL_URLS]
ALL_URLS = ["phone_order_new", "terminal_new", *LINK_URLS]
POSTED = {"terminal_setup", "terminal_attempt", "terminal_complete"}


@pytest.fixture
def moto_on(settings):
    settings.STRIPE_PLATFORM_MOTO = True
    return settings


def quick_link(merchant, channel: str, *, created_by=None, **fields: Any) -> PaymentLink:
    """A link as the phone order and terminal forms make it: single use, valid for an hour."""
    values = {
        "amount": 2550,
        "currency": "EUR",
        "description": "Repair of a leather bag",
        "kind": LinkKind.SINGLE,
        "expires_at": timezone.now() + timedelta(hours=1),
        **fields,
    }
    return services.link_create(merchant=merchant, created_by=created_by, channel=channel, **values)


@pytest.fixture
def phone_link(shop) -> PaymentLink:
    return quick_link(
        shop.merchant,
        LinkChannel.PHONE,
        created_by=shop.staff.user,
        customer_phone="+39 333 123 4567",
    )


@pytest.fixture
def terminal_link(shop) -> PaymentLink:
    return quick_link(shop.merchant, LinkChannel.TERMINAL, created_by=shop.staff.user)


def url(name: str, shop_id: Any, link: PaymentLink | None = None, payment=None) -> str:
    args: list[Any] = [shop_id]
    if link is not None:
        args.append(link.pk)
    if payment is not None:
        args.append(payment.public_id)
    return reverse(f"links:{name}", args=args)


def pending_payment(link: PaymentLink) -> Payment:
    """An attempt on the link that has not reached Stripe yet (as after a lost answer)."""
    return Payment.objects.create(
        merchant=link.merchant,
        link=link,
        attempt_key=secrets.token_urlsafe(24),
        amount=link.amount,
        currency=link.currency,
    )


def attempt_data(api: stripe.StripeClient, card: str = CARD_OK, **fields: str) -> dict[str, str]:
    """What checkout.js posts: the card's PaymentMethod id (made by Stripe.js), never the card."""
    return {
        "payment_method": card_payment_method(api, card),
        "attempt_key": secrets.token_urlsafe(24),
        "email": "",
        "name": "",
        **fields,
    }


# --- Who may use the MOTO screens ----------------------------------------------------------------


@pytest.fixture
def hit(shop, stripe_api, moto_on) -> Callable[..., Any]:
    """Request one MOTO URL as `client`, for links (and payments) of `merchant` (default: ours)."""

    def request(client: Client, name: str, merchant=None, *, link: PaymentLink | None = None):
        merchant = merchant or shop.merchant
        channel = LinkChannel.TERMINAL if name in TERMINAL_URLS else LinkChannel.PHONE
        if name in LINK_URLS and link is None:
            link = quick_link(merchant, channel)
        payment = pending_payment(link) if name == "terminal_complete" else None
        target = url(name, shop.merchant.public_id, link, payment)
        if name not in POSTED:
            return client.get(target)
        data = attempt_data(stripe_api) if name == "terminal_attempt" else {}
        return client.post(target, data)

    return request


@pytest.mark.parametrize("name", ALL_URLS)
@pytest.mark.parametrize("actor", ["owner", "staff"])
def test_owner_and_staff_take_phone_orders(client_as, hit, shop, actor, name):
    response = hit(client_as(actor), name)

    assert response.status_code == 200
    if name == "status":
        assert response.json()["status"] == "active"
    elif name == "terminal_setup":
        assert response.json()["client_secret"].startswith("seti_")
    elif name == "terminal_attempt":
        assert response.json()["status"] == "succeeded"
    elif name == "terminal_complete":
        assert response.json()["status"] == "pending"  # nothing reached Stripe: nothing to settle
        payment = Payment.objects.get()
        assert response.json()["redirect"] == reverse(
            "links:payment_detail", args=[shop.merchant.public_id, payment.public_id]
        )


@pytest.mark.parametrize("name", ALL_URLS)
def test_another_shops_member_gets_404(client_as, hit, name):
    assert hit(client_as("outsider"), name).status_code == 404
    assert not Payment.objects.filter(status=PaymentStatus.SUCCEEDED).exists()


@pytest.mark.parametrize("name", ALL_URLS)
def test_anonymous_visitors_are_sent_to_log_in(client_as, hit, name):
    response = hit(client_as("anonymous"), name)

    assert response.status_code == 302
    assert response.url.startswith(reverse(settings.LOGIN_URL) + "?next=")
    assert not Payment.objects.filter(status=PaymentStatus.SUCCEEDED).exists()


@pytest.mark.parametrize("name", LINK_URLS)
def test_another_shops_link_is_not_found(client_as, hit, shop, name):
    assert hit(client_as("owner"), name, shop.outsider.merchant).status_code == 404
    assert not Payment.objects.filter(status=PaymentStatus.SUCCEEDED).exists()


@pytest.mark.parametrize("name", [*PHONE_URLS, *TERMINAL_URLS])
@pytest.mark.parametrize("channel", [LinkChannel.DASHBOARD, LinkChannel.API, "other"])
def test_a_link_of_another_channel_is_not_found(client_as, hit, shop, name, channel):
    """A dashboard link cannot be charged as a MOTO payment; a phone link is no terminal link."""
    if channel == "other":
        channel = LinkChannel.PHONE if name in TERMINAL_URLS else LinkChannel.TERMINAL
    link = quick_link(shop.merchant, channel)

    assert hit(client_as("owner"), name, link=link).status_code == 404
    assert not Payment.objects.filter(status=PaymentStatus.SUCCEEDED).exists()


# --- Phone order ---------------------------------------------------------------------------------


def create_phone_order(client: Client, shop, **fields: str):
    data = {
        "amount": "25,50",
        "description": "Repair of a leather bag",
        "customer_email": "",
        "customer_phone": "+39 333 123 4567",
        **fields,
    }
    return client.post(url("phone_order_new", shop.merchant.public_id), data)


def test_a_phone_order_is_a_single_use_link_valid_for_an_hour(client_as, shop):
    before = timezone.now()
    response = create_phone_order(client_as("staff"), shop, customer_email="anna@example.com")

    link = PaymentLink.objects.get()
    assert response.status_code == 302
    assert response.url == url("phone_order", shop.merchant.public_id, link)
    assert link.channel == LinkChannel.PHONE
    assert link.kind == LinkKind.SINGLE
    assert link.amount == 2550
    assert link.currency == "EUR"
    assert link.description == "Repair of a leather bag"
    assert link.customer_phone == "+39 333 123 4567"
    assert link.customer_email == "anna@example.com"
    assert link.created_by == shop.staff.user
    assert link.status == LinkStatus.ACTIVE
    assert before + timedelta(minutes=59) < link.expires_at <= timezone.now() + timedelta(hours=1)


def test_the_phone_order_form(client_as, shop):
    page = client_as("staff").get(url("phone_order_new", shop.merchant.public_id)).text

    assert "valid for one hour and can be paid once" in page
    for label in ("Amount", "Description", "Customer email", "Customer mobile"):
        assert f">{label}</label>" in page


def status_text(page: str) -> str:
    """What the live status box on the phone order screen says."""
    return re.search(r'<div id="phone-status"[^>]*>(.*?)</div>', page, re.S).group(1).strip()


def test_the_phone_order_screen_shows_the_qr_url_and_send_buttons(client_as, shop, phone_link):
    client = client_as("staff")
    page = client.get(url("phone_order", shop.merchant.public_id, phone_link)).text

    public_url = html.unescape(re.search(r'id="public-url"[^>]*value="([^"]+)"', page).group(1))
    assert public_url == phone_link.public_url
    # The QR code on the screen is the link's URL, named for screen readers...
    assert qr_svg(public_url, title="QR code of the payment link") in page
    # ...and a phone's camera reads the URL from it.
    png = client.get(url("qr_png", shop.merchant.public_id, phone_link)).content
    assert [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))] == [
        public_url
    ]
    whatsapp = html.unescape(re.search(r'href="(https://wa\.me/[^"]*)"', page).group(1))
    sms = html.unescape(re.search(r'href="(sms:[^"]*)"', page).group(1))
    expected = f"Pay €25.50 to Bottega Uno: {public_url}"
    split = urllib.parse.urlsplit(whatsapp)
    assert split.path == "/393331234567"  # digits only, with the country code
    assert urllib.parse.parse_qs(split.query)["text"] == [expected]
    number, query = sms.removeprefix("sms:").split("?", 1)
    assert number == "+393331234567"
    assert urllib.parse.parse_qs(query)["body"] == [expected]
    assert status_text(page) == "Waiting for the customer to pay…"
    with translation.override("en"):
        until = formats.time_format(timezone.localtime(phone_link.expires_at), "TIME_FORMAT")
    assert f"Valid until {until}</p>" in page  # "6:11 p.m.", not "6:11 p.m.."
    assert 'data-status-url="{}"'.format(url("status", shop.merchant.public_id, phone_link)) in page


def test_the_phone_order_screen_says_when_it_was_paid(client_as, shop, phone_link, stripe_api):
    payments.checkout_attempt(
        link=phone_link,
        payment_method=card_payment_method(stripe_api),
        attempt_key=secrets.token_urlsafe(24),
    )

    page = client_as("staff").get(url("phone_order", shop.merchant.public_id, phone_link)).text

    assert status_text(page) == "Paid. You can tell the customer and hang up."
    assert "Send by email" not in page  # nothing left to send


def link_emails(link: PaymentLink) -> list[OutboxEmail]:
    return list(OutboxEmail.objects.filter(kind="link", ref=f"link:{link.pk}"))


def test_sending_the_phone_order_by_email(client_as, shop, phone_link):
    client = client_as("staff")
    target = url("phone_order", shop.merchant.public_id, phone_link)

    response = client.post(
        target, {"to": "anna@example.com", "language": "en", "message": ""}, follow=True
    )

    assert response.redirect_chain == [(target, 302)]
    assert "The link is on its way to anna@example.com." in response.text
    [sent] = link_emails(phone_link)
    assert sent.to_email == "anna@example.com"
    assert phone_link.public_url in sent.body_text


def test_sending_to_an_invalid_email_sends_nothing(client_as, shop, phone_link):
    target = url("phone_order", shop.merchant.public_id, phone_link)

    response = client_as("staff").post(target, {"to": "anna@", "language": "en"})

    assert response.status_code == 400
    assert "Enter a valid email address." in response.text
    assert link_emails(phone_link) == []


@pytest.mark.parametrize("status", [LinkStatus.PAID, LinkStatus.EXPIRED, LinkStatus.DEACTIVATED])
def test_a_screen_left_open_after_the_link_closed_sends_nothing(
    client_as, shop, phone_link, status
):
    PaymentLink.objects.filter(pk=phone_link.pk).update(status=status)
    target = url("phone_order", shop.merchant.public_id, phone_link)

    response = client_as("staff").post(target, {"to": "anna@example.com", "language": "en"})

    assert "This link can no longer be paid: there is nothing to send." in response.text
    assert link_emails(phone_link) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "twenty"}, "Enter an amount such as 19,99."),
        ({"amount": ""}, "This field is required."),
        ({"amount": "0,10"}, "The minimum amount is €0.50."),
        ({"description": ""}, "This field is required."),
        ({"customer_phone": "+39 333 CALL ME"}, "Enter a phone number such as +39 333 123 4567."),
        ({"customer_email": "anna@"}, "Enter a valid email address."),
    ],
)
def test_bad_phone_order_input_is_refused(client_as, shop, fields, message):
    response = create_phone_order(client_as("staff"), shop, **fields)

    assert response.status_code == 400
    assert message in response.text
    assert not PaymentLink.objects.exists()


def test_the_status_says_active_then_paid(client_as, shop, phone_link, stripe_api):
    client = client_as("staff")
    status_url = url("status", shop.merchant.public_id, phone_link)

    waiting = client.get(status_url)

    assert waiting["Cache-Control"] == "no-store"
    assert waiting.json() == {"status": "active", "label": "Active", "paid": False, "paid_at": None}

    payments.checkout_attempt(
        link=phone_link,
        payment_method=card_payment_method(stripe_api),
        attempt_key=secrets.token_urlsafe(24),
    )
    paid = client.get(status_url)

    assert paid["Cache-Control"] == "no-store"
    body = paid.json()
    phone_link.refresh_from_db()
    assert body == {
        "status": "paid",
        "label": "Paid",
        "paid": True,
        "paid_at": phone_link.paid_at.isoformat(),
    }


def test_the_status_of_an_expired_phone_order(client_as, shop, phone_link):
    PaymentLink.objects.filter(pk=phone_link.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    body = client_as("staff").get(url("status", shop.merchant.public_id, phone_link)).json()

    assert body["status"] == "expired"
    assert body["paid"] is False


# --- Virtual terminal: only where Stripe allows MOTO --------------------------------------------


def connect_account(merchant, *, moto_enabled: bool) -> PaymentAccount:
    return PaymentAccount.objects.create(
        merchant=merchant,
        publishable_key="pk_test_shop",
        secret_key_encrypted=encrypt("sk_test_shop"),
        webhook_secret_encrypted=encrypt("whsec_shop"),
        moto_enabled=moto_enabled,
    )


@pytest.mark.parametrize(
    ("platform_moto", "account_moto"),
    [(False, None), (True, False), (False, False)],
    ids=["platform-off-no-account", "account-off", "both-off"],
)
def test_without_moto_the_terminal_explains_why(
    client_as, shop, settings, platform_moto, account_moto
):
    settings.STRIPE_PLATFORM_MOTO = platform_moto
    if account_moto is not None:
        connect_account(shop.merchant, moto_enabled=account_moto)
    account_url = reverse("links:payment_account", args=[shop.merchant.public_id])

    owner = client_as("owner").get(url("terminal_new", shop.merchant.public_id))
    staff = client_as("staff").get(url("terminal_new", shop.merchant.public_id))

    for response in (owner, staff):
        assert response.status_code == 403
        assert "The virtual terminal is not available for this shop yet." in response.text
        assert "(MOTO)" in response.text
        assert url("phone_order_new", shop.merchant.public_id) in response.text
        assert 'id="checkout-form"' not in response.text
    assert f'href="{account_url}"' in owner.text
    assert f'href="{account_url}"' not in staff.text  # only owners can change it
    # Posting the form makes no link either.
    client = client_as("owner")
    data = {"amount": "25,50", "description": "Repair", "customer_email": ""}
    assert client.post(url("terminal_new", shop.merchant.public_id), data).status_code == 403
    assert not PaymentLink.objects.exists()


@pytest.mark.parametrize(
    ("platform_moto", "account_moto"),
    [(True, None), (False, True), (True, True)],
    ids=["platform-on", "account-on", "both-on"],
)
def test_with_moto_the_terminal_is_open(client_as, shop, settings, platform_moto, account_moto):
    settings.STRIPE_PLATFORM_MOTO = platform_moto
    if account_moto is not None:
        connect_account(shop.merchant, moto_enabled=account_moto)

    response = client_as("staff").get(url("terminal_new", shop.merchant.public_id))

    assert response.status_code == 200
    assert "key in the card the customer reads to you" in response.text


@pytest.mark.parametrize("name", TERMINAL_URLS)
def test_a_terminal_payment_cannot_go_on_once_moto_is_off(client_as, hit, shop, settings, name):
    link = quick_link(shop.merchant, LinkChannel.TERMINAL)
    settings.STRIPE_PLATFORM_MOTO = False

    assert hit(client_as("owner"), name, link=link).status_code == 404
    assert not Payment.objects.filter(status=PaymentStatus.SUCCEEDED).exists()


# --- Virtual terminal: the payment ---------------------------------------------------------------


@pytest.fixture
def stripe_requests(monkeypatch) -> list[tuple[str, str, dict[str, list[str]]]]:
    """Every request the Stripe SDK sends, as (method, path, form fields): what Stripe receives.

    localstripe drops `payment_method_options`, so the MOTO flag can only be seen on the wire.
    """
    sent: list[tuple[str, str, dict[str, list[str]]]] = []
    original = stripe.HTTPClient.request_with_retries

    def spy(self, method, url, headers, post_data=None, *args, **kwargs):
        body = post_data.decode() if isinstance(post_data, bytes) else post_data or ""
        sent.append((method.upper(), urllib.parse.urlsplit(url).path, urllib.parse.parse_qs(body)))
        return original(self, method, url, headers, post_data, *args, **kwargs)

    monkeypatch.setattr(stripe.HTTPClient, "request_with_retries", spy)
    return sent


def payment_intent_creations(sent) -> list[dict[str, list[str]]]:
    return [
        fields for method, path, fields in sent if (method, path) == ("POST", "/v1/payment_intents")
    ]


def test_the_clerk_keys_in_a_card_and_the_payment_is_moto(
    client_as, shop, moto_on, stripe_api, stripe_requests, django_capture_on_commit_callbacks
):
    client = client_as("staff")
    shop_id = shop.merchant.public_id

    created = client.post(
        url("terminal_new", shop_id),
        {"amount": "25,50", "description": "Repair of a leather bag", "customer_email": ""},
    )
    link = PaymentLink.objects.get()
    assert created.status_code == 302
    assert created.url == url("terminal_pay", shop_id, link)
    assert link.channel == LinkChannel.TERMINAL
    assert link.kind == LinkKind.SINGLE
    page = client.get(created.url).text
    assert "Virtual terminal: €25.50" in page
    assert "The customer's confirmation and receipt go here." in page
    assert f'data-attempt-url="{url("terminal_attempt", shop_id, link)}"' in page
    assert f'data-setup-url="{url("terminal_setup", shop_id, link)}"' in page

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            url("terminal_attempt", shop_id, link),
            attempt_data(stripe_api, email="anna@example.com", name="Anna Bianchi"),
        )

    payment = Payment.objects.get(link=link)
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "succeeded",
        "payment": str(payment.public_id),
        "redirect": reverse("links:payment_detail", args=[shop_id, payment.public_id]),
    }
    # Stripe is told it is a mail/telephone order (no 3-D Secure for a card read out on the phone).
    [sent] = payment_intent_creations(stripe_requests)
    assert sent["payment_method_options[card][moto]"] == ["true"]
    assert sent["amount"] == ["2550"]
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.is_moto
    assert payment.customer_email == "anna@example.com"
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    link.refresh_from_db()
    assert link.status == LinkStatus.PAID
    # The receipt records it, and the customer gets the confirmation at the address given.
    receipt = Receipt.objects.get(payment=payment)
    assert receipt.snapshot["moto"] is True
    assert receipt.customer_email == "anna@example.com"
    [confirmation] = OutboxEmail.objects.filter(kind="payment_confirmation")
    assert confirmation.to_email == "anna@example.com"
    assert confirmation.status == OutboxEmail.Status.SENT
    # The audit log names the clerk who took it.
    [entry] = AuditEntry.objects.filter(action=Action.MOTO_PAYMENT)
    assert entry.actor == shop.staff.user
    assert entry.actor_label == shop.staff.user.email
    assert entry.object_id == str(payment.pk)
    assert "€25.50" in entry.summary
    # The clerk lands on the payment's page in the dashboard.
    detail = client.get(answer.json()["redirect"]).text
    assert "Phone or mail order" in detail
    assert reverse("receipts:pdf", args=[shop_id, receipt.pk]) in detail


@pytest.mark.parametrize(
    ("language", "says"), [("it", "ordine telefonico/postale"), ("en", "phone/mail order")]
)
def test_the_receipt_pdf_says_phone_or_mail_order(
    client_as, shop, moto_on, stripe_api, terminal_link, language, says
):
    PaymentLink.objects.filter(pk=terminal_link.pk).update(language=language)
    client_as("staff").post(
        url("terminal_attempt", shop.merchant.public_id, terminal_link), attempt_data(stripe_api)
    )

    receipt = receipt_ensure_pdf(receipt_id=Receipt.objects.get(payment__link=terminal_link).pk)

    with receipt.pdf.open("rb") as fh:
        text = "\n".join(page.extract_text() for page in PdfReader(fh).pages)
    assert says in text
    assert "4242" in text


def test_a_normal_checkout_is_not_moto(client_as, shop, stripe_api, stripe_requests):
    link = PaymentLinkFactory(merchant=shop.merchant)

    answer = Client().post(reverse("links:attempt", args=[link.token]), attempt_data(stripe_api))

    assert answer.json()["status"] == "succeeded"
    [sent] = payment_intent_creations(stripe_requests)
    assert not [field for field in sent if field.startswith("payment_method_options")]
    payment = Payment.objects.get(link=link)
    assert not payment.is_moto
    assert payment.receipt.snapshot["moto"] is False
    assert not AuditEntry.objects.filter(action=Action.MOTO_PAYMENT).exists()


def test_a_declined_card_on_the_terminal(
    client_as, shop, moto_on, stripe_api, terminal_link, django_capture_on_commit_callbacks
):
    data = attempt_data(stripe_api, CARD_DECLINED, email="anna@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        answer = client_as("staff").post(
            url("terminal_attempt", shop.merchant.public_id, terminal_link), data
        )

    body = answer.json()
    assert answer.status_code == 200
    assert body["status"] == "failed"
    assert body["message"] == (
        "Payment not completed: The card was declined. Try again or use another card."
    )
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", body["attempt_key"])
    assert body["attempt_key"] != data["attempt_key"]
    assert "redirect" not in body
    payment = Payment.objects.get(link=terminal_link)
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == "card_declined"
    terminal_link.refresh_from_db()
    assert terminal_link.is_payable
    assert not Receipt.objects.exists()
    assert not OutboxEmail.objects.exists()
    assert not AuditEntry.objects.filter(action=Action.MOTO_PAYMENT).exists()

    # The clerk tries another card with the new key: it goes through.
    with django_capture_on_commit_callbacks(execute=True):
        retry = client_as("staff").post(
            url("terminal_attempt", shop.merchant.public_id, terminal_link),
            attempt_data(stripe_api, attempt_key=body["attempt_key"], email="anna@example.com"),
        )
    assert retry.json()["status"] == "succeeded"
    assert sorted(Payment.objects.values_list("status", flat=True)) == ["failed", "succeeded"]
    assert Receipt.objects.count() == 1


def test_a_paid_terminal_link_cannot_be_charged_again(
    client_as, shop, moto_on, stripe_api, terminal_link
):
    client = client_as("staff")
    attempt_url = url("terminal_attempt", shop.merchant.public_id, terminal_link)
    assert client.post(attempt_url, attempt_data(stripe_api)).json()["status"] == "succeeded"

    again = client.post(attempt_url, attempt_data(stripe_api))
    page = client.get(url("terminal_pay", shop.merchant.public_id, terminal_link), follow=True)

    assert again.status_code == 410
    assert again.json()["code"] == "link_paid"
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 1
    assert page.redirect_chain == [(url("detail", shop.merchant.public_id, terminal_link), 302)]
    assert "This terminal payment is closed." in page.text


def test_completing_a_terminal_payment_asks_stripe(
    client_as, shop, moto_on, terminal_link, paid_intent
):
    """After 3-D Secure (if the bank asks despite MOTO) the server settles it with Stripe."""
    payment, _pi = paid_intent(terminal_link, status=PaymentStatus.REQUIRES_ACTION, is_moto=True)

    answer = client_as("staff").post(
        url("terminal_complete", shop.merchant.public_id, terminal_link, payment)
    )

    assert answer.json()["status"] == "succeeded"
    assert answer.json()["redirect"] == reverse(
        "links:payment_detail", args=[shop.merchant.public_id, payment.public_id]
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
