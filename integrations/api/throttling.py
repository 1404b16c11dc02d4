"""Requests per API key: the rate is the VPOS_API_RATE setting, read on every request.

Counted in the shared cache like the public pages' limits (vpos.ratelimit), so every process and
node counts against the same budget, at one round trip to Redis per request (DRF's own throttle
reads and writes back the time of every request in the window: two round trips, and a list as
long as the rate). Over the last minute rather than per fixed minute (`ratelimit.hit_sliding`): an
integrator's burst at the end of one minute and the start of the next is not let through twice.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from vpos import ratelimit

from ..models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """DRF's rate format ("600/min"); the counting is vpos.ratelimit's."""

    def __init__(self) -> None:  # the rate comes from settings at request time, not import time
        self._wait: int | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True  # unauthenticated requests are refused before any work
        rate = self.parse_rate(settings.VPOS_API_RATE)
        self._wait = ratelimit.hit_sliding("api_key", str(request.auth.pk), rate=rate)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait
