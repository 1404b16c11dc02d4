"""Fault injection, run by hand: what happens to emails and payments when a part of the stack dies.

    python bench/faults.py worker-kill       # SIGKILL a Celery worker while it sends 100 emails
    python bench/faults.py provider-down     # localstripe stopped during checkout, reconciliation
    python bench/faults.py redis-restart     # Redis restarted (nosave) while 50 payments finalize
    python bench/faults.py postgres-restart  # PostgreSQL restarted under HTTP load on gunicorn
    python bench/faults.py redis-down        # Redis killed for 3 s under HTTP load on gunicorn
    python bench/faults.py restore           # pg_dump, 20 payments, pg_restore, recovery

Not tests: scripts that print what they did and a PASS/FAIL line (exit status 1 on FAIL).
Everything runs on 127.0.0.1: PostgreSQL database `vpos_faults` (created and migrated on demand;
FAULTS_DATABASE_URL overrides), Redis db 8 (flushed at start and end), an aiosmtpd server and
localstripe on free loopback ports. The machine's PostgreSQL is never restarted: postgres-restart
starts a throwaway cluster of its own and restarts that one. See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

if TYPE_CHECKING:
    pass

DATABASE_URL = os.environ.get(
    "FAULTS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vpos_faults"
)
REDIS_PORT = 6379
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/8"
REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    str(REDIS_PORT),
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]


def setup(extra_env: dict[str, str] | None = None) -> None:
    """Environment shared with the worker subprocesses, then Django with migrations applied."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "vpos.settings.local",
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "PYTHONPATH": str(ROOT),
            **(extra_env or {}),
        }
    )
    harness._create_database(os.environ["DATABASE_URL"])
    import django

    django.setup()

    logging.getLogger("stripe").setLevel(logging.WARNING)  # one INFO line per API call
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    redis_cli("-n", "8", "flushdb")


def redis_cli(*args: str) -> str:
    result = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(REDIS_PORT), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return (result.stdout + result.stderr).strip()


def ensure_redis() -> bool:
    """Start Redis with the documented command unless it answers PING already."""
    if redis_cli("ping") == "PONG":
        return True
    start = subprocess.run(REDIS_START, capture_output=True, text=True, timeout=10, check=False)
    up = wait_until(lambda: redis_cli("ping") == "PONG", 10)
    print(f"  redis-server started (exit {start.returncode}), PING {'PONG' if up else 'FAILED'}")
    return up


def verdict(ok: bool, summary: str) -> int:
    print(f"{'PASS' if ok else 'FAIL'}: {summary}")
    return 0 if ok else 1


def wait_until(condition, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


# --- SMTP and worker ---------------------------------------------------------------------------


class SlowSmtp:
    """aiosmtpd handler: takes `delay` s to accept each message and records its recipients.

    By default a message counts once the 250 is about to go out. With `record_early` it counts as
    soon as DATA arrives, like a server that has stored the message but whose reply the client
    never reads: the window in which a killed sender causes a duplicate becomes `delay` wide.
    """

    def __init__(self, delay: float, record_early: bool = False) -> None:
        self.delay = delay
        self.record_early = record_early
        self.lock = threading.Lock()
        self.received: Counter[str] = Counter()

    async def handle_DATA(self, server, session, envelope):
        if self.record_early:
            self._record(envelope)
        await asyncio.sleep(self.delay)
        if not self.record_early:
            self._record(envelope)
        return "250 Message accepted for delivery"

    def _record(self, envelope) -> None:
        with self.lock:
            self.received.update(envelope.rcpt_tos)

    def total(self) -> int:
        with self.lock:
            return sum(self.received.values())


def start_smtp(delay: float, record_early: bool = False):

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # one INFO line per SMTP command
    handler = SlowSmtp(delay, record_early)
    controller = Controller(handler, hostname="127.0.0.1", port=harness.free_port())
    controller.start()
    return controller, handler


def start_worker(name: str, log: Path) -> subprocess.Popen:
    """`celery -A vpos worker -c 2 -l warning` on every queue (settings.CELERY_QUEUE_NAMES), in
    its own process group (killed as a whole)."""
    from django.conf import settings

    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "vpos",
                "worker",
                "-c",
                "2",
                "-l",
                "warning",
                "-n",
                f"{name}@%h",
                "-Q",
                ",".join(settings.CELERY_QUEUE_NAMES),
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_worker(worker: subprocess.Popen, timeout: float = 30) -> None:
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)  # warm shutdown
    try:
        worker.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


# --- 1. worker-kill ----------------------------------------------------------------------------


