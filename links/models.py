"""What is owed and how it is paid: payment links, payment attempts, their timeline."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchants.models import CURRENCY_CHOICES, LANGUAGE_CHOICES, Merchant, PaymentMethodKind
from vpos.money import format_money

# A payment started before a link expired may still finish this long after.
EXPIRY_GRACE = timedelta(minutes=30)


def link_token() -> str:
    """192 random bits, URL-safe: the only thing a customer's URL carries."""
    return secrets.token_urlsafe(24)


class LinkStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAID = "paid", _("Paid")
    COMPLETED = "completed", _("Completed")
    EXPIRED = "expired", _("Expired")
    DEACTIVATED = "deactivated", _("Deactivated")


class LinkKind(models.TextChoices):
    SINGLE = "single", _("Single use")
    REUSABLE = "reusable", _("Reusable")


VAT_RATE_CHOICES = [(22, "22%"), (10, "10%"), (5, "5%"), (4, "4%"), (0, "0%")]


class LinkChannel(models.TextChoices):
    DASHBOARD = "dashboard", _("Dashboard")
    PHONE = "phone", _("Phone order")
    TERMINAL = "terminal", _("Virtual terminal")
    API = "api", _("API")


class PaymentLink(models.Model):
    # No index of its own: the indexes below start with the shop. The token is unique by a
    # constraint (Meta): unique=True would add, on PostgreSQL, a pattern-matching twin of its
    # index that no query uses. Every index is one more write for every new link.
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="links", db_index=False
    )
    token = models.CharField(max_length=64, default=link_token, editable=False)
    kind = models.CharField(
        _("kind"), max_length=10, choices=LinkKind.choices, default=LinkKind.SINGLE
    )
    amount = models.PositiveBigIntegerField(_("amount"), help_text=_("In minor units (cents)."))
    currency = models.CharField(
        _("currency"), max_length=3, choices=CURRENCY_CHOICES, default="EUR"
    )
    description = models.CharField(_("description"), max_length=500)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    customer_name = models.CharField(_("customer name"), max_length=200, blank=True)
    customer_email = models.EmailField(_("customer email"), blank=True)
    language = models.CharField(
        _("customer language"), max_length=5, choices=LANGUAGE_CHOICES, default="it"
    )
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    vat_rate = models.PositiveSmallIntegerField(
        _("VAT rate"),
        choices=VAT_RATE_CHOICES,
        null=True,
        blank=True,
        help_text=_("Shown on the receipt with the taxable amount and the VAT it includes."),
    )
    vat_exemption = models.CharField(
        _("VAT exemption reason"),
        max_length=200,
        blank=True,
        help_text=_("Required with 0%, e.g. 'Operazione esente art. 10 DPR 633/72'."),
    )
    max_payments = models.PositiveIntegerField(_("maximum payments"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=LinkStatus.choices, default=LinkStatus.ACTIVE
    )
    payments_count = models.PositiveIntegerField(_("successful payments"), default=0)
    channel = models.CharField(
        _("created from"), max_length=10, choices=LinkChannel.choices, default=LinkChannel.DASHBOARD
    )
    customer_phone = models.CharField(_("customer phone"), max_length=30, blank=True)
    # Set by shops integrating through the API: where the customer goes back to their site.
    success_url = models.URLField(_("return address after payment"), max_length=500, blank=True)
    cancel_url = models.URLField(_("return address without paying"), max_length=500, blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    # Narrows the shop's payment methods (PaymentMethodKind values); empty: the shop's.
    payment_methods = models.JSONField(_("payment methods"), default=list, blank=True)
    # Authorize now, capture later: the card is held, staff capture (all or less) or release it.
    authorize_only = models.BooleanField(_("authorize only"), default=False)
    # The customer's invoice details given by the shop (merchants.fiscal.DETAIL_FIELDS): the pay
    # page shows them read-only and every payment of the link is invoiced to them.
    invoice_details = models.JSONField(_("invoice details"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment link")
        verbose_name_plural = _("payment links")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-created_at"]),
            models.Index(fields=["merchant", "status", "-created_at"]),
            models.Index(fields=["status", "expires_at"]),
            # The dashboard's "links paid in the last 30 days", without reading every link.
            models.Index(fields=["merchant", "paid_at"]),
            # The dashboard's open links, counted from the index alone.
            models.Index(fields=["merchant", "status", "expires_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="link_amount_positive"),
            models.UniqueConstraint(fields=["token"], name="link_token_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.description} ({self.amount_display})"

    @property
    def amount_display(self) -> str:
        return format_money(self.amount, self.currency)

    @property
    def public_url(self) -> str:
        """The customer's URL: absolute, the same in emails, QR codes and share buttons."""
        return settings.SITE_URL + reverse("links:checkout", args=[self.token])

    @property
    def email_ref(self) -> str:
        """What the outbox files an email about this link under (`OutboxEmail.ref`): the emails
        of the link's page, its pay link and its payments' confirmations and refunds."""
        return f"link:{self.pk}"

    def is_past_expiry(self, at: datetime | None = None) -> bool:
        return self.expires_at is not None and (at or timezone.now()) >= self.expires_at

    @property
    def effective_status(self) -> str:
        """The status a person should see: an active link past its expiry is expired already,
        even before the periodic task writes it."""
        if self.status == LinkStatus.ACTIVE and self.is_past_expiry():
            return LinkStatus.EXPIRED
        return self.status

    def get_effective_status_display(self) -> str:
        return LinkStatus(self.effective_status).label

    @property
    def is_payable(self) -> bool:
        return self.effective_status == LinkStatus.ACTIVE


# How one payment was made, as people say it ("Card", not the shop setting's "Cards, Apple Pay
# and Google Pay"): the payments list's filter and column, the CSV.
METHOD_LABELS = {
    **{kind.value: kind.label for kind in PaymentMethodKind},
    PaymentMethodKind.CARD.value: _("Card"),
}


def method_label(code: str) -> str:
    """A payment method type's name; one vpos does not list is shown as Stripe names it."""
    if not code:
        return str(METHOD_LABELS["card"])
    return str(METHOD_LABELS.get(code) or code.replace("_", " ").capitalize())


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    REQUIRES_ACTION = "requires_action", _("Authentication required")
    PROCESSING = "processing", _("Processing")
    AUTHORIZED = "authorized", _("Authorized, awaiting capture")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")
    EXPIRED = "expired", _("Authorization lapsed")


OPEN_PAYMENT_STATUSES = [
    PaymentStatus.PENDING,
    PaymentStatus.REQUIRES_ACTION,
    PaymentStatus.PROCESSING,
]


class Payment(models.Model):
    """One checkout attempt: one Stripe PaymentIntent."""

    class Flag(models.TextChoices):
        NONE = "", _("None")
        LINK_NOT_PAYABLE = "link_not_payable", _("Paid after the link closed: refund it")
        AMOUNT_MISMATCH = "amount_mismatch", _("Amount differs from the link")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # No index of their own: Meta's start with the shop or the link. The Stripe id is unique by a
    # constraint, without the pattern-matching twin of unique=True (as PaymentLink's token).
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    link = models.ForeignKey(
        PaymentLink, on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    attempt_key = models.CharField(max_length=64, editable=False)
    browser_key = models.CharField(max_length=64, blank=True, editable=False)
    # NULL, not "", until Stripe gives one: the unique constraint lets any number of NULLs in.
    provider_id = models.CharField(  # noqa: DJ001
        _("Stripe payment id"), max_length=255, null=True, blank=True
    )
    amount = models.PositiveBigIntegerField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(
        _("status"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    flag = models.CharField(
        _("attention"), max_length=30, choices=Flag.choices, blank=True, default=""
    )
    # The Stripe payment method type (PaymentMethodKind values, or another type Stripe reports).
    method = models.CharField(_("payment method"), max_length=30, default="card", blank=True)
    card_brand = models.CharField(_("card brand"), max_length=20, blank=True)
    card_last4 = models.CharField(_("card last 4"), max_length=4, blank=True)
    customer_email = models.EmailField(_("customer email"), blank=True)
    customer_name = models.CharField(_("customer name"), max_length=200, blank=True)
    failure_code = models.CharField(_("failure code"), max_length=100, blank=True)
    failure_message = models.CharField(_("failure reason"), max_length=500, blank=True)
    is_moto = models.BooleanField(_("phone/mail order"), default=False)
    # Who the invoice is made out to (merchants.fiscal.DETAIL_FIELDS), from the pay page or the
    # link; empty: no invoice, the receipt only.
    invoice_details = models.JSONField(_("invoice details"), default=dict, blank=True)
    via_shop_account = models.BooleanField(
        _("paid to the shop's own Stripe account"), default=False, editable=False
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    succeeded_at = models.DateTimeField(_("paid"), null=True, blank=True)
    refunded_amount = models.PositiveBigIntegerField(_("refunded"), default=0)
    # Authorize-only payments: what was held, until when it can be captured, and when the owner
    # was warned that the hold is about to lapse. `amount` becomes what was captured.
    authorized_amount = models.PositiveBigIntegerField(_("authorized"), null=True, blank=True)
    capture_before = models.DateTimeField(_("capture before"), null=True, blank=True)
    lapse_warned_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Staff's decision on an authorization ("capture" or "release"), committed before Stripe is
    # asked and never taken back once Stripe may have been reached: a second decision is refused.
    hold_decision = models.CharField(max_length=10, blank=True, default="", editable=False)
    hold_capture_amount = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    hold_request_key = models.CharField(max_length=100, blank=True, default="", editable=False)
    hold_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    followups_done_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-created_at"]),
            models.Index(fields=["merchant", "status", "-created_at"]),
            models.Index(fields=["status", "updated_at"]),
            # The payments list sorted by amount, and its amount range filter (keyset on amount, id).
            models.Index(fields=["merchant", "amount", "id"]),
            # The closed page's "paid on": the last success of a link with a million payments.
            models.Index(
                fields=["link", "-succeeded_at"],
                condition=models.Q(status=PaymentStatus.SUCCEEDED),
                name="payment_link_last_success",
            ),
        ]
        constraints = [
            # A double-clicked "Pay" sends the same attempt key twice: only one attempt is made.
            models.UniqueConstraint(fields=["link", "attempt_key"], name="payment_unique_attempt"),
            models.UniqueConstraint(fields=["provider_id"], name="payment_provider_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id or self.public_id} {self.status}"

    @property
    def amount_display(self) -> str:
        return format_money(self.amount, self.currency)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_PAYMENT_STATUSES

    @property
    def is_debit(self) -> bool:
        """Paid from a bank account (SEPA Direct Debit): it clears days later, not at once."""
        return self.method == PaymentMethodKind.SEPA_DEBIT

    @property
    def method_brand(self) -> str:
        """What paid, before its last 4 digits: the card's brand ("Visa"), else the method."""
        return self.card_brand.capitalize() if self.card_brand else self.get_method_display()

    def get_method_display(self) -> str:
        """How one payment was made: "Card", "SEPA Direct Debit", "PayPal"..."""
        return method_label(self.method)

    @property
    def refund_state(self) -> str:
        """ "" | "partially_refunded" | "refunded": what the lists and badges show next to the status."""
        if not self.refunded_amount:
            return ""
        return "refunded" if self.refunded_amount >= self.amount else "partially_refunded"

    def get_refund_state_display(self) -> str:
        return {"refunded": _("Refunded"), "partially_refunded": _("Partially refunded")}.get(
            self.refund_state, ""
        )


class PaymentEvent(models.Model):
    """The timeline of a payment: what happened, when, and where it came from."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=50)
    message = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.created_at:%Y-%m-%d %H:%M:%S}"


class StripeEvent(models.Model):
    """A webhook event id seen once: replays are acknowledged and ignored."""

    event_id = models.CharField(max_length=255)  # unique by a constraint, as Payment.provider_id
    type = models.CharField(max_length=100)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event_id"], name="stripe_event_unique")]

    def __str__(self) -> str:
        return self.event_id


class Refund(models.Model):
    """Money given back on a succeeded payment, in full or in part."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Refunded")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.PositiveBigIntegerField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    # Unique by a constraint, NULL until Stripe gives one, as Payment.provider_id.
    provider_id = models.CharField(  # noqa: DJ001
        _("Stripe refund id"), max_length=255, null=True, blank=True
    )
    failure_message = models.CharField(_("failure reason"), max_length=500, blank=True)
    source = models.CharField(_("source"), max_length=20, default="back_office")
    # The request that asked for it (an API Idempotency-Key, a back-office confirmation): one
    # refund per request, so a retried request finds the refund instead of making another.
    request_key = models.CharField(max_length=100, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    succeeded_at = models.DateTimeField(_("refunded"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(
                fields=["payment", "request_key"],
                condition=~models.Q(request_key=""),
                name="refund_one_per_request",
            ),
            models.UniqueConstraint(fields=["provider_id"], name="refund_provider_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.amount_display} on {self.payment_id} ({self.status})"

    @property
    def amount_display(self) -> str:
        return format_money(self.amount, self.currency)


class DailyTotal(models.Model):
    """A shop's succeeded payments by the day they were made (in the shop's time zone) and
    currency: what the dashboard and its chart add up. Kept by links.daily_totals in the
    transactions that finalize payments and refunds; `manage.py rebuild_daily_totals` recounts
    it from the payments."""

    # No index of its own: the unique constraint starts with the shop.
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    currency = models.CharField(max_length=3)
    payments = models.PositiveIntegerField(default=0)
    gross = models.PositiveBigIntegerField(default=0)  # what the payments took, minor units
    refunded = models.PositiveBigIntegerField(default=0)  # what was given back of them since

    class Meta:
        constraints = [
            # Also the dashboard's index: one shop's last 30 days.
            models.UniqueConstraint(
                fields=["merchant", "day", "currency"], name="daily_total_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.day} {self.currency}: {self.payments}"
