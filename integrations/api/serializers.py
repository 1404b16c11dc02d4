"""What the API reads and writes. Validation of shape lives here; business rules stay in services."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings
from rest_framework.utils import humanize_datetime

from links.models import LinkKind, LinkStatus, Payment, PaymentLink, PaymentStatus, Refund
from merchants.fiscal import DETAIL_FIELDS, invoice_details
from merchants.fiscal import InvoiceKind as CustomerKind
from merchants.models import CURRENCY_CHOICES, LANGUAGE_CHOICES, PaymentMethodKind
from receipts.models import DeliveryStatus, Invoice, InvoiceKind

METADATA_MAX_KEYS = 20
METADATA_KEY_LENGTH = 40
METADATA_VALUE_LENGTH = 500
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


def validate_return_url(value: str) -> str:
    """https anywhere; http only to the integrator's own machine in development."""
    if not value:
        return value
    try:
        URLValidator(schemes=["http", "https"])(value)
        parts = urlsplit(value)
        host = parts.hostname or ""
    except (ValueError, DjangoValidationError) as error:
        raise serializers.ValidationError(_("Enter a valid https URL.")) from error
    if parts.scheme == "https":
        return value
    local_allowed = settings.DEBUG or settings.VPOS_API_ALLOW_LOCAL_HTTP_URLS
    if host in LOCAL_HOSTS and local_allowed:
        return value
    raise serializers.ValidationError(_("Use an https URL."))


class SafeDateTimeField(serializers.DateTimeField):
    """Dates near year 1 or 9999 overflow time zone arithmetic: a 400, never a 500. Digits are
    0-9 only: DRF's parser reads "٢٠٣٠-..." as 2030."""

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str) and not value.isascii():
            formats = getattr(self, "input_formats", api_settings.DATETIME_INPUT_FORMATS)
            self.fail("invalid", format=humanize_datetime.datetime_formats(formats))
        try:
            parsed = super().to_internal_value(value)
        except (OverflowError, OSError) as error:
            raise serializers.ValidationError(_("Enter a date between 2000 and 2999.")) from error
        if not 2000 <= parsed.year <= 2999:
            raise serializers.ValidationError(_("Enter a date between 2000 and 2999."))
        return parsed


