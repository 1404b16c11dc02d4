"""Read paths for shops and teams."""

from datetime import date

from django.db.models import QuerySet

from vpos.models import AuditEntry, OutboxEmail

from .caching import cached_membership
from .models import FiscalProfile, Invitation, InvoiceOffer, Membership, Merchant, User


def memberships_for_user(user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user).select_related("merchant").order_by("merchant__name")
    )


def membership_for_user(user: User, shop_id: object) -> Membership | None:
    """The user's membership in the shop, or None: the single tenancy check."""
    return cached_membership(
        user,
        shop_id,
        lambda: (
            Membership.objects.select_related("merchant")
            .filter(user=user, merchant__public_id=shop_id)
            .first()
        ),
    )


def team_members(merchant: Merchant) -> QuerySet[Membership]:
    return merchant.memberships.select_related("user").order_by("role", "user__email")


def pending_invitations(merchant: Merchant) -> QuerySet[Invitation]:
    return Invitation.objects.pending().filter(merchant=merchant).select_related("invited_by")


def shop_invitation(merchant: Merchant, invitation_id: int) -> Invitation | None:
    return Invitation.objects.filter(pk=invitation_id, merchant=merchant).first()


def shop_member(merchant: Merchant, member_id: int) -> Membership | None:
    """A member of this shop (another shop's members do not exist for it)."""
    return Membership.objects.select_related("user").filter(pk=member_id, merchant=merchant).first()


def invitation_for_token(token: str) -> Invitation | None:
    return Invitation.objects.select_related("merchant", "invited_by").filter(token=token).first()


def shop_emails(merchant: Merchant) -> QuerySet[OutboxEmail]:
    return OutboxEmail.objects.filter(merchant=merchant)


def shop_email(merchant: Merchant, email_id: int) -> OutboxEmail | None:
    return OutboxEmail.objects.filter(pk=email_id, merchant=merchant).first()


def audit_entries(
    merchant: Merchant,
    *,
    action: str = "",
    who: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEntry]:
    """The shop's audit log, newest first, filtered as the owner asked."""
    entries = AuditEntry.objects.filter(merchant=merchant).select_related("actor")
    if action:
        entries = entries.filter(action=action)
    if who:
        entries = entries.filter(actor_label__icontains=who)
    if date_from:
        entries = entries.filter(created_at__date__gte=date_from)
    if date_to:
        entries = entries.filter(created_at__date__lte=date_to)
    return entries.order_by("-created_at", "-id")


def invoice_offer(merchant: Merchant) -> str:
    """Whether the shop's customers are offered invoices (an InvoiceOffer value); off without a
    fiscal profile."""
    try:
        return merchant.fiscal_profile.invoicing
    except FiscalProfile.DoesNotExist:
        return InvoiceOffer.OFF
