"""What receipts derives from recorded events: the numbered proof, issued inside the finalizing
transaction (so numbering stays gapless: a rolled back payment takes its number back with it),
and its follow-ups (PDF, emails) once that transaction commits."""

from __future__ import annotations

from vpos.celery import enqueue_after_commit
from vpos.events import Event, Recorded, record, subscribe

from .services import receipt_issue, refund_note_issue
from .tasks import payment_followups, receipt_export_build, refund_followups


def receipt_for_payment(recorded: Recorded) -> None:
    payment = recorded.obj
    receipt = receipt_issue(payment=payment, at=payment.succeeded_at)
    record(
        Event.RECEIPT_ISSUED,
        merchant_id=payment.merchant_id,
        obj=receipt,
        summary=receipt.number,
        data={"source": recorded.data.get("source", "")},
    )
    enqueue_after_commit(payment_followups, payment.pk)


def note_for_refund(recorded: Recorded) -> None:
    refund = recorded.obj
    note = refund_note_issue(refund=refund, at=refund.succeeded_at)
    record(Event.REFUND_NOTE_ISSUED, merchant_id=refund.merchant_id, obj=note, summary=note.number)
    enqueue_after_commit(refund_followups, refund.pk)


def export_build(recorded: Recorded) -> None:
    enqueue_after_commit(receipt_export_build, recorded.obj.pk)


def connect() -> None:
    subscribe(receipt_for_payment, Event.PAYMENT_SUCCEEDED)
    subscribe(note_for_refund, Event.PAYMENT_REFUNDED)
    subscribe(export_build, Event.EXPORT_REQUESTED)
