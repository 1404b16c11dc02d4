"""The one place that decides whether the current user may act in a shop.

Shop-scoped URLs carry the shop's public id. `shop_view` resolves it to the user's membership
(404 for anyone who is not a member, so other shops' existence is not revealed) and checks the
role (403 for a member without the right).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from .caching import PageCache, remember_shop
from .selectors import membership_for_user

SESSION_KEY = "vpos_shop"

ViewFunc = Callable[..., HttpResponse]


def shop_view(*, owner_only: bool = False, cached: bool = False) -> Callable[[ViewFunc], ViewFunc]:
    """Decorate `view(request, membership, **kwargs)` routed with a `shop_id` URL argument.

    `cached` pages (the dashboard and the lists) are served from the back-office cache while
    neither the shop nor the user changed (merchants/caching.py)."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, shop_id: Any, *args: Any, **kwargs: Any) -> HttpResponse:
            if settings.OWNERS_REQUIRE_TOTP and owner_without_totp(request.user, shop_id):
                return redirect("merchants:totp_required", shop_id=shop_id)
            page = PageCache.for_request(request, shop_id) if cached else None
            if page is not None and (response := page.hit()) is not None:
                _remember_current(request, shop_id)
                return _private(response)
            membership = membership_for_user(request.user, shop_id)
            if membership is None:
                raise Http404
            if owner_only and not membership.is_owner:
                raise PermissionDenied
            remember_shop(shop_id, membership.merchant_id)
            request.membership = membership  # type: ignore[attr-defined]
            _remember_current(request, membership.merchant.public_id)
            response = _private(view(request, membership, *args, **kwargs))
            if page is not None:
                page.store(response, membership.merchant_id)
            return response

        return wrapper

    return decorator


def owner_without_totp(user: Any, shop_id: Any) -> bool:
    """An owner can change payout keys, refund and create API keys: with OWNERS_REQUIRE_TOTP
    (on in production) they reach the shop only once two-factor authentication is set up."""
    membership = membership_for_user(user, shop_id)
    if membership is None or not membership.is_owner:
        return False
    return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def _private(response: HttpResponse) -> HttpResponse:
    """Shop pages show customers' names, emails and payments: no shared cache (a proxy) nor the
    browser's disk keeps them, unless the view chose its own policy (e.g. a QR image)."""
    if not response.has_header("Cache-Control"):
        response["Cache-Control"] = "private, no-store"
    return response


def _remember_current(request: HttpRequest, shop_id: Any) -> None:
    """The shop the user works in now: where the home page and the shop switcher take them."""
    if request.session.get(SESSION_KEY) != str(shop_id):
        request.session[SESSION_KEY] = str(shop_id)
