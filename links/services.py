"""Write paths for links: creation, deactivation and expiry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchants.models import InvoiceOffer, Merchant, PaymentMethodKind, User
from merchants.selectors import invoice_offer
from vpos.events import Event, record
from vpos.inputs import single_line
from vpos.money import MAXIMUM_AMOUNT, MINIMUM_AMOUNT, format_money

from .lifecycle import InvalidTransition, link_transition
from .models import (
    EXPIRY_GRACE,
    OPEN_PAYMENT_STATUSES,
    LinkChannel,
    LinkKind,
    LinkStatus,
    PaymentLink,
)

# --- Links ------------------------------------------------------------------------------------


def validate_amount(amount: int, currency: str) -> None:
    minimum = MINIMUM_AMOUNT.get(currency, 50)
    if amount < minimum:
        raise ValidationError(
            _("The minimum amount is %(amount)s.") % {"amount": format_money(minimum, currency)},
            code="min_amount",
        )
    if amount > MAXIMUM_AMOUNT:
        raise ValidationError(
            _("The maximum amount is %(amount)s.")
            % {"amount": format_money(MAXIMUM_AMOUNT, currency)},
            code="max_amount",
        )


def validate_link_payment_methods(merchant: Merchant, methods: list[str]) -> list[str]:
    """A link may narrow its shop's payment methods, never add to them. Returns them in the
    order of PaymentMethodKind, without repeats; empty: the shop's."""
    known = {kind.value for kind in PaymentMethodKind}
    unknown = sorted(set(methods) - known)
    if unknown:
        raise ValidationError(
            _("Unknown payment method: %(methods)s.") % {"methods": ", ".join(unknown)},
            code="unknown_method",
        )
    offered = set(merchant.payment_methods or known)
    refused = [kind for kind in PaymentMethodKind if kind in methods and kind not in offered]
    if refused:
        raise ValidationError(
            _(
                "The shop does not offer %(methods)s: a link can only narrow the shop's payment "
                "methods (the owner chooses them in the payment account settings)."
            )
            % {"methods": ", ".join(str(kind.label) for kind in refused)},
            code="method_not_offered",
        )
    return [kind.value for kind in PaymentMethodKind if kind in methods]


def link_create(
    *,
    merchant: Merchant,
    created_by: User | None,
    amount: int,
    currency: str,
    description: str,
    kind: str = LinkKind.SINGLE,
    reference: str = "",
    customer_name: str = "",
    customer_email: str = "",
    language: str = "",
    expires_at: datetime | None = None,
    max_payments: int | None = None,
    vat_rate: int | None = None,
    vat_exemption: str = "",
    channel: str = LinkChannel.DASHBOARD,
    customer_phone: str = "",
    success_url: str = "",
    cancel_url: str = "",
    metadata: dict[str, str] | None = None,
    api_key: Any = None,
    authorize_only: bool = False,
    payment_methods: list[str] | None = None,
    invoice_details: dict[str, str] | None = None,
) -> PaymentLink:
    """A new payment link. `invoice_details` (validated by merchants.fiscal) make every payment
    of it invoiced to that customer."""
    validate_amount(amount, currency)
    payment_methods = validate_link_payment_methods(merchant, payment_methods or [])
    if invoice_details and invoice_offer(merchant) == InvoiceOffer.OFF:
        raise ValidationError(
            _(
                "This shop does not issue electronic invoices: an owner sets them up in the "
                "shop's invoicing settings first."
            ),
            code="invoicing_off",
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError(_("The expiry must be in the future."), code="expiry_past")
    if kind == LinkKind.SINGLE:
        max_payments = None
    link = PaymentLink(
        merchant=merchant,
        created_by=created_by,
        amount=amount,
        currency=currency,
        description=description.strip(),
        kind=kind,
        # Printed on receipts and in emails as one line each: no line breaks or control codes.
        reference=single_line(reference),
        customer_name=single_line(customer_name),
        customer_email=customer_email.strip(),
        language=language or merchant.default_language,
        expires_at=expires_at,
        max_payments=max_payments,
        vat_rate=vat_rate,
        vat_exemption=vat_exemption.strip() if vat_rate == 0 else "",
        channel=channel,
        customer_phone=customer_phone.strip(),
        success_url=success_url,
        cancel_url=cancel_url,
        metadata=metadata or {},
        authorize_only=authorize_only,
        payment_methods=payment_methods,
        invoice_details=invoice_details or {},
    )
    # The fields' own rules only. The shop and the creator are the caller's objects, the amount
    # was checked above and the random token's uniqueness is the database's: their checks would
    # cost three queries on every link, the API's busiest call.
    link.full_clean(
        exclude=["merchant", "created_by"], validate_unique=False, validate_constraints=False
    )
    link.save()
    record(
        Event.LINK_CREATED,
        merchant_id=merchant.pk,
        obj=link,
        actor=created_by,
        summary=f"{link.amount_display} — {link.description}",
        data={"actor": f"API key {api_key.name} ({api_key.prefix}…)"} if api_key else None,
    )
    return link


@transaction.atomic
def link_deactivate(*, link: PaymentLink, actor: User | None = None) -> PaymentLink:
    locked = PaymentLink.objects.select_for_update().get(pk=link.pk)
    try:
        link_transition(locked, LinkStatus.DEACTIVATED)
    except InvalidTransition as error:
        raise ValidationError(
            _("This link is %(status)s and cannot be deactivated.")
            % {"status": locked.get_status_display().lower()}
        ) from error
    locked.save(update_fields=["status", "closed_at", "updated_at"])
    record(
        Event.LINK_DEACTIVATED,
        merchant_id=locked.merchant_id,
        obj=locked,
        actor=actor,
        summary=f"{locked.amount_display} — {locked.description}",
    )
    return locked


def links_expire_due(*, now: datetime | None = None) -> int:
    """Periodic: mark active links past their expiry as expired.

    A link with a payment started before its expiry waits for the grace period to end.
    """
    now = now or timezone.now()
    due = PaymentLink.objects.filter(status=LinkStatus.ACTIVE, expires_at__lte=now).exclude(
        payments__status__in=OPEN_PAYMENT_STATUSES, expires_at__gt=now - EXPIRY_GRACE
    )
    expired = 0
    for link_id in due.values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            link = PaymentLink.objects.select_for_update().get(pk=link_id)
            if link.status == LinkStatus.ACTIVE and link.is_past_expiry(now):
                link_transition(link, LinkStatus.EXPIRED, at=now)
                link.save(update_fields=["status", "closed_at", "updated_at"])
                record(Event.LINK_EXPIRED, merchant_id=link.merchant_id, obj=link)
                expired += 1
    return expired
