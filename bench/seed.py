"""Fast seeding for the benchmarks: PostgreSQL makes the rows, `INSERT ... SELECT ... FROM
generate_series(...) AS i`.

A million payments take well under a minute this way, where bulk_create builds every row in
Python and ships it as parameters. The columns come from the Django model: a new field with a
default needs no change here, and a new required field without one stops the seed with its name.
"""

from __future__ import annotations

import time
from typing import Any

BATCH = 250_000  # rows per transaction: progress shows, and an interrupted seed keeps its batches


def _select_list(model: Any, values: dict[str, Any], sql: dict[str, str]) -> tuple[str, str, list]:
    """(column list, SELECT list, parameters) for one row of `model` made from the series `i`."""
    from django.db import connection
    from django.db.models import DateTimeField, UUIDField

    columns, selects, params = [], [], []
    for f in model._meta.concrete_fields:
        name = f.attname
        if f.primary_key and name not in values and name not in sql:
            continue  # the sequence gives it
        columns.append(connection.ops.quote_name(f.column))
        if name in sql:
            selects.append(sql[name].replace("%", "%%"))  # plain SQL: `i % 20` is modulo
        elif name in values or (f.has_default() and not callable(f.default)):
            value = values[name] if name in values else f.get_default()
            selects.append("%s")
            params.append(f.get_db_prep_save(value, connection))
        elif isinstance(f, UUIDField) and f.has_default():
            selects.append("gen_random_uuid()")
        elif isinstance(f, DateTimeField) and (f.auto_now or f.auto_now_add):
            selects.append("now()")
        elif (f.has_default() and not f.unique) or (f.blank and f.empty_strings_allowed):
            # A callable default (dict: one value for every row), or a blank text field's "".
            selects.append("%s")
            params.append(f.get_db_prep_save(f.get_default(), connection))
        elif f.null:
            selects.append("NULL")
        else:
            raise ValueError(f"{model.__name__}.{name}: give a value or an SQL expression")
    return ", ".join(columns), ", ".join(selects), params


def insert_series(
    model: Any,
    count: int,
    *,
    start: int = 0,
    values: dict[str, Any] | None = None,
    sql: dict[str, str] | None = None,
    label: str = "",
) -> float:
    """Insert `count` rows of `model`, one per `i` from `start` to `start + count - 1`; seconds.

    `values`: constants for fields (by attname, e.g. `link_id`), sent as parameters. `sql`: SQL
    expressions over the bigint `i` for fields that vary per row (e.g. `"'seed-' || i"`); no
    user input goes there. Every other field gets its constant default, `now()` for automatic
    dates, a random UUID for UUID fields with a default, or NULL. Unique fields with a callable
    default (a link's token) need an expression. Commits every BATCH rows.
    """
    from django.db import connection, transaction

    columns, selects, params = _select_list(model, values or {}, sql or {})
    # Table and columns from the model, expressions from the calling script: no outside input.
    statement = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) "  # noqa: S608
        f"SELECT {selects} FROM generate_series(%s::bigint, %s::bigint) AS i"
    )
    started = time.perf_counter()
    for first in range(start, start + count, BATCH):
        last = min(first + BATCH, start + count) - 1
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [*params, first, last])
        if label:
            done = last + 1 - start
            print(
                f"  {label}: {done:,} of {count:,} rows, {time.perf_counter() - started:.0f} s",
                flush=True,
            )
    return time.perf_counter() - started


def analyze(*models: Any) -> None:
    """Fresh planner statistics and visibility map after a big insert, as in production."""
    from django.db import connection

    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def merchant(name: str) -> Any:
    """The benchmark shop called `name`, created on first use: a run finds its data again by it."""
    from merchants.models import Merchant

    shop, _ = Merchant.objects.get_or_create(
        name=name,
        defaults={
            "legal_name": "Bench S.r.l.",
            "vat_number": "12345670017",
            "address": "Via Roma 1",
            "postal_code": "20121",
            "city": "Milano",
            "contact_email": "bench@example.com",
        },
    )
    return shop
