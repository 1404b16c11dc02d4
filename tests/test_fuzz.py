"""Property-based fuzzing of the form-backed views and the Stripe webhook, with hypothesis.

Whatever an owner posts (control characters, very long strings, unicode, numbers as strings,
missing fields), no view answers 5xx, and a refused form (400, or the form shown again) leaves
the database as it was. Whatever reaches the webhook, nothing is written unless the body is a
correctly signed, well-formed event.

Hypothesis examples of one test share the test's database transaction: counts are compared per
example, before and after each request.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from links.forms import EXPIRY_CHOICES
from links.models import LinkKind, Payment, PaymentLink, PaymentStatus, Refund, StripeEvent
from links.providers import PaymentState, ProviderError, ProviderPayment
from merchants.models import (
    CURRENCY_CHOICES,
    LANGUAGE_CHOICES,
    FiscalProfile,
    Invitation,
    Membership,
    Merchant,
    PaymentMethodKind,
    Role,
)
from receipts.models import ReceiptExport
from tests.support.factories import PaymentFactory, PaymentLinkFactory
from tests.support.invoices import BUSINESS, posted
from tests.support.stripe import sign
from vpos.models import OutboxEmail

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- strategies ----------------------------------------------------------------------------------

CONTROL = st.text(st.characters(max_codepoint=31), min_size=1, max_size=8)
LONG = st.builds(
    lambda chunk, n: chunk * n,
    st.sampled_from(["9", "a", "é", "€", "\x00", "1,", "😀", "<script>", "%s", "'\""]),
    st.integers(min_value=200, max_value=3000),
)
NUMBERS = st.one_of(
    st.integers().map(str),
    st.floats().map(str),  # nan, inf, -0.0, 1e+300 ...
    st.decimals(allow_nan=True).map(str),
    st.integers(min_value=-(10**6), max_value=10**12).map(lambda n: f"{n:,}".replace(",", ".")),
)
DATES = st.one_of(
    st.dates().map(str),
    st.sampled_from(["2026-02-30", "0000-00-00", "9999-12-31", "1-1-1", "31/12/2026", "today"]),
)
ANY_TEXT = st.one_of(st.text(max_size=40), CONTROL, LONG, NUMBERS, DATES)


def field(*plausible: Any) -> st.SearchStrategy[str]:
    """Arbitrary text, or now and then a plausible value so that some posts get further."""
    return (
        st.one_of(ANY_TEXT, st.sampled_from([str(p) for p in plausible])) if plausible else ANY_TEXT
    )


def _mutate(valid: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    data = dict(valid)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def form_data(
    fields: dict[str, st.SearchStrategy[str]], valid: dict[str, str] | None = None
) -> st.SearchStrategy[dict[str, str]]:
    """A POST body: every field optional (missing fields), plus a field the form does not know;
    or, given a valid body, that body with one or two fields dropped or replaced by junk (so the
    success path and the near misses are exercised too)."""
    arbitrary = st.fixed_dictionaries({}, optional={**fields, "unexpected": ANY_TEXT})
    if valid is None:
        return arbitrary
    changes = st.dictionaries(
        st.sampled_from(sorted(fields)), st.one_of(st.none(), ANY_TEXT), max_size=2
    )
    return st.one_of(arbitrary, st.builds(_mutate, st.just(valid), changes), st.just(valid))


CURRENCIES = [code for code, _ in CURRENCY_CHOICES]
LANGUAGES = [code for code, _ in LANGUAGE_CHOICES]
EMAILS = ["a@example.com", "Mario.Rossi@Example.IT", "x@y", "@example.com", "a@b.c" + "o" * 300]

MERCHANT_FIELDS = {
    "name": field("Bottega Tre"),
    "legal_name": field("Bottega Tre S.r.l."),
    "vat_number": field("12345670017", "IT12345670017", "12345678900", ""),
    "tax_code": field("12345670017", "RSSMRA80A01H501U", ""),
    "address": field("Via Roma 1"),
    "postal_code": field("20121"),
    "city": field("Milano"),
    "province": field("MI", " mi "),
    "country": field("IT", "FR", "SM"),
    "contact_email": field(*EMAILS),
    "contact_phone": field("+39 02 123456", ""),
    "pec": field("pec@pec.example.it", ""),
    "sdi_code": field("0000000", "ABC1234", ""),
    "default_currency": field(*CURRENCIES),
    "default_language": field(*LANGUAGES),
    "time_zone": field("Europe/Rome", "UTC", "Mars/Olympus"),
    "brand_color": field("#112233", "red", ""),
    "remove_logo": field("on"),
}
LINK_FIELDS = {
    "amount": field("19,99", "19.99", "0", "1.000,00", "-5"),
    "currency": field(*CURRENCIES),
    "description": field("Order 7"),
    "reference": field("A-1"),
    "customer_name": field("Mario"),
    "customer_email": field(*EMAILS, ""),
    "language": field(*LANGUAGES),
    "kind": field(*LinkKind.values),
    "max_payments": field("3", "0", "1000001"),
    "vat_rate": field("22", "0", "", "7"),
    "vat_exemption": field("Art. 10", ""),
    "expiry": field(*(code for code, _ in EXPIRY_CHOICES)),
    "expires_on": field("2099-01-01T10:00", "2000-01-01T10:00", ""),
    "payment_methods": field(*PaymentMethodKind.values, "bitcoin", ""),
}
# A multi-select posts a list: some known methods, some junk, repeats.
METHOD_LISTS = st.lists(field(*PaymentMethodKind.values, "bitcoin"), max_size=5)
QUICK_FIELDS = {
    "amount": field("5", "5,50", "0"),
    "description": field("Phone order"),
    "customer_email": field(*EMAILS, ""),
    "customer_phone": field("+39 333 123 4567", "123", ""),
}
EMAIL_FIELDS = {
    "to": field(*EMAILS),
    "message": field("Grazie!", ""),
    "language": field(*LANGUAGES),
}
REFUND_FIELDS = {
    "amount": field("1,00", "0,01", "19,99", "20,00", "0"),
    "reason": field("Damaged"),
    "confirm": field("", "on", "false", "True"),
}
VALID_MERCHANT = {
    "name": "Bottega Tre",
    "legal_name": "Bottega Tre S.r.l.",
    "vat_number": "12345670017",
    "tax_code": "12345670017",
    "address": "Via Roma 1",
    "postal_code": "20121",
    "city": "Milano",
    "province": "MI",
    "country": "IT",
    "contact_email": "shop@example.com",
    "default_currency": "EUR",
    "default_language": "it",
    "time_zone": "Europe/Rome",
    "brand_color": "#112233",
}
VALID_LINK = {
    "amount": "19,99",
    "currency": "EUR",
    "description": "Order 7",
    "language": "it",
    "kind": "single",
    "expiry": "7d",
}
VALID_QUICK = {"amount": "5,00", "description": "Phone order"}
VALID_EMAIL = {"to": "c@example.com", "language": "it"}
VALID_REFUND = {"amount": "1,00", "reason": "Damaged", "confirm": "on"}
HOLD_FIELDS = {
    "amount": field("1,00", "0,01", "20,00", "20,01", "0", ""),
    "confirm": field("", "on", "false", "True"),
    "request_key": field("", "k" * 24, "short"),
}
VALID_HOLD = {"amount": "1,00", "confirm": "on", "request_key": "k" * 24}
VALID_EXPORT = {"date_from": "2026-01-01", "date_to": "2026-02-01"}
EXPORT_FIELDS = {"date_from": field("2026-01-01", "2020-01-01"), "date_to": field("2026-02-01")}


# --- helpers -------------------------------------------------------------------------------------


def snapshot() -> dict[str, Any]:
    """What a refused form must not change."""
    return {
        "merchants": list(Merchant.objects.order_by("pk").values()),
        "invitations": Invitation.objects.count(),
        "memberships": list(Membership.objects.order_by("pk").values_list("pk", "role")),
        "links": PaymentLink.objects.count(),
        "emails": OutboxEmail.objects.count(),
        "refunds": Refund.objects.count(),
        "exports": ReceiptExport.objects.count(),
    }


def refused(response) -> bool:
    """A 400, or the form rendered again (200) instead of the redirect that follows a success."""
    return response.status_code in (200, 400)


def post_and_check(client: Client, url: str, data: dict[str, str]):
    before = snapshot()
    response = client.post(url, data)
    event(f"HTTP {response.status_code}")
    assert response.status_code < 500, (url, data)
    if refused(response):
        assert snapshot() == before, (url, data, response.status_code)
    else:
        assert response.status_code == 302, (url, data, response.status_code)
    return response


@pytest.fixture
def owner(shop) -> Client:
    client = shop.client_for("owner")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def shop_url(shop, name: str, *args: Any) -> str:
    return reverse(name, args=[shop.merchant.public_id, *args])


# --- merchants -----------------------------------------------------------------------------------


@FUZZ
@given(data=form_data(MERCHANT_FIELDS, VALID_MERCHANT))
def test_onboarding(owner, data):
    post_and_check(owner, reverse("merchants:onboarding"), data)


@FUZZ
@given(data=form_data(MERCHANT_FIELDS, VALID_MERCHANT))
def test_shop_settings(shop, owner, data):
    post_and_check(owner, shop_url(shop, "merchants:settings"), data)


@FUZZ
@given(
    data=form_data(
        {"email": field(*EMAILS), "role": field(*Role.values)},
        {"email": "new@example.com", "role": "staff"},
    )
)
def test_invite(shop, owner, data):
    post_and_check(owner, shop_url(shop, "merchants:team"), data)


@FUZZ
@given(data=form_data({"role": field(*Role.values, "OWNER", "admin")}))
def test_role_change(shop, owner, data):
    """The view always redirects; an invalid role must change nothing."""
    before = snapshot()
    response = owner.post(shop_url(shop, "merchants:member_role", shop.staff.pk), data)
    assert response.status_code == 302, data
    if data.get("role") not in Role.values:
        assert snapshot() == before, data


# --- links ---------------------------------------------------------------------------------------


@FUZZ
@given(data=form_data(LINK_FIELDS, VALID_LINK))
def test_link_create(shop, owner, data):
    post_and_check(owner, shop_url(shop, "links:create"), data)


@FUZZ
@given(data=form_data(LINK_FIELDS, VALID_LINK), methods=METHOD_LISTS)
def test_link_create_narrowing_the_shops_methods(shop, owner, data, methods):
    """The shop offers cards and SEPA only: a link may narrow them, never add to them."""
    Merchant.objects.filter(pk=shop.merchant.pk).update(payment_methods=["card", "sepa_debit"])
    response = post_and_check(
        owner, shop_url(shop, "links:create"), {**data, "payment_methods": methods}
    )
    if response.status_code == 302:
        link = PaymentLink.objects.order_by("-pk").first()
        assert set(link.payment_methods) <= {"card", "sepa_debit"}


@FUZZ
@given(methods=METHOD_LISTS, action=field("methods", "register_domain"))
def test_payment_methods_settings(shop, owner, stripe_settings, methods, action):
    """The methods form and the domain registration (localstripe refuses it: a message)."""
    response = post_and_check(
        owner,
        shop_url(shop, "links:payment_account"),
        {"action": action, "payment_methods": methods},
    )
    if response.status_code == 302 and action == "methods":
        chosen = Merchant.objects.get(pk=shop.merchant.pk).payment_methods
        assert set(chosen) <= set(PaymentMethodKind.values)


@pytest.fixture
def payable_link(shop) -> PaymentLink:
    return PaymentLinkFactory(merchant=shop.merchant, customer_email="c@example.com")


@FUZZ
@given(data=form_data(EMAIL_FIELDS, VALID_EMAIL))
def test_link_send_email(shop, owner, payable_link, data):
    post_and_check(owner, shop_url(shop, "links:detail", payable_link.pk), data)


class RefusingProvider:
    """Stripe refusing every refund, without a network round trip (keeps the fuzzing fast)."""

    def refund_payment(self, *args: Any, **kwargs: Any):
        raise ProviderError("No such payment_intent: 'pi_fuzz_unknown'", permanent=True)


@pytest.fixture
def succeeded_payment(shop, monkeypatch) -> Payment:
    monkeypatch.setattr("links.refunds.provider_for_payment", lambda payment: RefusingProvider())
    link = PaymentLinkFactory(merchant=shop.merchant, amount=2000, currency="EUR")
    return PaymentFactory(link=link, status=PaymentStatus.SUCCEEDED, provider_id="pi_fuzz_unknown")


def refund_state() -> tuple:
    """Refunds other than the refused ones Stripe said no to (kept, FAILED, for the record)."""
    state = snapshot()
    state["refunds"] = Refund.objects.exclude(status=Refund.Status.FAILED).count()
    return state, list(Payment.objects.values_list("pk", "status", "refunded_amount"))


@FUZZ
@given(data=form_data(REFUND_FIELDS, VALID_REFUND))
def test_refund(shop, owner, succeeded_payment, data):
    url = shop_url(shop, "links:payment_refund", succeeded_payment.public_id)
    before = refund_state()
    response = owner.post(url, data)
    event(f"HTTP {response.status_code}")
    assert response.status_code < 500, data
    # Refused (400), the confirmation page (200), or Stripe's refusal recorded (302 or 400):
    # never a refund that did not happen, never a change to the payment.
    assert response.status_code in (200, 302, 400), (data, response.status_code)
    assert refund_state() == before, (data, response.status_code)


class RefusingHoldProvider:
    """Stripe refusing every capture and release of a hold it still holds (no network)."""

    def capture_payment(self, *args: Any, **kwargs: Any):
        raise ProviderError("This PaymentIntent could not be captured.", permanent=True)

    cancel_payment = capture_payment

    def retrieve_payment(self, provider_id: str) -> ProviderPayment:
        return ProviderPayment(
            id=provider_id, state=PaymentState.AUTHORIZED, amount=2000, currency="EUR"
        )


@pytest.fixture
def authorized_payment(shop, monkeypatch) -> Payment:
    monkeypatch.setattr(
        "links.authorizations.provider_for_payment", lambda payment: RefusingHoldProvider()
    )
    link = PaymentLinkFactory(merchant=shop.merchant, amount=2000, authorize_only=True)
    return PaymentFactory(
        link=link,
        status=PaymentStatus.AUTHORIZED,
        authorized_amount=2000,
        provider_id="pi_fuzz_held",
    )


def hold_state() -> tuple:
    return snapshot(), list(
        Payment.objects.values_list("pk", "status", "amount", "hold_decision", "hold_request_key")
    )


@FUZZ
@given(data=form_data(HOLD_FIELDS, VALID_HOLD))
def test_capture_and_release(shop, staff_client, authorized_payment, data):
    for name in ("links:payment_capture", "links:payment_release"):
        before = hold_state()
        response = staff_client.post(shop_url(shop, name, authorized_payment.public_id), data)
        event(f"{name} HTTP {response.status_code}")
        # The confirmation page (200), refused (400), or Stripe's refusal told (400): nothing
        # changes, and the hold can still be decided.
        assert response.status_code in (200, 400), (data, response.status_code)
        assert hold_state() == before, (data, response.status_code)


@FUZZ
@given(data=form_data(QUICK_FIELDS, VALID_QUICK))
def test_phone_order(shop, owner, data):
    post_and_check(owner, shop_url(shop, "links:phone_order_new"), data)


@FUZZ
@given(data=form_data(QUICK_FIELDS, VALID_QUICK))
def test_terminal(shop, owner, settings, data):
    settings.STRIPE_PLATFORM_MOTO = True
    post_and_check(owner, shop_url(shop, "links:terminal_new"), data)


# --- receipts ------------------------------------------------------------------------------------


@FUZZ
@given(data=form_data(EXPORT_FIELDS, VALID_EXPORT))
def test_receipts_export(shop, owner, data):
    post_and_check(owner, shop_url(shop, "receipts:export_create"), data)


# --- list filters (GET) ----------------------------------------------------------------------------

FILTERS = {
    "merchants:audit": {
        "action": field("", "link.created"),
        "who": field("owner"),
        "date_from": field("2026-01-01"),
        "date_to": field("2026-12-31"),
        "page": field("1", "2", "last", "0", "-1"),
    },
    "receipts:list": {
        "q": field("R-1"),
        "date_from": field("2026-01-01"),
        "date_to": field("2025-01-01"),
        "page": field("1", "last", "99999999999999999999"),
    },
    "receipts:csv": {"q": field("R-1"), "date_from": field("2026-01-01"), "date_to": field()},
    "links:list": {
        "q": field("Order"),
        "status": field("", "active", "paid"),
        "page": field("1", "last", "-1"),
    },
    "links:payments": {"q": field(), "status": field(), "page": field("1")},
}


@FUZZ
@given(
    name_and_query=st.sampled_from(sorted(FILTERS)).flatmap(
        lambda name: st.tuples(st.just(name), form_data(FILTERS[name]))
    )
)
def test_list_filters(shop, owner, name_and_query):
    name, query = name_and_query
    before = snapshot()
    response = owner.get(shop_url(shop, name), query)
    assert response.status_code in (200, 400), (name, query, response.status_code)
    if response.streaming:
        b"".join(response.streaming_content)  # the CSV is produced while it streams
    assert snapshot() == before


# --- Stripe webhook ------------------------------------------------------------------------------

WEBHOOK_SECRET = "whsec_vpos_platform"

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
EVENT_TYPES = st.sampled_from(
    ["payment_intent.succeeded", "charge.refunded", "refund.updated", "customer.created", ""]
)
# Event-shaped bodies whose id, type or object is missing or of the wrong kind: never well formed.
MALFORMED_EVENTS = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.none(), st.integers(), st.just(""), st.just("e" * 256), JSON),
        "type": st.one_of(EVENT_TYPES, JSON),
        "data": st.one_of(
            JSON,
            st.fixed_dictionaries(
                {},
                optional={
                    "object": st.one_of(
                        JSON,
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "id": st.one_of(st.text(max_size=30), JSON),
                                "object": st.one_of(st.just("payment_intent"), JSON),
                                "payment_intent": st.one_of(st.just("pi_fuzz_known"), JSON),
                            },
                        ),
                    )
                },
            ),
        ),
    },
)
UNKNOWN_PI_EVENTS = st.builds(
    lambda event_id, event_type, pi: {
        "id": f"evt_{event_id}",
        "object": "event",
        "type": event_type,
        "data": {"object": {"id": pi, "object": "payment_intent", "status": "succeeded"}},
    },
    st.text(max_size=30),
    EVENT_TYPES.filter(bool),
    st.text(max_size=30).map(lambda suffix: f"pi_unknown_{suffix}"),
)
SIGNED_BODIES = st.one_of(
    UNKNOWN_PI_EVENTS.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=300),
    JSON.map(lambda value: json.dumps(value).encode()),
    MALFORMED_EVENTS.map(lambda value: json.dumps(value).encode()),
    st.just(b""),
    st.just(b"\xef\xbb\xbf{}"),
    st.just(b'{"id": "evt_1", "type": "x"' + b"]" * 10_000),
)


def well_formed(body: bytes) -> bool:
    """What the provider accepts as an event (see provider.parse_webhook)."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    if not isinstance(data, dict):
        return False
    event_id, event_type = data.get("id"), data.get("type")
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 255):
        return False
    if not (isinstance(event_type, str) and 0 < len(event_type) <= 100):
        return False
    body_data = data.get("data")
    obj = body_data.get("object") if isinstance(body_data, dict) else None
    if not isinstance(obj, dict):
        return True
    return isinstance(obj.get("id", ""), str) and isinstance(obj.get("object", ""), str)


