"""Two vpos nodes on one PostgreSQL and one Redis, one of them killed mid-run: nothing is lost.

    python bench/twonode.py [--clients 8] [--one-node-seconds 8] [--seconds 20]
                            [--kill-after 8] [--drain-timeout 120] [--json PATH]

Two nodes, A and B, each a gunicorn (2 sync workers, its own port and process group) and a
Celery worker on every queue (settings.CELERY_QUEUE_NAMES), share the bench database
(BENCH_DATABASE_URL), a Redis database (BENCH_TWONODE_REDIS_URL, default db 9, flushed at the
start and the end), one localstripe (memory only) and a loopback SMTP sink (aiosmtpd) that the
servers reach through EMAIL_URL.

The client is bench/payflow.py's: `--clients` browsers paying one reusable link of a new shop
(page, setup, card at localstripe, attempt, result), each attempt with its own key and its own
customer email. Here a browser's requests go through a balancer of its own: each request to the
next node alive, so one flow's page may come from A and its attempt go to B. A request that
cannot reach its node (refused, connection dropped) takes that node out and goes again to
another one: the same request, so a lost attempt is posted again with its attempt key, which
answers with the payment it started (links.payments.checkout_attempt), as when checkout.js keeps
the key after an answer it never got.

1. Warm-up on both nodes, then `--one-node-seconds` on node A only: the one-node baseline.
2. `--seconds` on both nodes; `--kill-after` seconds in, SIGKILL to node A's gunicorn (its whole
   process group) and to worker A; the clients go on with B alone.
3. Drain. What a killed worker held stays unacknowledged in Redis for the visibility timeout
   (3600 s, unchanged here), so what the periodic sweeps would do a few minutes later is done at
   once, for this shop only (the bench database holds other benchmarks' payments): open payments
   refreshed from localstripe (payments_reconcile), follow-ups run again where they were never
   done (payments_followups_sweep), confirmation emails still queued sent again (outbox_sweep).
   Then a bounded wait, polling the database, until every succeeded payment has its follow-ups
   done and no confirmation is still queued.
4. Checks (exit status 1 if one fails): every flow the client saw succeed has one succeeded
   payment with a receipt; no payment was charged twice at localstripe and no two flows were
   answered with one payment; the shop's receipt numbers are 1..N without a gap or a repeat;
   the SMTP sink received exactly one confirmation per succeeded payment, and none for any other,
   and the outbox holds one confirmation row per succeeded payment; every PaymentIntent charged at
   localstripe is a succeeded payment with its receipt (payments in flight when A died either
   succeeded with receipt and confirmation, or were not charged).

Throughput: succeeded flows per second on node A alone (phase 1), on both nodes before the kill,
and on B after it, each flow counted in a window for the share of its time spent inside; the
ratio two nodes / one node is for information (on a machine with two cores, both nodes and both
workers share them).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import faults, harness, payflow

REDIS_URL = os.environ.get("BENCH_TWONODE_REDIS_URL", "redis://127.0.0.1:6379/9")
NODES = "http://vpos-nodes"  # what the pages' URLs start with; the balancer picks a node
FAST_QUEUES = ("default", "email")  # the follow-ups and the emails; documents (PDFs) may lag


# --- The client: payflow's browser behind a balancer of its own ------------------------------


class Nodes:
    """The nodes still alive (base URLs), shared by every browser, and what each one served."""

    def __init__(self, named: dict[str, str]) -> None:
        self.lock = threading.Lock()
        self.alive = list(named.values())
        self.names = {base: name for name, base in named.items()}
        self.served: Counter[str] = Counter()  # answers by node name
        self.failovers: Counter[str] = Counter()  # requests sent again elsewhere, by step

    def pick(self, turn: int) -> str:
        with self.lock:
            if not self.alive:
                raise requests.ConnectionError("no node left")
            return self.alive[turn % len(self.alive)]

    def failed(self, base: str, step: str) -> None:
        with self.lock:
            if base in self.alive:
                self.alive.remove(base)
            self.failovers[step] += 1

    def answered(self, base: str) -> None:
        with self.lock:
            self.served[self.names[base]] += 1


def step_of(path: str) -> str:
    """What a request to a node was: "attempts", "setup", "result" or "page"."""
    return next((name for name in ("attempts", "setup", "result") if f"/{name}/" in path), "page")


class BalancedSession(requests.Session):
    """One browser's cookies in front of every node: a URL on NODES goes to the next node alive,
    alternating per request; one that cannot be reached is taken out and the same request goes
    to another. Other URLs (localstripe) are left alone."""

    def __init__(self, nodes: Nodes) -> None:
        super().__init__()
        self.nodes = nodes
        self.turn = 0

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if not url.startswith(NODES):
            return super().request(method, url, *args, **kwargs)
        path = url.removeprefix(NODES)
        while True:
            base = self.nodes.pick(self.turn)
            self.turn += 1
            try:
                response = super().request(method, base + path, *args, **kwargs)
            except requests.ConnectionError:
                self.nodes.failed(base, step_of(path))
                continue
            self.nodes.answered(base)
            return response


@dataclass
class Flow:
    """One customer's attempt as the client saw it."""

    attempt_key: str
    email: str
    started: float
    ended: float = 0.0
    answered: str = ""  # the status in the attempt's answer
    outcome: str = "error"  # what the result page said, or the answer's status, or "error"
    payment: str = ""  # the public id answered

    @property
    def seen(self) -> str:
        """What the client saw, e.g. "attempt answered pending, result page succeeded"."""
        if self.answered in ("", "error"):
            return "no answer to the attempt"
        if self.answered == self.outcome:
            return f"attempt answered {self.answered}"
        return f"attempt answered {self.answered}, result page {self.outcome}"


