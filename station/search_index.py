"""Keeps ``attendee.search_key`` (the folded names the lookup searches) right, on every write.

The key of an attendee is made of its person's names, e-mail and username, its order's
reference and its badge code (:func:`attendee_key_parts`, folded by
:func:`station.searchkey.search_key`). Any write to one of those rewrites it:

- through the ORM (tests' builders, the services, scripts): the ``after_flush`` hook below,
  registered on every :class:`~sqlalchemy.orm.Session` when ``station.models`` is imported,
  so an ORM write cannot forget it;
- by the bulk paths that bypass the ORM (the importer's COPY and executemany, the demo's
  bulk inserts): each calls :func:`refresh_search_keys` with what it wrote, in its
  transaction. Rows one of them forgets have a NULL key; the lookup still finds them (it
  folds such rows itself, through a small partial index) and the next refresh fills them.

The key is always recomputed from the rows as stored, never from what a caller thinks it
wrote, and only changed keys are written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, event, select, text
from sqlalchemy.orm import Session, UOWTransaction, attributes

from station.models import Attendee, Order, Person
from station.searchkey import search_key

_CHUNK = 500
_PERSON_FIELDS = ("first_name", "last_name", "email", "username")
_ATTENDEE_FIELDS = ("person_id", "order_id", "access_code")
_UPDATE = text("UPDATE attendee SET search_key = :k WHERE id = :i")  # no onupdate for updated_at


#: Search structures the migrations own and the models do not describe (a GIN index with an
#: operator class of an extension; an FTS5 virtual table and its shadow tables).
MIGRATION_OWNED_INDEXES = frozenset({"ix_attendee_search_key_trgm"})
MIGRATION_OWNED_TABLE_PREFIX = "attendee_search"


def include_in_autogenerate(name: str | None, type_: str, _parents: object) -> bool:
    """Alembic ``include_name``: leave the migration-owned search structures out of a
    comparison of the database with the models."""
    if type_ == "table" and name is not None:
        return not name.startswith(MIGRATION_OWNED_TABLE_PREFIX)
    if type_ == "index":
        return name not in MIGRATION_OWNED_INDEXES
    return True


def attendee_key_parts(
    first_name: str | None,
    last_name: str | None,
    email: str | None,
    username: str | None,
    reference: str | None,
    access_code: str | None,
) -> tuple[str | None, ...]:
    """What an attendee's key is made of, in the order the key holds it."""
    return (first_name, last_name, email, username, reference, access_code)


def key_of_row(row: Any) -> str:
    return search_key(
        attendee_key_parts(
            row.first_name, row.last_name, row.email, row.username, row.reference, row.access_code
        )
    )


def _key_rows() -> Any:
    return (
        select(
            Attendee.id,
            Attendee.access_code,
            Attendee.search_key,
            Person.first_name,
            Person.last_name,
            Person.email,
            Person.username,
            Order.reference,
        )
        .join(Person, Person.id == Attendee.person_id)
        .outerjoin(Order, Order.id == Attendee.order_id)
    )


def refresh_search_keys(
    conn: Connection,
    *,
    attendee_ids: Iterable[int] = (),
    person_ids: Iterable[int] = (),
    order_ids: Iterable[int] = (),
    conference_id: int | None = None,
) -> int:
    """Recompute the keys of the attendees named (directly, by person, by order, or all of a
    conference) and write those that changed; returns how many were written."""
    queries = []
    for column, ids in (
        (Attendee.id, attendee_ids),
        (Attendee.person_id, person_ids),
        (Attendee.order_id, order_ids),
    ):
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), _CHUNK):
            queries.append(_key_rows().where(column.in_(wanted[start : start + _CHUNK])))
    if conference_id is not None:
        queries.append(_key_rows().where(Attendee.conference_id == conference_id))
    changed: dict[int, str] = {}
    for query in queries:
        for row in conn.execute(query):
            key = key_of_row(row)
            if key != row.search_key:
                changed[row.id] = key
    write_keys(conn, changed.items())
    return len(changed)


def write_keys(conn: Connection, keys: Iterable[tuple[int, str]]) -> None:
    params = [{"i": attendee_id, "k": key} for attendee_id, key in keys]
    for start in range(0, len(params), 5000):
        conn.execute(_UPDATE, params[start : start + 5000])


def _changed(obj: object, fields: Sequence[str]) -> bool:
    state = attributes.instance_state(obj)
    return any(state.attrs[f].history.has_changes() for f in fields)


@event.listens_for(Session, "after_flush")
def _keys_after_flush(session: Session, _flush: UOWTransaction) -> None:
    """Rewrite the keys an ORM flush made stale, in the flush's own transaction."""
    attendee_ids: list[int] = []
    person_ids: list[int] = []
    order_ids: list[int] = []
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Attendee):
            if obj in session.new or _changed(obj, _ATTENDEE_FIELDS):
                attendee_ids.append(obj.id)
        elif isinstance(obj, Person):
            if obj not in session.new and _changed(obj, _PERSON_FIELDS):
                person_ids.append(obj.id)
        elif isinstance(obj, Order) and obj not in session.new and _changed(obj, ("reference",)):
            order_ids.append(obj.id)
    if attendee_ids or person_ids or order_ids:
        refresh_search_keys(
            session.connection(),
            attendee_ids=attendee_ids,
            person_ids=person_ids,
            order_ids=order_ids,
        )
