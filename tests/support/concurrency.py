"""Running code in real threads against the database, for the concurrency tests (PostgreSQL,
and the embedded SQLite in a file: see vpos/settings/test.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def run_concurrently(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Start every job at the same instant in its own thread; return results or exceptions."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = jobs[index]()
        except Exception as error:  # noqa: BLE001 - reported to the test, which asserts on it
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung: deadlock?"
    return results