class AsciiIntegerField(serializers.IntegerField):
    """An integer in the digits 0-9 only: DRF's IntegerField reads "١٢٣" as 123."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str) and not data.isascii():
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class MetadataField(serializers.Field):
    default_error_messages = {
        # Lazy: a class attribute is made at import, in no client's language.
        "invalid": gettext_lazy("Metadata is an object of at most 20 short text values."),
    }

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if not isinstance(data, dict) or len(data) > METADATA_MAX_KEYS:
            self.fail("invalid")
        for key, value in data.items():
            if not (
                isinstance(key, str)
                and 0 < len(key) <= METADATA_KEY_LENGTH
                and isinstance(value, str)
                and len(value) <= METADATA_VALUE_LENGTH
                and "\x00" not in key + value
            ):
                self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> dict[str, str]:
        return value or {}


class InvoiceDetailsSerializer(serializers.Serializer):
    """Who a link's payments are invoiced to: a business (company, vat_number, sdi_code or pec,
    address) or a private person (first_name, last_name, tax_code, address). Text fields take
    Latin letters only (FatturaPA): others are spelled in Latin-1 where possible, else refused."""

    kind = serializers.ChoiceField(choices=[CustomerKind.BUSINESS, CustomerKind.PRIVATE])
    company = serializers.CharField(required=False, allow_blank=True, max_length=80)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=60)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=60)
    vat_number = serializers.CharField(
        required=False, allow_blank=True, max_length=30, help_text="Partita IVA, or EU VAT number."
    )
    tax_code = serializers.CharField(
        required=False, allow_blank=True, max_length=16, help_text="Codice fiscale."
    )
    sdi_code = serializers.CharField(
        required=False, allow_blank=True, max_length=7, help_text="SDI recipient code."
    )
    pec = serializers.EmailField(required=False, allow_blank=True, max_length=256)
    address = serializers.CharField(max_length=60)
    postal_code = serializers.CharField(max_length=10)
    city = serializers.CharField(max_length=60)
    province = serializers.CharField(required=False, allow_blank=True, max_length=2)
    country = serializers.CharField(required=False, max_length=2, default="IT")

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            return invoice_details(attrs)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from error


class FieldsBuiltOnce:
    """A serializer whose fields are worked out (from the model, for a ModelSerializer) once per
    class, then copied for each instance. Working them out (model introspection, validators,
    labels) and DRF's deep copy of each field cost five times the representation itself, on
    every response; the deep copy alone costs more than validating a new link's body. A shallow
    copy is enough: `bind()` sets the copy's own name and parent, and nothing else in a field
    changes after it is made (validation raises its errors, it keeps none; a nested serializer
    works out its own fields on its copy, the prototype's are never bound nor used)."""

    _fields_prototype: dict[str, serializers.Field] | None = None

    def get_fields(self) -> dict[str, serializers.Field]:
        cls = type(self)
        if cls.__dict__.get("_fields_prototype") is None:
            cls._fields_prototype = super().get_fields()
        return {name: _shallow_copy(field) for name, field in cls._fields_prototype.items()}


def _shallow_copy(field: serializers.Field) -> serializers.Field:
    """What `copy.copy` makes, without its generic protocol (a third of validating a link)."""
    new = object.__new__(type(field))
    new.__dict__.update(field.__dict__)
    return new


class LinkCreateSerializer(FieldsBuiltOnce, serializers.Serializer):
    amount = AsciiIntegerField(min_value=1, max_value=2**53, help_text="Minor units.")
    currency = serializers.ChoiceField(choices=[code for code, _label in CURRENCY_CHOICES])
    description = serializers.CharField(max_length=500)
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True)
    customer_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    customer_email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    language = serializers.ChoiceField(
        choices=[code for code, _label in LANGUAGE_CHOICES], required=False
    )
    expires_at = SafeDateTimeField(required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=LinkKind.values, default=LinkKind.SINGLE)
    max_payments = AsciiIntegerField(
        min_value=1, max_value=1_000_000, required=False, allow_null=True
    )
    success_url = serializers.CharField(
        max_length=500, required=False, allow_blank=True, validators=[validate_return_url]
    )
    cancel_url = serializers.CharField(
        max_length=500, required=False, allow_blank=True, validators=[validate_return_url]
    )
    metadata = MetadataField(required=False)
    authorize_only = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Authorize the card only: capture the payment (all or less) later, within 7 "
        "days, with POST /payments/{id}/capture, or release it with POST /payments/{id}/cancel.",
    )
    payment_methods = serializers.MultipleChoiceField(
        choices=PaymentMethodKind.values,
        required=False,
        help_text='Narrows the shop\'s payment methods for this link (e.g. ["card"]); '
        "empty or absent: the shop's. Each must be one the shop offers.",
    )
    invoice = InvoiceDetailsSerializer(
        required=False,
        allow_null=True,
        help_text="The customer's invoice details: each payment of the link gets an Italian "
        "electronic invoice (FatturaPA) made out to them. The shop's fiscal profile must be set.",
    )


class EmptyAsNull:
    """Optional email and URL fields read `null` when empty, never `""`: a client generated from
    the schema checks their format (email, uri), which "" does not have."""

    nullable_fields: tuple[str, ...] = ()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        for name in self.nullable_fields:
            if data.get(name) == "":
                data[name] = None
        return data


