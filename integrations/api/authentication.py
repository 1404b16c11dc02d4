"""`Authorization: Bearer vpos_live_…`: the API key is the shop; its scope says what it may do."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from ..api_keys import api_key_authenticate
from ..models import ApiKey


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != self.keyword.lower().encode() or len(header) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the key as 'Authorization: Bearer <key>'.")
            )
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed(_("Invalid API key.")) from error
        api_key = api_key_authenticate(raw)
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        return (None, api_key)

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class HasApiKey(permissions.BasePermission):
    """Any active key reads; writing needs a read-and-write key."""

    message = _("This API key can only read: create a read and write key to make changes.")

    def has_permission(self, request: Request, view: Any) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        return request.method in permissions.SAFE_METHODS or api_key.can_write


def shop_of(request: Request):
    """The shop the request's key belongs to: every query in the API starts from it."""
    return request.auth.merchant


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "vpos_live_…"}
