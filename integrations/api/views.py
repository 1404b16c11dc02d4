"""The integration API (v1): thin views over the same services and selectors as the pages.

Every query starts from the shop of the request's API key, so another shop's objects are 404.
Errors are JSON `{"code": ..., "message": ...}` (see `exception_handler`).
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import FileResponse, Http404, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, status
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import api_view
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

from links import authorizations, services
from links import refunds as refund_services
from links.models import LinkChannel, LinkStatus, Payment, PaymentLink, PaymentStatus
from links.selectors import receipt_of
from receipts.downloads import pdf_response, xml_response
from vpos.inputs import parse_id, single_line
from vpos.views import page_not_found

from . import selectors
from .authentication import shop_of
from .idempotency import (
    HEADER,
    IdempotencyConflict,
    header_key,
    idempotency_claim,
)
from .serializers import (
    CaptureSerializer,
    ErrorSerializer,
    InvoiceSerializer,
    LinkCreateSerializer,
    LinkSerializer,
    PaymentSerializer,
    RefundCreateSerializer,
    RefundSerializer,
)

# --- Errors ------------------------------------------------------------------------------------

CODES = {
    exceptions.ValidationError: "invalid_request",
    exceptions.ParseError: "invalid_json",
    exceptions.AuthenticationFailed: "unauthenticated",
    exceptions.NotAuthenticated: "unauthenticated",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


class ApiConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, code)
        self.error_code = code


def _first_message(errors: Any, field: str = "") -> str:
    if isinstance(errors, dict):
        for name, value in errors.items():
            label = "" if name in ("non_field_errors", "__all__", "detail") else name
            return _first_message(value, f"{field}.{label}".strip(".") if label else field)
    if isinstance(errors, list) and errors:
        return _first_message(errors[0], field)
    text = str(errors)
    return f"{field}: {text}" if field else text


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error as `{"code", "message"[, "errors"]}` with a fitting 4xx status."""
    service_code = ""
    if isinstance(exc, DjangoValidationError):
        service_code = getattr(exc, "code", None) or ""
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "error_code", "") or service_code
    if not code:
        code = next((c for kind, c in CODES.items() if isinstance(exc, kind)), "")
    if isinstance(exc, IdempotencyConflict):
        code = "idempotency_conflict"
    body: dict[str, Any] = {"code": code or "error", "message": _first_message(response.data)}
    if isinstance(exc, exceptions.ValidationError) and isinstance(response.data, dict):
        body["errors"] = response.data
    if isinstance(exc, exceptions.Throttled):
        body["message"] = _("Too many requests for this API key. Retry after %(s)s seconds.") % {
            "s": math.ceil(exc.wait or 1)
        }
    response.data = body
    set_rollback()
    return response


def not_found(request: Any, *args: Any, **kwargs: Any) -> Any:
    return page_not_found(request)


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid request"),
    401: OpenApiResponse(ErrorSerializer, description="Missing, unknown or revoked key"),
    403: OpenApiResponse(ErrorSerializer, description="Read-only key"),
    404: OpenApiResponse(ErrorSerializer, description="Not found"),
    429: OpenApiResponse(ErrorSerializer, description="Rate limited (see Retry-After)"),
    503: OpenApiResponse(
        ErrorSerializer,
        description=(
            "Database or cache unreachable: retry after Retry-After. `unavailable`: nothing was"
            " changed. `outcome_pending`: money may have moved; the same request again (same"
            " Idempotency-Key) returns the outcome."
        ),
    ),
}
# Operations that read a JSON body also refuse one over the upload limit.
BODY_ERRORS = {
    413: OpenApiResponse(ErrorSerializer, description="Body over the upload limit"),
    **ERRORS,
}
IDEMPOTENCY = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Same key and body: the first answer again. Same key, other body: 409.",
)
IDEMPOTENCY_CONFLICT = "Idempotency-Key used with another body, or its first request still running"


# --- Pagination -------------------------------------------------------------------------------


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100

    def decode_cursor(self, request: Request) -> Any:
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound as error:
            raise exceptions.ValidationError(
                {"cursor": [_("This cursor is not valid: start again from the first page.")]}
            ) from error

    def get_page_size(self, request: Request) -> int:
        """`limit`, when given, is a whole number from 1 to 100: anything else is a 400, not a
        silent default."""
        if self.page_size_query_param not in request.query_params:
            return self.page_size
        size = parse_id(request.query_params[self.page_size_query_param], max_digits=3)
        if size is None or size > self.max_page_size:
            raise exceptions.ValidationError({"limit": [_("Enter a whole number from 1 to 100.")]})
        return size