def result_status(browser: payflow.Browser, path: str) -> str:
    """What the result page says of the payment; it asks the provider about an open one."""
    page = browser.expect(browser.http.get(NODES + path, timeout=30)).text
    found = re.search(r'data-payment-status="(\w+)"', page)
    return found.group(1) if found else "error"


class Client:
    """payflow's browsers on the balanced nodes; every flow kept, with its times."""

    def __init__(self, nodes: Nodes, stripe_base: str, page_url: str, clients: int) -> None:
        self.nodes = nodes
        self.stripe_base = stripe_base
        self.page_url = page_url
        self.clients = clients
        self.began = time.perf_counter()
        self.flows: list[Flow] = []

    def now(self) -> float:
        return time.perf_counter() - self.began

    def browser(self) -> payflow.Browser:
        browser = payflow.Browser(NODES, self.stripe_base)
        browser.http = BalancedSession(self.nodes)
        return browser

    def flow(self, browser: payflow.Browser) -> str:
        key = secrets.token_hex(16)
        flow = Flow(key, f"{key}@example.com", self.now())
        browser.http.turn += 1  # five turns a flow: the next one starts on the other node
        try:
            flow.payment = payflow.pay(browser, self.page_url, attempt_key=key, email=flow.email)
            flow.answered = flow.outcome = "succeeded"
            return flow.payment
        except payflow.NotSucceeded as error:
            flow.payment = error.answer.get("payment", "")
            flow.answered = flow.outcome = error.answer.get("status") or "error"
            if error.answer.get("redirect"):  # checkout.js goes to the result page
                flow.outcome = result_status(browser, error.answer["redirect"])
            if flow.outcome != "succeeded":
                raise
            return flow.payment
        finally:
            flow.ended = self.now()
            self.flows.append(flow)  # list.append is atomic

    def run(self, label: str, seconds: float) -> payflow.Run:
        limits = argparse.Namespace(clients=self.clients, seconds=seconds, max_flows=10**9)
        return payflow.run_clients(label, self.flow, self.browser, limits)

    def rate(self, start: float, end: float) -> float:
        """Succeeded flows per second in [start, end). Each counts for the share of its time
        spent inside: flows under way at either edge count in part, so a window only a few
        flows long still measures, and the ramp at a phase's start costs nothing."""
        inside = sum(
            max(0.0, min(f.ended, end) - max(f.started, start)) / (f.ended - f.started)
            for f in self.flows
            if f.outcome == "succeeded" and f.ended > f.started
        )
        return inside / (end - start) if end > start else 0.0


