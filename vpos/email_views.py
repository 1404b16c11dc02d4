"""Pages that show outbox emails: the shapes shared by a shop's email log (merchants) and the
development outbox, which lists everyone's (DEBUG, superusers only)."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from .models import OutboxEmail


def email_list_page(
    request: HttpRequest,
    emails: QuerySet[OutboxEmail],
    detail_url_name: str,
    shop_id: object = None,
) -> HttpResponse:
    page = Paginator(
        emails.only(
            "id",
            "kind",
            "to_email",
            "subject",
            "status",
            "created_at",
            "sent_at",
            "attempts",
            "last_error",
        ),
        25,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "outbox/email_list.html",
        {"page_obj": page, "detail_url_name": detail_url_name, "shop_id": shop_id},
    )


def email_detail_page(
    request: HttpRequest, email: OutboxEmail, html_url: str, resend_url: str = ""
) -> HttpResponse:
    return render(
        request,
        "outbox/email_detail.html",
        {"email": email, "html_url": html_url, "resend_url": resend_url},
    )


def email_html_response(email: OutboxEmail) -> HttpResponse:
    response = HttpResponse(email.body_html or "", content_type="text/html; charset=utf-8")
    # Shown in a sandboxed frame: no scripts, no forms, nothing but the message.
    response["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'"
    )
    response["X-Frame-Options"] = "SAMEORIGIN"
    return response


# --- The development outbox -------------------------------------------------------------------


def _dev_only(request: HttpRequest) -> None:
    """The development outbox shows everyone's emails, verification links included: it exists
    only with DEBUG on, and only for a signed-in superuser (`seed_demo` makes one)."""
    if not (settings.DEBUG and request.user.is_authenticated and request.user.is_superuser):
        raise Http404


def dev_outbox(request: HttpRequest) -> HttpResponse:
    """Development only: every email, so a developer can follow a verification link."""
    _dev_only(request)
    return email_list_page(request, OutboxEmail.objects.all(), "dev_outbox_detail")


def dev_outbox_detail(request: HttpRequest, email_id: int) -> HttpResponse:
    _dev_only(request)
    email = get_object_or_404(OutboxEmail, pk=email_id)
    return email_detail_page(request, email, reverse("dev_outbox_html", args=[email.pk]))


def dev_outbox_html(request: HttpRequest, email_id: int) -> HttpResponse:
    _dev_only(request)
    return email_html_response(get_object_or_404(OutboxEmail, pk=email_id))
