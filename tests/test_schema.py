"""The database schema: what the models say, and what a write to the busiest tables pays for."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from links.models import Payment, PaymentLink
from tests.support.factories import PaymentFactory, PaymentLinkFactory

pytestmark = pytest.mark.django_db


def test_the_migrations_describe_the_models():
    """A model change without its migration would reach production as a schema that differs
    from what the code expects."""
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
    except SystemExit:
        pytest.fail(f"models changed without a migration:\n{out.getvalue()}")


def test_two_links_never_share_a_token():
    link = PaymentLinkFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentLinkFactory(merchant=link.merchant, token=link.token)
    assert PaymentLink.objects.filter(token=link.token).count() == 1


def test_two_payments_never_share_a_stripe_id_and_any_number_have_none_yet():
    first = PaymentFactory(provider_id="pi_unique_1")
    PaymentFactory(link=first.link, provider_id=None)
    PaymentFactory(link=first.link, provider_id=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentFactory(link=first.link, provider_id="pi_unique_1")
    assert Payment.objects.filter(provider_id="pi_unique_1").count() == 1


def _indexes(table: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    """Every index of `table` (constraints' included): name → (columns, unique)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        name: (tuple(info["columns"]), bool(info["unique"]))
        for name, info in constraints.items()
        if info["index"] or info["unique"] or info["primary_key"]
    }


# What a write to the project's tables pays for, on PostgreSQL: every index of a table is updated
# on every insert. Left as they are, with their reason: rows written once per person, key or
# invitation, and a prefix the outbox searches.
REDUNDANT_BUT_KEPT = {
    "merchants_user_email_5718ab8c_like": "Django's user model, written once per person",
    "merchants_membership_user_id_572edf71": "written once per member of a shop",
    "merchants_invitation_token_2efdb708_like": "written once per invitation",
    "merchants_apikey_secret_hash_8577bc6b_like": "written once per API key",
    "vpos_outboxemail_dedupe_key_b1f0c455_like": "dedupe_key__startswith (a payment's emails)",
}
PROJECT_APPS = ("links", "merchants", "receipts", "vpos", "integrations")


def _project_indexes() -> list[tuple[str, str, list[str], bool]]:
    """(table, index, columns, pattern-matching) of every whole-table index of the project's
    tables; partial indexes are left out (they cover some rows only)."""
    tables = [
        model._meta.db_table
        for model in apps.get_models()
        if model._meta.app_label in PROJECT_APPS and not model._meta.proxy
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, i.relname,
                   array(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
                         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                         ORDER BY k.n),
                   pg_get_indexdef(x.indexrelid) LIKE '%%pattern_ops%%'
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            WHERE t.relname = ANY(%s) AND x.indpred IS NULL
            ORDER BY 1, 2
            """,
            [tables],
        )
        return [(table, name, list(columns), like) for table, name, columns, like in cursor]


def _redundant_indexes() -> set[str]:
    """Indexes a write pays for that no lookup needs: one whose columns lead another index of
    its table (that one serves the same lookups), and pattern-matching twins (LIKE 'x%')."""
    indexes = _project_indexes()
    redundant = {name for _table, name, _columns, like in indexes if like}
    for table, name, columns, _like in indexes:
        for other_table, other, other_columns, other_like in indexes:
            if (
                other_table == table
                and other != name
                and not other_like
                and len(columns) < len(other_columns)
                and other_columns[: len(columns)] == columns
            ):
                redundant.add(name)
    return redundant


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_no_write_pays_for_an_index_that_no_lookup_needs():
    """A link, a payment and its receipt, emails, webhooks, invoices: each index is one more
    write. None repeats another's leading columns, none is a pattern-matching twin of an
    equality lookup, except the few rarely written ones named above."""
    assert _redundant_indexes() == set(REDUNDANT_BUT_KEPT)
    names = {name for _table, name, _columns, _like in _project_indexes()}
    assert {
        "link_token_unique",
        "payment_provider_id_unique",
        "refund_provider_id_unique",
        "stripe_event_unique",
        "audit_action",
        "outbox_email_ref",
    } <= names


LEAN_INDEX_MIGRATIONS = {  # app: (the migration before, the tables it changes)
    "links": ("0016", ["links_paymentlink", "links_payment", "links_refund", "links_stripeevent"]),
    "vpos": ("0004", ["vpos_auditentry", "vpos_outboxemail"]),
    "receipts": ("0007", ["receipts_receipt", "receipts_invoice"]),
    "integrations": ("0001", ["merchants_apiidempotencykey", "merchants_webhookdelivery"]),
}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_the_index_migrations_reverse_and_apply_again():
    """Their PostgreSQL side is written by hand (vpos.schema.OnPostgresql): undone, the tables
    have their earlier indexes and constraints back; redone, the same as before."""
    tables = [
        table for _before, app_tables in LEAN_INDEX_MIGRATIONS.values() for table in app_tables
    ]
    before = {table: _indexes(table) for table in tables}
    try:
        for app, (migration, _tables) in LEAN_INDEX_MIGRATIONS.items():
            call_command("migrate", app, migration, verbosity=0)
        undone = {table: _indexes(table) for table in tables}
        for table in tables:
            assert len(undone[table]) > len(before[table]), table
        assert "links_paymentlink_token_key" in undone["links_paymentlink"]
        assert "links_payment_provider_id_key" in undone["links_payment"]
        assert "links_stripeevent_event_id_key" in undone["links_stripeevent"]
        assert "vpos_outboxemail_ref_1f1e8e1c" in undone["vpos_outboxemail"]
        assert _redundant_indexes() > set(REDUNDANT_BUT_KEPT)
    finally:
        call_command("migrate", verbosity=0)
    assert {table: _indexes(table) for table in tables} == before
    assert _redundant_indexes() == set(REDUNDANT_BUT_KEPT)
