"""The outside world: API keys, idempotency records, outbound webhook endpoints and deliveries.

The tables keep the names they had when these models lived in `merchants` (moved by a state-only
migration, data untouched)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, User
from vpos.crypto import EncryptedTextField, decrypt

# --- Integration API: keys, outbound webhook endpoints and their deliveries ------------------


class ApiKey(models.Model):
    """A shop's key for the REST API. Only a SHA-256 of the secret is stored: the key is random
    (256 bits), so a slow hash adds nothing, and it is shown to the owner once."""

    class Scope(models.TextChoices):
        READ = "read", _("Read only")
        READ_WRITE = "read_write", _("Read and write")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100)
    scope = models.CharField(
        _("permissions"), max_length=10, choices=Scope.choices, default=Scope.READ_WRITE
    )
    prefix = models.CharField(_("key starts with"), max_length=24, editable=False)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        db_table = "merchants_apikey"
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.READ_WRITE


class ApiIdempotencyKey(models.Model):
    """An `Idempotency-Key` seen on a write through the API: the same key with the same body
    answers with the object first created; with another body it is refused."""

    # No index of its own: the unique constraint starts with the API key.
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=255)
    operation = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "merchants_apiidempotencykey"
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.operation} {self.object_id}"


class WebhookEndpoint(models.Model):
    """A URL of the shop's site that receives signed event notifications."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list)
    secret_encrypted = EncryptedTextField(editable=False)
    secret_hint = models.CharField(max_length=16, editable=False, blank=True)
    is_active = models.BooleanField(_("enabled"), default=True)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        db_table = "merchants_webhookendpoint"
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url

    @property
    def secret(self) -> str:
        return decrypt(self.secret_encrypted)


class WebhookDelivery(models.Model):
    """One event for one endpoint: created with the change it reports, sent after commit."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # No index of its own: Meta's starts with the endpoint.
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(_("event"), max_length=40)
    payload = models.JSONField()
    # Set when the payload is removed after the retention window: the event can no longer be sent.
    payload_purged_at = models.DateTimeField(null=True, blank=True, editable=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    attempt_log = models.JSONField(default=list, blank=True)
    last_status_code = models.PositiveIntegerField(_("last answer"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        db_table = "merchants_webhookdelivery"
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="merchants_w_endpoin_642682_idx"),
            models.Index(
                fields=["status", "next_attempt_at"], name="merchants_w_status_2751a7_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"
