"""The whole pay flow under load, server side against localstripe, next to a bare baseline.

    python bench/payflow.py [--clients 8] [--seconds 20] [--max-flows 3000] [--rounds 2]
                            [--json PATH]

Each of `--clients` threads is one customer's browser (its own cookies) paying the same reusable
link again and again, as checkout.js and localstripe's Stripe.js do for a card that needs no
3-D Secure (4242 4242 4242 4242):

1. GET the checkout page and read the setup and attempt URLs from it (the page cache serves it);
2. POST the setup URL: the server creates a SetupIntent at localstripe;
3. POST the card to localstripe's SetupIntent confirm, the call its Stripe.js makes: a `pm_…`;
4. POST the attempt (that payment method, a fresh attempt key, an email): the server reserves the
   payment, creates and confirms the PaymentIntent at localstripe and finalizes it
   (`payment_apply`: the payment, the link, the receipt number, events) before answering;
5. GET the result page the answer redirects to.

A flow counts when every answer is the right one. Afterwards the database must hold, on that link,
exactly one succeeded payment with its receipt per completed flow and nothing else.

Baseline, same run, same clients: the same four round trips to the bare one-query view, and the
same localstripe calls made directly with the `stripe` library (SetupIntent create, its confirm as
above, PaymentIntent create and confirm), in the same order. The ratio is vpos's own cost.
Unlike vpos, whose calls to localstripe wait in 2 gunicorn workers, the baseline's are made by
the client threads themselves.

Not in the flow: the follow-ups (receipt PDF, emails) that a Celery worker runs after the commit.
No worker runs here; the tasks queued on this benchmark's Redis database (BENCH_PAYFLOW_REDIS_URL,
default db 9) are purged at the end. Rate limits per IP on the checkout page and on attempts are
raised through RATELIMIT_CHECKOUT and RATELIMIT_CHECKOUT_ATTEMPT (every client is 127.0.0.1); the
limiter stays on. localstripe runs in memory only, on a free loopback port.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, seed

RAISED_LIMIT = "100000000/60"
REDIS_URL = os.environ.get("BENCH_PAYFLOW_REDIS_URL", "redis://127.0.0.1:6379/9")
CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "34", "cvc": "123"}
SECRET_KEY, PUBLISHABLE_KEY = "sk_test_vpos_bench", "pk_test_vpos_bench"
EXPAND = ["latest_charge", "payment_method"]  # what vpos asks for when it confirms


class FlowError(Exception):
    """An answer that a browser would not have continued with."""


class NotSucceeded(FlowError):
    """The attempt was answered, but not `succeeded` (e.g. pending: the outcome is settled
    later); `answer` is checkout.js's JSON, with the payment's public id."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__(f"attempt: {answer}")
        self.answer = answer


class Browser:
    """One customer: a cookie jar on the shop's server, and localstripe's Stripe.js."""

    def __init__(self, base: str, stripe_base: str) -> None:
        import requests

        self.base = base
        self.stripe_base = stripe_base
        self.http = requests.Session()

    def expect(self, response: Any, status: int = 200) -> Any:
        if response.status_code != status:
            raise FlowError(f"{response.request.method} {response.url}: {response.status_code}")
        return response

    def confirm_card(self, client_secret: str) -> str:
        """Stripe.js's confirmCardSetup in localstripe: the card becomes a PaymentMethod id."""
        setup_intent = client_secret.split("_secret_")[0]
        body = {
            "key": PUBLISHABLE_KEY,
            "use_stripe_sdk": True,
            "client_secret": client_secret,
            "payment_method_data": {
                "type": "card",
                "card": CARD,
                "billing_details": {"address": {"postal_code": "20121"}},
            },
        }
        url = f"{self.stripe_base}/v1/setup_intents/{setup_intent}/confirm"
        answer = self.expect(self.http.post(url, data=json.dumps(body), timeout=30)).json()
        if answer.get("status") != "succeeded":
            raise FlowError(f"SetupIntent confirm: {answer}")
        return answer["payment_method"]


@dataclass
class Run:
    label: str
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    payments: list[str] = field(default_factory=list)  # public ids from the attempt answers

    @property
    def flows_per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        values = sorted(self.latencies_ms)
        return values[max(0, math.ceil(share * len(values)) - 1)] if values else 0.0

    def summary(self) -> dict[str, float | int]:
        return {
            "flows": len(self.latencies_ms),
            "flows_per_second": round(self.flows_per_second, 2),
            "p50_ms": round(self.percentile(0.50), 1),
            "p99_ms": round(self.percentile(0.99), 1),
            "errors": len(self.errors),
        }


