"""Link creation through the API against two bare Django views, same gunicorn, same run.

    python bench/api.py [--seconds 10] [--json PATH]

wrk POSTs a new single-use link as JSON to `/api/v1/links` with a read-and-write API key of the
shop "API bench" (a fresh key each run, revoked at the end). A Lua script, written to a temporary
file, gives every request its own Idempotency-Key and counts the answers. Two baselines, each
measured alternately with the API in the same run:

- the bare write view (the goal's baseline): the same POST, same headers and body, to a view that
  inserts the body as one row of a bench-only table in the request's transaction and answers 201.
  Creating a link is a write; the ratio is what it costs over the cheapest write Django can make.
- the bare view, GET, as in every other benchmark (one `SELECT 1`), for information.

Then one more run of each POST, to see where the CPU goes: the milliseconds of CPU per answered
request spent by the web workers, PostgreSQL, Redis and wrk (read from /proc: every process of
each role on this machine counts, so run it on an otherwise idle machine).

Checks, printed: every answer is 201 (anything else is an error); one link per key, and the links
in the database match the 201 answers. wrk stops each run with requests still in flight: the
server finishes those and creates their links without wrk reading the answer, so the links
equal the 201 answers plus those in-flight requests, never more.

Rate limit: the API allows VPOS_API_RATE requests per key (default 600/min, over the last minute
as estimated from two counters per key in Redis, this window's and the last one's). The script
raises it through that environment variable to 1000000/s: the counters are still kept on every
request, it never refuses one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, seed

RAISED_API_RATE = "1000000/s"
PATH = "/api/v1/links"
BARE_WRITE_PATH = "/bench/bare-write/"

# Globals, not locals: the main Lua state reads each thread's counters with thread:get().
LUA = """-- Written by bench/api.py: one new link per request, each with its own Idempotency-Key.
threads = {}

