"""Back-office caches: who the user is, which shops they belong to, and the rendered list pages.

A signed-in back-office request would otherwise pay three queries before the view runs (session,
user, membership) and the whole template after it. With a shared cache (Redis), the user and their
membership are kept in the cache, and the dashboard and list pages are kept as rendered HTML.

Freshness comes from versions, not from timeouts: every write to a shop's rows (any model with a
`merchant`, and the few `QuerySet.update()` calls, which name their shop with `shop_changed`)
gives the shop a new version, before this transaction reads a version again and once more when it
commits (once per shop however many rows it wrote); a change to a user or a membership gives the
user a new version. A cached page remembers both versions it was rendered under and is served
only while they are current, so an owner never sees a payment list older than their last refund.
The timeout (`BACKOFFICE_PAGE_CACHE_SECONDS`) only bounds what depends on the clock: "today", the
links about to expire.

Without a shared cache (the embedded default, where the Celery worker has its own memory) nothing
here caches: `BACKOFFICE_CACHE` is off and every request reads the database.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse

from .models import Membership, Merchant, User

VERSION_TIMEOUT = 24 * 3600  # longer than any page lives; a lost version only costs a miss
_SHOP_VERSION = "bo:shop:{}"
_USER_VERSION = "bo:user:{}"
_USER = "bo:user-row:{}"
_MEMBERSHIP = "bo:member:{}:{}"


def enabled() -> bool:
    return bool(settings.BACKOFFICE_CACHE)


# --- Versions -----------------------------------------------------------------------------------


def shop_changed(merchant_id: int) -> None:
    """The shop's cached pages are stale from now on."""
    if enabled():
        version_replace(_SHOP_VERSION.format(merchant_id))


def version_replace(key: str) -> None:
    """Whatever was kept under the version at `key` is stale from now on (the API keys' too)."""
    _after_write(_new_version, key)


def version_of(key: str) -> str:
    """The version at `key`, made if there is none."""
    (version,), _found = _versions(key)
    return version


def user_changed(user_id: int) -> None:
    """The user's cached row, memberships and pages are stale from now on."""
    if enabled():
        _after_write(_forget_user, user_id)


class _Pending(threading.local):
    """What this thread's transaction wrote: each entry is a `(forget, arg)` call."""

    def __init__(self) -> None:
        self.unseen: dict[tuple[Callable[[Any], None], Any], None] = {}
        self.at_commit: dict[tuple[Callable[[Any], None], Any], None] = {}


_pending = _Pending()


def _after_write(forget: Callable[[Any], None], arg: Any) -> None:
    """Forget once the transaction commits: a page rendered from the old rows meanwhile, by a
    request that could not see the write yet, is then not served. Before that, forget before
    this transaction reads a version (`_forget_unseen`): it sees its own writes, so the rest of
    it, and tests that never commit, read fresh. A transaction writing many rows of a shop (a
    link, its event, its audit entry) so costs one new version at commit, not two per row.
    Outside a transaction the write is committed: forget at once."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        forget(arg)
        return
    if not any(func is _forget_at_commit for _ids, func, _robust in connection.run_on_commit):
        # No write of this transaction is due at commit: what is pending was left by one that
        # rolled back (Django dropped its callbacks), and nothing of it changed.
        _pending.unseen.clear()
        _pending.at_commit.clear()
    _pending.unseen[(forget, arg)] = None
    _pending.at_commit[(forget, arg)] = None
    # Once per write, not once per transaction: a savepoint rolled back drops what it
    # registered, and the first callback to run does the work of the others.
    transaction.on_commit(_forget_at_commit, robust=True)


def _forget_unseen() -> None:
    """What this thread's transaction wrote is forgotten before it reads a version: the page or
    row it would cache may show those writes. (After a savepoint's rollback, what it wrote is
    forgotten anyway: one needless miss, never a stale page.)"""
    while _pending.unseen:
        (forget, arg), _none = _pending.unseen.popitem()
        forget(arg)


def _forget_at_commit() -> None:
    _pending.unseen.clear()
    while _pending.at_commit:  # one by one: should one fail, the next callback does the rest
        forget, arg = next(iter(_pending.at_commit))
        del _pending.at_commit[(forget, arg)]
        forget(arg)


def _new_version(key: str) -> None:
    cache.set(key, uuid.uuid4().hex, VERSION_TIMEOUT)


def _forget_user(user_id: int) -> None:
    cache.delete(_USER.format(user_id))
    _new_version(_USER_VERSION.format(user_id))


def _versions(*keys: str, extra: tuple[str, ...] = ()) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The current versions of `keys` (a missing one is created) and the `extra` entries, in one
    round trip when every version is there."""
    if _pending.unseen:
        _forget_unseen()
    found = cache.get_many([*keys, *extra])
    versions = []
    for key in keys:
        if key not in found:
            cache.add(key, uuid.uuid4().hex, VERSION_TIMEOUT)
            found[key] = cache.get(key)
        versions.append(found[key])
    return tuple(versions), found


# --- The signed-in user and their memberships -------------------------------------------------


