"""What happened: the one writer of every change a shop cares about.

A service states an event once, inside the transaction that makes the change::

    events.record(
        Event.LINK_DEACTIVATED,
        merchant_id=link.merchant_id,
        obj=link,
        actor=user,
        summary=f"{link.amount_display} — {link.description}",
    )

and everything that follows from it is derived here, the same way every time:

- the audit entry, for the events that are someone's action (`AUDITED`);
- then each subscriber, in the order the apps are installed, still inside the transaction: the
  back office's cache version (merchants), the payment timeline (links), the receipt or refund
  note (receipts: inside the finalizing transaction, so numbering stays gapless) and the
  outbound webhooks (integrations). What a subscriber starts after commit (a task, a delivery)
  it schedules itself, with `vpos.celery.enqueue_after_commit`.

Subscribers register in their app's `ready()`; this module imports none of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .audit import Action, audit


class Event(StrEnum):
    """Every kind of change vpos records. The audit log names the audited ones (`AUDITED`)."""

    # Links
    LINK_CREATED = "link.created"
    LINK_SENT = "link.sent"
    LINK_PAID = "link.paid"
    LINK_EXPIRED = "link.expired"
    LINK_DEACTIVATED = "link.deactivated"
    # Payments
    PAYMENT_STARTED = "payment.started"
    PAYMENT_ABANDONED = "payment.abandoned"
    PAYMENT_REFUSED_BEFORE_CHARGE = "payment.refused_before_charge"
    PAYMENT_SUBMITTED = "payment.submitted"
    PAYMENT_AUTHENTICATION_REQUESTED = "payment.authentication_requested"
    PAYMENT_PROCESSING = "payment.processing"
    PAYMENT_OUTCOME_UNKNOWN = "payment.outcome_unknown"
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_AUTHORIZED = "payment.authorized"  # held on the card, awaiting capture
    PAYMENT_CAPTURED = "payment.captured"  # an authorization captured (all or part of it)
    PAYMENT_CANCELED = "payment.canceled"  # an authorization released: nothing was charged
    PAYMENT_AUTHORIZATION_LAPSED = "payment.authorization_lapsed"
    PAYMENT_ATTEMPT_CANCELED = "payment.attempt_canceled"  # an unfinished attempt, at Stripe
    PAYMENT_RECOVERED = "payment.recovered"
    PAYMENT_REFUNDED = "payment.refunded"
    REFUND_FAILED = "refund.failed"
    # Proof
    RECEIPT_ISSUED = "receipt.issued"
    REFUND_NOTE_ISSUED = "refund_note.issued"
    INVOICE_ISSUED = "invoice.issued"  # an invoice (TD01) or a credit note (TD04)
    INVOICE_DELIVERED = "invoice.delivered"  # exported or sent to the SDI
    EXPORT_REQUESTED = "export.requested"
    # The shop, its team and its integrations
    SETTINGS_CHANGED = "settings.changed"
    PAYMENT_ACCOUNT_CONNECTED = "payment_account.connected"
    PAYMENT_ACCOUNT_DISCONNECTED = "payment_account.disconnected"
    PAYMENT_DOMAIN_REGISTERED = "payment_account.domain_registered"
    MEMBER_INVITED = "team.invited"
    INVITATION_REVOKED = "team.invitation_revoked"
    MEMBER_JOINED = "team.joined"
    ROLE_CHANGED = "team.role_changed"
    MEMBER_REMOVED = "team.removed"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    WEBHOOK_ENDPOINT_ADDED = "webhook_endpoint.added"
    WEBHOOK_ENDPOINT_REMOVED = "webhook_endpoint.removed"
    WEBHOOK_ENDPOINT_ENABLED = "webhook_endpoint.enabled"
    LOGGED_IN = "login"
    EMAIL_RESENT = "email.resent"
    CUSTOMER_DATA_ERASED = "privacy.erased"


# The events that are someone's action, and how the audit log names them.
AUDITED: dict[Event, Action] = {
    Event.LINK_CREATED: Action.LINK_CREATED,
    Event.LINK_SENT: Action.LINK_SENT,
    Event.LINK_DEACTIVATED: Action.LINK_DEACTIVATED,
    Event.PAYMENT_REFUNDED: Action.REFUND_CREATED,
    Event.PAYMENT_CAPTURED: Action.PAYMENT_CAPTURED,
    Event.PAYMENT_CANCELED: Action.AUTHORIZATION_RELEASED,
    Event.SETTINGS_CHANGED: Action.SETTINGS_CHANGED,
    Event.PAYMENT_ACCOUNT_CONNECTED: Action.PAYMENT_ACCOUNT_CONNECTED,
    Event.PAYMENT_ACCOUNT_DISCONNECTED: Action.PAYMENT_ACCOUNT_DISCONNECTED,
    Event.PAYMENT_DOMAIN_REGISTERED: Action.SETTINGS_CHANGED,
    Event.MEMBER_INVITED: Action.MEMBER_INVITED,
    Event.INVITATION_REVOKED: Action.INVITATION_REVOKED,
    Event.MEMBER_JOINED: Action.MEMBER_JOINED,
    Event.ROLE_CHANGED: Action.ROLE_CHANGED,
    Event.MEMBER_REMOVED: Action.MEMBER_REMOVED,
    Event.API_KEY_CREATED: Action.API_KEY_CREATED,
    Event.API_KEY_REVOKED: Action.API_KEY_REVOKED,
    Event.WEBHOOK_ENDPOINT_ADDED: Action.SETTINGS_CHANGED,
    Event.WEBHOOK_ENDPOINT_REMOVED: Action.SETTINGS_CHANGED,
    Event.WEBHOOK_ENDPOINT_ENABLED: Action.SETTINGS_CHANGED,
    Event.LOGGED_IN: Action.LOGIN,
    Event.EMAIL_RESENT: Action.EMAIL_RESENT,
    Event.CUSTOMER_DATA_ERASED: Action.CUSTOMER_DATA_ERASED,
}


@dataclass(frozen=True)
class Recorded:
    """One event as subscribers see it: what happened to `obj`, in which shop, by whom."""

    event: Event
    merchant_id: int
    obj: Any = None
    actor: Any = None
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def _audit_action(recorded: Recorded) -> Action | None:
    if recorded.event == Event.PAYMENT_SUCCEEDED:  # a payment someone took by phone is audited
        return Action.MOTO_PAYMENT if recorded.data.get("moto") else None
    return AUDITED.get(recorded.event)


Subscriber = Callable[[Recorded], None]
_subscribers: dict[Event, list[Subscriber]] = defaultdict(list)


def subscribe(subscriber: Subscriber, *events: Event) -> None:
    """Call `subscriber` for each of `events` (all events when none is named), in the recording
    transaction. Idempotent: registering the same function twice keeps one."""
    for event in events or tuple(Event):
        if subscriber not in _subscribers[event]:
            _subscribers[event].append(subscriber)


def record(
    event: Event,
    *,
    merchant_id: int,
    obj: Any = None,
    actor: Any = None,
    summary: str = "",
    data: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> Recorded:
    """State that `event` happened to `obj`; call it inside the transaction of the change.

    `summary` is what a person reads (the audit log, the payment timeline); `data` what a
    machine needs to know besides.
    """
    recorded = Recorded(event, merchant_id, obj, actor, summary, dict(data or {}))
    action = _audit_action(recorded)
    if action is not None:
        audit(
            merchant_id=merchant_id,
            actor=actor,
            action=action,
            summary=summary,
            obj=obj,
            data=recorded.data,
            ip_address=ip_address,
        )
    for subscriber in _subscribers[event]:
        subscriber(recorded)
    return recorded
