"""Migration operations for schema changes that Django's own would make costly on PostgreSQL."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState


class OnPostgresql(migrations.SeparateDatabaseAndState):
    """`operations` everywhere, except that a PostgreSQL database gets `postgresql` instead.

    For changes whose outcome Django reaches the long way round on PostgreSQL: dropping an
    index by turning off `db_index` on a foreign key drops and re-adds the key's constraint,
    which checks every row again, and moving `unique=True` to a constraint builds a new unique
    index, both under a table lock. `postgresql` (RunSQL, with its reverse) gets the same schema
    by dropping and renaming. Other databases (the embedded SQLite) run `operations` as usual.
    """

    def __init__(self, operations: list[Operation], postgresql: list[Operation]) -> None:
        super().__init__(database_operations=operations, state_operations=operations)
        self.postgresql = postgresql

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (
            self.__class__.__qualname__,
            [],
            {"operations": self.state_operations, "postgresql": self.postgresql},
        )

    # Called as every operation is, with (app_label, schema_editor, from_state, to_state).
    def database_forwards(self, *args: Any) -> None:
        self._run("database_forwards", self.postgresql, *args)

    def database_backwards(self, *args: Any) -> None:
        self._run("database_backwards", self.postgresql[::-1], *args)

    def _run(
        self,
        method: str,
        postgresql: list[Operation],
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        *states: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            getattr(super(), method)(app_label, schema_editor, *states)
            return
        for operation in postgresql:
            getattr(operation, method)(app_label, schema_editor, *states)

    def describe(self) -> str:
        return "Schema change (on PostgreSQL by dropping and renaming)"


def drop_indexes(*indexes: tuple[str, str]) -> migrations.RunSQL:
    """Drop each `(name, "table (columns)")` index; undone, they are created again as they were."""
    return migrations.RunSQL(
        sql=[f"DROP INDEX IF EXISTS {name}" for name, _on in indexes],
        reverse_sql=[f"CREATE INDEX {name} ON {on}" for name, on in reversed(indexes)],
    )


def rename_constraint(table: str, old: str, new: str) -> migrations.RunSQL:
    """A unique column's constraint under the name its model's Meta gives it (and back)."""
    return migrations.RunSQL(
        sql=f"ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}",
        reverse_sql=f"ALTER TABLE {table} RENAME CONSTRAINT {new} TO {old}",
    )


def foreign_key_without_index(
    model: str, name: str, *, on_delete: Any, related_name: str, to: str
) -> migrations.AlterField:
    """The state of a foreign key whose own index is dropped (`db_index=False`): another index of
    its table starts with the key."""
    return migrations.AlterField(
        model_name=model,
        name=name,
        field=models.ForeignKey(
            db_index=False, on_delete=on_delete, related_name=related_name, to=to
        ),
    )
