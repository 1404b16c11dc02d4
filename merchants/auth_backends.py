"""Authentication backends whose `get_user` reads the signed-in user from the back-office cache.

Django loads the user on every request; for a shop's staff that is one query per page for a row
that almost never changes. Any save or delete of the user forgets the cached copy (see
`merchants.caching`), so a password change or a deactivation takes effect on the next request.
"""

from __future__ import annotations

from typing import Any

from allauth.account import auth_backends as allauth_backends
from django.contrib.auth import backends as django_backends

from .caching import cached_user


class CachedUserMixin:
    def get_user(self, user_id: Any) -> Any:
        user = cached_user(user_id, super().get_user)  # type: ignore[misc]
        return user if user is not None and self.user_can_authenticate(user) else None  # type: ignore[attr-defined]


class ModelBackend(CachedUserMixin, django_backends.ModelBackend):
    """Django's backend (username, the admin) with the cached user."""


class AuthenticationBackend(CachedUserMixin, allauth_backends.AuthenticationBackend):
    """allauth's backend (email login) with the cached user."""