function setup(thread)
  if run == nil then  -- number the wrk runs of this benchmark: their keys never collide
    run = 1
    local counts = io.open(COUNTS, "r")
    if counts then
      for _ in counts:lines() do run = run + 1 end
      counts:close()
    end
  end
  thread:set("key_prefix", string.format("%s-%d-%d-", PREFIX, run, #threads + 1))
  table.insert(threads, thread)
end

function init(args)
  sent, created, other = 0, 0, 0
end

function request()
  sent = sent + 1
  return wrk.format("POST", PATH, {
    ["Authorization"] = AUTHORIZATION,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = key_prefix .. sent,
  }, BODY)
end

function response(status, headers, body)
  if status == 201 then created = created + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local totals = {0, 0, 0}
  for _, thread in ipairs(threads) do
    totals[1] = totals[1] + thread:get("sent")
    totals[2] = totals[2] + thread:get("created")
    totals[3] = totals[3] + thread:get("other")
  end
  local counts = io.open(COUNTS, "a")
  counts:write(string.format("%d %d %d\\n", totals[1], totals[2], totals[3]))
  counts:close()
end
"""


def lua_string(value: str) -> str:
    """A Lua long-bracket string: no escapes needed for JSON or a bearer token."""
    if "]==]" in value:
        raise ValueError(value)
    return f"[==[{value}]==]"


def write_script(
    directory: Path, *, path: str, raw_key: str, prefix: str, body: dict[str, Any]
) -> Path:
    """The Lua script POSTing `body` to `path`; its answers are counted next to it (`.counts`)."""
    stem = path.strip("/").replace("/", "-")
    constants = {
        "PATH": path,
        "AUTHORIZATION": f"Bearer {raw_key}",
        "PREFIX": prefix,
        "BODY": json.dumps(body),
        "COUNTS": str(directory / f"{stem}.counts"),
    }
    script = directory / f"{stem}.lua"
    header = "".join(f"{name} = {lua_string(value)}\n" for name, value in constants.items())
    script.write_text(header + LUA)
    return script


def post_link(base: str, raw_key: str, key: str, body: dict[str, Any]) -> tuple[int, str]:
    """One API call as an integrator makes it: (HTTP status, the link's id)."""
    request = urllib.request.Request(  # noqa: S310 - loopback only
        base + PATH,
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {raw_key}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, str(json.loads(response.read())["id"])
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")[:200]


def replay_check(base: str, raw_key: str, run: str) -> None:
    """The same key twice: 201 then 200 with the same link, before any load."""
    body = {"amount": 500, "currency": "EUR", "description": "Replay check", "reference": run}
    first, second = (post_link(base, raw_key, f"replay-{run}", body) for _ in range(2))
    if first[0] != 201 or second != (200, first[1]):
        raise SystemExit(f"idempotency replay: {first} then {second}, expected 201 then 200")
    print(f"idempotency replay: 201 then 200 with the same link ({first[1]})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    harness.add_json_argument(parser)
    args = parser.parse_args()
    os.environ["VPOS_API_RATE"] = RAISED_API_RATE  # read by gunicorn's settings
    harness.setup_django()
    from django.conf import settings

    from bench.urls import bare_write_table
    from integrations.api_keys import api_key_create, api_key_revoke
    from integrations.models import ApiIdempotencyKey, ApiKey
    from links.models import PaymentLink

    bare_write_table()
    run = uuid.uuid4().hex[:12]
    shop = seed.merchant("API bench")
    api_key, raw_key = api_key_create(
        merchant=shop, name=f"bench {run}", scope=ApiKey.Scope.READ_WRITE, actor=None
    )
    body = {
        "amount": 1999,
        "currency": "EUR",
        "description": "Bench API link",
        "reference": f"bench-{run}",
        "customer_email": "customer@example.com",
        "metadata": {"order": run},
    }
    print(
        f"link creation by API vs bare views: POST {PATH}, JSON, API key {api_key.prefix}…, a "
        f"new Idempotency-Key per request; baselines: POST {BARE_WRITE_PATH} (one row written, "
        f"same body), GET /bench/bare/; gunicorn 2 workers, wrk 16 connections"
    )
    print(
        f"rate limit: API limit per key raised from the default 600/min to "
        f"{settings.VPOS_API_RATE} via VPOS_API_RATE (the throttle stays on, in Redis)"
    )
    with tempfile.TemporaryDirectory(prefix="vpos-bench-api-") as tmp:
        scripts = {
            path: write_script(Path(tmp), path=path, raw_key=raw_key, prefix=run, body=body)
            for path in (PATH, BARE_WRITE_PATH)
        }
        try:
            with harness.gunicorn() as base:
                replay_check(base, raw_key, run)
                with harness.context(against="write"):
                    ratio_write = harness.compare(
                        "link creation (API) vs one-row write",
                        base + PATH,
                        base + BARE_WRITE_PATH,
                        seconds=args.seconds,
                        script=scripts[PATH],
                        baseline_script=scripts[BARE_WRITE_PATH],
                        baseline_label="baseline (bare view, writes 1 row)",
                    )
                with harness.context(against="read"):
                    ratio_read = harness.compare(
                        "link creation (API) vs SELECT 1",
                        base + PATH,
                        f"{base}/bench/bare/",
                        seconds=args.seconds,
                        script=scripts[PATH],
                    )
                for label, path in (
                    ("link creation (API)", PATH),
                    ("bare write view", BARE_WRITE_PATH),
                ):
                    harness.settle(f"{base}/bench/bare/")
                    harness.cpu_per_request(
                        label, base + path, seconds=args.seconds, script=scripts[path]
                    )
        finally:
            api_key_revoke(api_key=api_key, actor=None)
        counts = scripts[PATH].with_suffix(".counts")
        runs = [line.split() for line in counts.read_text().splitlines()]
    sent, created, other = (sum(int(r[i]) for r in runs) for i in range(3))
    in_flight = sent - created - other
    links = PaymentLink.objects.filter(merchant=shop, reference=body["reference"]).count()
    keys = (
        ApiIdempotencyKey.objects.filter(api_key=api_key, key__startswith=f"{run}-")
        .exclude(object_id="")
        .count()
    )
    print(
        f"  over {len(runs)} wrk runs (warm-up included): {sent:,} requests sent, {created:,} "
        f"answered 201, {other:,} other answers, {in_flight:,} in flight when wrk stopped"
    )
    print(f"  links created: {links:,}; Idempotency-Keys recorded with their link: {keys:,}")
    consistent = links == keys and created <= links <= created + in_flight
    print(
        f"  {'OK' if consistent and not other else 'FAILED'}: one link per key, and links = 201 "
        f"answers + requests cut off in flight ({created:,} + {links - created:,})"
    )
    harness.record(
        "link creation (API), consistency",
        kind="check",
        sent=sent,
        answered_201=created,
        other_answers=other,
        in_flight_at_stop=in_flight,
        links_created=links,
        keys_recorded=keys,
        ok=consistent and not other,
        ratio_write=round(ratio_write, 3),
        ratio_read=round(ratio_read, 3),
        rate_limit=settings.VPOS_API_RATE,
    )
    harness.write_json(args.json)
    if not consistent or other:
        sys.exit(1)


if __name__ == "__main__":
    main()
