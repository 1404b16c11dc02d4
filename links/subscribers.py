"""What links derives from recorded events: the payment timeline, the dashboard's daily totals,
and the customer's email when the hold on their card is released or their bank debit is refused."""

from __future__ import annotations

from typing import Any

from vpos.events import Event, Recorded, subscribe

from . import daily_totals
from .models import Payment, PaymentEvent, Refund
from .notifications import debit_failed_emails, hold_released_email

# Events on a payment's timeline, and the kind each is stored as (templates/links/_event_label.html).
TIMELINE = {
    Event.PAYMENT_STARTED: "created",
    Event.PAYMENT_REFUSED_BEFORE_CHARGE: "failed",
    Event.PAYMENT_AUTHENTICATION_REQUESTED: "authentication_requested",
    Event.PAYMENT_OUTCOME_UNKNOWN: "confirm_error",
    Event.PAYMENT_FAILED: "failed",
    Event.PAYMENT_PROCESSING: "processing",
    Event.PAYMENT_ATTEMPT_CANCELED: "canceled",
    Event.PAYMENT_AUTHORIZED: "authorized",
    Event.PAYMENT_CAPTURED: "captured",
    Event.PAYMENT_CANCELED: "released",
    Event.PAYMENT_AUTHORIZATION_LAPSED: "lapsed",
    Event.PAYMENT_SUCCEEDED: "succeeded",
    Event.PAYMENT_RECOVERED: "recovered",
    Event.RECEIPT_ISSUED: "receipt_issued",
    Event.PAYMENT_REFUNDED: "refunded",
    Event.REFUND_NOTE_ISSUED: "refund_note_issued",
    Event.INVOICE_ISSUED: "invoice_issued",  # "credit_note_issued" for a credit note (TD04)
}
CREDIT_NOTE = "TD04"


def _payment_of(obj: Any) -> Payment:
    """The payment an event is about: itself, a refund's, or a document's (a receipt names its
    payment, a refund note its refund)."""
    if isinstance(obj, Payment):
        return obj
    if isinstance(obj, Refund):
        return obj.payment
    refund = getattr(obj, "refund", None)  # a refund note's, or a credit note's
    if refund is not None:
        return refund.payment
    return obj.payment


def timeline_write(recorded: Recorded) -> None:
    kind = TIMELINE[recorded.event]
    if recorded.event == Event.INVOICE_ISSUED and recorded.data.get("kind") == CREDIT_NOTE:
        kind = "credit_note_issued"
    PaymentEvent.objects.create(
        payment=_payment_of(recorded.obj),
        kind=kind,
        message=recorded.summary[:500],
        data=recorded.data,
    )


def payment_counted(recorded: Recorded) -> None:
    daily_totals.record_payment(payment=recorded.obj)


def refund_counted(recorded: Recorded) -> None:
    refund = recorded.obj
    daily_totals.record_refund(payment=refund.payment, amount=refund.amount)


def time_zone_changed(recorded: Recorded) -> None:
    """A shop's payments fall on other days in its new time zone: its totals are recounted."""
    if "time_zone" in recorded.data.get("fields", ()):
        daily_totals.rebuild(merchant=recorded.obj)


def hold_released(recorded: Recorded) -> None:
    hold_released_email(payment=recorded.obj)


def debit_failed(recorded: Recorded) -> None:
    if recorded.data.get("after_processing"):
        debit_failed_emails(payment=recorded.obj)


def connect() -> None:
    subscribe(timeline_write, *TIMELINE)
    subscribe(payment_counted, Event.PAYMENT_SUCCEEDED)
    subscribe(refund_counted, Event.PAYMENT_REFUNDED)
    subscribe(time_zone_changed, Event.SETTINGS_CHANGED)
    subscribe(hold_released, Event.PAYMENT_CANCELED)
    subscribe(debit_failed, Event.PAYMENT_FAILED)
