"""The audit log's writer. Services do not call it: `vpos.events.record` does, for the events
that are someone's action."""

from __future__ import annotations

from typing import Any

from vpos.models import Action, AuditEntry

__all__ = ["Action", "audit"]


def audit(
    *,
    merchant_id: int,
    actor: Any,
    action: str,
    summary: str,
    obj: Any = None,
    data: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEntry:
    """Record an action. `actor` is a user or None (the system, an API key named in `data`)."""
    return AuditEntry.objects.create(
        merchant_id=merchant_id,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=getattr(actor, "email", "") or (data or {}).get("actor", "system"),
        action=action,
        summary=summary[:500],
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        data=data or {},
        ip_address=ip_address,
    )