@pytest.fixture
def known_payment(shop, stripe_settings) -> Payment:
    link = PaymentLinkFactory(merchant=shop.merchant)
    return PaymentFactory(link=link, provider_id="pi_fuzz_known", status=PaymentStatus.PENDING)


def webhook_state() -> tuple:
    return (
        StripeEvent.objects.count(),
        list(Payment.objects.order_by("pk").values_list("pk", "status", "provider_id")),
    )


def post_webhook(body: bytes, headers: dict[str, str]):
    return Client().post(
        reverse("links:stripe_webhook"), data=body, content_type="application/json", **headers
    )


@FUZZ
@given(
    body=st.binary(max_size=500),
    signature=st.one_of(
        st.none(),
        st.text(max_size=80),
        st.builds(lambda t, v: f"t={t},v1={v}", st.text(max_size=12), st.text(max_size=70)),
        st.sampled_from(
            ["", "t=", "v1=", "t=1,v1=", ",,,", "t=1" * 500, "t=99999999999999999999,v1=0"]
        ),
    ),
)
def test_webhook_unsigned(known_payment, body, signature):
    before = webhook_state()
    headers = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": signature}
    response = post_webhook(body, headers)
    assert response.status_code == 400, (body, signature, response.status_code)
    assert webhook_state() == before


