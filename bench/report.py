"""One command for every performance figure: run each benchmark, write docs/performance.md.

    python bench/report.py [--quick] [--out PATH] [--only checkout,api,...]

Runs the benchmark scripts one after the other as subprocesses with `--json`, shows their output
as it comes (and keeps it in var/bench/<name>.log), then fills docs/performance.template.md with
the figures: a summary table against the goals, a section per benchmark with the command that
reproduces it, the checkout's and the back office's data-size tables, the machine and the date.
A benchmark that fails leaves a note in its section, and the report exits 1 at the end.

`--quick`: a smoke run of a few minutes (seconds per measurement, smallest sizes), written to
var/bench/quick/performance.md unless `--out` says otherwise: docs/performance.md is written only
by a full run. `--only` runs some benchmarks (the others' sections say they were not run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "docs" / "performance.template.md"
CHECKOUT_GOAL, BACKOFFICE_GOAL, RENDER_GOAL, MEMORY_GOAL = 0.85, 0.5, 1.2, 100.0
EXPORT_INSTANT_MAX_ROWS = 10_000  # the setting's default, which the benchmark runs with
DASHBOARD_P99_GOAL_MS = 50  # rendered, at 1,000,000 payments (issue 20)
SOCKET_ERRORS = ("connect", "read", "write", "timeout")


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]


BENCHMARKS = (
    Benchmark(
        "checkout",
        "bench/checkout.py",
        ("--seconds", "8", "--sizes", "10000,100000,1000000"),
        ("--seconds", "2", "--sizes", "10000"),
    ),
    Benchmark("load", "bench/load.py", (), ("--seconds", "5")),
    Benchmark("api", "bench/api.py", (), ("--seconds", "2")),
    Benchmark("payflow", "bench/payflow.py", (), ("--seconds", "3", "--rounds", "1")),
    Benchmark("finalize", "bench/finalize.py", (), ("--quick",)),
    Benchmark(
        "notifications",
        "bench/notifications.py",
        (),
        ("--codes", "30", "--payments", "10", "--baseline", "10"),
    ),
    Benchmark(
        "receipts",
        "bench/receipts.py",
        (),
        ("--renders", "60", "--budget", "30", "--rounds", "2", "--per-round", "3"),
    ),
    Benchmark("backoffice", "bench/backoffice.py", ("--also", "1000000"), ("--seconds", "2")),
    Benchmark(
        "twonode",
        "bench/twonode.py",
        (),
        ("--one-node-seconds", "5", "--seconds", "10", "--kill-after", "5"),
    ),
)


# --- Running ----------------------------------------------------------------------------------


def run(benchmark: Benchmark, args: tuple[str, ...], work: Path) -> dict[str, Any]:
    """Run one script with --json; its document, or {"error": ...} if it failed."""
    rows, log = work / f"{benchmark.name}.json", work / f"{benchmark.name}.log"
    rows.unlink(missing_ok=True)
    command = [sys.executable, benchmark.script, *args, "--json", str(rows)]
    print(f"\n=== {benchmark.name}: {' '.join(command)}", flush=True)
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for line in process.stdout:
            sys.stdout.write(line)
            out.write(line)
        status = process.wait()
    seconds = time.perf_counter() - started
    shown = log.relative_to(ROOT)
    document = json.loads(rows.read_text()) if rows.exists() else {"results": []}
    document.setdefault("command", " ".join(["python", benchmark.script, *args]))
    document["seconds"] = round(seconds)
    if status:
        document["error"] = f"exit status {status} after {seconds:.0f} s; output in {shown}"
    elif not document["results"]:
        document["error"] = f"no results recorded (does it take --json?); output in {shown}"
    return document


def _version(command: list[str]) -> str:
    """Name and version, the first two words a version command prints (`wrk -v` exits 1)."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return f"{command[0]}: not found"
    words = (result.stdout or result.stderr).split()
    return " ".join(words[:2]) if words else "?"


