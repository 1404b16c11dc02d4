"""Rate limits for public endpoints, counted in the shared cache (Redis in production).

Per (scope, client IP), or per (scope, object) with `limit` (a payment link's attempts, whoever
makes them). Limits live in settings.RATELIMITS as "count/seconds"; the client IP is allauth's
(REMOTE_ADDR, or X-Forwarded-For behind ALLAUTH_TRUSTED_PROXY_COUNT proxies), so log-in and
checkout limits agree on who a client is. Logins, sign-ups and password resets are limited by
allauth itself (ACCOUNT_RATE_LIMITS); the REST API counts its keys here too
(integrations.api.throttling, its rate in VPOS_API_RATE).

Requests that change something (POST: SetupIntents, card attempts; the API) are counted in the
shared cache at once, over a sliding estimate of the last window rather than a fixed one
(`hit_sliding`): around a window's edge a card tester gets no more than the limit, not twice it.
Unknown tokens are counted there at once too, and read the same way by those requests.

Pages (GET) are counted by each process in fixed windows and told to the shared cache at most
every RATELIMIT_SYNC_SECONDS per client (`LocalCounts`): a busy checkout page costs no round trip
to Redis on most requests, and what every process and node knows (a client over its limit, a
guesser blocked) reaches each of them within that delay.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

logger = logging.getLogger(__name__)


def _rate(scope: str) -> tuple[int, int]:
    count, _sep, seconds = settings.RATELIMITS[scope].partition("/")
    return int(count), int(seconds)


def client_ip(request: HttpRequest) -> str:
    return get_adapter().get_client_ip(request) or "unknown"


def _window(
    scope: str, ident: str, at: float | None = None, rate: tuple[int, int] | None = None
) -> tuple[str, int, int]:
    """(cache key, limit, seconds left in the window) at `at` (now); `rate`: (count, seconds),
    the setting's otherwise."""
    limit, seconds = rate or _rate(scope)
    now = int(time.time() if at is None else at)
    start = now - now % seconds
    return f"ratelimit:{scope}:{ident}:{start}", limit, start + seconds - now


def _kept(left: int, seconds: int) -> int:
    """Seconds a window's counter is kept, `left` seconds before the window ends: through the
    next window too, which reads it as the last one's (`hit_sliding`)."""
    return left + seconds + 1


def count_use(scope: str, ident: str, *, at: float | None = None) -> None:
    """Count one use of `scope` by `ident` (at `at`, now) without judging it: an unknown token's
    404, judged by the requests that read it (`unless_over`). One round trip on Redis."""
    key, _limit, left = _window(scope, ident, at)
    _count(key, _kept(left, _rate(scope)[1]))


def hit_sliding(
    scope: str,
    ident: str,
    *,
    rate: tuple[int, int] | None = None,
    unless_over: str = "",
    at: float | None = None,
) -> int | None:
    """Count one use of `scope` by `ident` over the last `seconds` of its rate (count, seconds;
    the setting's when not given) rather than a fixed window, so that no client gets twice its
    rate around a window's edge; seconds to wait, or None. With `unless_over`, also refused
    while `ident` has used up that scope over its own last window (which this does not count).

    The last `seconds` are estimated from two fixed windows: this one's count, plus the last
    one's weighted by the share of it they still cover (its uses taken as spread evenly). A
    refused use is taken back, so a client that waits what it is told gets in. One round trip
    on Redis, two when refused."""
    limit, seconds = rate or _rate(scope)
    now = time.time() if at is None else at  # read once: every window is placed from it
    key, _limit, left = _window(scope, ident, now, (limit, seconds))
    reads = [_window(scope, ident, now - seconds, (limit, seconds))[0]]
    if unless_over:
        other_limit, other_seconds = _rate(unless_over)
        other_key, _other_limit, other_left = _window(unless_over, ident, now)
        reads += [other_key, _window(unless_over, ident, now - other_seconds)[0]]
    count, (last, *other) = _count(key, _kept(left, seconds), *reads)
    waits = [_sliding_wait(count - 1, last, left, seconds, limit)]
    if other:
        waits.append(_sliding_wait(*other, other_left, other_seconds, other_limit))
    wait = max((wait for wait in waits if wait), default=None)
    if wait:
        _uncount(key)
    return wait


