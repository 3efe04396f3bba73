"""The two bulk primitives the writer needs, one implementation per database.

New rows get their ids up front (``allocate_ids``) so that later tables can
point at them without reading anything back; then rows go in with the
fastest bulk path each database has: ``COPY ... FROM STDIN`` on PostgreSQL,
``executemany`` of one prepared INSERT on SQLite. Updates are executemany
UPDATEs by primary key on both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select, text, update

from station.importer.existing import chunked

BATCH = 5000
Tick = Callable[[int], None]


def allocate_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """``count`` fresh primary keys for ``table``, safe against concurrent writers.

    PostgreSQL hands them out from the column's sequence. SQLite has no
    sequence, but the import holds the database's write lock from BEGIN
    (BEGIN IMMEDIATE), so nobody else can take the ids above today's maximum.
    """
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        name = conn.dialect.identifier_preparer.format_table(table)
        # One row holding an array: fetching 100,000 single-value rows costs seconds.
        ids = conn.execute(
            text(
                "SELECT array_agg(nextval(pg_get_serial_sequence(:table, 'id'))) "
                "FROM generate_series(1, :n)"
            ),
            {"table": name, "n": count},
        ).scalar_one()
        return sorted(int(i) for i in ids)
    start = int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1
    return list(range(start, start + count))


def insert_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    tick: Tick,
) -> None:
    """Insert tuples of ``columns`` values (ids included) in batches."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, table, columns, rows, tick)
        return
    statement = table.insert()
    for batch in chunked(rows, BATCH):
        conn.execute(statement, [dict(zip(columns, row, strict=True)) for row in batch])
        tick(len(batch))


def update_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], tick: Tick) -> None:
    """executemany ``UPDATE ... WHERE id = ?``, one statement per set of changed columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        columns = tuple(sorted(k for k in row if k != "id"))
        groups.setdefault(columns, []).append({f"b_{k}": v for k, v in row.items()})
    for columns, params in groups.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in columns})
        )
        for batch in chunked(params, BATCH):
            conn.execute(statement, list(batch))
            tick(len(batch))


def _copy_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    tick: Tick,
) -> None:
    preparer = conn.dialect.identifier_preparer
    column_list = ", ".join(preparer.quote(c) for c in columns)
    sql = f"COPY {preparer.format_table(table)} ({column_list}) FROM STDIN"
    # The DBAPI connection of this very transaction: COPY runs inside it.
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        for batch in chunked(rows, BATCH):
            with cursor.copy(sql) as copy:
                for row in batch:
                    copy.write_row(row)
            tick(len(batch))
