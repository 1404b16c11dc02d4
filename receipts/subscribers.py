"""What receipts derives from recorded events: the numbered proof, issued inside the finalizing
transaction (so numbering stays gapless: a rolled back payment takes its number back with it),
and its follow-ups (PDF, emails) once that transaction commits."""

from __future__ import annotations

import functools

from vpos.celery import enqueue_after_commit
from vpos.events import Event, Recorded, record, subscribe

from .invoicing import credit_note_issue, invoice_issue, issue_safely
from .models import Invoice
from .services import receipt_issue, refund_note_issue
from .tasks import invoice_followups, payment_followups, receipt_export_build, refund_followups


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
    if payment.invoice_details:
        invoice = issue_safely(
            payment, functools.partial(invoice_issue, payment=payment, at=payment.succeeded_at)
        )
        _issued(invoice)


def _issued(invoice: Invoice | None) -> None:
    if invoice is None:
        return
    record(
        Event.INVOICE_ISSUED,
        merchant_id=invoice.merchant_id,
        obj=invoice,
        summary=invoice.number,
        data={"kind": invoice.kind},
    )
    enqueue_after_commit(invoice_followups, invoice.pk)


def note_for_refund(recorded: Recorded) -> None:
    refund = recorded.obj
    note = refund_note_issue(refund=refund, at=refund.succeeded_at)
    record(Event.REFUND_NOTE_ISSUED, merchant_id=refund.merchant_id, obj=note, summary=note.number)
    enqueue_after_commit(refund_followups, refund.pk)
    if refund.payment.invoice_details:
        credit_note = issue_safely(
            refund.payment,
            functools.partial(credit_note_issue, refund=refund, at=refund.succeeded_at),
        )
        _issued(credit_note)


def export_build(recorded: Recorded) -> None:
    enqueue_after_commit(receipt_export_build, recorded.obj.pk)


def connect() -> None:
    subscribe(receipt_for_payment, Event.PAYMENT_SUCCEEDED)
    subscribe(note_for_refund, Event.PAYMENT_REFUNDED)
    subscribe(export_build, Event.EXPORT_REQUESTED)