def worker_kill(count: int, delay: float, kill_after: float, record_early: bool) -> int:
    controller, smtp = start_smtp(delay, record_early)
    setup({"EMAIL_URL": f"smtp://127.0.0.1:{controller.port}"})
    from django.db import transaction

    from vpos.models import OutboxEmail
    from vpos.outbox import outbox_requeue_due, outbox_store

    run = uuid.uuid4().hex[:8]
    log = Path(tempfile.gettempdir()) / f"vpos-faults-worker-{run}.log"
    print(
        f"worker-kill: {count} outbox emails, SMTP on 127.0.0.1:{controller.port} accepting in "
        f"{delay:g} s each (counted {'on DATA' if record_early else 'at the 250'}), "
        f"broker {REDIS_URL}, worker log {log}"
    )
    addresses = [f"kill-{run}-{i}@example.com" for i in range(count)]
    with transaction.atomic():
        ids = [
            outbox_store(kind="faults", to=to, subject="Fault test", body_text="Hello.").pk
            for to in addresses
        ]
    rows = OutboxEmail.objects.filter(pk__in=ids)
    print(f"  enqueued {len(ids)} emails in one committed transaction")
    worker = start_worker(f"faults-a-{run}", log)
    second = None
    try:
        if not wait_until(lambda: smtp.total() > 0, 60):
            return verdict(False, "the first worker sent nothing within 60 s")
        time.sleep(kill_after)
        os.killpg(worker.pid, signal.SIGKILL)  # the parent and its pool processes at once
        worker.wait()
        time.sleep(0.5)  # let PostgreSQL notice the dead connections and drop their locks
        at_kill = smtp.total()
        sent_rows = rows.filter(status=OutboxEmail.Status.SENT).count()
        print(
            f"  SIGKILL to the worker's process group {kill_after:g} s after the first delivery: "
            f"{at_kill} messages received by SMTP, {sent_rows} rows marked sent"
        )
        second = start_worker(f"faults-b-{run}", log)
        started = time.monotonic()

        def queued() -> int:
            return rows.filter(status=OutboxEmail.Status.QUEUED).count()

        # The second worker drains what was still on the broker; the tasks the killed worker had
        # reserved stay unacked in Redis until the visibility timeout (3600 s in settings).
        last, still = queued(), time.monotonic()
        while queued() and time.monotonic() - still < 5 and time.monotonic() - started < 120:
            time.sleep(0.2)
            if (now := queued()) != last:
                last, still = now, time.monotonic()
        left = queued()
        requeued = outbox_requeue_due(grace=timedelta(0))  # the periodic sweep, without grace
        print(
            f"  second worker drained the broker: {left} rows still queued after it went quiet; "
            f"outbox_requeue_due(grace=0) re-enqueued {requeued}"
        )
        wait_until(lambda: queued() == 0, 60, 0.2)
        wait_until(lambda: smtp.total() >= count, 10, 0.2)
        time.sleep(1)  # anything else in flight
        elapsed = time.monotonic() - started
    finally:
        if second is not None:
            stop_worker(second)
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        controller.stop()
        redis_cli("-n", "8", "flushdb")  # the unacked copies of the killed worker's tasks

    statuses = Counter(rows.values_list("status", flat=True))
    lost = [a for a in addresses if smtp.received[a] == 0]
    duplicates = {a: n for a, n in smtp.received.items() if n > 1}
    extra = sum(n - 1 for n in duplicates.values())
    attempts = Counter(rows.values_list("attempts", flat=True))
    print(f"  after restart: {elapsed:.1f} s until all rows settled; row statuses {dict(statuses)}")
    print(f"  attempts per row: {dict(sorted(attempts.items()))}")
    print(
        f"  messages received {smtp.total()} for {count} emails: lost {len(lost)}, "
        f"received more than once {len(duplicates)} ({extra} extra copies) {sorted(duplicates)}"
    )
    ok = not lost and statuses.get(OutboxEmail.Status.SENT, 0) == count
    if ok:
        log.unlink(missing_ok=True)
    return verdict(
        ok,
        f"{count - len(lost)}/{count} delivered, {len(lost)} lost, {len(duplicates)} duplicated "
        "(at-least-once: an email in flight at the SIGKILL may go out twice)",
    )


# --- 2. provider-down --------------------------------------------------------------------------


def seed_link(run: str):
    from links.models import LinkKind, PaymentLink

    merchant = harness.new_shop(f"Faults {run}", "Faults S.r.l.")
    return PaymentLink.objects.create(
        merchant=merchant,
        amount=2500,
        currency="EUR",
        description="Fault test",
        reference=f"F-{run}",
        kind=LinkKind.REUSABLE,
        language="it",
    )


def card(api) -> str:
    return api.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    ).id


