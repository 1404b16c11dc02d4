from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .selectors import memberships_for_user


def shops(request: HttpRequest) -> dict[str, Any]:
    """The navigation's shop switcher and the current shop, when the view resolved one."""
    context: dict[str, Any] = {"debug_outbox": settings.DEBUG}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    membership = getattr(request, "membership", None)
    context["user_memberships"] = memberships_for_user(user)
    if membership is not None:
        context["membership"] = membership
        context["shop"] = membership.merchant
    return context
