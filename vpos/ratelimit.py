"""Rate limits for public endpoints, counted in the shared cache (Redis in production).

One fixed window per (scope, client IP), or per (scope, object) with `limit` (a payment link's
attempts, whoever makes them). Limits live in settings.RATELIMITS as "count/seconds";
the client IP is allauth's (REMOTE_ADDR, or X-Forwarded-For behind ALLAUTH_TRUSTED_PROXY_COUNT
proxies), so log-in and checkout limits agree on who a client is. Logins, sign-ups and password
resets are limited by allauth itself (ACCOUNT_RATE_LIMITS), the REST API by DRF throttles.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


def _rate(scope: str) -> tuple[int, int]:
    count, _sep, seconds = settings.RATELIMITS[scope].partition("/")
    return int(count), int(seconds)


def client_ip(request: HttpRequest) -> str:
    return get_adapter().get_client_ip(request) or "unknown"


def _window(scope: str, ident: str) -> tuple[str, int, int]:
    """(cache key, limit, seconds left in the window)."""
    limit, seconds = _rate(scope)
    now = int(time.time())
    start = now - now % seconds
    return f"ratelimit:{scope}:{ident}:{start}", limit, start + seconds - now


def hit(scope: str, ident: str, *, unless_over: str = "") -> int | None:
    """Count one use of `scope`; seconds to wait if that went over its limit, or if `ident` has
    already used up `unless_over` (which this does not count). One round trip on Redis."""
    key, limit, left = _window(scope, ident)
    other = _window(unless_over, ident) if unless_over else ()
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_key(key)  # our own keys: ASCII and short, no need to validate
        pipe = backend._cache.get_client(full_key, write=True).pipeline()
        pipe.incr(full_key)
        pipe.expire(full_key, left + 1)
        if other:
            pipe.get(backend.make_key(other[0]))
        count, _expiry, *used = pipe.execute()
        used_other = int(used[0] or 0) if other else 0  # counters are stored as plain integers
    else:
        used_other = (cache.get(other[0]) or 0) if other else 0
        count = _incr(key, left + 1)
    if other and used_other >= other[1]:
        return other[2]
    return left if int(count) > limit else None


def _incr(key: str, timeout: int) -> int:
    """Add one to a counter that expires with its window (caches other than Redis)."""
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


class RateLimited(Exception):
    """Raised by `limit` inside a view wrapped by `rate_limit`, which answers 429."""

    def __init__(self, retry_after: int, message: str = "") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.message = message


def limit(scope: str, ident: str, *, message: str = "") -> None:
    """Count one use of `scope` by `ident` (an object such as a link, not the client's address);
    over the limit, raise RateLimited: the view's `rate_limit` answers 429 with `message`."""
    if not settings.RATELIMIT_ENABLED:
        return
    wait = hit(scope, ident)
    if wait:
        raise RateLimited(wait, message)


def too_many_requests(request: HttpRequest, retry_after: int, message: str = "") -> HttpResponse:
    """429 with Retry-After: JSON for the checkout's fetch() calls (with `message` if given), a
    page for people."""
    logger.info("rate limited %s %s", request.method, request.path)
    message = message or _("Too many requests. Please wait a minute and try again.")
    if request.method == "POST" or "application/json" in request.headers.get("Accept", ""):
        response: HttpResponse = JsonResponse(
            {"status": "error", "code": "rate_limited", "message": message}, status=429
        )
    else:
        # The same page as allauth's 429s (log-in, sign-up, password reset).
        response = render(request, "429.html", {"retry_after": retry_after}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def rate_limit(scope: str, *, unknown_scope: str = "") -> Callable:
    """Limit a view per client IP. With `unknown_scope`, the view's 404s (unknown tokens) count
    against a tighter limit too: guessing tokens is stopped long before browsing a real link is.
    The view may count further limits of its own with `limit` (RateLimited becomes the 429)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not settings.RATELIMIT_ENABLED:
                return view(request, *args, **kwargs)
            ip = client_ip(request)
            wait = hit(scope, ip, unless_over=unknown_scope)
            if wait:
                return too_many_requests(request, wait)
            try:
                return view(request, *args, **kwargs)
            except Http404:
                if unknown_scope:
                    hit(unknown_scope, ip)
                raise
            except RateLimited as limited:
                return too_many_requests(request, limited.retry_after, limited.message)

        return wrapper

    return decorator