class LinkSerializer(FieldsBuiltOnce, EmptyAsNull, serializers.ModelSerializer):
    nullable_fields = ("customer_email", "success_url", "cancel_url")
    status = serializers.ChoiceField(choices=LinkStatus.values, source="effective_status")
    url = serializers.CharField(source="public_url", help_text="The customer's payment page.")
    metadata = MetadataField()
    customer_email = serializers.EmailField(allow_null=True)
    success_url = serializers.URLField(allow_null=True)
    cancel_url = serializers.URLField(allow_null=True)
    payment_methods = serializers.ListField(
        child=serializers.ChoiceField(choices=PaymentMethodKind.values),
        help_text="The link's own payment methods; empty: the shop's.",
    )
    invoice = serializers.SerializerMethodField(
        help_text="The customer's invoice details, or null."
    )

    class Meta:
        model = PaymentLink
        fields = [
            "id",
            "url",
            "status",
            "kind",
            "amount",
            "currency",
            "description",
            "reference",
            "customer_name",
            "customer_email",
            "language",
            "expires_at",
            "max_payments",
            "payments_count",
            "success_url",
            "cancel_url",
            "metadata",
            "payment_methods",
            "channel",
            "authorize_only",
            "invoice",
            "created_at",
            "paid_at",
            "closed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(InvoiceDetailsSerializer(allow_null=True))
    def get_invoice(self, link: PaymentLink) -> dict[str, str] | None:
        details = link.invoice_details
        return {name: details.get(name, "") for name in DETAIL_FIELDS} if details else None


class RefundSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    payment = serializers.UUIDField(source="payment.public_id")
    note_number = serializers.SerializerMethodField(
        help_text="The refund note's number once issued (its PDF: .../refunds/{id}/note)."
    )

    class Meta:
        model = Refund
        fields = [
            "id",
            "payment",
            "amount",
            "currency",
            "status",
            "reason",
            "failure_message",
            "created_at",
            "succeeded_at",
            "note_number",
        ]
        read_only_fields = fields

    def get_note_number(self, refund: Refund) -> str | None:
        note = getattr(refund, "note", None)
        return note.number if note is not None else None


class PaymentSerializer(EmptyAsNull, serializers.ModelSerializer):
    nullable_fields = ("customer_email",)
    id = serializers.UUIDField(source="public_id")
    customer_email = serializers.EmailField(allow_null=True)
    link = serializers.IntegerField(source="link_id")
    status = serializers.ChoiceField(choices=PaymentStatus.values)
    refund_state = serializers.CharField()
    receipt_number = serializers.SerializerMethodField()
    refunds = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "link",
            "status",
            "amount",
            "currency",
            "refunded_amount",
            "refund_state",
            "flag",
            "method",
            "card_brand",
            "card_last4",
            "customer_email",
            "customer_name",
            "failure_code",
            "failure_message",
            "receipt_number",
            "refunds",
            "authorized_amount",
            "capture_before",
            "created_at",
            "succeeded_at",
        ]
        read_only_fields = fields

    def get_receipt_number(self, payment: Payment) -> str | None:
        receipt = getattr(payment, "receipt", None) if payment.status == "succeeded" else None
        return receipt.number if receipt is not None else None

    @extend_schema_field(RefundSerializer(many=True))
    def get_refunds(self, payment: Payment) -> list[dict[str, Any]]:
        refunds = list(payment.refunds.all())
        for refund in refunds:
            refund.payment = payment  # no query per refund for payment.public_id
        return RefundSerializer(refunds, many=True).data


INVOICE_KINDS = {InvoiceKind.INVOICE: "invoice", InvoiceKind.CREDIT_NOTE: "credit_note"}


class InvoiceSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    kind = serializers.SerializerMethodField(help_text='"invoice" (TD01) or "credit_note" (TD04).')
    document_type = serializers.CharField(source="kind", help_text="FatturaPA TipoDocumento.")
    date = serializers.DateField(source="issue_date", help_text="In the shop's time zone.")
    payment = serializers.UUIDField(source="payment.public_id")
    refund = serializers.SerializerMethodField(help_text="A credit note's refund, or null.")
    original = serializers.SerializerMethodField(
        help_text="The invoice a credit note corrects, or null."
    )
    taxable_amount = serializers.SerializerMethodField(help_text="Minor units.")
    vat_amount = serializers.SerializerMethodField(help_text="Minor units.")
    delivery_status = serializers.ChoiceField(choices=DeliveryStatus.values)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "kind",
            "document_type",
            "date",
            "issued_at",
            "amount",
            "taxable_amount",
            "vat_amount",
            "currency",
            "customer_name",
            "customer_tax_id",
            "file_name",
            "delivery_status",
            "payment",
            "refund",
            "original",
        ]
        read_only_fields = fields

    def get_kind(self, invoice: Invoice) -> str:
        return INVOICE_KINDS[InvoiceKind(invoice.kind)]

    def get_refund(self, invoice: Invoice) -> str | None:
        return str(invoice.refund.public_id) if invoice.refund_id else None

    def get_original(self, invoice: Invoice) -> str | None:
        return str(invoice.original.public_id) if invoice.original_id else None

    def get_taxable_amount(self, invoice: Invoice) -> int:
        return int(invoice.snapshot.get("totals", {}).get("taxable", 0))

    def get_vat_amount(self, invoice: Invoice) -> int:
        return int(invoice.snapshot.get("totals", {}).get("vat", 0))


class CaptureSerializer(serializers.Serializer):
    amount = AsciiIntegerField(
        min_value=1,
        max_value=2**53,
        required=False,
        help_text="Minor units; default: all that was authorized. The rest is released.",
    )


class RefundCreateSerializer(serializers.Serializer):
    amount = AsciiIntegerField(
        min_value=1, max_value=2**53, required=False, help_text="Minor units; default: the rest."
    )
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {
            "oneOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "object", "additionalProperties": {"type": "array"}},
            ]
        },
        "description": "Messages per field; a nested object (e.g. invoice) has its own fields.",
    }
)
class FieldErrorsField(serializers.DictField):
    pass


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    errors = FieldErrorsField(required=False)
