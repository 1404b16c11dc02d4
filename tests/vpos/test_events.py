"""The event writer: a service states what happened once; the audit entry and every subscriber's
work derive from it, inside the same transaction."""

from __future__ import annotations

from collections import defaultdict

import pytest
from django.db import transaction

from links.models import PaymentEvent
from tests.support.factories import PaymentFactory
from vpos import events
from vpos.events import Event, record
from vpos.models import Action, AuditEntry


@pytest.fixture
def registry(monkeypatch):
    """An empty subscriber registry for the test, the real one back afterwards."""
    monkeypatch.setattr(events, "_subscribers", defaultdict(list))
    return events._subscribers


def test_an_action_someone_took_is_audited_once_with_who_and_what(shop, registry):
    record(
        Event.LINK_DEACTIVATED,
        merchant_id=shop.merchant.pk,
        actor=shop.owner.user,
        summary="19,99 € — Giacca",
    )

    entry = AuditEntry.objects.get(merchant=shop.merchant)
    assert (entry.action, entry.actor, entry.summary) == (
        Action.LINK_DEACTIVATED,
        shop.owner.user,
        "19,99 € — Giacca",
    )


def test_what_nobody_did_is_not_audited(shop, registry):
    record(Event.LINK_EXPIRED, merchant_id=shop.merchant.pk)
    record(Event.PAYMENT_SUCCEEDED, merchant_id=shop.merchant.pk, data={"moto": False})

    assert not AuditEntry.objects.filter(merchant=shop.merchant).exists()


def test_a_payment_taken_by_phone_is_audited_with_the_clerk(shop, registry):
    record(
        Event.PAYMENT_SUCCEEDED,
        merchant_id=shop.merchant.pk,
        actor=shop.staff.user,
        summary="40,00 € — Ordine telefonico",
        data={"moto": True},
    )

    entry = AuditEntry.objects.get(merchant=shop.merchant)
    assert (entry.action, entry.actor) == (Action.MOTO_PAYMENT, shop.staff.user)


def test_subscribers_run_in_order_each_once_for_the_events_they_chose(shop, registry):
    seen = []

    def first(recorded):
        seen.append(("first", recorded.event, recorded.summary))

    def second(recorded):
        seen.append(("second", recorded.event, recorded.summary))

    events.subscribe(first, Event.LINK_PAID)
    events.subscribe(first, Event.LINK_PAID)  # twice: still called once
    events.subscribe(second)  # every event

    record(Event.LINK_PAID, merchant_id=shop.merchant.pk, summary="paid")
    record(Event.LINK_EXPIRED, merchant_id=shop.merchant.pk, summary="expired")

    assert seen == [
        ("first", Event.LINK_PAID, "paid"),
        ("second", Event.LINK_PAID, "paid"),
        ("second", Event.LINK_EXPIRED, "expired"),
    ]


def test_what_an_event_wrote_is_undone_with_the_change_it_reports(db):
    """The timeline is written by a subscriber in the recording transaction: a change that
    rolls back leaves no trace of its event."""
    payment = PaymentFactory()
    written = []

    def failing_change() -> None:
        with transaction.atomic():
            record(Event.PAYMENT_STARTED, merchant_id=payment.merchant_id, obj=payment)
            written.append(PaymentEvent.objects.filter(payment=payment, kind="created").count())
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()

    assert written == [1]  # the timeline entry was there, in the transaction
    assert not PaymentEvent.objects.filter(payment=payment).exists()


def test_every_audited_event_has_an_action_the_audit_log_can_name():
    assert set(events.AUDITED.values()) <= set(Action)
