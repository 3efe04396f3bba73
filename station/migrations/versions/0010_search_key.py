"""The lookup finds people in every script: a folded search key, trigram-indexed

- ``attendee.search_key``: first and last name, e-mail, username, order reference and
  badge code folded by ``station.searchkey.fold`` (no case, no accents, ``ø`` → ``o``, …).
  Written with every attendee write from now on (``station.models``); this
  migration computes it for the rows already there.
- PostgreSQL: GIN trigram indexes (``pg_trgm``) on it, for ``LIKE '%…%'``, and on its
  names part (before the ``|``) for the typo-tolerant ``<%`` of the lookup (on the whole
  key, with e-mail and codes, the index rechecked 2.5 times the rows, 30 ms instead of 13).
  ``pg_trgm`` ships with PostgreSQL (contrib) and is a
  trusted extension since PostgreSQL 13: a role with CREATE on the database may create it,
  no superuser needed. It is created in ``public`` when that schema exists (once per
  database, shared by every schema, like any extension), else in the station's schema; an
  existing installation is used where it is. A server without it (or a role that may not
  create it) gets no index: the lookup still works, by scanning, without typo tolerance.
- SQLite: an FTS5 table with the trigram tokenizer over the same column (external content:
  the text is not stored twice), kept in step by three triggers on ``attendee``. Without
  FTS5 trigram (SQLite before 3.34) the lookup scans instead. A later migration that
  rebuilds ``attendee`` in batch mode drops these triggers with the table and must create
  them again (``create_sqlite_search(op)`` below).
- A partial index on the rows whose key is still NULL (written by a path that forgot it):
  the lookup folds those itself.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:30:00
"""

import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from station.searchkey import search_key

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

_SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE attendee_search USING fts5(search_key, content='attendee', "
    "content_rowid='id', tokenize='trigram', detail='none', columnsize=0)",
    "CREATE TRIGGER attendee_search_insert AFTER INSERT ON attendee "
    "WHEN new.search_key IS NOT NULL BEGIN "
    "INSERT INTO attendee_search(rowid, search_key) VALUES (new.id, new.search_key); END",
    "CREATE TRIGGER attendee_search_delete AFTER DELETE ON attendee "
    "WHEN old.search_key IS NOT NULL BEGIN "
    "INSERT INTO attendee_search(attendee_search, rowid, search_key) "
    "VALUES ('delete', old.id, old.search_key); END",
    "CREATE TRIGGER attendee_search_update AFTER UPDATE OF search_key ON attendee BEGIN "
    "INSERT INTO attendee_search(attendee_search, rowid, search_key) "
    "SELECT 'delete', old.id, old.search_key WHERE old.search_key IS NOT NULL; "
    "INSERT INTO attendee_search(rowid, search_key) "
    "SELECT new.id, new.search_key WHERE new.search_key IS NOT NULL; END",
    "INSERT INTO attendee_search(attendee_search) VALUES ('rebuild')",
)


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("attendee", sa.Column("search_key", sa.Text(), nullable=True))
    _fill_keys(bind)
    op.create_index(
        "ix_attendee_unkeyed",
        "attendee",
        ["conference_id"],
        sqlite_where=sa.text("search_key IS NULL"),
        postgresql_where=sa.text("search_key IS NULL"),
    )
    if bind.dialect.name == "postgresql":
        schema = trigram_schema(bind)
        if schema is None:
            log.warning(
                "pg_trgm is not available or may not be created by this role: the lookup "
                "will scan and will not tolerate typos (see README, Finding people by name)"
            )
        else:
            ops = f"{bind.dialect.identifier_preparer.quote_schema(schema)}.gin_trgm_ops"
            op.execute(
                f"CREATE INDEX ix_attendee_search_key_trgm ON attendee USING gin (search_key {ops})"
            )
            op.execute(
                "CREATE INDEX ix_attendee_search_names_trgm ON attendee "
                f"USING gin ((split_part(search_key, '|', 1)) {ops})"
            )
    elif sqlite_has_trigram_fts(bind):
        create_sqlite_search(op)
    else:
        log.warning("this SQLite has no FTS5 trigram tokenizer: the lookup will scan")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS attendee_search_{trigger}")
        op.execute("DROP TABLE IF EXISTS attendee_search")
    else:
        op.execute("DROP INDEX IF EXISTS ix_attendee_search_names_trgm")
        op.execute("DROP INDEX IF EXISTS ix_attendee_search_key_trgm")
    op.drop_index("ix_attendee_unkeyed", table_name="attendee")
    # A plain ALTER, also on SQLite (3.35+): a batch copy of attendee would break the
    # triggers of 0005 and 0008 on the record tables, which name it.
    op.execute("ALTER TABLE attendee DROP COLUMN search_key")


def create_sqlite_search(operations: Any) -> None:
    for statement in _SQLITE_SEARCH:
        operations.execute(statement)


def sqlite_has_trigram_fts(bind: sa.Connection) -> bool:
    try:
        with bind.begin_nested():
            bind.exec_driver_sql(
                "CREATE VIRTUAL TABLE temp.station_trigram_probe USING fts5(x, tokenize='trigram')"
            )
            bind.exec_driver_sql("DROP TABLE temp.station_trigram_probe")
    except sa.exc.OperationalError:
        return False
    return True


def trigram_schema(bind: sa.Connection) -> str | None:
    """Where pg_trgm is installed, installing it if the server has it and we may."""
    find = sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'"
    )
    schema = bind.scalar(find)
    if schema is not None:
        return str(schema)
    available = bind.scalar(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"))
    if not available:
        return None
    target = bind.scalar(
        sa.text("SELECT coalesce(to_regnamespace('public')::text, current_schema())")
    )
    quoted = bind.dialect.identifier_preparer.quote_schema(str(target))
    try:
        with bind.begin_nested():
            bind.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA {quoted}")
    except sa.exc.DBAPIError:  # not allowed, or another migration created it just now
        pass
    schema = bind.scalar(find)
    return None if schema is None else str(schema)


def _fill_keys(bind: sa.Connection) -> None:
    rows = bind.execute(
        sa.text(
            "SELECT a.id, p.first_name, p.last_name, p.email, p.username, o.reference, "
            "a.access_code FROM attendee a JOIN person p ON p.id = a.person_id "
            'LEFT JOIN "order" o ON o.id = a.order_id'
        )
    ).all()
    params = [{"i": r[0], "k": search_key(r[1:3], r[3:])} for r in rows]
    update = sa.text("UPDATE attendee SET search_key = :k WHERE id = :i")
    for start in range(0, len(params), 5000):
        bind.execute(update, params[start : start + 5000])