@FUZZ
@given(
    body=SIGNED_BODIES,
    timestamp_offset=st.one_of(
        st.just(0),
        st.integers(min_value=-(10**6), max_value=10**6).filter(lambda o: not -330 < o < -270),
    ),
    extra=st.sampled_from(["", ",v0=abc", ",v1=deadbeef", ",x=1"]),
)
def test_webhook_signed_malformed(known_payment, body, timestamp_offset, extra):
    signature = sign(body, WEBHOOK_SECRET, timestamp=int(time.time()) + timestamp_offset) + extra
    before = webhook_state()
    response = post_webhook(body, {"HTTP_STRIPE_SIGNATURE": signature})
    event(f"HTTP {response.status_code}")
    assert response.status_code < 500, (body, signature)
    if well_formed(body) and timestamp_offset > -300:  # Stripe's tolerance: only the past
        # A well-formed event for no known PaymentIntent: at most its id is recorded.
        assert response.status_code == 200, (body, response.status_code)
        events, payments = webhook_state()
        assert payments == before[1]
        assert events - before[0] in (0, 1)
    else:
        assert response.status_code == 400, (body, signature, response.status_code)
        assert webhook_state() == before


CHECKOUT_FIELDS = {
    "method": field(*PaymentMethodKind.values, "SEPA_DEBIT", "card "),
    "payment_method": field("pm_123", "pm_", "card_x"),
    "attempt_key": field("a" * 24),
    "email": field(*EMAILS),
    "name": ANY_TEXT,
    "recipient": ANY_TEXT,
}


