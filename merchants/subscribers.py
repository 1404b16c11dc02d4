"""What merchants derives from recorded events: every event makes the shop's cached back-office
pages stale (a new version after commit)."""

from __future__ import annotations

from vpos.events import Recorded, subscribe

from .caching import shop_changed


def shop_pages_stale(recorded: Recorded) -> None:
    shop_changed(recorded.merchant_id)


def connect() -> None:
    subscribe(shop_pages_stale)
