"""Finalizations per second: one shop against the same work spread over many shops.

    python bench/finalize.py [--processes 1,4,16] [--payments 800] [--rounds 2] [--quick]
                             [--json PATH]

Every payment that succeeds is finalized by `links.payments.payment_apply`: it locks the link and
the payment, marks the payment succeeded, counts it on the link, records the events, and numbers
the receipt from the shop's sequence row (`receipts.services.next_number`), locked with
SELECT … FOR UPDATE until the transaction commits. Numbers stay gapless that way, and one shop's
finalizations are serialized on that row however many web nodes or workers there are. This
measures that ceiling.

K processes (forked, each with its own database connection, as K web or worker processes have)
finalize payments prepared beforehand (pending rows created in bulk) with `payment_apply` and the
provider's answer built here (`bench.harness.provider_succeeded`: no Stripe, no network). The same
number of payments, three ways, side by side in the same round:

- **many shops** (the baseline): each process finalizes its own shop's payments; nothing is
  shared but the database;
- **one shop**: all of one shop, each process on its own link: the sequence row is the only row
  the processes share;
- **one link**: all on one reusable link of one shop: the link row, locked first, serializes the
  whole transaction (a popular link: a ticket sale, a donation page).

Figures: payments / wall time of the round, best of `--rounds` interleaved rounds; the ratio of
each to many shops at the same K. Lock wait: time in the sequence row's SELECT … FOR UPDATE (and
the link row's), taken around those statements by a connection `execute_wrapper` in this script
only; for many shops it is the statement's own time (no one else locks their rows), what one shop
adds to it is the queue on its row. Hold: from the sequence lock granted to the commit, the section that cannot overlap within
a shop: 1000 / hold ms is one shop's ceiling.

Afterwards every payment must have succeeded exactly once (one receipt, one "succeeded" entry on
its timeline, counted once on its link), and each shop's receipt numbers must run 1..n with no gap
and no duplicate, n on its sequence row; exit 1 otherwise. The follow-up tasks the payments queue
(no worker runs here) are purged from this script's Redis database (BENCH_FINALIZE_REDIS_URL,
default db 10). PostgreSQL: BENCH_DATABASE_URL (default in bench/harness.py). Nothing here is a
test.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

REDIS_URL = os.environ.get("BENCH_FINALIZE_REDIS_URL", "redis://127.0.0.1:6379/10")
VARIANTS = ("many shops", "one shop", "one link")
SEQUENCE_LOCK = ('"receipts_receiptsequence"', "FOR UPDATE")
LINK_LOCK = ('"links_paymentlink"', "FOR UPDATE")


class LockTimer:
    """A connection execute_wrapper: time spent waiting for the sequence and link row locks, and
    how long the sequence lock was held: from granted to committed (an on_commit hook registered
    then; the only hooks before it are the shop's cache-version ones, a Redis round trip)."""

    def __init__(self) -> None:
        self.sequence_wait = 0.0
        self.link_wait = 0.0
        self.held = 0.0

    def __call__(self, execute, sql, params, many, context):
        from django.db import transaction

        started = time.perf_counter()
        result = execute(sql, params, many, context)
        granted = time.perf_counter()
        if all(part in sql for part in SEQUENCE_LOCK):
            self.sequence_wait += granted - started
            transaction.on_commit(lambda: self._released(granted))
        elif all(part in sql for part in LINK_LOCK):
            self.link_wait += granted - started
        return result

    def _released(self, granted: float) -> None:
        self.held += time.perf_counter() - granted


@dataclass
class Measurement:
    variant: str
    processes: int
    payments: int
    seconds: float
    sequence_wait_ms: float  # per finalization, averaged
    link_wait_ms: float
    hold_ms: float

    @property
    def per_second(self) -> float:
        return self.payments / self.seconds


def new_link(merchant, reference: str):
    from links.models import LinkKind, PaymentLink

    return PaymentLink.objects.create(
        merchant=merchant,
        amount=1500,
        currency="EUR",
        description="Bench finalization",
        reference=reference,
        kind=LinkKind.REUSABLE,
        language="it",
    )


def prepare(variant: str, processes: int, each: int, run: str) -> list[list[Any]]:
    """Each process's pending payments, laid out over shops and links as `variant` says."""
    tag = f"{run}-{VARIANTS.index(variant)}-{processes}"
    shared_shop = None if variant == "many shops" else harness.new_shop(f"Bench finalize {tag}")
    shared_link = new_link(shared_shop, tag) if variant == "one link" else None
    work = []
    for i in range(processes):
        link = shared_link or new_link(
            shared_shop or harness.new_shop(f"Bench {tag}-{i}"), f"{tag}-{i}"
        )
        work.append(harness.pending_payments(link, prefix=f"fin-{tag}-{i}", count=each))
    return work


def _finalize(answers: list[tuple[int, Any]], start: Any, results: Any) -> None:
    """One process (forked): finalize its payments one after the other, timing the locks."""
    from django.db import connection

    from links.payments import payment_apply

    timer, error = LockTimer(), ""
    try:
        connection.ensure_connection()
        start.wait()
        with connection.execute_wrapper(timer):
            for payment_id, paid in answers:
                payment_apply(payment_id=payment_id, provider_payment=paid, source="bench")
    except Exception as failure:  # noqa: BLE001 - reported by the parent, which exits 1
        error = repr(failure)
        start.abort()
    finally:
        results.put((timer.sequence_wait, timer.link_wait, timer.held, error))
        connection.close()


def finalize_all(work: list[list[Any]], variant: str) -> Measurement:
    """One forked process per list, started at once: K processes, K connections, as K web or
    worker processes would be (threads would share one interpreter lock and queue for it while
    holding the row lock)."""
    from django.db import connections

    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(len(work) + 1), context.Queue()
    answers = [[(p.pk, harness.provider_succeeded(p)) for p in payments] for payments in work]
    connections.close_all()  # each child opens its own
    children = [context.Process(target=_finalize, args=(mine, start, results)) for mine in answers]
    for child in children:
        child.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a child failed: reported below
        start.wait(timeout=120)
    started = time.perf_counter()
    outcomes = [results.get(timeout=600) for _ in children]
    seconds = time.perf_counter() - started
    for child in children:
        child.join()
    errors = [error for *_, error in outcomes if error]
    if errors:
        raise SystemExit(f"{variant}, {len(work)} processes: {errors[0]}")
    count = sum(len(mine) for mine in answers)
    return Measurement(
        variant=variant,
        processes=len(work),
        payments=count,
        seconds=seconds,
        sequence_wait_ms=sum(o[0] for o in outcomes) * 1000 / count,
        link_wait_ms=sum(o[1] for o in outcomes) * 1000 / count,
        hold_ms=sum(o[2] for o in outcomes) * 1000 / count,
    )


def check(payment_ids: list[int], merchant_ids: set[int]) -> dict[str, Any]:
    """Every payment succeeded once, numbered once; every shop's receipt numbers gapless."""
    from django.db.models import Count, Max, Min

    from links.models import Payment, PaymentEvent, PaymentLink, PaymentStatus
    from receipts.models import Receipt, ReceiptSequence

    payments = Payment.objects.filter(pk__in=payment_ids)
    succeeded = payments.filter(status=PaymentStatus.SUCCEEDED).count()
    receipts = Receipt.objects.filter(payment_id__in=payment_ids).count()
    timeline = PaymentEvent.objects.filter(payment_id__in=payment_ids, kind="succeeded")
    events, events_paid = timeline.count(), timeline.values("payment_id").distinct().count()
    counted = sum(
        PaymentLink.objects.filter(pk__in=payments.values("link_id")).values_list(
            "payments_count", flat=True
        )
    )
    last = {
        (s.merchant_id, s.year): s.last_number
        for s in ReceiptSequence.objects.filter(merchant_id__in=merchant_ids, series="receipt")
    }
    numbering = (
        Receipt.objects.filter(merchant_id__in=merchant_ids)
        .values("merchant_id", "year")
        .annotate(n=Count("id"), distinct=Count("sequence", distinct=True))
        .annotate(low=Min("sequence"), high=Max("sequence"))
    )
    gapped = [
        row
        for row in numbering
        if not (
            row["low"] == 1
            and row["n"] == row["distinct"] == row["high"]
            and last.get((row["merchant_id"], row["year"])) == row["high"]
        )
    ]
    total = len(payment_ids)
    return {
        "payments": total,
        "succeeded": succeeded,
        "receipts": receipts,
        "succeeded_events": events,
        "payments_with_event": events_paid,
        "counted_on_links": counted,
        "shops": len(merchant_ids),
        "shops_with_gaps": len(gapped),
        "ok": (succeeded == receipts == events == events_paid == counted == total and not gapped),
    }


def purge_followups() -> None:
    """No worker runs here: drop the follow-up tasks the payments queued on our Redis database."""
    from vpos.celery import app

    print(f"dropped {app.control.purge()} queued follow-up tasks (no Celery worker in this run)")


def report(best: dict[tuple[str, int], Measurement], processes: list[int]) -> None:
    header = f"{'processes':>10}" + "".join(f"{v + ' /s':>16}{'ratio':>7}" for v in VARIANTS)
    print(f"\nfinalizations per second (best of the rounds); ratio to many shops\n{header}")
    for k in processes:
        base = best[("many shops", k)].per_second
        print(
            f"{k:>10}"
            + "".join(
                f"{best[(v, k)].per_second:>16.1f}{best[(v, k)].per_second / base:>7.2f}"
                for v in VARIANTS
            )
        )
    print(
        f"\n{'variant':<12}{'processes':>10}{'payments':>10}{'seconds':>9}"
        f"{'seq wait ms':>13}{'link wait ms':>14}{'hold ms':>9}{'ceiling /s':>12}"
    )
    for k in processes:
        base = best[("many shops", k)].per_second
        for variant in VARIANTS:
            m = best[(variant, k)]
            ceiling = 1000 / m.hold_ms if m.hold_ms else 0.0
            print(
                f"{variant:<12}{k:>10}{m.payments:>10}{m.seconds:>9.2f}{m.sequence_wait_ms:>13.2f}"
                f"{m.link_wait_ms:>14.2f}{m.hold_ms:>9.2f}{ceiling:>12.0f}"
            )
            harness.record(
                f"{variant}, {k} processes",
                kind="finalize",
                variant=variant,
                processes=k,
                payments=m.payments,
                seconds=round(m.seconds, 3),
                per_second=round(m.per_second, 1),
                ratio=round(m.per_second / base, 3),
                sequence_wait_ms=round(m.sequence_wait_ms, 2),
                link_wait_ms=round(m.link_wait_ms, 2),
                hold_ms=round(m.hold_ms, 2),
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", default="1,4,16", help="comma-separated counts")
    parser.add_argument("--payments", type=int, default=800, help="per measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="150 payments, one round")
    harness.add_json_argument(parser)
    args = parser.parse_args()
    if args.quick:
        args.payments, args.rounds = 150, 1
    processes = [int(k) for k in args.processes.split(",")]
    os.environ["REDIS_URL"] = REDIS_URL  # the broker the follow-ups are queued on, and the cache
    harness.setup_django()
    from links.models import Payment

    run = uuid.uuid4().hex[:8]
    print(
        f"finalize: {args.payments} payments per measurement, processes {processes}, "
        f"{args.rounds} round(s), variants: {', '.join(VARIANTS)}; run {run}"
    )
    finalize_all(prepare("many shops", max(processes), 5, f"{run}w"), "warm-up")
    best: dict[tuple[str, int], Measurement] = {}
    prepared: list[list[Any]] = []
    for round_ in range(args.rounds):
        for k in processes:
            for variant in VARIANTS:
                work = prepare(variant, k, max(1, args.payments // k), f"{run}r{round_}")
                prepared += work
                measured = finalize_all(work, variant)
                print(
                    f"  round {round_ + 1}, {k:>2} processes, {variant:<10}: "
                    f"{measured.per_second:7.1f}/s, sequence wait "
                    f"{measured.sequence_wait_ms:6.2f} ms, hold {measured.hold_ms:5.2f} ms",
                    flush=True,
                )
                kept = best.get((variant, k))
                if kept is None or measured.per_second > kept.per_second:
                    best[(variant, k)] = measured
    report(best, processes)
    purge_followups()

    payment_ids = [p.pk for payments in prepared for p in payments]
    merchants = set(
        Payment.objects.filter(pk__in=payment_ids).values_list("merchant_id", flat=True)
    )
    facts = check(payment_ids, merchants)
    print(
        f"\ncheck: {facts['payments']:,} payments, {facts['succeeded']:,} succeeded, "
        f"{facts['receipts']:,} receipts, {facts['succeeded_events']:,} 'succeeded' timeline "
        f"entries on {facts['payments_with_event']:,} payments, {facts['counted_on_links']:,} "
        f"counted on their links; {facts['shops']} shops, {facts['shops_with_gaps']} with a gap "
        f"or a duplicate in their receipt numbers: {'passed' if facts['ok'] else 'FAILED'}"
    )
    harness.record("finalized once, numbers gapless", kind="check", **facts)
    harness.write_json(args.json)
    if not facts["ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
