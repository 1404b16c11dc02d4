"""The API does what its OpenAPI schema says: schemathesis against the live test server.

Every operation is called with generated requests (valid and invalid) by a key that can write, in
a shop with a paid payment (its receipt, its refunds) and links, so that generated requests
reach real objects and not only 404s: each generated case runs as generated, then again with
the real ids put in its path. Bounded and derandomized: the same cases on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
import yaml
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from links.models import Payment
from links.payments import payment_refresh
from tests.support.factories import PaymentLinkFactory

pytestmark = pytest.mark.django_db(transaction=True)


def api_schema() -> Any:
    raw = yaml.safe_load(Client().get("/api/v1/schema").content)
    return schemathesis.openapi.from_dict(raw)


@pytest.fixture
def contract(
    live_server, tenants, stripe_settings, paid_intent, settings
) -> Iterator[dict[str, Any]]:
    settings.VPOS_API_RATE = "100000/min"
    settings.VPOS_API_ALLOW_LOCAL_HTTP_URLS = True
    merchant = tenants[0].merchant
    link = PaymentLinkFactory(merchant=merchant, amount=5000)
    payment, _pi = paid_intent(link)
    payment = payment_refresh(payment=payment, source="test")
    open_link = PaymentLinkFactory(merchant=merchant, customer_email="", reference="")
    session = requests.Session()
    yield {
        "base_url": f"{live_server.url}",
        "headers": {"Authorization": f"Bearer {tenants[0].raw}", "Accept-Language": "en"},
        # The paid payment and its link; then an open link, with empty optional fields, that a
        # deactivation can close (the paid one answers 409).
        "ids": [
            {"payment_id": str(payment.public_id), "link_id": str(link.pk)},
            {"link_id": str(open_link.pk)},
        ],
        "session": session,
        "payment": payment,
    }
    session.close()  # its kept-alive connection would keep a server thread on the database


def _check_operation(operation: Any, mode: GenerationMode, contract: dict[str, Any], **fixed):
    call = {
        "base_url": contract["base_url"],
        "headers": contract["headers"],
        "session": contract["session"],
    }

    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case: Any) -> None:
        case.call_and_validate(**call, excluded_checks=BUSINESS_RULES)

    run()


EXAMPLES = 12
# A request valid by the schema may still break a business rule (an amount under the minimum, a
# past expiry, a refund over what is left, a cursor from elsewhere): those 400s are documented, so
# the check that every schema-valid request is accepted does not apply. All other checks do.
BUSINESS_RULES = [schemathesis.checks.positive_data_acceptance]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_its_schema_says(contract, mode):
    failures = []
    for result in api_schema().get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        tries = [{}]  # generated ids (404s), then each set of the shop's real ids that fits
        for ids in contract["ids"]:
            if names and names <= ids.keys():
                tries.append({"path_parameters": {n: ids[n] for n in names}})
        for fixed in tries:
            try:
                _check_operation(operation, mode, contract, **fixed)
            except Exception as error:  # noqa: BLE001 - every operation is tried, then reported
                failures.append(f"{operation.label} {fixed}: {str(error)[:3000]}")
    assert not failures, "\n\n".join(failures)


def test_the_contract_reaches_real_objects(contract):
    """The fixture's ids do lead somewhere: a refund through the API moves money."""
    base, headers = contract["base_url"], contract["headers"]
    pid = contract["ids"][0]["payment_id"]
    answer = requests.post(
        f"{base}/api/v1/payments/{pid}/refunds", json={"amount": 100}, headers=headers, timeout=10
    )
    assert answer.status_code == 201, answer.text
    receipt = requests.get(f"{base}/api/v1/payments/{pid}/receipt", headers=headers, timeout=30)
    assert receipt.status_code == 200
    assert Payment.objects.get(public_id=pid).refunded_amount == 100
