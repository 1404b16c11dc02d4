"""Emails about links (the pay link for a customer). All go through the outbox; none is sent
from a request. The emails about payments and refunds carry proof: receipts.notifications."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from merchants.models import User
from vpos.events import Event, record
from vpos.models import OutboxEmail
from vpos.outbox import outbox_enqueue

from .models import PaymentLink
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