@FUZZ
@given(data=form_data(CHECKOUT_FIELDS))
def test_customer_checkout_posts(shop, stripe_settings, data):
    """What a customer's browser (or anyone with the link) posts to the pay page's endpoints: the
    method chosen (card, SEPA...), the payment method and attempt key. Never a 5xx; a SetupIntent
    at most, never a payment, unless the post is a usable one."""
    link = PaymentLinkFactory(merchant=shop.merchant, amount=1500, payment_methods=["card"])
    client = Client()
    before = Payment.objects.count()
    for name in ("links:setup", "links:attempt"):
        response = client.post(reverse(name, args=[link.token]), data)
        event(f"{name} HTTP {response.status_code}")
        assert response.status_code < 500, (name, data)
        if response.status_code == 400:
            assert response.json()["status"] == "error"
    if data.get("method") not in (None, "", "card"):
        assert Payment.objects.count() == before  # only cards on this link


# --- electronic invoices -------------------------------------------------------------------------

# Names as customers type them: Latin, accented, other scripts, control characters.
INVOICE_TEXT = field("Rossi S.r.l.", "Dvořák", "Αθήνα", "東京", "a\x00b", "Caffè “Roma”")
INVOICE_FIELDS = {
    "invoice-kind": field("business", "private", "alien"),
    "invoice-company": INVOICE_TEXT,
    "invoice-first_name": INVOICE_TEXT,
    "invoice-last_name": INVOICE_TEXT,
    "invoice-vat_number": field("01234560017", "IT01234560017", "01234560018", "DE136695976"),
    "invoice-tax_code": field("RSSMRA85T10A562S", "RSSMRA85T10A562T", ""),
    "invoice-sdi_code": field("M5UXCR1", "0000000", "ABC", ""),
    "invoice-pec": field("a@pec.example.it", "nope", ""),
    "invoice-address": INVOICE_TEXT,
    "invoice-postal_code": field("10121", "1012", "ABCDE"),
    "invoice-city": INVOICE_TEXT,
    "invoice-province": field("TO", "Torino", ""),
    "invoice-country": field("IT", "DE", "Italia", ""),
}
VALID_INVOICE = posted(BUSINESS)
FISCAL_FIELDS = {
    "invoicing": field("off", "request", "business", "always"),
    "regime": field("RF01", "RF19", "RF03", ""),
    "vat_rate": field("22", "0", "7", ""),
    "vat_nature": field("", "N2.2", "N4", "N9"),
    "prices_include_vat": field("on", ""),
    "delivery": field("export", "pec", "fax"),
    "sdi_pec": field("sdi01@pec.fatturapa.it", "nope"),
    "transmitter_code": field("", "RSSMRA85T10A562S", "ABC"),
}
VALID_FISCAL = {
    "invoicing": "request",
    "regime": "RF01",
    "vat_rate": "22",
    "delivery": "export",
    "sdi_pec": "sdi01@pec.fatturapa.it",
}


