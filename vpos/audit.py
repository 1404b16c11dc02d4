"""The audit log: one call from each service that changes something a shop cares about."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from vpos.models import AuditEntry


class Action(models.TextChoices):
    LINK_CREATED = "link.created", _("Link created")
    LINK_SENT = "link.sent", _("Link sent")
    LINK_DEACTIVATED = "link.deactivated", _("Link deactivated")
    REFUND_CREATED = "refund.created", _("Refund")
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


def audit(
    *,
    merchant: Any,
    actor: Any,
    action: str,
    summary: str,
    obj: Any = None,
    data: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEntry:
    """Record an action. `actor` is a user or None (the system, an API key named in `data`)."""
    return AuditEntry.objects.create(
        merchant=merchant,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=getattr(actor, "email", "") or (data or {}).get("actor", "system"),
        action=action,
        summary=summary[:500],
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        data=data or {},
        ip_address=ip_address,
    )
