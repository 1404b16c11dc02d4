"""Notifications: what a QR code costs, and how long a customer waits for the confirmation email.

    python bench/notifications.py [--codes 300] [--payments 200] [--rate 3] [--concurrency 2]
                                  [--json PATH]

(a) `links.qr.qr_svg` and `qr_png` per code, against the bare `qrcode.make(url)` in the same run.
(b) From `payment_apply` committing a succeeded payment to the customer's confirmation accepted by
    a loopback SMTP server (aiosmtpd), through a real Celery worker process on Redis (db 7):
    `payment_followups` (confirmation and notification rendered and stored; the receipt's PDF
    queued for the documents worker, which runs beside), then `outbox_send`. Baseline: a plain
    email stored with `outbox_store` and committed, through the same worker and server. No Stripe: the provider's answer is a `ProviderPayment` built here.

Needs PostgreSQL (BENCH_DATABASE_URL, default in bench/harness.py) and Redis on 127.0.0.1:6379.
Nothing here is a test. Bounded: each phase has a deadline, the whole run takes about 2 minutes.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import timeit
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.conf import settings  # lazy: read once harness has set Django up

from bench import harness

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
WAIT_SECONDS = 60  # for the last emails of a phase to arrive


# --- (a) QR codes ------------------------------------------------------------------------------


def bench_qr(codes: int) -> None:
    import qrcode

    from links.qr import qr_png, qr_svg

    url = "https://pay.example.com/pay/" + "x" * 32 + "/"  # a public URL's real length
    candidates = {
        "qrcode.make(url) (baseline)": lambda: qrcode.make(url),
        "links.qr.qr_svg(url)": lambda: qr_svg(url, title="QR code of the payment link"),
        "links.qr.qr_png(url)": lambda: qr_png(url),
    }
    best = dict.fromkeys(candidates, math.inf)
    for fn in candidates.values():
        fn()  # warm up
    for _ in range(3):  # interleaved rounds, best of each
        for name, fn in candidates.items():
            best[name] = min(best[name], timeit.timeit(fn, number=codes) / codes)
    baseline = best["qrcode.make(url) (baseline)"]
    print(f"(a) QR code generation, {codes} codes x 3 rounds, best round")
    print(f"  {'call':<32}{'ms/code':>10}{'ratio':>8}")
    for name, seconds in best.items():
        print(f"  {name:<32}{seconds * 1000:>10.2f}{seconds / baseline:>8.2f}")
        harness.record(
            name,
            kind="qr",
            ms_per_code=round(seconds * 1000, 3),
            ratio=round(seconds / baseline, 3),
        )


# --- (b) payment -> confirmation accepted ------------------------------------------------------


class Arrivals:
    """aiosmtpd handler: when each recipient's message was accepted (this process's clock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at: dict[str, float] = {}
        self.count: dict[str, int] = {}

    async def handle_DATA(self, server, session, envelope):
        now = time.perf_counter()
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.at.setdefault(rcpt, now)
                self.count[rcpt] = self.count.get(rcpt, 0) + 1
        return "250 Message accepted for delivery"

    def wait_for(self, addresses: list[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(a in self.at for a in addresses):
                    return True
            time.sleep(0.02)
        return False

    def wait_count(self, address: str, count: int, timeout: float) -> bool:
        """Until `address` has received `count` emails (the shop's one notification a payment)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.count.get(address, 0) >= count:
                    return True
            time.sleep(0.02)
        return False


def start_worker(
    concurrency: int, run: str, log: Path, *, app: str = "vpos", queues: str = ""
) -> subprocess.Popen:
    """A Celery worker of `app` on `queues` (default: every queue but documents)."""
    queues = queues or ",".join(q for q in settings.CELERY_QUEUE_NAMES if q != "documents")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "PYTHONPATH": str(harness.ROOT),
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                app,
                "worker",
                "-l",
                "warning",
                "-P",
                "prefork",
                "-c",
                str(concurrency),
                "-n",
                f"bench-{app}-{run}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-Q",
                queues,
            ],
            cwd=harness.ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_worker(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGTERM)  # warm shutdown: finishes the tasks it holds
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def paced(count: int, rate: float):
    """Yield 0..count-1 at `rate` per second (an arrival schedule, not back-to-back)."""
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        yield i


def plain_emails(run: str, count: int, rate: float) -> dict[str, float]:
    from django.db import transaction

    from vpos.outbox import outbox_store

    sent: dict[str, float] = {}
    for i in paced(count, rate):
        to = f"plain-{run}-{i}@example.com"
        with transaction.atomic():
            outbox_store(kind="bench", to=to, subject="Bench", body_text="A plain email.")
        sent[to] = time.perf_counter()
    return sent


def seed_shop(run: str):
    from links.models import LinkKind, PaymentLink
    from merchants.models import Membership, Role, User

    merchant = harness.new_shop("Bench notifications")
    owner = User.objects.create_user(email=f"owner-{run}@example.com", password=None)
    Membership.objects.create(user=owner, merchant=merchant, role=Role.OWNER)
    link = PaymentLink.objects.create(
        merchant=merchant,
        amount=1999,
        currency="EUR",
        description="Bench confirmation",
        reference="BENCH-1",
        kind=LinkKind.REUSABLE,
        language="it",
    )
    return link


def confirmations(
    run: str, count: int, rate: float
) -> tuple[dict[str, float], dict[str, float], list[float]]:
    from links.payments import payment_apply

    link = seed_shop(run)
    payments = harness.pending_payments(link, prefix=f"bench-{run}", count=count)
    finalized: dict[str, float] = {}
    finalized_wall: dict[str, float] = {}  # to compare with the database's created_at
    apply_ms: list[float] = []
    for i in paced(count, rate):
        payment = payments[i]
        paid = harness.provider_succeeded(payment)
        started = time.perf_counter()
        payment_apply(payment_id=payment.pk, provider_payment=paid, source="bench")
        done = time.perf_counter()  # committed; payment_followups is on the broker
        apply_ms.append((done - started) * 1000)
        finalized[payment.customer_email] = done
        finalized_wall[payment.customer_email] = time.time()
    return finalized, finalized_wall, apply_ms


def latencies(arrivals: Arrivals, sent: dict[str, float]) -> list[float]:
    return sorted((arrivals.at[to] - t) * 1000 for to, t in sent.items() if to in arrivals.at)


def p99(values: list[float]) -> float:
    return values[max(0, math.ceil(0.99 * len(values)) - 1)]


def stored_after(finalized_wall: dict[str, float]) -> list[float]:
    """ms from the commit to the confirmation's outbox row (payment_followups: rendering)."""
    from vpos.models import OutboxEmail

    rows = OutboxEmail.objects.filter(
        kind="payment_confirmation", to_email__in=list(finalized_wall)
    )
    return sorted(
        (created.timestamp() - finalized_wall[to]) * 1000
        for to, created in rows.values_list("to_email", "created_at")
    )


def bench_confirmations(payments: int, baseline: int, rate: float, concurrency: int) -> None:
    from aiosmtpd.controller import Controller
    from django.conf import settings

    from vpos.celery import app

    run = uuid.uuid4().hex[:8]
    arrivals = Arrivals()
    controller = Controller(arrivals, hostname="127.0.0.1", port=int(os.environ["BENCH_SMTP_PORT"]))
    controller.start()
    app.control.purge()  # db 7 is ours: nothing left over from an interrupted run
    log = Path(f"/tmp/vpos-bench-worker-{run}.log")  # noqa: S108 - a log for a failed run
    worker = start_worker(concurrency, run, log)
    # The receipts' PDFs on the documents worker, as compose.yaml runs them: apart from the emails.
    renderer = start_worker(
        1, run, log.with_suffix(".documents.log"), app="vpos.documents_worker", queues="documents"
    )
    try:
        from vpos.outbox import outbox_store

        warm = f"warmup-{run}@example.com"
        outbox_store(kind="bench", to=warm, subject="Warm-up", body_text="Ready?")
        if not arrivals.wait_for([warm], 60):
            raise SystemExit("the worker did not deliver the warm-up email within 60 s")

        plain = plain_emails(run, baseline, rate)
        arrivals.wait_for(list(plain), WAIT_SECONDS)
        finalized, finalized_wall, apply_ms = confirmations(run, payments, rate)
        arrivals.wait_for(list(finalized), WAIT_SECONDS)
        arrivals.wait_count(f"owner-{run}@example.com", len(finalized), WAIT_SECONDS)
    finally:
        stop_worker(worker)
        stop_worker(renderer)
        controller.stop()

    base, conf = latencies(arrivals, plain), latencies(arrivals, finalized)
    stored = stored_after(finalized_wall)
    twice = sum(1 for to in finalized if arrivals.count.get(to, 0) > 1)
    notified = arrivals.count.get(f"owner-{run}@example.com", 0)
    print()
    print(
        f"(b) commit -> email accepted by aiosmtpd, real Celery worker ({concurrency} processes, "
        f"prefork) on {settings.CELERY_BROKER_URL}, {rate:g} per second"
    )
    print(f"  {'path':<46}{'n':>5}{'median ms':>11}{'p99 ms':>9}{'max ms':>9}{'lost':>6}")
    rows = (
        ("outbox_store, plain email (baseline)", base, plain),
        ("payment_apply -> customer confirmation", conf, finalized),
    )
    for name, values, sent in rows:
        lost = len(sent) - len(values)
        print(
            f"  {name:<46}{len(values):>5}{statistics.median(values):>11.1f}{p99(values):>9.1f}"
            f"{values[-1]:>9.1f}{lost:>6}"
        )
        harness.record(
            name,
            kind="email",
            rate=rate,
            sent=len(sent),
            received=len(values),
            lost=lost,
            median_ms=round(statistics.median(values), 1),
            p99_ms=round(p99(values), 1),
            max_ms=round(values[-1], 1),
        )
    print(
        f"  ratio of medians confirmation / baseline: {statistics.median(conf) / statistics.median(base):.2f}"
    )
    print(
        f"  of which payment_followups (2 emails rendered, stored): median "
        f"{statistics.median(stored):.1f} ms, p99 {p99(stored):.1f} ms"
    )
    print(
        f"  payment_apply itself (lock, finalize, receipt number, commit): median "
        f"{statistics.median(apply_ms):.1f} ms, p99 {p99(sorted(apply_ms)):.1f} ms"
    )
    print(
        f"  confirmations received more than once: {twice}; shop notifications received: "
        f"{notified} of {len(finalized)}"
    )
    harness.record(
        "confirmation emails, duplicates and notifications",
        kind="email_check",
        duplicates=twice,
        shop_notifications=notified,
        payments=len(finalized),
        followups_median_ms=round(statistics.median(stored), 1),
        payment_apply_median_ms=round(statistics.median(apply_ms), 1),
    )
    if len(conf) < len(finalized) or len(base) < len(plain):
        print(f"  emails missing after {WAIT_SECONDS} s: see the worker's log, {log}")
    else:
        log.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--codes", type=int, default=300)
    parser.add_argument("--payments", type=int, default=200)
    parser.add_argument("--baseline", type=int, default=100, help="plain emails for the baseline")
    parser.add_argument(
        "--rate", type=float, default=3.0, help="payments (and baseline emails) per second"
    )
    parser.add_argument("--concurrency", type=int, default=2)
    harness.add_json_argument(parser)
    args = parser.parse_args()
    smtp_port = harness.free_port()
    # Read by the settings, here and in the worker process: the broker and the mail server.
    os.environ["REDIS_URL"] = REDIS_URL
    os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{smtp_port}"
    os.environ["BENCH_SMTP_PORT"] = str(smtp_port)
    os.environ.setdefault("SITE_URL", "https://pay.example.com")
    harness.setup_django()
    bench_qr(args.codes)
    bench_confirmations(args.payments, args.baseline, args.rate, args.concurrency)
    harness.write_json(args.json)


if __name__ == "__main__":
    main()