def _sliding_wait(used: int, last: int, left: int, seconds: int, limit: int) -> int | None:
    """Seconds until one more use fits under `limit` over the last `seconds`, estimated from
    `used` in this window (`left` seconds of it to run) and `last` in the one before; None if it
    fits now."""
    if used + 1 + last * left / seconds <= limit:
        return None
    if used < limit:  # the last window's share has to shrink: wait until enough of it is past
        fits_with_left = (limit - used - 1) * seconds / last
        return max(1, math.ceil(left - fits_with_left))
    # This window alone is full: in the next one, its uses are the last window's.
    fits_with_left = (limit - 1) * seconds / used
    return left + max(0, math.ceil(seconds - fits_with_left))


def _count(key: str, expires: int, *reads: str) -> tuple[int, list[int]]:
    """Add one to the counter `key` (kept `expires` seconds) and read the counters `reads`:
    one round trip on Redis."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_key(key)  # our own keys: ASCII and short, no need to validate
        pipe = backend._cache.get_client(full_key, write=True).pipeline()
        pipe.incr(full_key)
        pipe.expire(full_key, expires)
        for read in reads:
            pipe.get(backend.make_key(read))
        count, _expiry, *values = pipe.execute()
    else:
        values = [cache.get(read) for read in reads]
        count = _incr(key, expires)
    return int(count), [int(value or 0) for value in values]  # stored as plain integers


def _uncount(key: str) -> None:
    """Take one back from the counter `key` (a use that was refused)."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_key(key)
        backend._cache.get_client(full_key, write=True).decr(full_key)
        return
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing left to take back
        cache.decr(key)


@dataclass
class _Client:
    """What one process knows of one client's use of one scope in the current window."""

    key: str  # the shared counter of the window
    expires: int  # seconds the shared counter lives on from its last sync
    synced_at: float
    counted: int  # the shared count at the last sync
    pending: int = 0  # counted here since, not yet added to the shared count
    over_other: int = 0  # seconds to wait if the client had used up `unless_over` at the sync


class LocalCounts:
    """Per-process counts of page requests, added to the shared cache in one round trip per client
    every `sync_seconds` (and whenever the window turns).

    Between syncs a client is judged on the shared count of the last sync plus what this process
    counted since: in one process that is exact; across P processes a client may get up to
    P times what each let through in `sync_seconds` beyond its limit, and anything known in the
    shared cache (over the limit, blocked for guessing) is known here within `sync_seconds`.
    Each sync also adds every other client's pending count, so nothing counted is lost.
    """

    MAX_CLIENTS = 10_000  # beyond that, forget clients whose window has ended

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._clients: dict[tuple[str, str], _Client] = {}
        self._lock = threading.Lock()

    def forget(self, ident: str | None = None) -> None:
        """Drop what is known of `ident` (all clients without it): its next request syncs."""
        with self._lock:
            if ident is None:
                self._clients.clear()
            else:
                for scope_ident in [k for k in self._clients if k[1] == ident]:
                    del self._clients[scope_ident]

    def hit(self, scope: str, ident: str, *, unless_over: str = "") -> int | None:
        """Count one use of `scope` by `ident` in this fixed window, with the shared cache asked
        at most every RATELIMIT_SYNC_SECONDS; seconds to wait if that went over its limit, or if
        `ident` had used up `unless_over` (which this does not count) at the last sync."""
        now = self.clock()
        key, limit, left = _window(scope, ident, now)
        with self._lock:
            client = self._clients.get((scope, ident))
            fresh = (
                client is not None
                and client.key == key
                and now - client.synced_at < settings.RATELIMIT_SYNC_SECONDS
            )
            if fresh:
                client.pending += 1
            else:
                client = self._sync(scope, ident, key, left, now, unless_over)
            if client.over_other:
                return client.over_other
            return left if client.counted + client.pending > limit else None

    def _sync(
        self, scope: str, ident: str, key: str, left: int, now: float, unless_over: str
    ) -> _Client:
        """One round trip: this request and every pending count go to the shared cache, and the
        client's counts come back."""
        if len(self._clients) >= self.MAX_CLIENTS:
            self._clients = {k: c for k, c in self._clients.items() if c.pending or c.key == key}
        other = _window(unless_over, ident, now) if unless_over else None
        expires = _kept(left, _rate(scope)[1])
        own, amount = self._clients.get((scope, ident)), 1
        pending = [c for c in self._clients.values() if c.pending and c is not own]
        if own is not None and own.pending:
            if own.key == key:
                amount += own.pending
            else:  # an earlier window's: still added to it
                pending.append(own)
        counts = _add_shared(
            [(c.key, c.pending, c.expires) for c in pending] + [(key, amount, expires)],
            other[0] if other else "",
        )
        *others, (count, used_other) = counts
        for earlier, (shared, _unused) in zip(pending, others, strict=True):
            earlier.counted, earlier.pending = shared, 0
        client = _Client(key=key, expires=expires, synced_at=now, counted=count)
        if other and used_other >= other[1]:
            client.over_other = other[2]
        self._clients[(scope, ident)] = client
        return client


