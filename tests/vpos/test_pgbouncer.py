"""PgBouncer in transaction pooling mode (DATABASE_POOLER=pgbouncer, docs/deploy.md): the settings
that mode needs, and, in CI, proof that the PostgreSQL suite really runs through a PgBouncer
(.ci/run starts one on loopback)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction

from merchants.models import Merchant
from tests.support.factories import MerchantFactory

ROOT = Path(__file__).resolve().parent.parent.parent
IN_CI = os.environ.get("CI") == "true"

SHOW_DATABASE = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "server_side_cursors_off": db.get("DISABLE_SERVER_SIDE_CURSORS", False),
    "options": {k: db.get("OPTIONS", {}).get(k, "unset") for k in ("prepare_threshold", "server_side_binding")},
}))
"""


def database_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DATABASE_POOLER"}}
    return subprocess.run(
        [sys.executable, "-c", SHOW_DATABASE],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "vpos.settings.test", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_behind_pgbouncer_nothing_outlives_a_transaction():
    result = database_settings(
        DATABASE_URL="postgres://vpos@pgbouncer:6432/vpos", DATABASE_POOLER="pgbouncer"
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "server_side_cursors_off": True,
        "options": {"prepare_threshold": None, "server_side_binding": False},
    }


def test_straight_to_postgresql_iterators_keep_their_server_side_cursors():
    result = database_settings(DATABASE_URL="postgres://vpos@postgres:5432/vpos")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["server_side_cursors_off"] is False


def test_an_unknown_pooler_is_refused_at_start():
    result = database_settings(
        DATABASE_URL="postgres://vpos@pgbouncer:6432/vpos", DATABASE_POOLER="pgbouncer-session"
    )

    assert result.returncode != 0
    assert "DATABASE_POOLER must be empty or 'pgbouncer'" in result.stderr


def _server_count(view: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {view}")  # noqa: S608 - a fixed view name
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.skipif(not settings.DATABASE_POOLER, reason="DATABASE_POOLER=pgbouncer only")
@pytest.mark.django_db
def test_behind_pgbouncer_no_cursor_or_prepared_statement_is_left_on_the_server():
    """Inside one transaction (one server session, whatever the pooling): an iterator holds no
    server-side cursor and a query run many times is never prepared."""
    MerchantFactory.create_batch(3)
    shops = Merchant.objects.count()

    with transaction.atomic():
        cursors_while_iterating = [
            _server_count("pg_cursors") for _ in Merchant.objects.iterator(chunk_size=1)
        ]
        for _ in range(10):
            list(Merchant.objects.filter(name="Bottega"))
        prepared = _server_count("pg_prepared_statements")

    assert cursors_while_iterating == [0] * shops
    assert prepared == 0


def _local_port() -> int:
    """The client side of the suite's own database connection."""
    connection.ensure_connection()
    fd = connection.connection.pgconn.socket
    with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.getsockname()[1]


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.skipif(
    not (IN_CI or settings.DATABASE_POOLER), reason="CI, or DATABASE_POOLER=pgbouncer"
)
@pytest.mark.django_db
def test_ci_runs_the_postgresql_suite_through_pgbouncer_in_transaction_mode():
    """.ci/run points DATABASE_URL at a PgBouncer: its console lists this very connection."""
    assert settings.DATABASE_POOLER == "pgbouncer", ".ci/run must set DATABASE_POOLER=pgbouncer"
    db = connection.settings_dict
    port = _local_port()
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        dbname="pgbouncer",  # the console: only a PgBouncer answers it
        autocommit=True,
        cursor_factory=psycopg.ClientCursor,  # the console speaks the simple protocol only
    ) as console:
        config = {row[0]: row[1] for row in console.execute("SHOW CONFIG")}
        clients = console.execute("SHOW CLIENTS")
        columns = [column.name for column in clients.description]
        ours = [
            row
            for row in (dict(zip(columns, values, strict=True)) for values in clients)
            if row["port"] == port and row["database"] == db["NAME"]
        ]

    assert config["pool_mode"] == "transaction"
    assert len(ours) == 1