def provider_down() -> int:
    from tests.support.localstripe import LocalStripe

    port = harness.free_port()
    tmp = tempfile.TemporaryDirectory(prefix="vpos-faults-")
    store = Path(tmp.name) / "localstripe.pickle"
    setup({"STRIPE_API_BASE": f"http://127.0.0.1:{port}"})
    from django.db import transaction
    from django.utils import timezone, translation

    from links.models import Payment, PaymentStatus
    from links.payments import CheckoutError, checkout_attempt, payments_reconcile
    from links.providers import NewPayment, provider_for_payment

    run = uuid.uuid4().hex[:8]
    link = seed_link(run)
    failures: list[str] = []
    print(f"provider-down: localstripe on 127.0.0.1:{port}, store {store}, link {link.pk}")

    # (a) checkout while the provider is down
    ls = LocalStripe(port=port, store=store, from_scratch=True).start()
    method = card(ls.stripe_client())
    ls.stop()
    print(f"  (a) PaymentMethod {method} created, localstripe stopped")
    started = time.monotonic()
    try:
        with translation.override("en"):  # LANGUAGE_CODE is Italian; compare the English text
            checkout_attempt(link=link, payment_method=method, attempt_key=f"a-{run}")
        failures.append("checkout_attempt did not raise")
        print("  (a) checkout_attempt returned normally")
    except CheckoutError as error:
        print(
            f"  (a) CheckoutError ({error.code}) after {time.monotonic() - started:.2f} s: {error}"
        )
        if "could not be reached" not in str(error) or "Nothing was charged" not in str(error):
            failures.append(f"unexpected message {error}")
    attempt = Payment.objects.get(link=link, attempt_key=f"a-{run}")
    print(f"  (a) payment row: status {attempt.status}, provider_id {attempt.provider_id}")
    if attempt.status != PaymentStatus.FAILED or attempt.provider_id:
        failures.append("the attempt is not failed without a provider id")

    # (b) a confirmed PaymentIntent whose result we never recorded, reconciled across an outage
    ls = LocalStripe(port=port, store=store, from_scratch=False).start()
    method = card(ls.stripe_client())
    payment = Payment.objects.create(
        merchant=link.merchant,
        link=link,
        attempt_key=f"b-{run}",
        amount=link.amount,
        currency=link.currency,
        customer_email=f"customer-{run}@example.com",
    )
    provider = provider_for_payment(payment)
    created = provider.create_payment(
        NewPayment(
            amount=payment.amount,
            currency=payment.currency,
            payment_method=method,
            metadata={"vpos_payment": str(payment.public_id)},
            idempotency_key=f"faults-create-{payment.public_id}",
        )
    )
    Payment.objects.filter(pk=payment.pk).update(provider_id=created.id)
    confirmed = provider.confirm_payment(created.id, idempotency_key=f"faults-confirm-{run}")
    print(
        f"  (b) PaymentIntent {created.id} confirmed at the provider ({confirmed.state}); "
        "our payment left pending (browser closed before the answer)"
    )
    time.sleep(0.5)  # the store is pickled on write
    ls.stop()
    print("  (b) localstripe stopped")
    old = timezone.now() - timedelta(minutes=10)
    Payment.objects.filter(pk=payment.pk).update(updated_at=old)
    try:
        settled = payments_reconcile(older_than=timedelta(minutes=2))
        payment.refresh_from_db()
        print(f"  (b) payments_reconcile while down: settled {settled}, status {payment.status}")
        if payment.status not in (PaymentStatus.PENDING, PaymentStatus.PROCESSING):
            failures.append("the payment did not stay open while the provider was down")
    except Exception as error:  # noqa: BLE001 - the point is that it must not crash
        failures.append(f"payments_reconcile crashed: {error!r}")
        print(f"  (b) payments_reconcile crashed: {error!r}")
    ls = LocalStripe(port=port, store=store, from_scratch=False).start()
    print("  (b) localstripe restarted from its store file on the same port")
    try:
        with transaction.atomic():
            Payment.objects.filter(pk=payment.pk).update(updated_at=old)
        rounds = [payments_reconcile(older_than=timedelta(minutes=2)) for _ in range(2)]
        Payment.objects.filter(pk=payment.pk).update(updated_at=old)
        rounds.append(payments_reconcile(older_than=timedelta(minutes=2)))
    finally:
        ls.stop()
        tmp.cleanup()
        redis_cli("-n", "8", "flushdb")
    payment.refresh_from_db()
    succeeded_events = payment.events.filter(kind="succeeded").count()
    receipts = type(payment).objects.filter(pk=payment.pk, receipt__isnull=False).count()
    print(
        f"  (b) payments_reconcile after restart, 3 rounds: settled {rounds}; status "
        f"{payment.status}, 'succeeded' events {succeeded_events}, receipts {receipts}"
    )
    if payment.status != PaymentStatus.SUCCEEDED or succeeded_events != 1 or receipts != 1:
        failures.append("the payment was not settled exactly once")
    succeeded = Payment.objects.filter(link=link, status=PaymentStatus.SUCCEEDED).count()
    print(f"  succeeded payments on the link: {succeeded} (expected 1, the one from (b))")
    if succeeded != 1:
        failures.append(f"{succeeded} succeeded payments on the link")
    return verdict(not failures, "; ".join(failures) or "nothing charged while down, settled once")


# --- 3. redis-restart --------------------------------------------------------------------------