def machine() -> dict[str, str]:
    """What ran the benchmarks: cores, CPU, load, and the servers' versions."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    database = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vpos_bench")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
    try:
        import psycopg

        with psycopg.connect(database.rsplit("/", 1)[0] + "/postgres", connect_timeout=5) as conn:
            postgres = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as error:  # noqa: BLE001 - the report still says what it could not ask
        postgres = f"unknown ({type(error).__name__})"
    try:
        import redis

        redis_version = redis.Redis.from_url(redis_url).info("server")["redis_version"]
    except Exception as error:  # noqa: BLE001
        redis_version = f"unknown ({type(error).__name__})"
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "load": " / ".join(f"{n:.2f}" for n in os.getloadavg()),
        "postgres": postgres,
        "redis": redis_version,
        "python": platform.python_version(),
        "wrk": _version(["wrk", "-v"]),
    }


# --- Formatting -------------------------------------------------------------------------------


def ratio_text(ratio: float) -> str:
    """Two decimals; three below 0.1, where 0.00 would hide how small it is."""
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.3f}"


def num(value: float) -> str:
    return f"{value:,.0f}"


def ms(value: float) -> str:
    return f"{value:,.1f}"


def met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def rows_of(document: dict[str, Any] | None, kind: str) -> list[dict[str, Any]]:
    return [row for row in (document or {}).get("results", []) if row.get("kind") == kind]


def compare_table(rows: list[dict[str, Any]], *, sizes: bool = False) -> str:
    """wrk comparisons: the target and the bare view measured in the same run."""
    header = ["measured", "req/s", "p50 ms", "p99 ms", "errors", "bare view req/s", "ratio"]
    body = [
        [
            row["label"],
            num(row["target"]["requests_per_second"]),
            ms(row["target"]["p50_ms"]),
            ms(row["target"]["p99_ms"]),
            str(row["target"]["errors"]),
            num(row["baseline"]["requests_per_second"]),
            f"**{ratio_text(row['ratio'])}**",
        ]
        for row in rows
    ]
    if sizes:
        header.insert(1, "payments")
        for line, row in zip(body, rows, strict=True):
            line.insert(1, f"{row['payments']:,}" if row.get("payments") else "?")
    return table(header, body)


def ratio_figure(row: dict[str, Any]) -> str:
    target, baseline = row["target"], row["baseline"]
    return (
        f"**{ratio_text(row['ratio'])}** ({num(target['requests_per_second'])} vs "
        f"{num(baseline['requests_per_second'])} req/s, p50 {ms(target['p50_ms'])} ms, "
        f"p99 {ms(target['p99_ms'])} ms, {target['errors']} errors)"
    )


Summary = list[list[str]]  # rows of: area, command, figure, goal, met?


def intro(document: dict[str, Any] | None) -> str:
    """How a section starts: whether it ran (or failed), and the command that reproduces it."""
    if document is None:
        return "Not run in this report."
    failed = f"**Failed**: {document['error']}.\n\n" if document.get("error") else ""
    return f"{failed}Reproduce: `{document['command']}`"


# --- Sections: each returns its markdown and adds its rows to the summary ---------------------


def checkout_section(doc: dict[str, Any] | None, summary: Summary) -> tuple[str, str]:
    compares = rows_of(doc, "compare")
    headline = next((r for r in compares if r["label"] == "checkout page"), None)
    sized = [r for r in compares if r is not headline]
    if headline:
        summary.append(
            [
                "checkout page vs bare view",
                f"`{doc['command']}`",
                ratio_figure(headline) + f", {headline['payments']:,} payments on the link",
                f"≥ {CHECKOUT_GOAL}",
                met(headline["ratio"] >= CHECKOUT_GOAL),
            ]
        )
    text = intro(doc)
    if headline:
        text += "\n\n" + compare_table([headline])
    if not sized:
        return text, "Not measured in this run (`bench/checkout.py --sizes …`)."
    sizes = sorted({r["payments"] for r in sized})
    variants = ["cached", "uncached", "closed"]
    cell = {(r["payments"], r["variant"]): r for r in sized}
    body = []
    for size in sizes:
        row = [f"{size:,}"]
        for variant in variants:
            found = cell.get((size, variant))
            row.append(
                f"**{ratio_text(found['ratio'])}** "
                f"({num(found['target']['requests_per_second'])} req/s, "
                f"p99 {ms(found['target']['p99_ms'])} ms, {found['target']['errors']} errors)"
                if found
                else "—"
            )
        body.append(row)
    cached = [cell[(s, "cached")]["ratio"] for s in sizes if (s, "cached") in cell]
    summary.append(
        [
            f"checkout at {', '.join(f'{s:,}' for s in sizes)} payments",
            f"`{doc['command']}`",
            "; ".join(
                f"{variant} "
                + " / ".join(
                    f"{ratio_text(cell[(s, variant)]['ratio'])}"
                    for s in sizes
                    if (s, variant) in cell
                )
                for variant in variants
            ),
            f"cached ≥ {CHECKOUT_GOAL}",
            met(bool(cached) and min(cached) >= CHECKOUT_GOAL),
        ]
    )
    growth = table(
        ["payments on the link", "cached page", "uncached page", "closed page (410)"], body
    )
    full = compare_table([cell[(s, v)] for s in sizes for v in variants if (s, v) in cell])
    return text, (
        f"Reproduce: `{doc['command']}`. Ratio to the bare view (req/s, p99):\n\n{growth}\n\n"
        f"<details><summary>Every measurement</summary>\n\n{full}\n\n</details>"
    )


def load_section(doc: dict[str, Any] | None, summary: Summary) -> str:
    rows = rows_of(doc, "load")
    text = intro(doc)
    if not rows:
        return text
    row = rows[0]
    target, baseline = row["target"], row["baseline"]
    socket = "/".join(str(row["socket_errors"][k]) for k in SOCKET_ERRORS)
    summary.append(
        [
            "checkout under sustained load",
            f"`{doc['command']}`",
            f"{num(target['requests_per_second'])} req/s, p50 {ms(target['p50_ms'])} ms, p99 "
            f"{ms(target['p99_ms'])} ms, {target['errors']} errors, {row['non_2xx']} non-2xx; "
            f"bare view {num(baseline['requests_per_second'])} req/s "
            f"(ratio {ratio_text(row['ratio'])})",
            "no errors, no 5xx",
            met(target["errors"] == 0),
        ]
    )
    measured = table(
        ["endpoint", "requests", "req/s", "p50 ms", "p99 ms", "socket errors c/r/w/t", "non-2xx"],
        [
            [
                "checkout page",
                num(row["requests"]),
                num(target["requests_per_second"]),
                ms(target["p50_ms"]),
                ms(target["p99_ms"]),
                socket,
                str(row["non_2xx"]),
            ],
            [
                "bare view (1 query)",
                num(row["bare_requests"]),
                num(baseline["requests_per_second"]),
                ms(baseline["p50_ms"]),
                ms(baseline["p99_ms"]),
                "/".join(str(row["bare_socket_errors"][k]) for k in SOCKET_ERRORS),
                str(row["bare_non_2xx"]),
            ],
        ],
    )
    return (
        f"{text}\n\n{row['connections']} connections, {row['seconds']} s each, "
        f"{row['payments']:,} payments on the link, checkout limit {row['rate_limit']} per IP.\n\n"
        f"{measured}\n\nRatio checkout / bare view: **{ratio_text(row['ratio'])}**."
    )


API_GOAL = 0.5  # link creation by API vs the bare view that writes one row


CPU_ROLE_NAMES = {"web": "web workers", "postgresql": "PostgreSQL", "redis": "Redis"}


def api_section(doc: dict[str, Any] | None, summary: Summary) -> str:
    text = intro(doc)
    compares, checks = rows_of(doc, "compare"), rows_of(doc, "check")
    if not compares:
        return text
    check = checks[0] if checks else None
    write = next((r for r in compares if r.get("against") == "write"), None)
    read = next((r for r in compares if r.get("against") != "write"), None)
    if write:
        summary.append(
            [
                "link creation by API vs bare one-row write view",
                f"`{doc['command']}`",
                ratio_figure(write),
                f"≥ {API_GOAL} (checks: every answer 201, one link per key)",
                met(write["ratio"] >= API_GOAL and (check["ok"] if check else False)),
            ]
        )
    if read:
        summary.append(
            [
                "link creation by API vs bare read view",
                f"`{doc['command']}`",
                ratio_figure(read),
                "— (for information)",
                "—",
            ]
        )
    text += "\n\n" + compare_table(compares)
    if check:
        text += (
            f"\n\nOver {check['sent']:,} requests sent (warm-up included), "
            f"{check['answered_201']:,} were answered 201 and {check['other_answers']:,} "
            f"otherwise; "
            f"{check['in_flight_at_stop']:,} were in flight when wrk stopped. Links created: "
            f"{check['links_created']:,}, Idempotency-Keys recorded with their link: "
            f"{check['keys_recorded']:,}. Check: **{'passed' if check['ok'] else 'FAILED'}**. "
            f"API limit per key during the run: {check['rate_limit']}."
        )
    cpu = rows_of(doc, "cpu")
    if cpu:
        roles = list(cpu[0]["cpu_ms"])
        text += (
            "\n\nCPU per answered request, by process (ms; one more wrk run of each, "
            "read from /proc):\n\n"
            + table(
                ["measured", *(CPU_ROLE_NAMES.get(role, role) for role in roles), "total", "req/s"],
                [
                    [
                        row["label"],
                        *(f"{row['cpu_ms'][role]:.2f}" for role in roles),
                        f"**{row['total_ms']:.2f}**",
                        num(row["requests_per_second"]),
                    ]
                    for row in cpu
                ],
            )
        )
    return text


def payflow_section(doc: dict[str, Any] | None, summary: Summary) -> str:
    text = intro(doc)
    rows = rows_of(doc, "flow")
    if not rows:
        return text
    row = rows[0]
    target, baseline, db = row["target"], row["baseline"], row["database"]
    summary.append(
        [
            "full pay flow (server side, localstripe)",
            f"`{doc['command']}`",
            f"**{ratio_text(row['ratio'])}** ({target['flows_per_second']:.1f} vs "
            f"{baseline['flows_per_second']:.1f} flows/s, p50 {ms(target['p50_ms'])} ms, p99 "
            f"{ms(target['p99_ms'])} ms per flow, {row['errors']} errors); "
            f"{db['succeeded']:,} payments for {db['flows_completed']:,} flows",
            "— (checks: no error, one payment and receipt per flow)",
            met(db["ok"] and not row["errors"]),
        ]
    )
    measured = table(
        ["flow", "flows", "flows/s", "p50 ms", "p99 ms", "errors"],
        [
            [
                name,
                num(m["flows"]),
                f"{m['flows_per_second']:.1f}",
                ms(m["p50_ms"]),
                ms(m["p99_ms"]),
                str(m["errors"]),
            ]
            for name, m in (
                ("vpos: page, setup, card, attempt, result", target),
                ("baseline: 4 bare requests + the same Stripe calls", baseline),
            )
        ],
    )
    return (
        f"{text}\n\n{row['clients']} clients, {row['seconds']:g} s per measurement, best of the "
        f"rounds; limits per IP: checkout {row['rate_limits']['checkout']}, attempts "
        f"{row['rate_limits']['checkout_attempt']}.\n\n{measured}\n\n"
        f"Ratio vpos / baseline: **{ratio_text(row['ratio'])}**. In the database after the run: "
        f"{db['flows_completed']:,} flows completed (warm-up included), "
        f"{db['distinct_payments_answered']:,} distinct payments answered, "
        f"{db['payments_on_link']:,} payments on the link, {db['succeeded']:,} succeeded, "
        f"{db['receipts']:,} receipts, {db['flow_errors']} failed flows. Check: "
        f"**{'passed' if db['ok'] else 'FAILED'}**."
    )


def finalize_section(doc: dict[str, Any] | None, summary: Summary) -> str:
    """Finalizations per second of one shop (and one link) against many shops, by processes."""
    text = intro(doc)
    rows, checks = rows_of(doc, "finalize"), rows_of(doc, "check")
    if not rows:
        return text
    cell = {(r["variant"], r["processes"]): r for r in rows}
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    counts = sorted({r["processes"] for r in rows})
    check = checks[0] if checks else None
    top = cell.get(("one shop", counts[-1]))
    if top:
        base = cell[("many shops", counts[-1])]
        alone = cell.get(("one shop", counts[0]), top)  # the hold without CPU contention
        summary.append(
            [
                f"finalizations/s, one shop, {counts[-1]} processes",
                f"`{doc['command']}`",
                f"{top['per_second']:.0f}/s, **{ratio_text(top['ratio'])}** of many shops "
                f"({base['per_second']:.0f}/s); sequence lock wait {ms(top['sequence_wait_ms'])} "
                f"ms per finalization; held {ms(alone['hold_ms'])} ms with "
                f"{alone['processes']} process{'es' if alone['processes'] > 1 else ''} "
                f"(ceiling ≈ {1000 / max(alone['hold_ms'], 0.01):.0f}/s per shop)",
                "— (checks: each payment finalized once, receipt numbers gapless)",
                met(check["ok"] if check else None),
            ]
        )
    rates = table(
        ["processes", *(f"{v} /s (ratio)" for v in variants)],
        [
            [
                str(k),
                *(
                    f"{cell[(v, k)]['per_second']:.1f} ({ratio_text(cell[(v, k)]['ratio'])})"
                    if (v, k) in cell
                    else "—"
                    for v in variants
                ),
            ]
            for k in counts
        ],
    )
    locks = table(
        ["variant", "processes", "payments", "sequence wait ms", "link wait ms", "hold ms"],
        [
            [
                r["variant"],
                str(r["processes"]),
                num(r["payments"]),
                ms(r["sequence_wait_ms"]),
                ms(r["link_wait_ms"]),
                ms(r["hold_ms"]),
            ]
            for r in rows
        ],
    )
    text += f"\n\nFinalizations per second, best of the rounds (ratio to many shops):\n\n{rates}"
    text += f"\n\nPer finalization, averaged:\n\n{locks}"
    if check:
        text += (
            f"\n\n{check['payments']:,} payments finalized, {check['succeeded']:,} succeeded, "
            f"{check['receipts']:,} receipts, {check['succeeded_events']:,} 'succeeded' entries "
            f"on {check['payments_with_event']:,} timelines, {check['counted_on_links']:,} "
            f"counted on their links; {check['shops']} shops, {check['shops_with_gaps']} with a "
            f"gap or duplicate in their receipt numbers. Check: "
            f"**{'passed' if check['ok'] else 'FAILED'}**."
        )
    return text


def notifications_section(doc: dict[str, Any] | None, summary: Summary) -> str:
    text = intro(doc)
    qr, emails, checks = rows_of(doc, "qr"), rows_of(doc, "email"), rows_of(doc, "email_check")
    if qr:
        ratios = {row["label"]: row["ratio"] for row in qr}
        svg = next((r for label, r in ratios.items() if "svg" in label), 0)
        png = next((r for label, r in ratios.items() if "png" in label), 0)
        summary.append(
            [
                "QR codes",
                f"`{doc['command']}`",
                f"SVG {svg:.2f}x, PNG {png:.2f}x the bare `qrcode.make`",
                "—",
                "—",
            ]
        )
        text += "\n\n" + table(
            ["call", "ms per code", "ratio"],
            [[r["label"], f"{r['ms_per_code']:.2f}", f"{r['ratio']:.2f}"] for r in qr],
        )
    if len(emails) == 2:
        plain, confirmation = emails
        duplicates = checks[0]["duplicates"] if checks else "?"
        summary.append(
            [
                "payment → confirmation email",
                f"`{doc['command']}`",
                f"median {ms(confirmation['median_ms'])} ms, p99 {ms(confirmation['p99_ms'])} ms "
                f"at {confirmation['rate']:g} payments/s; {confirmation['lost']} lost, "
                f"{duplicates} duplicates (plain email: median {ms(plain['median_ms'])} ms)",
                "—",
                "—",
            ]
        )
        text += "\n\n" + table(
            ["path", "sent", "received", "median ms", "p99 ms", "max ms", "lost"],
            [
                [
                    r["label"],
                    str(r["sent"]),
                    str(r["received"]),
                    ms(r["median_ms"]),
                    ms(r["p99_ms"]),
                    ms(r["max_ms"]),
                    str(r["lost"]),
                ]
                for r in emails
            ],
        )
    if checks:
        c = checks[0]
        text += (
            f"\n\nOf which `payment_followups` (receipt PDF, two emails rendered and stored): "
            f"median {ms(c['followups_median_ms'])} ms; `payment_apply` itself: median "
            f"{ms(c['payment_apply_median_ms'])} ms. Confirmations received more than once: "
            f"{c['duplicates']}; shop notifications received: {c['shop_notifications']} of "
            f"{c['payments']}."
        )
    return text


def receipts_section(doc: dict[str, Any] | None, summary: Summary) -> str:
    text = intro(doc)
    renders, memory = rows_of(doc, "render"), rows_of(doc, "memory")
    if renders:
        plain = renders[0]
        summary.append(
            [
                "receipt PDF render",
                f"`{doc['command']}`",
                f"{plain['ratio_best']:.2f}x the bare WeasyPrint render (best round; median "
                f"{plain['ratio_median']:.2f}x)",
                f"≤ {RENDER_GOAL}x",
                met(plain["ratio_best"] <= RENDER_GOAL),
            ]
        )
        text += "\n\n" + table(
            ["ratio", "ms per render (best)", "baseline ms (best)", "best", "median"],
            [
                [
                    r["label"],
                    ms(r["ms_best"]),
                    ms(r["baseline_ms_best"]),
                    f"{r['ratio_best']:.2f}x",
                    f"{r['ratio_median']:.2f}x",
                ]
                for r in renders
            ],
        )
    if memory:
        ours = memory[0]
        summary.append(
            [
                "receipt memory",
                f"`{doc['command']}`",
                f"{ours['rss_mib']:.1f} MiB after {ours['renders']:,} renders "
                f"({ours['after_warm_up_mib']:.1f} MiB after the first, the warm-up)",
                f"< {MEMORY_GOAL:.0f} MiB",
                met(ours["rss_mib"] < MEMORY_GOAL),
            ]
        )
        text += "\n\n" + table(
            [
                "process",
                "renders",
                "after warm-up MiB",
                "after MiB",
                "peak MiB",
                "curve (renders: MiB)",
            ],
            [
                [
                    r["label"],
                    num(r["renders"]),
                    f"{r['after_warm_up_mib']:.1f}",
                    f"{r['rss_mib']:.1f}",
                    f"{r['peak_mib']:.1f}",
                    ", ".join(f"{n}: {mib}" for n, mib in r["curve"]),
                ]
                for r in memory
            ],
        )
    return text


def backoffice_section(doc: dict[str, Any] | None, summary: Summary) -> tuple[str, str]:
    """Each page twice per shop size: a returning visit (served by the back-office cache, where
    the goal applies) and a rendered one (from the database, as after every change)."""
    text = intro(doc)
    compares = rows_of(doc, "compare")
    if not compares:
        return text, ""
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for row in compares:
        groups.setdefault((row.get("payments") or 0, row.get("visit", "")), []).append(row)
    for (size, visit), rows in groups.items():
        lowest = min(rows, key=lambda r: r["ratio"])
        goal = size == 100_000 and visit == "returning visit"
        summary.append(
            [
                f"back office, {size:,} payments, {visit}",
                f"`{doc['command']}`",
                f"ratios {ratio_text(lowest['ratio'])}–"
                f"{ratio_text(max(r['ratio'] for r in rows))} (lowest: {lowest['label']})",
                f"≥ {BACKOFFICE_GOAL}" if goal else "—",
                met(lowest["ratio"] >= BACKOFFICE_GOAL) if goal else "—",
            ]
        )
    text += "\n\n" + compare_table(compares, sizes=True)
    latencies = rows_of(doc, "latency")  # the dashboard, rendered, one request at a time
    for row in latencies:
        if row.get("payments") == 1_000_000:
            summary.append(
                [
                    "dashboard p99 at 1,000,000 payments, rendered",
                    f"`{doc['command']}`",
                    f"{ms(row['p99_ms'])} ms (p50 {ms(row['p50_ms'])} ms, one request at a time)",
                    f"≤ {DASHBOARD_P99_GOAL_MS} ms",
                    met(row["p99_ms"] <= DASHBOARD_P99_GOAL_MS),
                ]
            )
    if latencies:
        text += "\n\n" + "\n".join(
            f"- {r['label']}, {r.get('payments', 0):,} payments, one request at a time: "
            f"p50 {ms(r['p50_ms'])} ms, p99 {ms(r['p99_ms'])} ms ({r['requests']:,} requests)"
            for r in latencies
        )
    other = rows_of(doc, "csv")
    instant = [r for r in other if "instant" in r["label"]]
    jobs = [r for r in other if "background" in r["label"]]
    if instant and jobs:
        largest, job = max(instant, key=lambda r: r["rows"]), max(jobs, key=lambda r: r["rows"])
        summary.append(
            [
                "payments CSV: instant when small, a background export when large",
                f"`{doc['command']}`",
                f"instant {largest['rows']:,} rows in {largest['seconds']} s; "
                f"{job['rows']:,} rows as a background export in {job['seconds']} s",
                f"no request streams more than {EXPORT_INSTANT_MAX_ROWS:,} rows",
                met(largest["rows"] <= EXPORT_INSTANT_MAX_ROWS and job["rows"] > 0),
            ]
        )
    if other:
        text += "\n\n" + "\n".join(
            f"- {r['label']}, {r.get('payments', 0):,} payments: {r.get('rows', 0):,} rows, "
            f"{r.get('megabytes')} MB in {r.get('seconds')} s ({r.get('rows_per_second', 0):,} "
            f"rows/s)"
            for r in other
        )
    sizes = list(dict.fromkeys(size for size, _visit in groups))
    labels = list(dict.fromkeys(r["label"] for r in compares))
    cell = {(r["label"], r.get("payments") or 0): r for r in compares}
    growth = table(
        ["page", *(f"{s:,} payments" for s in sizes)],
        [
            [
                label,
                *(
                    ratio_text(cell[(label, s)]["ratio"]) if (label, s) in cell else "—"
                    for s in sizes
                ),
            ]
            for label in labels
        ],
    )
    return text, f"Ratio to the bare view by the shop's number of payments:\n\n{growth}"


def twonode_section(doc: dict[str, Any] | None, summary: Summary) -> str:
    text = intro(doc)
    rows = rows_of(doc, "twonode")
    if not rows:
        return text
    row = rows[0]
    db, rates, problems = row["database"], row["flows_per_second"], row["problems"]
    summary.append(
        [
            "two nodes: exactly-once, gapless, one confirmation, node killed",
            f"`{doc['command']}`",
            f"{db['succeeded']:,} payments, {db['receipts']:,} receipts numbered 1..N, "
            f"{db['confirmations_received']:,} confirmations received; "
            f"{row['in_flight']} flows under way at the kill; "
            + ("; ".join(problems) if problems else "no violation"),
            "no loss",
            met(row["ok"]),
        ]
    )
    summary.append(
        [
            "two nodes vs one: throughput",
            f"`{doc['command']}`",
            f"**{ratio_text(row['ratio'])}** ({rates['two_nodes']:.1f} vs "
            f"{rates['one_node']:.1f} flows/s; {rates['after_kill']:.1f} on B after the kill)",
            "—",
            "—",
        ]
    )
    measured = table(
        ["phase", "flows/s"],
        [
            ["one node (A)", f"{rates['one_node']:.1f}"],
            ["two nodes (A and B)", f"{rates['two_nodes']:.1f}"],
            ["after A was killed (B)", f"{rates['after_kill']:.1f}"],
        ],
    )
    checks = "\n".join(
        f"- {name}: "
        + (f"**{', '.join(map(str, problems[name][:3]))}**" if name in problems else "none")
        for name in row["checks"]
    )
    return (
        f"{text}\n\n{row['clients']} clients; {row['one_node_seconds']:g} s on A alone, then "
        f"{row['seconds']:g} s on both nodes with A killed after {row['kill_after']:g} s.\n\n"
        f"{measured}\n\nRatio two nodes / one node: **{ratio_text(row['ratio'])}**. "
        f"{db['flows']:,} flows ({db['flows_succeeded']:,} seen succeeded), {row['in_flight']} "
        f"under way when A died; requests sent again to B after a failure: "
        f"{row['failovers'] or 'none'}. In the database: payments {db['payment_statuses']}, "
        f"{db['receipts']:,} receipts; at localstripe {db['intents_charged']:,} PaymentIntents "
        f"charged; {db['confirmation_rows']:,} confirmation rows in the outbox, "
        f"{db['confirmations_received']:,} received by the SMTP sink. Violations:\n\n{checks}"
    )


# --- The document -----------------------------------------------------------------------------


def render(documents: dict[str, dict[str, Any] | None], info: dict[str, str], meta: str) -> str:
    summary: Summary = []
    checkout, checkout_sizes = checkout_section(documents.get("checkout"), summary)
    sections: dict[str, str] = {"checkout": checkout, "checkout_sizes": checkout_sizes}
    writers: dict[str, Callable[[dict[str, Any] | None, Summary], str]] = {
        "load": load_section,
        "api": api_section,
        "payflow": payflow_section,
        "finalize": finalize_section,
        "notifications": notifications_section,
        "receipts": receipts_section,
        "twonode": twonode_section,
    }
    for name, writer in writers.items():
        sections[name] = writer(documents.get(name), summary)
    sections["backoffice"], sections["backoffice_sizes"] = backoffice_section(
        documents.get("backoffice"), summary
    )
    for name, document in documents.items():
        if document and document.get("error"):
            summary.append([name, f"`{document['command']}`", "**failed**", "—", "**no**"])
    sections["summary"] = table(["area", "command", "figure", "goal", "met?"], summary)
    sections["generated"] = meta
    sections["machine"] = (
        f"Machine: {info['cores']} cores ({info['cpu']}), load average {info['load']} at the "
        f"start; "
        f"PostgreSQL {info['postgres']}, Redis {info['redis']}, Python {info['python']}, "
        f"{info['wrk']}."
    )

    def fill(match: re.Match) -> str:
        return sections[match.group(1)]

    document = re.sub(r"\{\{ (\w+) \}\}", fill, TEMPLATE.read_text())
    return re.sub(r"\n{3,}", "\n\n", document)  # an empty section leaves no gap


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--out", type=Path, help="default: docs/performance.md (full run)")
    parser.add_argument(
        "--only", help="comma-separated names: " + ", ".join(b.name for b in BENCHMARKS)
    )
    args = parser.parse_args()
    work = ROOT / "var" / "bench" / ("quick" if args.quick else "full")
    work.mkdir(parents=True, exist_ok=True)
    out = args.out or (work / "performance.md" if args.quick else ROOT / "docs" / "performance.md")
    chosen = set(args.only.split(",")) if args.only else {b.name for b in BENCHMARKS}
    unknown = chosen - {b.name for b in BENCHMARKS}
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")

    info = machine()
    started = datetime.now(UTC)
    documents: dict[str, dict[str, Any] | None] = dict.fromkeys(b.name for b in BENCHMARKS)
    for benchmark in BENCHMARKS:
        if benchmark.name in chosen:
            documents[benchmark.name] = run(
                benchmark, benchmark.quick if args.quick else benchmark.full, work
            )
    finished = datetime.now(UTC)
    report = " ".join(["python bench/report.py", *sys.argv[1:]])
    meta = (
        f"Generated by `{report}` from docs/performance.template.md (edit that, not this page), "
        f"{started:%d %b %Y, %H:%M}–{finished:%H:%M} UTC"
        + (" — **a quick smoke run: short measurements, smallest sizes**." if args.quick else ".")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(documents, info, meta))
    failed = [name for name, doc in documents.items() if doc and doc.get("error")]
    print(f"\nwrote {out}; results and logs in {work}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (see their sections)")
        sys.exit(1)


if __name__ == "__main__":
    main()
