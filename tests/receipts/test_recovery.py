"""After a database restore, `recover_from_provider` brings back what Stripe holds and the backup
does not: every payment once, its refunds, and receipt numbers that are never issued twice.

Payments are taken through the real checkout against localstripe. "The restore" deletes what was
written after the backup point, as restoring the dump does, and puts the receipt sequences back
where they were.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from links.models import LinkKind, Payment, PaymentEvent, PaymentLink, PaymentStatus, Refund
from links.payments import checkout_attempt
from links.providers import ProviderError
from links.refunds import refund_create
from merchants.models import PaymentAccount
from receipts import recovery
from receipts import tasks as receipt_tasks
from receipts.models import Receipt, ReceiptSequence, RefundNote
from tests.support.factories import PaymentLinkFactory
from tests.support.stripe import card_payment_method
from vpos.crypto import encrypt
from vpos.models import OutboxEmail

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(stripe_settings, settings, django_capture_on_commit_callbacks):
    """Numbers are written to the provider, as in production; follow-ups run at commit."""
    settings.PROVIDER_RECORDS_NUMBERS = True

    def pay(link: PaymentLink, api) -> Payment:
        with django_capture_on_commit_callbacks(execute=True):
            result = checkout_attempt(
                link=link,
                payment_method=card_payment_method(api),
                attempt_key=secrets.token_hex(8),
                customer_email="cliente@example.com",
            )
        return Payment.objects.get(pk=result.payment.pk)

    def refund(payment: Payment, amount: int) -> Refund:
        with django_capture_on_commit_callbacks(execute=True):
            return refund_create(payment=payment, amount=amount)

    return pay, refund


# Rows a restore removes (made after the backup), deepest first, and fields it puts back.
TABLES = [RefundNote, Refund, Receipt, PaymentEvent, OutboxEmail, Payment, PaymentLink]
FIELDS = {
    Payment: ["status", "refunded_amount", "succeeded_at"],
    PaymentLink: ["status", "payments_count", "paid_at", "closed_at"],
    ReceiptSequence: ["last_number"],
}


def backup_now() -> dict:
    return {
        "rows": {model: set(model.objects.values_list("pk", flat=True)) for model in TABLES},
        "fields": {
            model: {row["pk"]: row for row in model.objects.values("pk", *names)}
            for model, names in FIELDS.items()
        },
    }


def restore(backup: dict) -> None:
    """What restoring the dump taken at `backup` does to the payment tables."""
    for model in TABLES:
        model.objects.exclude(pk__in=backup["rows"][model]).delete()
    for model, rows in backup["fields"].items():
        model.objects.exclude(pk__in=rows).delete()
        for pk, values in rows.items():
            model.objects.filter(pk=pk).update(**{k: v for k, v in values.items() if k != "pk"})


def recover(capsys, since) -> str:
    call_command("recover_from_provider", "--since", since.isoformat())
    return capsys.readouterr().out


def test_payments_after_the_backup_come_back_once_and_no_receipt_number_is_reused(
    shop, live, stripe_api, capsys
):
    pay, _refund = live
    reusable = PaymentLinkFactory(merchant=shop.merchant, kind=LinkKind.REUSABLE, amount=1500)
    start = timezone.now() - timedelta(minutes=1)
    before = pay(reusable, stripe_api)
    backup = backup_now()
    after = [pay(reusable, stripe_api) for _ in range(3)]
    lost_numbers = {p.receipt.number for p in after}
    # Stripe remembers each number vpos issued.
    for payment in after:
        pi = stripe_api.v1.payment_intents.retrieve(payment.provider_id)
        assert pi.metadata["vpos_receipt"] == payment.receipt.number

    restore(backup)
    assert Payment.objects.count() == 1
    out = recover(capsys, start)

    payments = Payment.objects.filter(status=PaymentStatus.SUCCEEDED)
    assert sorted(p.provider_id for p in payments) == sorted(
        p.provider_id for p in [before, *after]
    )
    assert {p.public_id for p in payments} == {p.public_id for p in [before, *after]}
    recovered = Receipt.objects.exclude(payment=before)
    assert recovered.count() == 3
    assert not {r.number for r in recovered} & (lost_numbers | {before.receipt.number})
    assert "payments recreated: 3" in out
    reusable.refresh_from_db()
    assert reusable.payments_count == 4
    # A second run finds nothing to do.
    assert "payments recreated: 0" in recover(capsys, start)
    assert Payment.objects.count() == 4
    assert Receipt.objects.count() == 4


def test_a_payment_on_a_link_made_after_the_backup_gets_a_link_of_its_own(
    shop, live, stripe_api, capsys
):
    pay, _refund = live
    start = timezone.now() - timedelta(minutes=1)
    backup = backup_now()
    new_link = PaymentLinkFactory(merchant=shop.merchant, amount=4200)
    lost = pay(new_link, stripe_api)

    restore(backup)
    recover(capsys, start)

    payment = Payment.objects.get(public_id=lost.public_id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (payment.merchant, payment.amount) == (shop.merchant, 4200)
    with translation.override(shop.merchant.default_language):
        assert payment.link.description == _("Payment recovered after a database restore")
    assert payment.card_last4 == "4242"
    assert payment.events.filter(kind="recovered").exists()


def test_refunds_after_the_backup_come_back_and_refund_note_numbers_move_on(
    shop, live, stripe_api, capsys
):
    pay, refund = live
    link = PaymentLinkFactory(merchant=shop.merchant, amount=3000)
    start = timezone.now() - timedelta(minutes=1)
    paid = pay(link, stripe_api)
    backup = backup_now()
    refund(paid, 1000)
    lost_note = RefundNote.objects.get().number
    listed = stripe_api.v1.refunds.list({"payment_intent": paid.provider_id}).data
    assert listed[0].metadata["vpos_refund_note"] == lost_note

    restore(backup)
    assert not Refund.objects.exists()
    out = recover(capsys, start)

    payment = Payment.objects.get(pk=paid.pk)
    assert payment.refunded_amount == 1000
    recovered = Refund.objects.get()
    assert (recovered.amount, recovered.provider_id) == (1000, listed[0].id)
    assert RefundNote.objects.get().number != lost_note
    assert "refunds recreated: 1" in out
    # The money left once: what is left to refund is what Stripe would still refund.
    assert payment.amount - payment.refunded_amount == 2000
    assert "refunds recreated: 0" in recover(capsys, start)


def test_payments_on_a_shops_own_stripe_account_are_recovered_from_that_account(
    shop, live, stripe_api, capsys, settings
):
    pay, _refund = live
    PaymentAccount.objects.create(
        merchant=shop.merchant,
        secret_key_encrypted=encrypt("sk_test_shop_own"),
        publishable_key="pk_test_shop_own",
        webhook_secret_encrypted=encrypt("whsec_shop_own"),
    )
    shop.merchant.refresh_from_db()
    link = PaymentLinkFactory(merchant=shop.merchant, amount=990)
    start = timezone.now() - timedelta(minutes=1)
    backup = backup_now()
    lost = pay(link, stripe_api)
    assert lost.via_shop_account

    restore(backup)
    recover(capsys, start)

    payment = Payment.objects.get(public_id=lost.public_id)
    assert payment.via_shop_account
    assert payment.status == PaymentStatus.SUCCEEDED


def test_without_any_stripe_account_it_says_so_instead_of_finding_nothing(settings):
    settings.STRIPE_SECRET_KEY = ""

    with pytest.raises(CommandError, match="no Stripe account is configured"):
        call_command("recover_from_provider", "--since", "2026-01-01")


@pytest.mark.parametrize(
    ("since", "message"), [("yesterday", "not a date"), ("2999-01-01", "in the future")]
)
def test_bad_since_is_refused_with_a_clear_message(since, message, stripe_settings):
    with pytest.raises(CommandError, match=message):
        call_command("recover_from_provider", "--since", since)


def test_a_link_made_in_the_same_second_as_its_payment_keeps_the_payment(
    shop, live, stripe_api, capsys
):
    """The provider's times are whole seconds: a link made at 12:00:00.9 and paid at 12:00:00.95
    has a PaymentIntent 'created' at 12:00:00, before the link, yet the payment is the link's."""
    pay, _refund = live
    link = PaymentLinkFactory(merchant=shop.merchant, amount=700)
    start = timezone.now() - timedelta(minutes=1)
    backup = backup_now()
    lost = pay(link, stripe_api)
    created = stripe_api.v1.payment_intents.retrieve(lost.provider_id).created
    PaymentLink.objects.filter(pk=link.pk).update(
        created_at=datetime.fromtimestamp(created, tz=UTC) + timedelta(milliseconds=900)
    )

    restore(backup)
    recover(capsys, start)

    assert Payment.objects.get(public_id=lost.public_id).link_id == link.pk


def test_a_provider_that_is_away_is_asked_again_and_a_refusal_is_not_retried(monkeypatch, caplog):
    errors = [ProviderError("timed out", permanent=False), ProviderError("no such", permanent=True)]

    def write(*, payment_id: int) -> bool:
        raise errors.pop(0)

    class Retrying(Exception):
        pass

    later: list[int] = []
    monkeypatch.setattr(recovery, "payment_number_to_provider", write)
    monkeypatch.setattr(
        receipt_tasks.payment_number_to_provider,
        "retry",
        lambda countdown: later.append(countdown) or Retrying(),
    )

    with pytest.raises(Retrying):
        receipt_tasks.payment_number_to_provider.run(1)
    receipt_tasks.payment_number_to_provider.run(1)  # refused for good: logged, not retried

    assert later == [60]
    assert "refused the document number" in caplog.text
