"""The database schema: what the models say, and what a write to the busiest tables pays for."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from links.models import PaymentLink
from tests.support.factories import PaymentLinkFactory
from vpos.models import AuditEntry

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


def _indexes(table: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    """Every index of `table` (constraints' included): name → (columns, unique)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        name: (tuple(info["columns"]), bool(info["unique"]))
        for name, info in constraints.items()
        if info["index"] or info["unique"] or info["primary_key"]
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_a_new_link_and_its_audit_entry_write_no_index_twice():
    """Each index is one more write for every link the API creates: none repeats another's
    leading column alone, and no pattern-matching twin of an equality lookup."""
    links = _indexes(PaymentLink._meta.db_table)
    audit = _indexes(AuditEntry._meta.db_table)
    assert (("token",), True) in links.values()
    assert [name for name, (columns, _u) in links.items() if columns == ("token",)] == [
        "link_token_unique"
    ]
    assert not [name for name, (columns, _u) in links.items() if columns == ("merchant_id",)]
    assert [name for name, (columns, _u) in audit.items() if columns == ("action",)] == [
        "audit_action"
    ]
    assert not [name for name, (columns, _u) in audit.items() if columns == ("merchant_id",)]
    assert len(links) == 8  # id, token, creator; five for the back office, dashboard, expiry
    assert len(audit) == 5  # id, actor, action and the shop's two


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_the_index_migrations_reverse_and_apply_again():
    """Their PostgreSQL side is written by hand (vpos.schema.OnPostgresql): undone, the tables
    have their earlier indexes back; redone, the same as before."""
    tables = (PaymentLink._meta.db_table, AuditEntry._meta.db_table)
    before = [_indexes(table) for table in tables]
    try:
        call_command("migrate", "links", "0016", verbosity=0)
        call_command("migrate", "vpos", "0004", verbosity=0)
        undone = [_indexes(table) for table in tables]
        assert len(undone[0]) == len(before[0]) + 2  # the shop's own and the token's twin
        assert len(undone[1]) == len(before[1]) + 2
        assert "links_paymentlink_token_key" in undone[0]
    finally:
        call_command("migrate", verbosity=0)
    assert [_indexes(table) for table in tables] == before