def redis_restart(count: int) -> int:
    controller, smtp = start_smtp(0.0)
    setup({"EMAIL_URL": f"smtp://127.0.0.1:{controller.port}"})
    from links.models import Payment
    from links.payments import payment_apply
    from receipts.tasks import payment_followups
    from vpos.models import OutboxEmail

    run = uuid.uuid4().hex[:8]
    link = seed_link(run)
    payments = harness.pending_payments(link, prefix=f"redis-{run}", count=count)
    print(f"redis-restart: {count} payments finalized with payment_apply, broker {REDIS_URL}")
    errors: Counter[str] = Counter()

    def finalize() -> None:
        for payment in payments:
            paid = harness.provider_succeeded(payment)
            try:
                payment_apply(payment_id=payment.pk, provider_payment=paid, source="faults")
            except Exception as error:  # noqa: BLE001 - counted and reported
                errors[type(error).__name__] += 1
            time.sleep(0.05)

    thread = threading.Thread(target=finalize)
    thread.start()
    try:
        time.sleep(0.6)
        print(f"  redis-cli shutdown nosave: {redis_cli('shutdown', 'nosave') or 'ok'}")
        time.sleep(1.0)
    finally:
        ensure_redis()
    thread.join(timeout=120)
    ids = [p.pk for p in payments]
    qs = Payment.objects.filter(pk__in=ids)
    print(
        f"  payment_apply: {qs.filter(status='succeeded').count()} succeeded, exceptions raised to "
        f"the caller after commit: {dict(errors) or 'none'}"
    )
    queued_tasks = redis_cli("-n", "8", "llen", "default")
    undone = qs.filter(followups_done_at__isnull=True).count()
    print(f"  follow-up tasks on the broker: {queued_tasks}; payments without follow-ups: {undone}")

    log = Path(tempfile.gettempdir()) / f"vpos-faults-worker-{run}.log"
    worker = start_worker(f"faults-r-{run}", log)
    try:
        wait_until(lambda: redis_cli("-n", "8", "llen", "default") == "0", 60, 0.5)
        time.sleep(3)
        # payments_followups_sweep without its 2-minute grace: the same query, run now.
        missing = list(
            qs.filter(status="succeeded", followups_done_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
        print(f"  worker drained the broker; follow-ups swept now for {len(missing)} payments")
        for payment_id in missing:
            payment_followups.delay(payment_id)
        wait_until(lambda: not qs.filter(followups_done_at__isnull=True).exists(), 60, 0.5)
        addresses = [p.customer_email for p in payments]
        wait_until(lambda: all(smtp.received[a] for a in addresses), 60, 0.5)
        time.sleep(1)
    finally:
        stop_worker(worker)
        controller.stop()
        redis_cli("-n", "8", "flushdb")
    rows = Counter(
        OutboxEmail.objects.filter(kind="payment_confirmation", to_email__in=addresses).values_list(
            "to_email", flat=True
        )
    )
    not_done = qs.filter(followups_done_at__isnull=True).count()
    lost = [a for a in addresses if smtp.received[a] == 0]
    twice = [a for a in addresses if smtp.received[a] > 1 or rows[a] > 1]
    print(
        f"  confirmation outbox rows {sum(rows.values())}, emails received "
        f"{sum(smtp.received[a] for a in addresses)} for {count} payments; follow-ups not done "
        f"{not_done}; lost {len(lost)}, more than once {len(twice)}"
    )
    pong = redis_cli("ping")
    print(f"  Redis at the end: PING -> {pong}")
    ok = pong == "PONG" and not lost and not twice and not_done == 0
    if ok:
        log.unlink(missing_ok=True)
    return verdict(ok, f"{count - len(lost)}/{count} confirmations, {len(twice)} duplicated")


# --- 4. postgres-restart -----------------------------------------------------------------------

PG_BIN = Path("/usr/lib/postgresql/15/bin")
RECOVERY_SECONDS = 5.0  # "within a few seconds" of PostgreSQL accepting connections again
OUTCOMES = ("2xx", "500", "503", "other", "conn", "timeout")


class ThrowawayPostgres:
    """A PostgreSQL cluster of our own: temporary directory, free loopback port, trust auth.

    The machine's server on 5432 is shared with test suites and benchmarks, so it is never
    restarted; this one is, and is removed on exit whatever happened. PostgreSQL refuses to run as
    root, so initdb and pg_ctl run as `postgres`, which owns the directory. fsync is off: the
    scenario is about connections, not durability.
    """

    def __init__(self) -> None:
        self.port = harness.free_port()
        self.root = Path()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / program), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode:
            raise RuntimeError(f"{program} {' '.join(args[-3:])}: {result.stderr.strip()}")

    def pg_ctl(self, *args: str) -> None:
        """`start`, `stop -m fast`, `restart -m fast`, ...; returns once done (`-w`)."""
        data, log = self.root / "data", self.root / "server.log"
        self._run("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "30", *args)

    def __enter__(self) -> ThrowawayPostgres:
        self.root = Path(tempfile.mkdtemp(prefix="vpos-faults-pg-"))
        try:
            sockets = self.root / "sockets"
            sockets.mkdir()
            for path in (self.root, sockets):
                shutil.chown(path, "postgres", "postgres")
            data = self.root / "data"
            self._run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
            with (data / "postgresql.conf").open("a") as conf:
                conf.write(
                    f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{sockets}'\nfsync = off\n"
                )
            self.pg_ctl("start")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if (self.root / "data" / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Point file descriptor 2 at `path`, for this process and the children started meanwhile:
    gunicorn's workers write a warning per failed readiness check while the database is down."""
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def gunicorn_pids(base: str) -> set[int]:
    """The gunicorn master and workers serving `base` (workers keep the master's command line)."""
    bind = base.removeprefix("http://").encode()
    pids = set()
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and bind in (proc / "cmdline").read_bytes().split(b"\0"):
                pids.add(int(proc.name))
    return pids


@dataclass
class Hit:
    """One request: when it started and ended (seconds into the load), what, how it ended."""

    started: float
    ended: float
    kind: str
    status: int  # 0: no HTTP answer at all
    error: str = ""

    @property
    def outcome(self) -> str:
        if not self.status:
            return "timeout" if self.error == "TimeoutError" else "conn"
        if 200 <= self.status < 300:
            return "2xx"
        return str(self.status) if self.status in (500, 503) else "other"


class HttpLoad:
    """`clients` threads, each requesting the targets in turn on a new connection (gunicorn's
    sync workers do not keep connections alive) for `seconds`. Unlike wrk, every outcome is kept
    with its time, so errors can be counted per second and per page."""

    def __init__(
        self, base: str, targets: dict[str, tuple[str, dict[str, str]]], clients: int
    ) -> None:
        self.base = base
        self.targets = targets
        self.clients = clients
        self.hits: list[Hit] = []
        self.samples: dict[tuple[str, int], str] = {}  # first body of each (page, error status)
        self.started = 0.0
        self._threads: list[threading.Thread] = []

    def now(self) -> float:
        return time.monotonic() - self.started

    def _client(self, first: int, seconds: float, hits: list[Hit]) -> None:
        kinds = list(self.targets)
        turn = first
        while (started := self.now()) < seconds:
            kind = kinds[turn % len(kinds)]
            turn += 1
            path, headers = self.targets[kind]
            try:
                status, body = http_request(self.base, path, headers)
            except (OSError, http.client.HTTPException) as error:
                hits.append(Hit(started, self.now(), kind, 0, type(error).__name__))
                continue
            hits.append(Hit(started, self.now(), kind, status))
            if status >= 300:
                self.samples.setdefault((kind, status), repr(body[:100]))

    def start(self, seconds: float) -> None:
        self.started = time.monotonic()
        per_client: list[list[Hit]] = [[] for _ in range(self.clients)]
        self._threads = [
            threading.Thread(target=self._client, args=(i, seconds, hits), daemon=True)
            for i, hits in enumerate(per_client)
        ]
        for thread in self._threads:
            thread.start()
        self._per_client = per_client

    def join(self) -> list[Hit]:
        for thread in self._threads:
            thread.join()
        self.hits = sorted((h for hits in self._per_client for h in hits), key=lambda h: h.started)
        return self.hits


def print_per_second(hits: list[Hit], events: dict[str, float]) -> None:
    print(f"  {'s':>4}" + "".join(f"{name:>8}" for name in OUTCOMES) + "   events")
    for second in range(int(hits[-1].started) + 1):
        counts = Counter(h.outcome for h in hits if int(h.started) == second)
        notes = ", ".join(f"{name} at {t:.2f} s" for name, t in events.items() if int(t) == second)
        print(f"  {second:>4}" + "".join(f"{counts[name]:>8}" for name in OUTCOMES) + f"   {notes}")


def print_per_page(label: str, hits: list[Hit], kinds: list[str]) -> None:
    print(f"  {label}:")
    for kind in kinds:
        counts = Counter(h.outcome for h in hits if h.kind == kind)
        print(f"    {kind:<10} " + ", ".join(f"{n} {name}" for name, n in sorted(counts.items())))


def http_request(base: str, path: str, headers: dict[str, str], body: str = "") -> tuple[int, str]:
    """Status and decoded body of a GET, or of a POST when there is a body, on a new connection
    (gunicorn's sync workers close it after each response anyway); OSError when nothing answers."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("POST" if body else "GET", path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def postgres_restart(seconds: float, restart_at: float, down: float, clients: int) -> int:
    """Under HTTP load, stop the throwaway PostgreSQL for `down` s (0: `pg_ctl restart -m fast`),
    then check that gunicorn's workers answer every request again, without being restarted."""
    with ThrowawayPostgres() as pg:
        # bench.settings, as gunicorn: the session cookie made here must be valid there.
        setup(
            {
                "DATABASE_URL": pg.url("vpos_faults"),
                "DJANGO_SETTINGS_MODULE": "bench.settings",
                "RATELIMIT_CHECKOUT": "100000000/60",  # one client IP
            }
        )
        return _postgres_restart(pg, seconds, restart_at, down, clients)


def _postgres_restart(
    pg: ThrowawayPostgres, seconds: float, restart_at: float, down: float, clients: int
) -> int:
    from django.db import close_old_connections
    from django.urls import reverse

    from bench.backoffice import browser_cookies
    from integrations.api_keys import api_key_create
    from integrations.models import ApiKey
    from links.models import PaymentLink, PaymentStatus
    from links.payments import payment_apply
    from receipts.models import Receipt

    run = uuid.uuid4().hex[:8]
    link = seed_link(run)
    shop = link.merchant
    _key, raw_key = api_key_create(
        merchant=shop, name="faults", scope=ApiKey.Scope.READ_WRITE, actor=None
    )
    payment = harness.pending_payments(link, prefix=f"pg-{run}", count=1)[0]
    targets = {
        "checkout": (f"/pay/{link.token}/", {}),
        "readyz": ("/readyz", {}),
        "bare view": ("/bench/bare/", {}),
        "dashboard": (
            reverse("links:dashboard", args=[shop.public_id]),
            # The session cookie alone: the page is rendered from the database every time.
            {"Cookie": browser_cookies(shop)[1]},
        ),
    }
    how = f"stopped (-m fast) for {down:g} s" if down else "pg_ctl restart -m fast"
    print(
        f"postgres-restart: throwaway PostgreSQL 15 on 127.0.0.1:{pg.port} ({pg.root}), "
        f"gunicorn 2 workers, {clients} clients for {seconds:g} s on {', '.join(targets)}; "
        f"PostgreSQL {how} at {restart_at:g} s"
    )
    log = Path(tempfile.gettempdir()) / f"vpos-faults-gunicorn-{run}.log"
    events: dict[str, float] = {}
    with stderr_to(log), harness.gunicorn(workers=2) as base:
        first = {
            kind: http_request(base, path, headers)[0] for kind, (path, headers) in targets.items()
        }
        if any(status != 200 for status in first.values()):
            return verdict(False, f"not every page answered 200 before the restart: {first}")
        load = HttpLoad(base, targets, clients)
        pids = gunicorn_pids(base)
        load.start(seconds)
        time.sleep(max(restart_at - load.now(), 0))
        events["stop"] = load.now()
        if down:
            pg.pg_ctl("stop", "-m", "fast")
            events["down"] = load.now()
            time.sleep(down)
            events["start"] = load.now()
            pg.pg_ctl("start")
        else:
            pg.pg_ctl("restart", "-m", "fast")
        events["accepting"] = load.now()
        load.join()
        crashed = pids != gunicorn_pids(base)
        reference = f"after-{run}"
        status, answer = http_request(
            base,
            "/api/v1/links",
            {
                "Authorization": f"Bearer {raw_key}",
                "Content-Type": "application/json",
                "Idempotency-Key": reference,
            },
            json.dumps(
                {"amount": 1000, "currency": "EUR", "description": "After", "reference": reference}
            ),
        )
    close_old_connections()  # what Django does per request and Celery per task: a health check
    created = PaymentLink.objects.filter(merchant=shop, reference=reference).exists()
    payment = payment_apply(
        payment_id=payment.pk, provider_payment=harness.provider_succeeded(payment), source="faults"
    )
    redis_cli("-n", "8", "flushdb")  # the follow-up task queued by payment_apply
    receipt = Receipt.objects.filter(payment=payment).values_list("number", flat=True).first()

    failures = report_restart(load, events, list(targets))
    print(
        f"  gunicorn processes {sorted(pids)}: {'CHANGED' if crashed else 'the same'} at the end; "
        f"log {log}: {log.stat().st_size} bytes, "
        f"{log.read_text(errors='replace').count('WORKER TIMEOUT')} worker timeouts"
    )
    print(
        f"  after the load: POST /api/v1/links -> {status} "
        f"{'(link in the database)' if created else answer[:200]}; payment_apply on a payment "
        f"pending since before the restart -> {payment.status}, receipt {receipt}"
    )
    if crashed:
        failures.append("gunicorn workers were replaced")
    if status != 201 or not created or payment.status != PaymentStatus.SUCCEEDED or not receipt:
        failures.append("a write after the restart failed")
    if not failures:
        log.unlink(missing_ok=True)
    return verdict(
        not failures,
        "; ".join(failures)
        or "clean 5xx/503 while down, every request 2xx once PostgreSQL was back, "
        "same gunicorn workers, writes recorded",
    )


def report_restart(load: HttpLoad, events: dict[str, float], kinds: list[str]) -> list[str]:
    """Print the outcomes per second and per page; return what breaks the recovery criteria."""
    hits, stop, up = load.hits, events["stop"], events["accepting"]
    print_per_second(hits, events)
    outage = [h for h in hits if h.ended >= stop and h.started < up]  # in flight or started
    after = [h for h in hits if h.started >= up]
    print_per_page(f"while down ({stop:.2f}-{up:.2f} s)", outage, kinds)
    print_per_page(f"after {up:.2f} s", after, kinds)
    for kind in kinds:
        failed = [h.started for h in hits if h.kind == kind and h.outcome != "2xx"]
        if failed:
            print(f"    {kind:<10} last failure started {failed[-1] - up:+.2f} s from accepting")
    for (kind, code), sample in sorted(load.samples.items()):
        print(f"  first {code} of {kind}: {sample}")
    before_failed = sum(h.outcome != "2xx" for h in hits if h.ended < stop)
    failed_after = [h for h in after if h.outcome != "2xx"]
    recovery = max((h.started - up for h in failed_after), default=0.0)
    settled = Counter(h.kind for h in after if h.started >= up + RECOVERY_SECONDS)
    slowest = max((h.ended - h.started for h in outage), default=0.0)
    print(
        f"  {len(hits)} requests ({len(hits) / hits[-1].started:.0f}/s); failed before the "
        f"restart {before_failed}, while down {sum(h.outcome != '2xx' for h in outage)}/"
        f"{len(outage)} (slowest {slowest * 1000:.0f} ms), after it {len(failed_after)}/{len(after)}"
    )
    failures = []
    if before_failed:
        failures.append(f"{before_failed} failures before the restart")
    if not any(h.status >= 500 for h in outage):
        failures.append("no request failed while PostgreSQL was down: the outage was not seen")
    if no_answer := sum(not h.status for h in hits):
        failures.append(f"{no_answer} requests got no HTTP answer")
    if any(h.kind == "readyz" and h.status not in (200, 503) for h in outage):
        failures.append("/readyz answered something else than 200 or 503 while down")
    if recovery > RECOVERY_SECONDS or not all(settled[kind] for kind in kinds):
        failures.append(
            f"not recovered within {RECOVERY_SECONDS:g} s: last failure {recovery:.2f} s after"
        )
    return failures


# --- 5. redis-down ----------------------------------------------------------------------------


class ThrowawayRedis:
    """A redis-server of our own on a free loopback port, without persistence: stopped and
    started again by the scenario, never the machine's."""

    def __init__(self) -> None:
        self.port = harness.free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        if not wait_until(self.answers, 10):
            raise RuntimeError(f"redis-server on {self.port} did not start")

    def answers(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.port, socket_timeout=1).ping()
        except redis.exceptions.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def __enter__(self) -> ThrowawayRedis:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def http_headers(base: str, path: str) -> tuple[int, dict[str, str]]:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        connection.close()


def redis_down(seconds: float, stop_at: float, down: float, clients: int) -> int:
    """Under HTTP load, Redis (cache, rate limits, sessions' cache, broker) stops for `down` s:
    pages that need it answer 503 with Retry-After, never 500; all is well once it is back."""
    with ThrowawayRedis() as redis:
        setup(
            {
                "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
                "DJANGO_SETTINGS_MODULE": "bench.settings",
                "RATELIMIT_CHECKOUT": "100000000/60",  # one client IP
            }
        )
        link = seed_link(uuid.uuid4().hex[:8])
        targets = {
            "checkout": (f"/pay/{link.token}/", {}),
            "readyz": ("/readyz", {}),
            "bare view": ("/bench/bare/", {}),
        }
        print(
            f"redis-down: throwaway redis-server on 127.0.0.1:{redis.port}, gunicorn 2 workers, "
            f"{clients} clients for {seconds:g} s on {', '.join(targets)}; Redis killed at "
            f"{stop_at:g} s for {down:g} s"
        )
        log = Path(tempfile.gettempdir()) / f"vpos-faults-redis-{redis.port}.log"
        events: dict[str, float] = {}
        with stderr_to(log), harness.gunicorn(workers=2) as base:
            load = HttpLoad(base, targets, clients)
            pids = gunicorn_pids(base)
            load.start(seconds)
            time.sleep(max(stop_at - load.now(), 0))
            events["stop"] = load.now()
            redis.stop()
            time.sleep(min(1.0, down / 2))
            probe = http_headers(base, targets["checkout"][0])
            time.sleep(max(down - min(1.0, down / 2), 0))
            redis.start()
            events["accepting"] = load.now()
            load.join()
            crashed = pids != gunicorn_pids(base)
    print(f"  checkout while Redis was down: {probe[0]}, Retry-After {probe[1].get('Retry-After')}")
    failures = report_restart(load, events, list(targets))
    if crashed:
        failures.append("gunicorn workers were replaced")
    if probe[0] != 503 or not probe[1].get("Retry-After"):
        failures.append("the checkout did not answer 503 with Retry-After while Redis was down")
    if fives := sum(h.status == 500 for h in load.hits):
        failures.append(f"{fives} answers were 500")
    if not failures:
        log.unlink(missing_ok=True)
    return verdict(
        not failures,
        "; ".join(failures)
        or "503 with Retry-After while Redis was down, never 500, every "
        "request 2xx once it was back, same gunicorn workers",
    )


# --- 6. restore --------------------------------------------------------------------------------

RESTORE_DB = "vpos_faults_restore"


def pg_tool(*args: str) -> float:
    """Run pg_dump / pg_restore / dropdb / createdb against the machine's server; seconds taken."""
    started = time.monotonic()
    subprocess.run(
        [*args, "-h", "127.0.0.1", "-U", "postgres"], check=True, capture_output=True, timeout=600
    )
    return time.monotonic() - started


def restore(before: int, after: int, refunds: int) -> int:
    """Dump, take `after` payments (and `refunds` refunds) that the dump does not hold, restore
    the dump, run recover_from_provider: every payment present once, no receipt number reused."""
    from tests.support.localstripe import LocalStripe

    port = harness.free_port()
    ls = LocalStripe(port=port).start()
    url = f"postgres://postgres@127.0.0.1:5432/{RESTORE_DB}"
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", RESTORE_DB])
    setup(
        {
            "DATABASE_URL": url,
            "STRIPE_API_BASE": f"http://127.0.0.1:{port}",
            "STRIPE_SECRET_KEY": "sk_test_faults",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_faults",
        }
    )
    try:
        return _restore(ls, before, after, refunds)
    finally:
        ls.stop()
        redis_cli("-n", "8", "flushdb")


def _restore(ls, before: int, after: int, refunds: int) -> int:
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    from links.models import Payment, Refund
    from links.payments import checkout_attempt
    from links.refunds import refund_create
    from receipts.models import Receipt, RefundNote
    from vpos.celery import app

    app.conf.task_always_eager = True  # follow-ups (and the numbers sent to Stripe) run inline
    for noisy in ("weasyprint", "celery", "links", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    api = ls.stripe_client()
    link = seed_link(uuid.uuid4().hex[:8])
    start = timezone.now() - timedelta(minutes=1)

    def pay(n: int) -> list:
        made = []
        for _ in range(n):
            result = checkout_attempt(
                link=link, payment_method=card(api), attempt_key=uuid.uuid4().hex
            )
            made.append(Payment.objects.select_related("receipt").get(pk=result.payment.pk))
        return made

    kept = pay(before)
    dump = Path(tempfile.gettempdir()) / f"{RESTORE_DB}.dump"
    dump_s = pg_tool("pg_dump", "-Fc", "-f", str(dump), RESTORE_DB)
    lost = pay(after)
    for payment in (lost + kept)[:refunds]:
        refund_create(payment=payment, amount=100)
    issued = {p.public_id: p.receipt.number for p in kept + lost}
    notes_issued = set(RefundNote.objects.values_list("number", flat=True))
    print(
        f"restore: localstripe on 127.0.0.1:{ls.port}; {before} payments, pg_dump "
        f"({dump_s:.2f} s), then {after} payments and {refunds} refunds the dump does not hold"
    )
    connections.close_all()
    restore_s = pg_tool("dropdb", RESTORE_DB)
    restore_s += pg_tool("createdb", RESTORE_DB)
    restore_s += pg_tool("pg_restore", "-d", RESTORE_DB, str(dump))
    dump.unlink()
    print(
        f"  restored in {restore_s:.2f} s: {Payment.objects.count()} payments, "
        f"{Refund.objects.count()} refunds in the database"
    )
    started = time.monotonic()
    call_command("recover_from_provider", "--since", start.isoformat())
    recover_s = time.monotonic() - started
    call_command("recover_from_provider", "--since", start.isoformat())
    fresh = pay(2)  # the shop takes payments again
    receipts = list(Receipt.objects.values_list("payment__public_id", "number"))
    numbers = [number for _, number in receipts]
    reused = [
        number
        for public_id, number in receipts
        if number in issued.values() and issued.get(public_id) != number
    ]
    notes = list(RefundNote.objects.values_list("number", flat=True))
    at_stripe = {pi.id for pi in api.v1.payment_intents.list({"limit": 100}).auto_paging_iter()}
    in_db = list(Payment.objects.values_list("provider_id", flat=True))
    stripe_refunds = sum(len(api.v1.refunds.list({"payment_intent": pi}).data) for pi in at_stripe)
    print(
        f"  recover_from_provider: {recover_s:.2f} s; then 2 new payments. PaymentIntents at "
        f"Stripe {len(at_stripe)}, payments in the database {len(in_db)} "
        f"({len(set(in_db))} distinct); refunds at Stripe {stripe_refunds}, in the database "
        f"{Refund.objects.count()}; receipts {len(numbers)} ({len(set(numbers))} distinct "
        f"numbers), numbers issued before the restore given to another payment: {len(reused)}; "
        f"refund notes {len(notes)}, reusing a lost number: "
        f"{len(set(notes) & (notes_issued - set(notes)))}"
    )
    failures = []
    if sorted(in_db) != sorted(at_stripe) or len(set(in_db)) != len(in_db):
        failures.append("payments in the database differ from Stripe's")
    if len(set(numbers)) != len(numbers) or reused:
        failures.append("a receipt number was issued twice")
    if Refund.objects.count() != stripe_refunds or len(set(notes)) != len(notes):
        failures.append("refunds differ from Stripe's")
    if len(fresh) != 2 or any(p.receipt.number in issued.values() for p in fresh):
        failures.append("a payment after the recovery reused a number")
    return verdict(
        not failures,
        "; ".join(failures)
        or f"every payment once ({len(in_db)}), every refund once, no receipt number reused",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="fault", required=True)
    kill = sub.add_parser("worker-kill")
    kill.add_argument("--emails", type=int, default=100)
    kill.add_argument("--smtp-delay", type=float, default=0.2)
    kill.add_argument("--kill-after", type=float, default=1.0)
    kill.add_argument(
        "--record-early",
        action="store_true",
        help="count a message when DATA arrives, before the slow 250 (widens the duplicate window)",
    )
    sub.add_parser("provider-down")
    restart = sub.add_parser("redis-restart")
    restart.add_argument("--payments", type=int, default=50)
    pg = sub.add_parser("postgres-restart")
    pg.add_argument("--seconds", type=float, default=24, help="length of the load")
    pg.add_argument("--restart-at", type=float, default=8, help="seconds into the load")
    pg.add_argument(
        "--down", type=float, default=3, help="seconds stopped; 0: pg_ctl restart -m fast"
    )
    pg.add_argument("--clients", type=int, default=6, help="concurrent client threads")
    down = sub.add_parser("redis-down")
    down.add_argument("--seconds", type=float, default=16, help="length of the load")
    down.add_argument("--stop-at", type=float, default=5, help="seconds into the load")
    down.add_argument("--down", type=float, default=3, help="seconds Redis stays away")
    down.add_argument("--clients", type=int, default=6, help="concurrent client threads")
    again = sub.add_parser("restore")
    again.add_argument("--before", type=int, default=5, help="payments in the dump")
    again.add_argument("--after", type=int, default=20, help="payments after the dump")
    again.add_argument("--refunds", type=int, default=5, help="refunds after the dump")
    args = parser.parse_args()
    if args.fault == "worker-kill":
        code = worker_kill(args.emails, args.smtp_delay, args.kill_after, args.record_early)
    elif args.fault == "provider-down":
        code = provider_down()
    elif args.fault == "redis-restart":
        code = redis_restart(args.payments)
    elif args.fault == "redis-down":
        code = redis_down(args.seconds, args.stop_at, args.down, args.clients)
    elif args.fault == "restore":
        code = restore(args.before, args.after, args.refunds)
    else:
        code = postgres_restart(args.seconds, args.restart_at, args.down, args.clients)
    sys.exit(code)


if __name__ == "__main__":
    main()