def paginated(serializer: type, name: str) -> Any:
    """The schema of a page: `results`, with the cursors of the pages around it."""
    return inline_serializer(
        name=name,
        fields={
            "next": drf_serializers.URLField(allow_null=True, help_text="The next page, if any."),
            "previous": drf_serializers.URLField(
                allow_null=True, help_text="The previous page, if any."
            ),
            "results": serializer(many=True),
        },
    )


LIMIT = OpenApiParameter(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": 100},
    description="Items per page, 1 to 100 (default 50).",
)
CURSOR = OpenApiParameter("cursor", OpenApiTypes.STR, description="From `next` or `previous`.")


def _page(request: Request, queryset: QuerySet, serializer: type) -> Response:
    paginator = NewestFirst()
    page = paginator.paginate_queryset(queryset, request)
    return paginator.get_paginated_response(serializer(page, many=True).data)


def _choice(request: Request, name: str, choices: list[str]) -> str:
    value = request.query_params.get(name, "")
    if value and value not in choices:
        raise exceptions.ValidationError(
            {name: [_("Choose one of: %(choices)s.") % {"choices": ", ".join(choices)}]}
        )
    return value


# --- Links ------------------------------------------------------------------------------------


def _links(request: Request) -> QuerySet[PaymentLink]:
    return selectors.api_links(shop_of(request))


def _link_for_key(request: Request, link_id: str) -> PaymentLink:
    pk = parse_id(link_id)
    link = _links(request).filter(pk=pk).first() if pk is not None else None
    if link is None:
        raise Http404
    return link


def _create_link(request: Request) -> Response:
    serializer = LinkCreateSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    claim = idempotency_claim(
        api_key=request.auth, key=header_key(request), operation="links.create", body=request.data
    )
    if claim.replay_object_id:
        link = _links(request).get(pk=int(claim.replay_object_id))
        return Response(LinkSerializer(link).data, status=status.HTTP_200_OK)
    try:
        link = _link_create(request, data)
    except DjangoValidationError as error:
        code = getattr(error, "code", None) or ""
        field = SERVICE_ERROR_FIELDS.get(code)
        if not field:
            raise
        invalid = exceptions.ValidationError({field: error.messages})
        invalid.error_code = code
        raise invalid from error
    claim.complete(link.pk)
    return Response(LinkSerializer(link).data, status=status.HTTP_201_CREATED)


# The service's rules, reported against the field they are about.
SERVICE_ERROR_FIELDS = {
    "min_amount": "amount",
    "max_amount": "amount",
    "expiry_past": "expires_at",
    "unknown_method": "payment_methods",
    "method_not_offered": "payment_methods",
    "invoicing_off": "invoice",
}


def _link_create(request: Request, data: dict[str, Any]) -> PaymentLink:
    return services.link_create(
        merchant=shop_of(request),
        created_by=None,
        channel=LinkChannel.API,
        amount=data["amount"],
        currency=data["currency"],
        description=data["description"],
        kind=data["kind"],
        reference=data.get("reference", ""),
        customer_name=data.get("customer_name", ""),
        customer_email=data.get("customer_email", ""),
        language=data.get("language", ""),
        expires_at=data.get("expires_at"),
        max_payments=data.get("max_payments"),
        success_url=data.get("success_url", ""),
        cancel_url=data.get("cancel_url", ""),
        metadata=data.get("metadata") or {},
        payment_methods=sorted(data.get("payment_methods") or []),
        api_key=request.auth,
        authorize_only=data.get("authorize_only", False),
        invoice_details=data.get("invoice") or {},
    )