# --- The nodes ---------------------------------------------------------------------------------


@dataclass
class Node:
    name: str
    server: harness.Server
    worker: Any  # subprocess.Popen of its Celery worker

    def kill(self) -> None:
        """A machine lost: SIGKILL to gunicorn's and the worker's process groups at once."""
        for process in (self.server.process, self.worker):
            os.killpg(process.pid, signal.SIGKILL)
        for process in (self.server.process, self.worker):
            process.wait()


def start_node(name: str, stack: ExitStack, log: Path) -> Node:
    server = harness.gunicorn_start(workers=2, own_group=True)
    stack.callback(harness.gunicorn_stop, server)
    worker = faults.start_worker(f"twonode-{name}-{uuid.uuid4().hex[:6]}", log)
    stack.callback(faults.stop_worker, worker)
    return Node(name, server, worker)


# --- Drain: what the sweeps would do, for this shop ------------------------------------------


def broker_idle(redis: Any) -> bool:
    return all(redis.llen(queue) == 0 for queue in FAST_QUEUES)


def drain(link: Any, timeout: float) -> dict[str, Any]:
    """Settle this shop's open payments, run its lost follow-ups and emails again, and wait until
    every succeeded payment has its follow-ups done and no confirmation is still queued."""
    import redis as redis_client

    from links.models import OPEN_PAYMENT_STATUSES, Payment, PaymentStatus
    from links.payments import payment_refresh
    from links.providers import ProviderError
    from receipts.tasks import payment_followups
    from vpos.models import OutboxEmail
    from vpos.outbox import outbox_send

    started = time.monotonic()
    payments = Payment.objects.filter(link=link)
    refreshed = 0
    for payment in payments.filter(status__in=OPEN_PAYMENT_STATUSES, provider_id__isnull=False):
        try:  # payments_reconcile, for this link, without its two minutes of grace
            payment_refresh(payment=payment, source="reconciliation")
            refreshed += 1
        except ProviderError as error:
            print(f"  reconciliation of payment {payment.pk} failed: {error}")
    broker = redis_client.Redis.from_url(REDIS_URL)
    idle = faults.wait_until(lambda: broker_idle(broker), timeout, 0.2)
    not_done = payments.filter(status=PaymentStatus.SUCCEEDED, followups_done_at__isnull=True)
    confirmations = OutboxEmail.objects.filter(merchant=link.merchant, kind="payment_confirmation")
    queued = confirmations.filter(status=OutboxEmail.Status.QUEUED)
    swept = list(not_done.values_list("pk", flat=True))
    for payment_id in swept:  # payments_followups_sweep
        payment_followups.delay(payment_id)
    requeued = list(queued.values_list("pk", flat=True))
    for email_id in requeued:  # outbox_sweep
        outbox_send.delay(email_id)
    drained = faults.wait_until(
        lambda: not not_done.exists() and not queued.exists() and broker_idle(broker),
        max(timeout - (time.monotonic() - started), 1),
        0.2,
    )
    facts = {
        "payments_refreshed": refreshed,
        "broker_idle_before_sweeps": idle,
        "followups_swept": len(swept),
        "emails_requeued": len(requeued),
        "drained": drained,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(
        f"  drain: {refreshed} open payments refreshed from localstripe; queues default and "
        f"email {'empty' if idle else 'NOT empty'} before the sweeps; follow-ups run again for "
        f"{len(swept)} payments, {len(requeued)} queued confirmations sent again; "
        f"{'drained' if drained else 'NOT drained'} after {facts['seconds']} s"
    )
    return facts


# --- Checks ------------------------------------------------------------------------------------


def receipt_gaps(numbers: Iterable[tuple[int, int]]) -> list[str]:
    """What keeps a shop's receipts from being numbered 1..N each year, from (year, sequence)
    pairs: the sequences repeated and the ones missing."""
    by_year: dict[int, list[int]] = defaultdict(list)
    for year, sequence in numbers:
        by_year[year].append(sequence)
    problems = []
    for year, sequences in sorted(by_year.items()):
        repeated = sorted(n for n, times in Counter(sequences).items() if times > 1)
        missing = sorted(set(range(1, max(sequences) + 1)) - set(sequences))
        if repeated:
            problems.append(f"{year}: repeated {repeated[:10]}")
        if missing:
            problems.append(f"{year}: missing {missing[:10]}")
    return problems


def count_mismatches(expected: Iterable[str], counts: Counter[str]) -> dict[str, int]:
    """The keys of `counts` not seen exactly once among `expected`, and the unexpected ones
    seen: {key: times seen}."""
    wanted = set(expected)
    wrong = {key: counts[key] for key in wanted if counts[key] != 1}
    wrong.update({key: n for key, n in counts.items() if key not in wanted and n})
    return wrong


def link_intents(stripe_base: str, link: Any) -> list[dict[str, Any]]:
    """localstripe's PaymentIntents of this link (metadata vpos_link), as dicts."""
    from tests.support.localstripe import stripe_client

    client = stripe_client(stripe_base, payflow.SECRET_KEY)
    intents = client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
    found = (pi.to_dict() for pi in intents)
    return [pi for pi in found if (pi.get("metadata") or {}).get("vpos_link") == str(link.pk)]


def charged(intents: list[dict[str, Any]]) -> Counter[str]:
    """Payments (public ids) by the number of their PaymentIntents that moved money."""
    return Counter(
        pi["metadata"]["vpos_payment"]
        for pi in intents
        if pi["status"] in ("succeeded", "requires_capture")
    )


def check(link: Any, flows: list[Flow], smtp: Any, intents: list[dict[str, Any]]) -> dict[str, Any]:
    """Every invariant of the run: {name: list of what breaks it} and the figures."""
    from links.models import Payment, PaymentStatus
    from receipts.models import Receipt
    from vpos.models import OutboxEmail

    payments = {str(p.public_id): p for p in Payment.objects.filter(link=link)}
    succeeded = {key: p for key, p in payments.items() if p.status == PaymentStatus.SUCCEEDED}
    receipts = dict(
        Receipt.objects.filter(merchant=link.merchant).values_list("payment__public_id", "id")
    )
    receipted = {str(public_id) for public_id in receipts}
    numbers = Receipt.objects.filter(merchant=link.merchant).values_list("year", "sequence")
    paid = charged(intents)
    seen = [f for f in flows if f.outcome == "succeeded"]
    answered = Counter(f.payment for f in flows if f.payment)
    confirmations = OutboxEmail.objects.filter(merchant=link.merchant, kind="payment_confirmation")
    rows = Counter(confirmations.values_list("to_email", flat=True))
    emails = [p.customer_email for p in succeeded.values()]
    with smtp.lock:
        received = Counter(smtp.received)
    problems = {
        "flow seen succeeded without its succeeded payment and receipt": [
            f.attempt_key
            for f in seen
            if f.payment not in succeeded
            or f.payment not in receipted
            or succeeded[f.payment].attempt_key != f.attempt_key
        ],
        "payment charged more than once at localstripe": [k for k, n in paid.items() if n > 1],
        "payment answered to more than one flow": [k for k, n in answered.items() if n > 1],
        "receipt numbers not 1..N": receipt_gaps(numbers),
        "receipts not one per succeeded payment": (
            [] if receipted == set(succeeded) else sorted(receipted ^ set(succeeded))[:10]
        ),
        "charged at localstripe, not a succeeded payment (lost)": sorted(
            set(paid) - set(succeeded)
        ),
        "succeeded payment not charged at localstripe": sorted(set(succeeded) - set(paid)),
        "confirmations received by SMTP not one per succeeded payment": [
            f"{email} x{n}" for email, n in count_mismatches(emails, received).items()
        ],
        "confirmation rows in the outbox not one per succeeded payment": [
            f"{email} x{n}" for email, n in count_mismatches(emails, rows).items()
        ],
    }
    unsent = confirmations.exclude(status=OutboxEmail.Status.SENT)
    facts = {
        "flows": len(flows),
        "flows_succeeded": len(seen),
        "flows_other": dict(Counter(f.outcome for f in flows if f.outcome != "succeeded")),
        "payments": len(payments),
        "succeeded": len(succeeded),
        "receipts": len(receipts),
        "payment_statuses": dict(Counter(p.status for p in payments.values())),
        "intents_at_localstripe": len(intents),
        "intents_charged": sum(paid.values()),
        "confirmations_received": sum(received[e] for e in emails),
        "confirmation_rows": sum(rows.values()),
        "confirmation_rows_not_sent": dict(Counter(unsent.values_list("status", flat=True))),
        "receipt_pdfs_rendered": Receipt.objects.filter(merchant=link.merchant)
        .exclude(pdf="")
        .count(),
    }
    return {"problems": problems, "facts": facts}


def in_flight(flows: list[Flow], at: float, link: Any, smtp: Any, paid: Counter[str]) -> list[str]:
    """One line per flow under way when node A died: what the client saw, what became of it."""
    from links.models import Payment

    lines = []
    for flow in (f for f in flows if f.started <= at <= f.ended):
        payment = Payment.objects.filter(link=link, attempt_key=flow.attempt_key).first()
        if payment is None:
            lines.append(f"{flow.attempt_key[:8]}: {flow.seen}; no payment row")
            continue
        receipt = getattr(payment, "receipt", None)
        lines.append(
            f"{flow.attempt_key[:8]}: {flow.seen}; now: payment {payment.status}, "
            f"receipt {receipt.number if receipt else 'none'}, confirmations received "
            f"{smtp.received[payment.customer_email]}, charged at localstripe "
            f"{'yes' if paid[str(payment.public_id)] else 'no'}"
        )
    return lines


# --- The run -----------------------------------------------------------------------------------


def phases(client: Client, a: Node, b: Node, args: argparse.Namespace) -> dict[str, float]:
    """Warm-up, one node, two nodes with A killed mid-way. The times (client clock) that bound
    the throughput windows: each phase's nominal length, without the flows' tail after its
    deadline, when fewer and fewer clients are still paying."""
    client.run("warm-up", 2)
    client.nodes.alive = [a.server.base]
    events = {"one_start": client.now()}
    events["one_end"] = events["one_start"] + args.one_node_seconds
    client.run("one node", args.one_node_seconds)
    client.nodes.alive = [a.server.base, b.server.base]

    def kill() -> None:
        events["killed"] = client.now()
        a.kill()
        print(
            f"  {events['killed'] - events['two_start']:.1f} s into two nodes: SIGKILL to node A's "
            "gunicorn and worker (their process groups)"
        )

    timer = threading.Timer(args.kill_after, kill)
    events["two_start"] = client.now()
    events["two_end"] = events["two_start"] + args.seconds
    timer.start()
    try:
        client.run("two nodes, A killed", args.seconds)
    finally:
        timer.cancel()
    events.setdefault("killed", events["two_end"])
    return events


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--one-node-seconds", type=float, default=8, help="baseline, node A")
    parser.add_argument("--seconds", type=float, default=20, help="on two nodes, kill included")
    parser.add_argument("--kill-after", type=float, default=8, help="seconds into two nodes")
    parser.add_argument("--drain-timeout", type=float, default=120)
    harness.add_json_argument(parser)
    args = parser.parse_args()
    if not 0 < args.kill_after < args.seconds:
        parser.error("--kill-after must fall inside --seconds")

    from tests.support.localstripe import LocalStripe

    run = uuid.uuid4().hex[:8]
    log = Path(tempfile.gettempdir()) / f"vpos-twonode-{run}.log"
    with ExitStack() as stack:
        localstripe = stack.enter_context(LocalStripe())
        controller, smtp = faults.start_smtp(0.0)
        stack.callback(controller.stop)
        os.environ.update(payflow.environment(localstripe.base_url, REDIS_URL))
        os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
        harness.setup_django()
        import redis

        broker = redis.Redis.from_url(REDIS_URL)
        broker.flushdb()
        stack.callback(broker.flushdb)  # the killed worker's unacknowledged tasks among them
        link = payflow.reusable_link(f"Two nodes {run}", "Two nodes")
        a = start_node("a", stack, log)
        b = start_node("b", stack, log)
        print(
            f"two nodes: A {a.server.base}, B {b.server.base} (gunicorn 2 workers and a Celery "
            f"worker each, every queue), {args.clients} clients; {args.one_node_seconds:g} s on "
            f"A alone, then {args.seconds:g} s on both with A killed after {args.kill_after:g} "
            f"s. localstripe {localstripe.base_url}, SMTP 127.0.0.1:{controller.port}, Redis "
            f"{REDIS_URL}, shop 'Two nodes {run}', worker log {log}"
        )
        nodes = Nodes({"A": a.server.base, "B": b.server.base})
        client = Client(nodes, localstripe.base_url, f"{NODES}/pay/{link.token}/", args.clients)
        events = phases(client, a, b, args)
        drained = drain(link, args.drain_timeout)
        intents = link_intents(localstripe.base_url, link)
        result = check(link, client.flows, smtp, intents)
        flying = in_flight(client.flows, events["killed"], link, smtp, charged(intents))
    report(args, client, events, drained, result, flying)


def report(
    args: argparse.Namespace,
    client: Client,
    events: dict[str, float],
    drained: dict[str, Any],
    result: dict[str, Any],
    flying: list[str],
) -> None:
    one = client.rate(events["one_start"], events["one_end"])
    two = client.rate(events["two_start"], events["killed"])
    after = client.rate(events["killed"], events["two_end"])
    ratio = two / one if one else 0.0
    print(f"  {'phase':<34}{'seconds':>9}{'flows/s':>9}")
    for label, start, end, rate in (
        ("one node (A)", events["one_start"], events["one_end"], one),
        ("two nodes (A and B)", events["two_start"], events["killed"], two),
        ("after the kill (B)", events["killed"], events["two_end"], after),
    ):
        print(f"  {label:<34}{end - start:>9.1f}{rate:>9.1f}")
    print(f"  ratio two nodes / one node: {ratio:.2f} (2 cores shared by everything here)")
    served = ", ".join(f"{name} {n}" for name, n in sorted(client.nodes.served.items()))
    print(
        f"  requests answered: {served}; sent again to the other node after a failure: "
        f"{dict(client.nodes.failovers) or 'none'}"
    )
    print(f"  flows under way when A died: {len(flying)}")
    for line in flying:
        print(f"    {line}")
    facts = result["facts"]
    print(
        f"  {facts['flows']} flows, {facts['flows_succeeded']} seen succeeded, others "
        f"{facts['flows_other'] or 'none'}; payments {facts['payment_statuses']}; receipts "
        f"{facts['receipts']} ({facts['receipt_pdfs_rendered']} PDFs rendered so far); "
        f"PaymentIntents at localstripe {facts['intents_at_localstripe']}, charged "
        f"{facts['intents_charged']}; confirmations: {facts['confirmation_rows']} outbox rows "
        f"(not sent: {facts['confirmation_rows_not_sent'] or 'none'}), "
        f"{facts['confirmations_received']} received by SMTP"
    )
    problems = {
        **result["problems"],
        "follow-ups not drained in time": [] if drained["drained"] else [f"{drained['seconds']} s"],
    }
    failed = {name: found for name, found in problems.items() if found}
    for name, found in problems.items():
        print(f"  {'FAIL' if found else 'ok  '} {name}: {found[:5] if found else 'none'}")
    ok = not failed
    harness.record(
        "two nodes, node killed",
        kind="twonode",
        clients=args.clients,
        seconds=args.seconds,
        one_node_seconds=args.one_node_seconds,
        kill_after=args.kill_after,
        flows_per_second={
            "one_node": round(one, 2),
            "two_nodes": round(two, 2),
            "after_kill": round(after, 2),
        },
        ratio=round(ratio, 3),
        in_flight=len(flying),
        failovers=dict(client.nodes.failovers),
        drain=drained,
        database=facts,
        checks=list(problems),
        problems={name: found[:10] for name, found in failed.items()},
        ok=ok,
    )
    harness.write_json(args.json)
    print(
        f"{'PASS' if ok else 'FAIL'}: exactly-once payments, gapless receipts, one confirmation "
        f"per payment, nothing lost with node A killed"
    )
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
