from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .selectors import memberships_for_user

# The pages under the owner's "Shop" menu: the menu is marked current on each of them.
OWNER_MENU_PAGES = frozenset(
    {
        "settings", "fiscal_profile", "payment_account", "team", "invitation_revoke", "member_role",
        "member_remove", "emails", "email_detail", "audit", "developers", "api_key_revoke",
        "webhooks", "webhook_detail",
    }
)  # fmt: skip


# The pages of the "Links" and "Payments" entries (both in the links app, with the dashboard, the
# payment account page and the phone orders, which have entries of their own).
LINKS_MENU_PAGES = frozenset({"list", "create", "detail", "deactivate", "card", "qr_png", "qr_svg"})
PAYMENTS_MENU_PAGES = frozenset({"payments", "payments_csv", "payment_detail", "payment_refund"})


def shops(request: HttpRequest) -> dict[str, Any]:
    """The navigation's shop switcher and the current shop, when the view resolved one."""
    context: dict[str, Any] = {
        "owner_menu_pages": OWNER_MENU_PAGES,
        "links_menu_pages": LINKS_MENU_PAGES,
        "payments_menu_pages": PAYMENTS_MENU_PAGES,
    }
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    context["debug_outbox"] = settings.DEBUG and user.is_superuser
    membership = getattr(request, "membership", None)
    context["user_memberships"] = memberships_for_user(user)
    if membership is not None:
        context["membership"] = membership
        context["shop"] = membership.merchant
    return context
