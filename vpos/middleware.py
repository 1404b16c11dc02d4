"""Request id (one request through proxy, gunicorn and our logs), the Content-Security-Policy, the
API's language, and the answer when the database cannot be reached."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import redis
from csp.middleware import CSPMiddleware, PolicyParts
from django import db
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template import loader
from django.utils import translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header

from . import inflight
from .logging import new_request_id, payment_id_var, request_id_var, shop_id_var

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is kept only if it is short and plain: it ends up in log lines and headers.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
API_PREFIX = "/api/"
# The site speaks Italian first; an API client that names no language we have reads English.
API_DEFAULT_LANGUAGE = "en"


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def api_language(accept_language: str) -> str:
    """The first language of an Accept-Language header that we speak, else English."""
    for code, _quality in parse_accept_lang_header(accept_language):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return API_DEFAULT_LANGUAGE


class ApiLanguageMiddleware:
    """API answers (messages, errors) follow the client's Accept-Language only: not the site's
    default, a session or a language cookie. Placed after LocaleMiddleware, which it overrides."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_request(request):
            language = api_language(request.headers.get("Accept-Language", ""))
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


class RequestIdMiddleware:
    """Honours an incoming X-Request-ID (from the load balancer) or makes one, puts it on the
    response and on every log record of the request; a URL's shop and payment ids go there too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_ID.match(incoming) else new_request_id()
        request.request_id = request_id
        # Set for the whole request and not reset at its end: django.request logs 4xx and 5xx
        # responses after the middleware returned. The next request sets all three again.
        request_id_var.set(request_id)
        shop_id_var.set("-")
        payment_id_var.set("-")
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        if "shop_id" in view_kwargs:
            shop_id_var.set(str(view_kwargs["shop_id"]))
        if "payment_id" in view_kwargs:
            payment_id_var.set(str(view_kwargs["payment_id"]))


def _origin(url: str) -> str:
    scheme, _sep, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}" if scheme and rest else ""


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """settings.CONTENT_SECURITY_POLICY, plus the origins Stripe.js is loaded from and talks to
    when they are not Stripe's own (localstripe in development and tests: STRIPE_API_BASE)."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
        extra = {
            "script-src": _origin(settings.STRIPE_JS_URL),
            "connect-src": _origin(settings.STRIPE_API_BASE),
        }
        update = dict(parts.update or {})
        for directive, origin in extra.items():
            if origin and origin not in directives.get(directive, ()):
                update[directive] = [*update.get(directive, ()), origin]
        parts.update = update or None
        return parts


# The database, or Redis (cache, rate limits, sessions) when it is configured, cannot be reached.
UNAVAILABLE = (
    db.OperationalError,
    db.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


class ServiceUnavailableMiddleware:
    """A view that cannot reach the database (or Redis) answers 503 with Retry-After, not a 500: the
    customer reads that nothing happened and to retry, a load balancer or an API client retries.
    Transactions roll back (ATOMIC_REQUESTS), so nothing was half written."""

    RETRY_AFTER = 5

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = inflight.start_request()
        try:
            return self.get_response(request)
        finally:
            inflight.end_request(token)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UNAVAILABLE):
            return None
        logger.error("service unavailable: %s", exception.__class__.__name__, exc_info=exception)
        money_moved = inflight.money_in_flight()
        if money_moved:
            # The provider may have charged or refunded: only recording it failed. The same
            # request again (same Idempotency-Key, same page) returns the outcome, never a second one.
            message = _(
                "We could not record the outcome yet. Do not pay or refund again: we are "
                "confirming it with the card service, and repeating the same request shows it."
            )
        else:
            message = _(
                "We cannot complete your request right now. Nothing was charged or changed: "
                "please try again in a minute."
            )
        if is_api_request(request) or "application/json" in request.headers.get("Accept", ""):
            code = "outcome_pending" if money_moved else "unavailable"
            response: HttpResponse = JsonResponse(
                {"status": "error", "code": code, "message": message}, status=503
            )
        else:
            html = loader.render_to_string(
                "503.html", {"LANGUAGE_CODE": get_language(), "message": message}
            )
            response = HttpResponse(html, status=503)
        response["Retry-After"] = str(self.RETRY_AFTER)
        return response