def _add_shared(additions: list[tuple[str, int, int]], read: str) -> list[tuple[int, int]]:
    """Add each (key, amount, timeout) to its shared counter and read counter `read` ("" for
    none), in one round trip on Redis: each counter's new value, and the read one's beside the
    last."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client(backend.make_key(additions[-1][0]), write=True)
        pipe = client.pipeline(transaction=False)
        for key, amount, timeout in additions:
            full_key = backend.make_key(key)
            pipe.incrby(full_key, amount)
            pipe.expire(full_key, timeout)
        if read:
            pipe.get(backend.make_key(read))
        answers = pipe.execute()
        values = [int(value) for value in answers[0 : 2 * len(additions) : 2]]
        used = int(answers[-1] or 0) if read else 0
    else:
        values = [_incr(key, timeout, amount) for key, amount, timeout in additions]
        used = (cache.get(read) or 0) if read else 0
    return [(value, used) for value in values]


LOCAL_COUNTS = LocalCounts()


def _incr(key: str, timeout: int, amount: int = 1) -> int:
    """Add one to a counter that expires with its window (caches other than Redis)."""
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key, amount)
    except ValueError:  # expired between add and incr
        cache.set(key, amount, timeout=timeout)
        return amount


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
    wait = hit_sliding(scope, ident)
    if wait:
        raise RateLimited(wait, message)


def too_many_requests(request: HttpRequest, retry_after: int, message: str = "") -> HttpResponse:
    """429 with Retry-After: JSON for the checkout's fetch() calls (with `message` if given), a
    page for people."""
    logger.info("rate limited %s %s", request.method, request.path)
    message = message or _wait_message(retry_after)
    if request.method == "POST" or "application/json" in request.headers.get("Accept", ""):
        response: HttpResponse = JsonResponse(
            {"status": "error", "code": "rate_limited", "message": message}, status=429
        )
    else:
        # The same page as allauth's 429s (log-in, sign-up, password reset).
        response = render(
            request, "429.html", {"retry_after": retry_after, "message": message}, status=429
        )
    response["Retry-After"] = str(retry_after)
    return response


def _wait_message(retry_after: int) -> str:
    """What the checkout shows a customer who was refused: as long a wait as Retry-After says."""
    minutes = math.ceil(retry_after / 60)
    if minutes <= 1:
        return _("Too many requests. Please wait a minute and try again.")
    return ngettext(
        "Too many requests. Please wait %(minutes)d minute and try again.",
        "Too many requests. Please wait %(minutes)d minutes and try again.",
        minutes,
    ) % {"minutes": minutes}


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
            count = LOCAL_COUNTS.hit if request.method in ("GET", "HEAD") else hit_sliding
            wait = count(scope, ip, unless_over=unknown_scope)
            if wait:
                return too_many_requests(request, wait)
            try:
                return view(request, *args, **kwargs)
            except Http404:
                if unknown_scope:
                    count_use(unknown_scope, ip)
                    LOCAL_COUNTS.forget(ip)  # its next page asks the shared count again
                raise
            except RateLimited as limited:
                return too_many_requests(request, limited.retry_after, limited.message)

        return wrapper

    return decorator