def cached_user(user_id: Any, load: Callable[[Any], Any]) -> Any:
    """The user row, from the cache while it has not changed; `load` reads it otherwise."""
    if not enabled():
        return load(user_id)
    if _pending.unseen:
        _forget_unseen()
    key = _USER.format(user_id)
    user = cache.get(key)
    if user is None:
        user = load(user_id)
        if user is not None:
            cache.set(key, user, settings.BACKOFFICE_PAGE_CACHE_SECONDS * 10)
    return user


def cached_membership(user: Any, shop_id: Any, load: Callable[[], Any]) -> Any:
    """The user's membership in the shop (or None), cached under the user's version."""
    if not enabled():
        return load()
    (version,), found = _versions(
        _USER_VERSION.format(user.pk), extra=(_MEMBERSHIP.format(user.pk, shop_id),)
    )
    entry = found.get(_MEMBERSHIP.format(user.pk, shop_id))
    if entry is not None and entry[0] == version:
        membership = entry[1]
    else:
        membership = load()
        cache.set(
            _MEMBERSHIP.format(user.pk, shop_id),
            (version, membership),
            settings.BACKOFFICE_PAGE_CACHE_SECONDS * 10,
        )
    if membership is not None:
        membership.user = user  # the request's own copy, never an older one
    return membership


# --- Rendered pages -----------------------------------------------------------------------------


def _cacheable(request: HttpRequest) -> bool:
    """A plain GET of a signed-in user with nothing one-off on the page (a message to show, a
    CSRF cookie still to set)."""
    return (
        enabled()
        and request.method == "GET"
        and settings.CSRF_COOKIE_NAME in request.COOKIES
        and CookieStorage.cookie_name not in request.COOKIES
        and "_messages" not in request.session
    )


# Which shop id (URL) is which row, learnt from resolved memberships: public ids are random and
# never reused, so an entry is never wrong; it lets a cached page be found before the membership.
_shop_pks: dict[str, int] = {}


def remember_shop(public_id: Any, merchant_id: int) -> None:
    if len(_shop_pks) > 10_000:
        _shop_pks.clear()
    _shop_pks[str(public_id)] = merchant_id


class PageCache:
    """The cached copy of one back-office page for one user.

    Found with one round trip before the membership is resolved: the copy was rendered for this
    user, as a member of this shop, under the user version it names, and any change to their
    memberships gives them a new version, so an unchanged version means unchanged access."""

    def __init__(self, request: HttpRequest, shop_id: Any, merchant_id: int) -> None:
        self.merchant_id = merchant_id
        parts = (  # the CSRF cookie is in the key because the page's forms carry a token from it
            request.resolver_match.view_name if request.resolver_match else "",
            request.get_full_path(),
            str(shop_id),
            str(request.user.pk),
            request.LANGUAGE_CODE,
            request.COOKIES.get(settings.CSRF_COOKIE_NAME, ""),
        )
        self.key = "bo:page:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()
        self.versions, found = _versions(
            _SHOP_VERSION.format(merchant_id),
            _USER_VERSION.format(request.user.pk),
            extra=(self.key,),
        )
        self.entry = found.get(self.key)

    @classmethod
    def for_request(cls, request: HttpRequest, shop_id: Any) -> PageCache | None:
        merchant_id = _shop_pks.get(str(shop_id))
        if merchant_id is None or not _cacheable(request):
            return None
        return cls(request, shop_id, merchant_id)

    def hit(self) -> HttpResponse | None:
        if self.entry is None or self.entry[0] != self.versions:
            return None
        response = HttpResponse(self.entry[2], content_type=self.entry[1])
        response["X-Cache"] = "hit"
        return response

    def store(self, response: HttpResponse, merchant_id: int) -> None:
        """Keep a complete 200 response that sets no cookie, under the versions read before the
        page was rendered (a change made meanwhile has a newer version, so it is not hidden)."""
        if (
            merchant_id == self.merchant_id
            and response.status_code == 200
            and not response.streaming
            and not response.cookies
        ):
            cache.set(
                self.key,
                (self.versions, response["Content-Type"], response.content),
                settings.BACKOFFICE_PAGE_CACHE_SECONDS,
            )


# --- What makes them stale ----------------------------------------------------------------------


def _row_changed(sender: type, instance: Any, **kwargs: Any) -> None:
    if isinstance(instance, User):
        user_changed(instance.pk)
    elif isinstance(instance, Merchant):
        shop_changed(instance.pk)
        for user_id in Membership.objects.filter(merchant_id=instance.pk).values_list(
            "user_id", flat=True
        ):
            user_changed(user_id)
    else:
        merchant_id = getattr(instance, "merchant_id", None)
        if merchant_id is not None:
            shop_changed(merchant_id)
        if isinstance(instance, Membership):
            user_changed(instance.user_id)


def connect_signals() -> None:
    """Every model of the shop apps: a write to any of them changes what the pages show. (The
    documents worker installs only the apps it needs: vpos.documents_worker.)"""
    for label in ("merchants", "links", "receipts", "integrations"):
        if not apps.is_installed(label):
            continue
        for model in apps.get_app_config(label).get_models():
            post_save.connect(_row_changed, sender=model, dispatch_uid=f"bo-save-{model.__name__}")
            post_delete.connect(
                _row_changed, sender=model, dispatch_uid=f"bo-delete-{model.__name__}"
            )
