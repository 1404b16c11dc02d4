"""What integrations derives from recorded events: the outbound webhooks, one delivery per
subscribed endpoint, written in the event's transaction and sent after commit."""

from __future__ import annotations

from vpos.events import Event, Recorded, subscribe

from .webhooks import EVENTS, webhook_emit

# The events a shop's site can subscribe to are named as the events themselves.
PUBLISHED = tuple(Event(name) for name in EVENTS)


def webhooks_for(recorded: Recorded) -> None:
    webhook_emit(merchant_id=recorded.merchant_id, event_type=recorded.event, obj=recorded.obj)


def connect() -> None:
    subscribe(webhooks_for, *PUBLISHED)