@FUZZ
@given(data=form_data(FISCAL_FIELDS, VALID_FISCAL))
def test_fiscal_profile(shop, owner, data):
    before = list(FiscalProfile.objects.values())
    response = owner.post(shop_url(shop, "merchants:fiscal_profile"), data)
    event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 302), data
    if response.status_code == 200:
        assert list(FiscalProfile.objects.values()) == before, data


@FUZZ
@given(data=form_data({**LINK_FIELDS, **INVOICE_FIELDS}, {**VALID_LINK, **VALID_INVOICE}))
def test_link_create_with_invoice_details(shop, owner, data):
    FiscalProfile.objects.get_or_create(merchant=shop.merchant, defaults={"invoicing": "request"})
    response = post_and_check(
        owner, shop_url(shop, "links:create"), {**data, "invoice_customer": "on"}
    )
    if response.status_code == 302:
        details = PaymentLink.objects.order_by("-pk").first().invoice_details
        assert all(ord(char) < 0x100 for value in details.values() for char in value)


@FUZZ
@given(data=form_data(INVOICE_FIELDS, VALID_INVOICE))
def test_invoice_check_on_the_pay_page(shop, data):
    """A customer's invoice details: a clear 400 or an OK, never an error, and nothing written."""
    FiscalProfile.objects.get_or_create(merchant=shop.merchant, defaults={"invoicing": "request"})
    link = PaymentLinkFactory(merchant=shop.merchant)
    before = snapshot()
    response = Client().post(
        reverse("links:invoice_check", args=[link.token]), {**data, "invoice-requested": "on"}
    )
    event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 400), data
    assert response.json()["status"] in ("ok", "error")
    assert snapshot() == before