@extend_schema(
    methods=["GET"],
    operation_id="links_list",
    parameters=[
        OpenApiParameter("status", OpenApiTypes.STR, enum=LinkStatus.values),
        OpenApiParameter("reference", OpenApiTypes.STR),
        CURSOR,
        LIMIT,
    ],
    responses={200: paginated(LinkSerializer, "LinkPage"), **ERRORS},
)
@extend_schema(
    methods=["POST"],
    operation_id="links_create",
    parameters=[IDEMPOTENCY],
    request=LinkCreateSerializer,
    responses={
        201: LinkSerializer,
        200: OpenApiResponse(LinkSerializer, description="Replayed (same Idempotency-Key)"),
        409: OpenApiResponse(ErrorSerializer, description=IDEMPOTENCY_CONFLICT),
        **BODY_ERRORS,
    },
)
@api_view(["GET", "POST"])
def links(request: Request) -> Response:
    if request.method == "POST":
        return _create_link(request)
    queryset = _links(request)
    wanted = _choice(request, "status", LinkStatus.values)
    now = timezone.now()
    past_expiry = Q(expires_at__isnull=False, expires_at__lte=now)
    if wanted == LinkStatus.ACTIVE:
        queryset = queryset.filter(status=LinkStatus.ACTIVE).exclude(past_expiry)
    elif wanted == LinkStatus.EXPIRED:
        queryset = queryset.filter(
            Q(status=LinkStatus.EXPIRED) | Q(past_expiry, status=LinkStatus.ACTIVE)
        )
    elif wanted:
        queryset = queryset.filter(status=wanted)
    # Written the way link_create stores it: as one line (which also drops a NUL byte).
    reference = single_line(request.query_params.get("reference", ""))
    if reference:
        queryset = queryset.filter(reference=reference[:100])
    return _page(request, queryset, LinkSerializer)


@extend_schema(operation_id="links_retrieve", responses={200: LinkSerializer, **ERRORS})
@api_view(["GET"])
def link_detail(request: Request, link_id: str) -> Response:
    return Response(LinkSerializer(_link_for_key(request, link_id)).data)


@extend_schema(
    operation_id="links_deactivate",
    request=None,
    responses={
        200: LinkSerializer,
        409: OpenApiResponse(ErrorSerializer, description="Not active"),
        **ERRORS,
    },
)
@api_view(["POST"])
def link_deactivate(request: Request, link_id: str) -> Response:
    link = _link_for_key(request, link_id)
    try:
        link = services.link_deactivate(link=link, actor=None)
    except DjangoValidationError as error:
        raise ApiConflict(" ".join(error.messages), "link_not_active") from error
    return Response(LinkSerializer(link).data)


# --- Payments ---------------------------------------------------------------------------------


def _payments(request: Request) -> QuerySet[Payment]:
    return selectors.api_payments(shop_of(request))


def _payment_for_key(request: Request, payment_id: str) -> Payment:
    try:
        public_id = uuid.UUID(payment_id)
    except ValueError as error:
        raise Http404 from error
    payment = _payments(request).filter(public_id=public_id).first()
    if payment is None:
        raise Http404
    return payment


@extend_schema(
    operation_id="payments_list",
    parameters=[
        OpenApiParameter("status", OpenApiTypes.STR, enum=PaymentStatus.values),
        OpenApiParameter("link", OpenApiTypes.INT),
        CURSOR,
        LIMIT,
    ],
    responses={200: paginated(PaymentSerializer, "PaymentPage"), **ERRORS},
)
@api_view(["GET"])
def payments(request: Request) -> Response:
    queryset = _payments(request)
    wanted = _choice(request, "status", PaymentStatus.values)
    if wanted:
        queryset = queryset.filter(status=wanted)
    link_id = request.query_params.get("link", "")
    if link_id:
        pk = parse_id(link_id)
        if pk is None:
            raise exceptions.ValidationError({"link": [_("Enter a link id.")]})
        queryset = queryset.filter(link_id=pk)
    return _page(request, queryset, PaymentSerializer)


@extend_schema(operation_id="payments_retrieve", responses={200: PaymentSerializer, **ERRORS})
@api_view(["GET"])
def payment_detail(request: Request, payment_id: str) -> Response:
    return Response(PaymentSerializer(_payment_for_key(request, payment_id)).data)


