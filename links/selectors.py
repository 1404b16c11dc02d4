"""Read paths for links and payments."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from merchants.models import Merchant
from vpos.models import OutboxEmail

from .models import LinkStatus, Payment, PaymentLink


def link_list(*, merchant: Merchant, q: str = "", status: str = "") -> QuerySet[PaymentLink]:
    links = PaymentLink.objects.filter(merchant=merchant)
    now = timezone.now()
    if status == LinkStatus.ACTIVE:
        links = links.filter(status=LinkStatus.ACTIVE).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )
    elif status == LinkStatus.EXPIRED:
        links = links.filter(
            Q(status=LinkStatus.EXPIRED) | Q(status=LinkStatus.ACTIVE, expires_at__lte=now)
        )
    elif status:
        links = links.filter(status=status)
    if q:
        links = links.filter(
            Q(description__icontains=q)
            | Q(reference__icontains=q)
            | Q(customer_email__icontains=q)
            | Q(customer_name__icontains=q)
        )
    return links.order_by("-created_at", "-id")


def link_payments(link: PaymentLink) -> QuerySet[Payment]:
    return link.payments.order_by("-created_at", "-id")


def link_for_checkout(token: str) -> PaymentLink | None:
    return (
        PaymentLink.objects.select_related("merchant", "merchant__payment_account")
        .filter(token=token)
        .first()
    )


def link_emails(link: PaymentLink) -> QuerySet[OutboxEmail]:
    """Every email sent about this link (the link itself, confirmations), newest first."""
    return OutboxEmail.objects.filter(merchant_id=link.merchant_id, ref=f"link:{link.pk}").only(
        "id", "kind", "to_email", "status", "last_error", "created_at", "sent_at", "attempts"
    )
