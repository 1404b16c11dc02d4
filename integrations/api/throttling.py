"""Requests per API key: the rate is the VPOS_API_RATE setting, read on every request."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from ..models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def __init__(self) -> None:  # the rate comes from settings at request time, not import time
        pass

    def allow_request(self, request: Request, view: Any) -> bool:
        self.rate = settings.VPOS_API_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None  # unauthenticated requests are refused before any work
        return f"throttle:api_key:{request.auth.pk}"