@extend_schema(
    operation_id="payments_refund",
    parameters=[IDEMPOTENCY],
    request=RefundCreateSerializer,
    responses={
        201: RefundSerializer,
        200: OpenApiResponse(RefundSerializer, description="Replayed (same Idempotency-Key)"),
        409: OpenApiResponse(ErrorSerializer, description=IDEMPOTENCY_CONFLICT),
        **BODY_ERRORS,
    },
)
@transaction.non_atomic_requests  # the refund commits its reservation before asking Stripe
@api_view(["POST"])
def payment_refund(request: Request, payment_id: str) -> Response:
    payment = _payment_for_key(request, payment_id)
    serializer = RefundCreateSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    # Never released: once its refund is reserved, a retry of this request (same key, same body)
    # finds that refund, whatever happened after (a lost answer, a database error), and gets it.
    claim = idempotency_claim(
        api_key=request.auth,
        key=header_key(request),
        operation=f"payments.{payment.public_id}.refund",
        body=request.data,
        resumable=True,
    )
    if claim.replay_object_id:
        refund = selectors.payment_refund(payment, claim.replay_object_id)
        return Response(RefundSerializer(refund).data, status=status.HTTP_200_OK)
    earlier = refund_services.refund_for_request(payment=payment, request_key=claim.request_key)
    if earlier is not None:  # a retry of a request whose first try reserved its refund
        claim.complete(earlier.public_id)
        earlier.payment = payment
        return Response(RefundSerializer(earlier).data, status=status.HTTP_200_OK)
    refund = refund_services.refund_create(
        payment=payment,
        amount=data.get("amount"),  # None: the remainder, read under the payment's lock
        reason=data.get("reason", ""),
        source="api",
        request_key=claim.request_key,
    )
    claim.complete(refund.public_id)
    refund.payment = payment
    return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)


# Why a hold cannot be captured or released now: the payment's state, not the request, is wrong.
HOLD_CONFLICTS = frozenset({"already_captured", "already_released", "not_authorized", "lapsed"})


def _hold_request(request: Request, payment_id: str, *, capture: bool) -> Response:
    """Capture or release an authorization. Idempotent: the decision is bound to the request's
    key before Stripe is asked, so a retry (same key, same body) gets the first outcome, the
    payment as that decision left it, and nothing happens twice."""
    payment = _payment_for_key(request, payment_id)
    serializer = CaptureSerializer(data=request.data if capture else {})
    serializer.is_valid(raise_exception=True)
    action = "capture" if capture else "cancel"
    claim = idempotency_claim(
        api_key=request.auth,
        key=header_key(request),
        operation=f"payments.{payment.public_id}.{action}",
        body=request.data if capture else {},
        resumable=True,
    )
    if claim.replay_object_id:
        return Response(PaymentSerializer(_payment_for_key(request, payment_id)).data)
    try:
        if capture:
            payment = authorizations.payment_capture(
                payment=payment,
                amount=serializer.validated_data.get("amount"),
                request_key=claim.request_key,
                source="api",
            )
        else:
            payment = authorizations.payment_release(
                payment=payment, request_key=claim.request_key, source="api"
            )
    except DjangoValidationError as error:
        if error.code in HOLD_CONFLICTS:
            raise ApiConflict(" ".join(error.messages), error.code) from error
        if error.code in ("zero", "over_authorized"):
            invalid = exceptions.ValidationError({"amount": error.messages})
            invalid.error_code = error.code
            raise invalid from error
        raise
    claim.complete(payment.public_id)
    return Response(PaymentSerializer(_payment_for_key(request, payment_id)).data)


HOLD_RESPONSES = {
    200: OpenApiResponse(
        PaymentSerializer,
        description="Done (or replayed: same Idempotency-Key). `authorized` while Stripe's "
        "answer is awaited: it is checked again within minutes.",
    ),
    409: OpenApiResponse(
        ErrorSerializer,
        description="Not an authorization awaiting capture (already captured or released, "
        "lapsed), or the Idempotency-Key was used for another request.",
    ),
}


@extend_schema(
    operation_id="payments_capture",
    parameters=[IDEMPOTENCY],
    request=CaptureSerializer,
    responses={**HOLD_RESPONSES, **BODY_ERRORS},
)
@transaction.non_atomic_requests  # the decision commits before Stripe is asked
@api_view(["POST"])
def payment_capture(request: Request, payment_id: str) -> Response:
    return _hold_request(request, payment_id, capture=True)


@extend_schema(
    operation_id="payments_cancel",
    parameters=[IDEMPOTENCY],
    request=None,
    responses={**HOLD_RESPONSES, **ERRORS},
)
@transaction.non_atomic_requests
@api_view(["POST"])
def payment_cancel(request: Request, payment_id: str) -> Response:
    return _hold_request(request, payment_id, capture=False)


class AnyAccept(BaseContentNegotiation):
    """The receipt is a PDF whatever the Accept header says; its errors are JSON."""

    def select_parser(self, request: Request, parsers: list) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list, format_suffix: Any = None):
        return (renderers[0], renderers[0].media_type)


class PaymentReceipt(APIView):
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="payments_receipt",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="PDF"),
            **ERRORS,
        },
    )
    def get(self, request: Request, payment_id: str) -> FileResponse:
        return _receipt_response(request, payment_id)


