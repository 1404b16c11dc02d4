"""The one place that decides whether the current user may act in a shop.

Shop-scoped URLs carry the shop's public id. `shop_view` resolves it to the user's membership
(404 for anyone who is not a member, so other shops' existence is not revealed) and checks the
role (403 for a member without the right).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from .selectors import membership_for_user

SESSION_KEY = "vpos_shop"

ViewFunc = Callable[..., HttpResponse]


def shop_view(*, owner_only: bool = False) -> Callable[[ViewFunc], ViewFunc]:
    """Decorate `view(request, membership, **kwargs)` routed with a `shop_id` URL argument."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, shop_id: Any, *args: Any, **kwargs: Any) -> HttpResponse:
            membership = membership_for_user(request.user, shop_id)
            if membership is None:
                raise Http404
            if owner_only and not membership.is_owner:
                raise PermissionDenied
            request.membership = membership  # type: ignore[attr-defined]
            current = str(membership.merchant.public_id)
            if request.session.get(SESSION_KEY) != current:
                request.session[SESSION_KEY] = current
            return view(request, membership, *args, **kwargs)

        return wrapper

    return decorator