def pay(
    browser: Browser,
    page_url: str,
    *,
    attempt_key: str | None = None,
    email: str = "customer@example.com",
) -> str:
    """The customer's whole flow; returns the payment's public id. `attempt_key`: checkout.js
    makes a fresh random one per attempt unless given."""
    page = browser.expect(browser.http.get(page_url, timeout=30)).text
    setup_url, attempt_url = (
        re.search(rf'data-{name}-url="([^"]+)"', page).group(1) for name in ("setup", "attempt")
    )
    headers = {"X-CSRFToken": browser.http.cookies["csrftoken"], "Accept": "application/json"}
    setup = browser.expect(
        browser.http.post(browser.base + setup_url, headers=headers, timeout=30)
    ).json()
    payment_method = browser.confirm_card(setup["client_secret"])
    fields = {
        "payment_method": payment_method,
        "attempt_key": attempt_key or secrets.token_hex(16),
        "email": email,
    }
    answer = browser.expect(
        browser.http.post(browser.base + attempt_url, data=fields, headers=headers, timeout=60)
    ).json()
    if answer.get("status") != "succeeded":
        raise NotSucceeded(answer)
    result = browser.expect(browser.http.get(browser.base + answer["redirect"], timeout=30)).text
    if 'data-payment-status="succeeded"' not in result:
        raise FlowError("the result page does not say succeeded")
    return answer["payment"]


def bare(browser: Browser, bare_url: str, client: Any) -> str:
    """The baseline: four bare round trips and the same localstripe calls, in the same order."""
    browser.expect(browser.http.get(bare_url, timeout=30))
    setup_intent = client.v1.setup_intents.create({"payment_method_types": ["card"]})
    browser.expect(browser.http.get(bare_url, timeout=30))
    payment_method = browser.confirm_card(setup_intent.client_secret)
    browser.expect(browser.http.get(bare_url, timeout=30))
    intent = client.v1.payment_intents.create(
        {
            "amount": 1999,
            "currency": "eur",
            "payment_method": payment_method,
            "payment_method_types": ["card"],
            "metadata": {"vpos_payment": str(uuid.uuid4())},
        },
        {"idempotency_key": f"bench-{uuid.uuid4()}"},
    )
    intent = client.v1.payment_intents.confirm(intent.id, {"expand": EXPAND})
    if intent.status != "succeeded":
        raise FlowError(f"PaymentIntent {intent.id}: {intent.status}")
    browser.expect(browser.http.get(bare_url, timeout=30))
    return intent.id


