"""Platform-wide models: the email outbox."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

KIND_LABELS = {
    "link": _("Payment link"),
    "payment_confirmation": _("Payment confirmation"),
    "payment_notification": _("Payment notification"),
    "invitation": _("Invitation"),
    "refund": _("Refund"),
    "hold_released": _("Authorization released"),
    "hold_lapsing": _("Authorization about to lapse"),
    "debit_failed": _("Bank debit refused"),
    "invoice": _("Invoice (courtesy copy)"),
    "invoice_pec": _("Invoice sent to the SDI by PEC"),
    "email_confirmation": _("Email confirmation"),
    "password_reset_key": _("Password reset"),
}


class OutboxEmail(models.Model):
    """One email the product sends. A Celery task sends it once, retrying transient failures."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        # Handed to the mail server, its answer not recorded (yet): never sent again by itself.
        SENDING = "sending", _("Sending, unconfirmed")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=50)
    # No index of its own: Meta's start with the shop. The ref has one (Meta) without the
    # pattern-matching twin of db_index=True: it is only ever looked up whole.
    merchant = models.ForeignKey(
        "merchants.Merchant",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="emails",
        verbose_name=_("shop"),
        db_index=False,
    )
    ref = models.CharField(
        _("related object"),
        max_length=80,
        blank=True,
        help_text=_("What the email is about, e.g. 'link:42'."),
    )
    to_email = models.EmailField(_("recipient"))
    reply_to = models.EmailField(_("reply to"), blank=True)
    subject = models.CharField(_("subject"), max_length=255)
    body_text = models.TextField(_("text body"))
    body_html = models.TextField(_("HTML body"), blank=True)
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    dedupe_key = models.CharField(_("dedupe key"), max_length=200, unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    # When the bodies were removed (data retention, vpos/retention.py): what was sent, to whom and
    # when stays; what it said does not.
    purged_at = models.DateTimeField(_("content removed"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("outbox email")
        verbose_name_plural = _("outbox emails")
        indexes = [
            models.Index(fields=["merchant", "-created_at"]),
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["ref"], name="outbox_email_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_email} ({self.status})"

    def get_kind_display(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind.replace("_", " ").capitalize()))


class Action(models.TextChoices):
    LINK_CREATED = "link.created", _("Link created")
    LINK_SENT = "link.sent", _("Link sent")
    LINK_DEACTIVATED = "link.deactivated", _("Link deactivated")
    REFUND_CREATED = "refund.created", _("Refund")
    PAYMENT_CAPTURED = "payment.captured", _("Authorization captured")
    AUTHORIZATION_RELEASED = "payment.released", _("Authorization released")
    SETTINGS_CHANGED = "settings.changed", _("Shop settings changed")
    PAYMENT_ACCOUNT_CONNECTED = "payment_account.connected", _("Payment account connected")
    PAYMENT_ACCOUNT_DISCONNECTED = "payment_account.disconnected", _("Payment account disconnected")
    MEMBER_INVITED = "team.invited", _("Member invited")
    INVITATION_REVOKED = "team.invitation_revoked", _("Invitation revoked")
    MEMBER_JOINED = "team.joined", _("Member joined")
    ROLE_CHANGED = "team.role_changed", _("Role changed")
    MEMBER_REMOVED = "team.removed", _("Member removed")
    API_KEY_CREATED = "api_key.created", _("API key created")
    API_KEY_REVOKED = "api_key.revoked", _("API key revoked")
    LOGIN = "login", _("Logged in")
    MOTO_PAYMENT = "moto.payment", _("Phone order payment")
    EMAIL_RESENT = "email.resent", _("Email sent again")
    CUSTOMER_DATA_ERASED = "privacy.erased", _("Customer data erased")


class AuditEntry(models.Model):
    """Who did what and when, per shop. Written by services, never deleted by the app, and edited
    only to mask an erased customer's address (links/privacy.py)."""

    # No index of its own: Meta's start with the shop. The action has one (the admin's filter)
    # without the pattern-matching twin db_index=True adds on PostgreSQL.
    merchant = models.ForeignKey(
        "merchants.Merchant",
        on_delete=models.CASCADE,
        related_name="audit_entries",
        verbose_name=_("shop"),
        db_index=False,
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("who"),
    )
    actor_label = models.CharField(_("who"), max_length=254, blank=True)
    action = models.CharField(_("action"), max_length=50)
    summary = models.CharField(_("what"), max_length=500)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-created_at"]),
            models.Index(fields=["merchant", "action", "-created_at"]),
            models.Index(fields=["action"], name="audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def get_action_display(self) -> str:
        try:
            return str(Action(self.action).label)
        except ValueError:
            return self.action
