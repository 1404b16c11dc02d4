"""Emails about links (the pay link for a customer). All go through the outbox; none is sent
from a request. The emails about payments and refunds carry proof: receipts.notifications."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext as _

from merchants.models import Membership, Role, User
from vpos.events import Event, record
from vpos.models import OutboxEmail
from vpos.outbox import EmailAbout, email_key, outbox_enqueue

from .models import Payment, PaymentLink
from .recipients import recipient_token


def link_send_email(
    *,
    link: PaymentLink,
    to: str,
    message: str = "",
    language: str = "",
    sent_by: User | None = None,
) -> OutboxEmail:
    """Queue the payment link for a customer. Each call is a new email: resending is allowed.

    Raises ValidationError for a link that can no longer be paid: there is nothing to send.
    """
    if not link.is_payable:
        raise ValidationError(
            _("This link can no longer be paid: there is nothing to send."), code="link_closed"
        )
    language = language or link.language
    merchant = link.merchant
    email = outbox_enqueue(
        kind="link",
        to=to,
        template="link",
        context={
            "link": link,
            "personal_message": message.strip(),
            "pay_url": f"{link.public_url}?for={recipient_token(link, to)}",
        },
        language=language,
        merchant=merchant,
        ref=link.email_ref,
        reply_to=merchant.contact_email,
    )
    record(
        Event.LINK_SENT,
        merchant_id=merchant.pk,
        obj=link,
        actor=sent_by,
        summary=f"{link.amount_display} — {link.description} → {email.to_email}",
    )
    return email


def hold_released_email(*, payment: Payment) -> OutboxEmail | None:
    """Tell the customer the hold on their card was released: nothing was charged. Once."""
    if not payment.customer_email:
        return None
    link, merchant = payment.link, payment.merchant
    return outbox_enqueue(
        kind="hold_released",
        to=payment.customer_email,
        template="hold_released",
        context={"payment": payment, "link": link},
        language=link.language,
        merchant=merchant,
        ref=link.email_ref,
        reply_to=merchant.contact_email,
        dedupe_key=email_key(EmailAbout.HOLD_RELEASED, payment.pk),
    )


def hold_lapsing_emails(*, payment: Payment) -> list[OutboxEmail]:
    """Warn the shop's owners that an authorization lapses soon unless it is captured. Once."""
    merchant = payment.merchant
    path = reverse("links:payment_detail", args=[merchant.public_id, payment.public_id])
    owners = Membership.objects.filter(merchant=merchant, role=Role.OWNER).select_related("user")
    return [
        outbox_enqueue(
            kind="hold_lapsing",
            to=owner.user.email,
            template="hold_lapsing",
            context={"payment": payment, "link": payment.link, "payment_path": path},
            language=merchant.default_language,
            merchant=merchant,
            ref=payment.link.email_ref,
            dedupe_key=email_key(EmailAbout.HOLD_LAPSING, payment.pk, owner.user_id),
        )
        for owner in owners
    ]


def debit_failed_emails(*, payment: Payment) -> list[OutboxEmail]:
    """A payment that was processing (a bank debit) was refused days later: the customer gets the
    link to pay again another way, the shop's owners are told. Once each."""
    link, merchant = payment.link, payment.merchant
    emails = []
    if payment.customer_email:
        emails.append(
            outbox_enqueue(
                kind="debit_failed",
                to=payment.customer_email,
                template="debit_failed",
                context={"payment": payment, "link": link, "pay_url": link.public_url},
                language=link.language,
                merchant=merchant,
                ref=link.email_ref,
                reply_to=merchant.contact_email,
                dedupe_key=email_key(EmailAbout.DEBIT_FAILED, payment.pk),
            )
        )
    path = reverse("links:payment_detail", args=[merchant.public_id, payment.public_id])
    owners = Membership.objects.filter(merchant=merchant, role=Role.OWNER).select_related("user")
    emails.extend(
        outbox_enqueue(
            kind="debit_failed",
            to=owner.user.email,
            template="debit_failed_shop",
            context={"payment": payment, "link": link, "payment_path": path},
            language=merchant.default_language,
            merchant=merchant,
            ref=link.email_ref,
            dedupe_key=email_key(EmailAbout.DEBIT_FAILED, payment.pk, owner.user_id),
        )
        for owner in owners
    )
    return emails
