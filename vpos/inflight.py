"""Whether the request being served may already have moved money at the payment provider.

The database can fail after the provider answered: the 503 must then not say that nothing was
charged. The provider marks the request before each call that can move money (confirming a
payment, refunding); the middleware resets the mark per request and reads it for its answer.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

_money_in_flight: ContextVar[bool] = ContextVar("vpos_money_in_flight", default=False)


def mark_money_in_flight() -> None:
    """Called right before a provider call that may move money."""
    _money_in_flight.set(True)


def money_in_flight() -> bool:
    return _money_in_flight.get()


def start_request() -> Token[bool]:
    return _money_in_flight.set(False)


def end_request(token: Token[bool]) -> None:
    _money_in_flight.reset(token)