def run_clients(
    label: str, flow: Callable[[Browser], str], make_browser: Callable[[], Browser], args: Any
) -> Run:
    """`args.clients` threads repeat `flow` until `args.seconds` pass or `args.max_flows` start."""
    run = Run(label)
    lock = threading.Lock()
    started = [0]
    deadline = time.perf_counter() + args.seconds

    def client() -> None:
        browser = make_browser()
        while time.perf_counter() < deadline:
            with lock:
                if started[0] >= args.max_flows:
                    return
                started[0] += 1
            began = time.perf_counter()
            try:
                payment = flow(browser)
            except Exception as error:  # noqa: BLE001 - counted and shown, the run goes on
                with lock:
                    run.errors.append(f"{type(error).__name__}: {error}"[:300])
                continue
            elapsed_ms = (time.perf_counter() - began) * 1000
            with lock:
                run.latencies_ms.append(elapsed_ms)
                run.payments.append(payment)

    threads = [threading.Thread(target=client, name=f"client-{i}") for i in range(args.clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - began
    return run


def verify(link: Any, runs: list[Run]) -> dict[str, Any]:
    """What the database holds on the link against the flows that completed."""
    from links.models import Payment, PaymentStatus
    from receipts.models import Receipt

    answered = [payment for run in runs for payment in run.payments]
    payments = Payment.objects.filter(link=link)
    succeeded = {
        str(public_id)
        for public_id in payments.filter(status=PaymentStatus.SUCCEEDED).values_list(
            "public_id", flat=True
        )
    }
    facts = {
        "flows_completed": len(answered),
        "distinct_payments_answered": len(set(answered)),
        "payments_on_link": payments.count(),
        "succeeded": len(succeeded),
        "receipts": Receipt.objects.filter(payment__link=link).count(),
        "flow_errors": sum(len(run.errors) for run in runs),
    }
    facts["ok"] = (
        succeeded == set(answered)
        and len(answered) == len(set(answered))
        and facts["payments_on_link"] == facts["receipts"] == len(answered)
    )
    return facts


def show(runs: dict[str, Run]) -> None:
    print(f"  {'flow':<50}{'flows':>7}{'flows/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for run in runs.values():
        s = run.summary()
        print(
            f"  {run.label:<50}{s['flows']:>7}{s['flows_per_second']:>9.1f}{s['p50_ms']:>9.1f}"
            f"{s['p99_ms']:>9.1f}{s['errors']:>8}"
        )
        for error in sorted(set(run.errors))[:3]:
            print(f"    e.g. {error}")


def measure(link: Any, stripe_base: str, args: Any) -> None:
    from tests.support.localstripe import stripe_client

    local = threading.local()

    def bare_flow(browser: Browser) -> str:
        if not hasattr(local, "client"):
            local.client = stripe_client(stripe_base, SECRET_KEY)
        return bare(browser, f"{browser.base}/bench/bare/", local.client)

    target_label = "vpos: page, setup, card, attempt, result"
    baseline_label = "baseline: 4 bare requests + the same Stripe calls"
    with harness.gunicorn(workers=args.workers) as base:
        page_url = f"{base}/pay/{link.token}/"
        harness.expect_page(page_url, 200, 'id="checkout-form"')

        def browser() -> Browser:
            return Browser(base, stripe_base)

        def vpos_flow(b: Browser) -> str:
            return pay(b, page_url)

        warm = argparse.Namespace(**{**vars(args), "seconds": 2, "max_flows": 2 * args.clients})
        target_runs = [run_clients("warm-up", vpos_flow, browser, warm)]
        run_clients("warm-up", bare_flow, browser, warm)
        baselines = []
        for _ in range(args.rounds):
            baselines.append(run_clients(baseline_label, bare_flow, browser, args))
            target_runs.append(run_clients(target_label, vpos_flow, browser, args))
    best_baseline = max(baselines, key=lambda r: r.flows_per_second)
    best_target = max(target_runs[1:], key=lambda r: r.flows_per_second)
    show({"baseline": best_baseline, "target": best_target})
    ratio = (
        best_target.flows_per_second / best_baseline.flows_per_second
        if best_baseline.flows_per_second
        else 0.0
    )
    print(f"  ratio vpos / baseline (flows per second, best of {args.rounds}): {ratio:.2f}")
    facts = verify(link, target_runs)
    print(
        f"  database: {facts['flows_completed']:,} flows completed (warm-up included), "
        f"{facts['distinct_payments_answered']:,} distinct payments answered, "
        f"{facts['payments_on_link']:,} payments on the link, {facts['succeeded']:,} succeeded, "
        f"{facts['receipts']:,} receipts; {facts['flow_errors']} flows failed"
    )
    print(
        f"  {'OK' if facts['ok'] else 'FAILED'}: one succeeded payment with its receipt per "
        f"completed flow, no other payment, no duplicate"
    )
    errors = sum(len(run.errors) for run in [*baselines, *target_runs])
    harness.record(
        "full pay flow",
        kind="flow",
        clients=args.clients,
        seconds=args.seconds,
        target=best_target.summary(),
        baseline=best_baseline.summary(),
        ratio=round(ratio, 3),
        rate_limits={
            "checkout": os.environ["RATELIMIT_CHECKOUT"],
            "checkout_attempt": os.environ["RATELIMIT_CHECKOUT_ATTEMPT"],
            "checkout_link": os.environ["RATELIMIT_CHECKOUT_LINK"],
        },
        database=facts,
        errors=errors,
    )
    if not facts["ok"] or errors:
        raise SystemExit(1)


def purge_followups() -> None:
    """No worker runs here: drop the follow-up tasks the payments queued on our Redis database."""
    from vpos.celery import app

    print(f"  dropped {app.control.purge()} queued follow-up tasks (no Celery worker in this run)")


def environment(stripe_base: str, redis_url: str) -> dict[str, str]:
    """Read by the settings, here and in gunicorn: the provider, its keys, limits, Redis."""
    return {
        "STRIPE_API_BASE": stripe_base,
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "RATELIMIT_CHECKOUT": RAISED_LIMIT,
        "RATELIMIT_CHECKOUT_ATTEMPT": RAISED_LIMIT,
        "RATELIMIT_CHECKOUT_LINK": RAISED_LIMIT,  # every flow pays the same link
        "RATELIMIT_ENABLED": "True",
        "REDIS_URL": redis_url,
    }


def reusable_link(shop: str, description: str) -> Any:
    """A new reusable link of 19.99 EUR of the benchmark shop called `shop`."""
    from links.models import LinkKind, PaymentLink

    return PaymentLink.objects.create(
        merchant=seed.merchant(shop),
        amount=1999,
        currency="EUR",
        description=f"{description} {uuid.uuid4().hex[:8]}",
        kind=LinkKind.REUSABLE,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--max-flows", type=int, default=3000, help="per measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    harness.add_json_argument(parser)
    args = parser.parse_args()

    from tests.support.localstripe import LocalStripe

    with LocalStripe() as localstripe:
        os.environ.update(environment(localstripe.base_url, REDIS_URL))
        harness.setup_django()
        link = reusable_link("Payflow bench", "Payflow")
        print(
            f"full pay flow: {args.clients} clients for {args.seconds:g} s (at most "
            f"{args.max_flows} flows) per measurement, best of {args.rounds}; gunicorn "
            f"{args.workers} workers, localstripe at {localstripe.base_url} (memory only)"
        )
        print(
            f"rate limits: checkout page and attempts raised from the defaults 60/60 and 20/600 "
            f"to {RAISED_LIMIT} per IP via RATELIMIT_CHECKOUT and RATELIMIT_CHECKOUT_ATTEMPT "
            f"(every client is 127.0.0.1); the limiter stays on"
        )
        try:
            measure(link, localstripe.base_url, args)
        finally:
            purge_followups()
            harness.write_json(args.json)


if __name__ == "__main__":
    main()
