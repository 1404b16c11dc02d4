"""On PostgreSQL and on the embedded SQLite: ten identical requests at once with one Idempotency-Key make one link."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from links.models import PaymentLink
from tests.support.api import LINK, ApiClient

pytestmark = [
    pytest.mark.django_db(transaction=True),
]


def test_ten_concurrent_identical_requests_create_one_link(tenants, settings):
    settings.VPOS_API_RATE = "1000/min"
    raw = tenants[0].raw
    barrier = threading.Barrier(10)
    answers: list[tuple[int, int | None]] = []

    def call() -> None:
        try:
            client = ApiClient(raw)
            barrier.wait(timeout=10)
            response = client.post_json("/api/v1/links", LINK, **{"Idempotency-Key": "same"})
            answers.append((response.status_code, response.json().get("id")))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert PaymentLink.objects.count() == 1
    link_id = PaymentLink.objects.get().pk
    assert sorted(code for code, _id in answers) == [200] * 9 + [201]
    assert {link for _code, link in answers} == {link_id}