def _receipt_response(request: Request, payment_id: str) -> FileResponse:
    payment = _payment_for_key(request, payment_id)
    receipt = receipt_of(payment)
    if receipt is None:
        raise exceptions.NotFound(_("This payment has no receipt: only paid payments have one."))
    return pdf_response(receipt)


class RefundNotePdf(APIView):
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="payments_refund_note",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="PDF"),
            **ERRORS,
        },
    )
    def get(self, request: Request, payment_id: str, refund_id: str) -> FileResponse:
        payment = _payment_for_key(request, payment_id)
        try:
            public_id = uuid.UUID(refund_id)
        except ValueError as error:
            raise Http404 from error
        note = selectors.refund_note(payment, public_id)
        if note is None:
            if selectors.payment_refund(payment, public_id) is None:
                raise Http404
            raise exceptions.NotFound(
                _("This refund has no refund note yet: only completed refunds have one.")
            )
        return pdf_response(note)


# --- Invoices ---------------------------------------------------------------------------------


class ByIssueDate(NewestFirst):
    ordering = ("-issued_at", "-id")


def _invoice_for_key(request: Request, invoice_id: str) -> Any:
    try:
        public_id = uuid.UUID(invoice_id)
    except ValueError as error:
        raise Http404 from error
    invoice = selectors.api_invoices(shop_of(request)).filter(public_id=public_id).first()
    if invoice is None:
        raise Http404
    return invoice


def _date_param(request: Request, name: str) -> Any:
    value = request.query_params.get(name, "")
    if not value:
        return None
    try:
        return drf_serializers.DateField().to_internal_value(value)
    except drf_serializers.ValidationError as error:
        raise exceptions.ValidationError({name: [_("Enter a date as YYYY-MM-DD.")]}) from error


INVOICE_KIND_FILTER = {"invoice": "TD01", "credit_note": "TD04"}


@extend_schema(
    operation_id="invoices_list",
    parameters=[
        OpenApiParameter("kind", OpenApiTypes.STR, enum=list(INVOICE_KIND_FILTER)),
        OpenApiParameter("issued_from", OpenApiTypes.DATE, description="From this date on."),
        OpenApiParameter("issued_to", OpenApiTypes.DATE, description="Up to this date."),
        OpenApiParameter("payment", OpenApiTypes.UUID, description="A payment's invoices."),
        CURSOR,
        LIMIT,
    ],
    responses={200: paginated(InvoiceSerializer, "InvoicePage"), **ERRORS},
)
@api_view(["GET"])
def invoices(request: Request) -> Response:
    """The shop's electronic invoices and credit notes, newest first."""
    queryset = selectors.api_invoices(shop_of(request))
    kind = _choice(request, "kind", list(INVOICE_KIND_FILTER))
    if kind:
        queryset = queryset.filter(kind=INVOICE_KIND_FILTER[kind])
    issued_from, issued_to = _date_param(request, "issued_from"), _date_param(request, "issued_to")
    if issued_from:
        queryset = queryset.filter(issue_date__gte=issued_from)
    if issued_to:
        queryset = queryset.filter(issue_date__lte=issued_to)
    payment_id = request.query_params.get("payment", "")
    if payment_id:
        try:
            queryset = queryset.filter(payment__public_id=uuid.UUID(payment_id))
        except ValueError as error:
            raise exceptions.ValidationError({"payment": [_("Enter a payment id.")]}) from error
    paginator = ByIssueDate()
    page = paginator.paginate_queryset(queryset, request)
    return paginator.get_paginated_response(InvoiceSerializer(page, many=True).data)


@extend_schema(operation_id="invoices_retrieve", responses={200: InvoiceSerializer, **ERRORS})
@api_view(["GET"])
def invoice_detail(request: Request, invoice_id: str) -> Response:
    return Response(InvoiceSerializer(_invoice_for_key(request, invoice_id)).data)


class InvoiceXml(APIView):
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="invoices_xml",
        responses={
            (200, "application/xml"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The FatturaPA file, as the SDI gets it"
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, invoice_id: str) -> HttpResponse:
        return xml_response(_invoice_for_key(request, invoice_id))


class InvoicePdf(APIView):
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="invoices_pdf",
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The courtesy copy (copia di cortesia)"
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, invoice_id: str) -> FileResponse:
        return pdf_response(_invoice_for_key(request, invoice_id))
