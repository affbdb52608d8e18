"""Bulk inserts that go straight to the driver's ``executemany``.

The statement is compiled once for a table *without* column types, so values (already in the
driver's form: str, int, bytes) skip SQLAlchemy's per-row type processing, which cost several
times the insert itself at 100k rows. SQLite and PostgreSQL get ``ON CONFLICT DO NOTHING`` when
asked; a positional driver (sqlite3) takes tuples, a named one (psycopg) dicts.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, column, insert, table
from sqlalchemy.engine import Dialect


@dataclass(frozen=True)
class DriverInsert:
    sql: str
    columns: tuple[str, ...]
    order: tuple[str, ...] | None  # positional parameter order; None: named parameters
    reports_inserted: bool  # the driver's rowcount counts the rows really inserted

    def parameters(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """Rows given in ``columns`` order, as the driver wants them."""
        if self.order is None:
            return [dict(zip(self.columns, row, strict=True)) for row in rows]
        if self.order == self.columns:
            return list(rows)
        index = [self.columns.index(name) for name in self.order]
        return [tuple(row[i] for i in index) for row in rows]

    def run(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> int:
        """Inserts ``rows``; returns the driver's rowcount."""
        if not rows:
            return 0
        return connection.exec_driver_sql(self.sql, self.parameters(rows)).rowcount


@lru_cache(maxsize=64)
def _compiled(dialect: Dialect, name: str, columns: tuple[str, ...], conflict: tuple[str, ...]):
    untyped = table(name, *(column(c) for c in columns))
    values = {c: bindparam(c) for c in columns}
    if conflict and dialect.name in ("sqlite", "postgresql"):
        module = __import__(f"sqlalchemy.dialects.{dialect.name}", fromlist=["insert"])
        statement = (
            module.insert(untyped)
            .values(values)
            .on_conflict_do_nothing(index_elements=list(conflict))
        )
    else:
        statement = insert(untyped).values(values)
    compiled = statement.compile(dialect=dialect)
    order = tuple(compiled.positiontup or columns) if dialect.positional else None
    reports = dialect.name in ("sqlite", "postgresql") and dialect.supports_sane_multi_rowcount
    return DriverInsert(str(compiled), columns, order, reports)


def driver_insert(
    dialect: Dialect, table_name: str, columns: Sequence[str], conflict: Sequence[str] = ()
) -> DriverInsert:
    """The insert into ``table_name`` for ``dialect`` (compiled once per combination)."""
    return _compiled(dialect, table_name, tuple(columns), tuple(conflict))
