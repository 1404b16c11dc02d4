"""Injected failures for the tests that prove money moves once: the database goes away at a
chosen point (after the provider answered, before it was asked), then comes back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import OperationalError


def database_gone(
    monkeypatch: pytest.MonkeyPatch,
    target: Any,
    name: str,
    *,
    times: int = 1,
    when: Callable[..., bool] | None = None,
) -> None:
    """The next `times` calls of `target.name` (those `when(*args, **kwargs)` accepts) raise the
    OperationalError of a lost database connection; later calls run as usual. Thread-safe."""
    real = getattr(target, name)
    lock = threading.Lock()
    left = {"n": times}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        with lock:
            fail = left["n"] > 0 and (when is None or when(*args, **kwargs))
            left["n"] -= 1 if fail else 0
        if fail:
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, flaky)


def checkout_recording(*args: Any, **kwargs: Any) -> bool:
    """For `when`: `payment_apply` called by the checkout attempt right after the card was
    charged (not by a webhook, a refresh or reconciliation)."""
    return kwargs.get("source") == "checkout"
