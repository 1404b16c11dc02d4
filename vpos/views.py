import logging
import mimetypes
import os
import uuid

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.static import serve

from .documents import documents
from .middleware import is_api_request

logger = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("merchants:home")
    return render(request, "home.html")


@never_cache
@transaction.non_atomic_requests
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. No database, cache or storage: cheap enough to poll every
    second, and a database outage does not make the orchestrator restart healthy web processes."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    """The default cache is Redis in production (also the broker): a write and a read back, under
    a key of this probe's own: with one shared key, concurrent probes (several workers, several
    load balancers) overwrote each other's value and a healthy cache was reported broken."""
    value = uuid.uuid4().hex
    key = f"readyz:probe:{value}"
    cache.set(key, value, timeout=10)
    if cache.get(key) != value:
        raise RuntimeError("cache did not return what was written")


def _check_storage() -> None:
    """Logos and customers' documents must be writable: local folders, or the bucket reachable."""
    for storage in (default_storage, documents):
        if isinstance(storage, FileSystemStorage):
            location = storage.base_location
            os.makedirs(location, exist_ok=True)
            if not os.access(location, os.W_OK):
                raise PermissionError(f"{location} is not writable")
        else:
            storage.exists(".readyz")  # one request to the bucket


READINESS_CHECKS = {"database": _check_database, "cache": _check_cache, "storage": _check_storage}


@never_cache
@transaction.non_atomic_requests
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database, the cache/Redis and the file storage answer. 503 names what failed
    (the kind of error only: details go to the log, not to whoever can reach this URL)."""
    checks: dict[str, str] = {}
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception as error:  # noqa: BLE001 - any failure means not ready
            logger.warning("readiness check %s failed: %s", name, error)
            checks[name] = f"error: {type(error).__name__}"
        else:
            checks[name] = "ok"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "error", **checks}, status=200 if ready else 503
    )


# Uploaded files are logos, re-encoded as PNG on upload (merchants/forms.py); anything else under
# MEDIA_ROOT is sent as a download, never rendered by the browser.
PUBLIC_MEDIA = "logos/"
_INLINE_MEDIA_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif"}


def media(request: HttpRequest, path: str) -> HttpResponse:
    """MEDIA_ROOT for DEBUG, or SERVE_MEDIA=true where no proxy or S3 serves it (small sites)."""
    # Public media is the shops' logos, nothing else: customers' documents live in a storage of
    # their own (vpos/documents.py), and nothing else under MEDIA_ROOT is served either.
    if not (settings.DEBUG or settings.SERVE_MEDIA) or not path.startswith(PUBLIC_MEDIA):
        raise Http404
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    content_type, _encoding = mimetypes.guess_type(path)
    if content_type not in _INLINE_MEDIA_TYPES:
        response["Content-Type"] = "application/octet-stream"
        response["Content-Disposition"] = "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- Errors: the API's documented JSON under /api/, the site's pages elsewhere ----------------


def api_error(code: str, message: str, status: int) -> JsonResponse:
    """The API's error body (integrations/api/views.py documents it): a stable code and a message."""
    return JsonResponse({"code": code, "message": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        limit = filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        message = _("The request body is too large: at most %(limit)s.") % {"limit": limit}
        return api_error("request_too_large", message, 413)
    return api_error("bad_request", _("The request could not be read."), 400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.permission_denied(request, exception)
    return api_error("forbidden", _("You are not allowed to do this."), 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not is_api_request(request):
        return defaults.page_not_found(request, exception)
    return api_error("not_found", _("There is no such API endpoint."), 404)


def server_error(request: HttpRequest) -> HttpResponse:
    if not is_api_request(request):
        return defaults.server_error(request)
    return api_error("server_error", _("An unexpected error occurred. It has been logged."), 500)
