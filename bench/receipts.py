"""Receipt PDF rendering: speed against bare WeasyPrint, and memory over many renders.

    python bench/receipts.py [--renders 1000] [--budget 120] [--rounds 7] [--per-round 10]
                             [--json PATH]

Goals: `receipts.services.render_pdf(receipt_html(receipt))` takes at most 1.2x the time of a
bare `weasyprint.HTML(string=same_html).write_pdf()` in the same process, and resident memory
stays under 100 MiB after 1,000 renders. Ours also writes PDF/A-3b, so the bare render is timed
with and without `pdf_variant="pdf/a-3b"`.

Memory is measured in fresh processes, each stopping at its time budget. Ours is set up as the
documents worker is deployed: its settings (vpos.documents_worker), the tasks' modules its Celery
app imports at start, PostgreSQL (`BENCH_DATABASE_URL`, as bench/harness.py; a new shop each run)
and Redis; bare is WeasyPrint alone. The media directory is thrown away. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib() -> float:
    """Current resident set size (VmRSS), in MiB."""
    return _status_mib("VmRSS")


def peak_rss_mib() -> float:
    """This process's peak resident set size (VmHWM), in MiB.

    Not getrusage's ru_maxrss: that survives exec, so a child would report its parent's peak.
    """
    return _status_mib("VmHWM")


def seed(count: int) -> list:
    """`count` receipts of one shop with a logo, a 22% VAT link and a card payment."""
    import secrets
    from datetime import UTC, datetime, timedelta

    from django.core.files.base import ContentFile
    from PIL import Image

    from links.models import Payment, PaymentLink
    from links.payments import payment_apply
    from merchants.models import Merchant

    buffer = io.BytesIO()
    Image.new("RGB", (360, 120), (13, 110, 253)).save(buffer, format="PNG")
    merchant = Merchant.objects.create(
        name="Bottega Bench",
        legal_name="Bottega Bench di Rossi S.r.l.",
        vat_number="01234560017",
        tax_code="RSSMRA80A01F205X",
        address="Via Roma 1",
        postal_code="20121",
        city="Milano",
        province="MI",
        contact_email="bench@example.com",
        pec="bench@pec.example.com",
        sdi_code="ABC1234",
    )
    merchant.logo.save("logo.png", ContentFile(buffer.getvalue()), save=True)
    receipts = []
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    for i in range(count):
        link = PaymentLink.objects.create(
            merchant=merchant,
            amount=12200 + i,
            currency="EUR",
            language="it" if i % 2 else "en",
            description=f"Restauro sedia impagliata n. {i}",
            reference=f"ORD-{i:05d}",
            vat_rate=22,
        )
        payment = Payment.objects.create(
            merchant=merchant,
            link=link,
            attempt_key=f"bench-{i}",
            amount=link.amount,
            currency="EUR",
            provider_id=f"pi_bench_{secrets.token_hex(8)}",
            customer_name="Cliente di prova",
            customer_email="cliente@example.com",
        )
        paid = harness.provider_succeeded(payment)
        from unittest import mock

        with mock.patch("django.utils.timezone.now", return_value=start + timedelta(hours=i)):
            payment = payment_apply(payment_id=payment.pk, provider_payment=paid, source="bench")
        receipts.append(payment.receipt)
    return receipts


def per_render_ms(render: Callable[[], bytes], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        render()
    return (time.perf_counter() - started) * 1000 / count


def speed(html: str, *, rounds: int, per_round: int) -> None:
    import weasyprint

    from receipts.services import font_config, render_pdf

    variants: dict[str, Callable[[], bytes]] = {
        "bare write_pdf()": lambda: weasyprint.HTML(string=html).write_pdf(),
        "bare write_pdf(pdf_variant='pdf/a-3b')": lambda: weasyprint.HTML(string=html).write_pdf(
            pdf_variant="pdf/a-3b"
        ),
        "render_pdf (shared fonts, PDF/A-3b)": lambda: render_pdf(html),
        "render_pdf minus PDF/A (shared fonts)": lambda: weasyprint.HTML(
            string=html, base_url=None
        ).write_pdf(font_config=font_config()),
    }
    for render in variants.values():
        render()  # warm up: font scan, imports
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):  # interleaved, so drift on the machine hits every variant alike
        for name, render in variants.items():
            timings[name].append(per_render_ms(render, per_round))
    best = {name: min(values) for name, values in timings.items()}
    median = {name: statistics.median(values) for name, values in timings.items()}
    print(f"\nspeed: {rounds} rounds x {per_round} renders each, ms per render (best / median)")
    for name in variants:
        print(f"  {name:<42} {best[name]:7.1f} / {median[name]:7.1f}")
    ours = "render_pdf (shared fonts, PDF/A-3b)"
    for baseline in ("bare write_pdf()", "bare write_pdf(pdf_variant='pdf/a-3b')"):
        print(
            f"  ratio render_pdf / {baseline:<38} best {best[ours] / best[baseline]:.2f}x"
            f"  median {median[ours] / median[baseline]:.2f}x   (goal <= 1.2x)"
        )
        harness.record(
            f"render_pdf / {baseline}",
            kind="render",
            ms_best=round(best[ours], 1),
            baseline_ms_best=round(best[baseline], 1),
            ratio_best=round(best[ours] / best[baseline], 3),
            ratio_median=round(median[ours] / median[baseline], 3),
        )
    no_pdfa = "render_pdf minus PDF/A (shared fonts)"
    print(
        f"  cost of PDF/A-3b in render_pdf: best {best[ours] / best[no_pdfa]:.2f}x"
        f"  median {median[ours] / median[no_pdfa]:.2f}x"
    )


def memory(label: str, render: Callable[[int], bytes], *, renders: int, budget: float) -> None:
    """Resident memory along `renders` calls of `render(i)`, after one warm-up call."""
    checkpoints = {1, 10, 50, 100, 250, 500, 750, renders}
    render(0)  # warm up before the baseline: fonts are found once per process
    baseline = rss_mib()
    print(f"\nmemory: {renders} renders through {label}; time budget {budget:.0f} s")
    print(f"  {'renders':>7} {'VmRSS MiB':>10} {'growth':>8} {'ms/render':>10}")
    print(f"  {0:>7} {baseline:>10.1f} {0:>8.1f} {'':>10}")
    started = last_time = time.perf_counter()
    last_count = done = 0
    curve = []
    for done in range(1, renders + 1):
        render(done)
        now = time.perf_counter()
        out_of_time = now - started > budget
        if done in checkpoints or out_of_time:
            current = rss_mib()
            curve.append([done, round(current, 1)])
            rate = (now - last_time) * 1000 / (done - last_count)
            note = "   (stopped: time budget)" if out_of_time and done != renders else ""
            print(f"  {done:>7} {current:>10.1f} {current - baseline:>8.1f} {rate:>10.1f}{note}")
            last_time, last_count = now, done
        if out_of_time:
            break
    print(
        f"  after {done} renders: VmRSS {rss_mib():.1f} MiB (heap and other private memory"
        f" {_status_mib('RssAnon'):.1f}, mapped files and libraries {_status_mib('RssFile'):.1f}),"
        f" peak (VmHWM) {peak_rss_mib():.1f} MiB; goal < 100 MiB;"
        f" {time.perf_counter() - started:.0f} s"
    )
    harness.record(
        label,
        kind="memory",
        renders=done,
        rss_mib=round(rss_mib(), 1),
        peak_mib=round(peak_rss_mib(), 1),
        after_warm_up_mib=round(baseline, 1),
        curve=curve,
    )


def memory_ours(database_url: str, shop: int) -> None:
    """In a fresh process set up as the documents worker is (vpos.documents_worker: Django with
    the apps rendering needs and the tasks' modules its app imports, no migrations), render_pdf,
    as its `receipt_render` task does, then what the worker does after each task
    (`release_memory`). The receipts are those of the shop `seed` made."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    from vpos.documents_worker import app, release_memory  # and the lean worker's settings switch

    django.setup()
    app.loader.import_default_modules()  # what `celery worker` imports at start: the tasks
    from django.conf import settings

    assert settings.DOCUMENTS_WORKER, "not set up as the documents worker"
    assert "receipts.tasks" in sys.modules, "the tasks' modules are not imported"
    from receipts.models import Receipt

    receipts = list(Receipt.objects.filter(merchant_id=shop).order_by("pk"))
    before = rss_mib()
    from receipts.services import receipt_html, render_pdf

    __import__("weasyprint")
    print(
        f"\n[fresh process, ours: the documents worker] VmRSS after django.setup() and loading {len(receipts)} receipts"
        f" {before:.1f} MiB, after importing weasyprint {rss_mib():.1f} MiB"
    )

    def render(i: int) -> bytes:
        pdf = render_pdf(receipt_html(receipts[i % len(receipts)]))
        release_memory()  # what the worker does after each task (its task_postrun)
        return pdf

    memory(
        f"render_pdf(receipt_html(...)), cycling {len(receipts)} receipts (it/en)",
        render,
        renders=ARGS.renders,
        budget=ARGS.budget,
    )


def memory_bare(html_dir: str) -> None:
    """In a fresh process with nothing but WeasyPrint: the same HTML, bare write_pdf()."""
    pages = [path.read_text() for path in sorted(Path(html_dir).glob("*.html"))]
    before = rss_mib()
    import weasyprint

    print(
        f"\n[fresh process, bare] VmRSS {before:.1f} MiB, after importing weasyprint"
        f" {rss_mib():.1f} MiB"
    )
    memory(
        f"bare weasyprint.HTML(string=...).write_pdf(), cycling the same {len(pages)} HTML",
        lambda i: weasyprint.HTML(string=pages[i % len(pages)]).write_pdf(),
        renders=ARGS.renders,
        budget=ARGS.budget,
    )


def main() -> None:
    if ARGS.memory_ours or ARGS.memory_bare:
        if ARGS.memory_ours:
            memory_ours(ARGS.memory_ours, ARGS.shop)
        else:
            memory_bare(ARGS.memory_bare)
        return harness.write_json(ARGS.json)
    work = Path(tempfile.mkdtemp(prefix="vpos-bench-receipts-"))
    os.environ["MEDIA_ROOT"] = str(work / "media")
    os.environ["DOCUMENTS_ROOT"] = str(work / "documents")
    database_url = os.environ.get("BENCH_DATABASE_URL", harness.DEFAULT_DB)
    started = time.perf_counter()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average"
        f" {os.getloadavg()[0]:.2f}"
    )
    harness.setup_django(database_url)
    import weasyprint

    from receipts.services import receipt_html, render_pdf

    receipts = seed(ARGS.receipts)
    (work / "html").mkdir()
    for receipt in receipts:
        (work / "html" / f"{receipt.pk:04d}.html").write_text(receipt_html(receipt))
    html = receipt_html(receipts[0])
    assert "data:image/png;base64," in html
    print(
        f"weasyprint {weasyprint.__version__}; receipt HTML {len(html) / 1024:.1f} KiB with the"
        f" logo inlined, {len(render_pdf(html)) / 1024:.1f} KiB PDF"
    )
    try:
        # Memory in fresh processes, where nothing but the renders has run.
        shop = ["--shop", str(receipts[0].merchant_id)]
        for flag, value in (("--memory-ours", database_url), ("--memory-bare", str(work / "html"))):
            command = [sys.executable, __file__, flag, value, *shop, "--renders", str(ARGS.renders)]
            rows = work / f"{flag.strip('-')}.json"
            subprocess.run([*command, "--budget", str(ARGS.budget), "--json", rows], check=True)
            harness.RESULTS.extend(json.loads(rows.read_text())["results"])
        speed(html, rounds=ARGS.rounds, per_round=ARGS.per_round)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    harness.write_json(ARGS.json)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--renders", type=int, default=1000, help="renders for the memory curve")
    parser.add_argument(
        "--budget", type=float, default=120, help="seconds allowed for each memory curve"
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--receipts", type=int, default=10, help="distinct receipts to cycle")
    parser.add_argument("--memory-ours", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--memory-bare", metavar="HTML_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--shop", type=int, help=argparse.SUPPRESS)
    harness.add_json_argument(parser)
    return parser.parse_args()


ARGS = parse_args() if __name__ == "__main__" else argparse.Namespace()


if __name__ == "__main__":
    main()
