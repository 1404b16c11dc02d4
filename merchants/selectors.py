"""Read paths for shops and teams."""

from django.db.models import QuerySet

from .caching import cached_membership
from .models import Invitation, Membership, Merchant, User


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
