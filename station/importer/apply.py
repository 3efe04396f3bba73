"""Write a plan in bulk, in dependency order, with ids allocated up front.

Products, people, orders, attendees, order lines, redemptions: each table
gets its new rows in one bulk pass (see ``bulk``) and its changed rows in
executemany UPDATEs. Nothing here decides anything; the plan did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from station.importer.bulk import BATCH, Tick, allocate_ids, insert_rows, update_rows
from station.importer.existing import chunked
from station.importer.plan import LineRef, PersonRef, Plan, ProductKey
from station.importer.records import PRELOAD_NOTE, ProductKind, preload_check_in_id
from station.models import (
    AddOn,
    Attendee,
    CheckIn,
    Order,
    OrderLineItem,
    Person,
    ProductRedemption,
    TicketType,
    attendee_search_key,
    refresh_search_keys,
)

PRELOAD_STATION = "preload"


class Writer:
    def __init__(
        self,
        conn: Connection,
        conference_id: int,
        conference_slug: str,
        existing_products: dict[ProductKey, int],
        existing_orders: dict[str, int],
        existing_attendees: dict[str, int],
        now: datetime,
        tick: Tick,
    ) -> None:
        self.conn = conn
        self.conference_id = conference_id
        self.conference_slug = conference_slug
        self.products: dict[ProductKey, int] = dict(existing_products)
        self.orders = dict(existing_orders)
        self.attendees = dict(existing_attendees)
        self.people: dict[str, int] = {}
        self.line_ids: dict[LineRef, int] = {}
        self.now = now
        self.tick = tick

    def write(self, plan: Plan) -> None:
        self._products(plan)
        self._people(plan)
        self._orders(plan)
        self._attendees(plan)
        self._search_keys(plan)
        self._lines(plan)
        self._redemptions(plan)
        self._check_ins(plan)

    def _person_id(self, ref: PersonRef) -> int:
        return ref if isinstance(ref, int) else self.people[ref]

    def _insert(
        self, model: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> list[int]:
        """Insert rows (without ids) and return their new ids, in order."""
        table = _table(model)
        ids = allocate_ids(self.conn, table, len(rows))
        insert_rows(
            self.conn,
            table,
            ("id", *columns),
            [(new_id, *row) for new_id, row in zip(ids, rows, strict=True)],
            self.tick,
        )
        return ids

    def _products(self, plan: Plan) -> None:
        kinds: tuple[tuple[ProductKind, Any], ...] = (("ticket", TicketType), ("addon", AddOn))
        for kind, model in kinds:
            slugs = [(slug, name) for (k, slug), name in plan.new_products.items() if k == kind]
            rows = [(self.conference_id, slug, name) for slug, name in slugs]
            ids = self._insert(model, ("conference_id", "slug", "name"), rows)
            for (slug, _name), product_id in zip(slugs, ids, strict=True):
                self.products[(kind, slug)] = product_id

    def _people(self, plan: Plan) -> None:
        columns = ("username", "first_name", "last_name", "email")
        rows = [tuple(p[c] for c in columns) for p in plan.new_people]
        ids = self._insert(Person, columns, rows)
        self.people = {p["username"]: i for p, i in zip(plan.new_people, ids, strict=True)}
        update_rows(self.conn, _table(Person), plan.people_updates, self.tick)

    def _orders(self, plan: Plan) -> None:
        rows = [
            (self.conference_id, reference, self._person_id(person), status.value, attention)
            for reference, person, status, attention in plan.new_orders
        ]
        columns = ("conference_id", "reference", "person_id", "status", "checkin_attention")
        ids = self._insert(Order, columns, rows)
        self.orders.update((row[1], i) for row, i in zip(rows, ids, strict=True))
        updates = []
        for change in plan.order_updates:
            row = {k: v for k, v in change.items() if k != "person"}
            person = change.get("person")
            if isinstance(person, int | str):
                row["person_id"] = self._person_id(person)
            updates.append(row)
        update_rows(self.conn, _table(Order), updates, self.tick)

    def _attendees(self, plan: Plan) -> None:
        keys = self._new_search_keys(plan)
        rows = [
            (
                code,
                self.conference_id,
                self._person_id(person),
                self.orders[reference] if reference else None,
                checked_in_at,
                self.now,
                self.now,
                key,
            )
            for (code, person, reference, checked_in_at), key in zip(
                plan.new_attendees, keys, strict=True
            )
        ]
        columns = (
            "access_code",
            "conference_id",
            "person_id",
            "order_id",
            "checked_in_at",
            "created_at",
            "updated_at",
            "search_key",
        )
        ids = self._insert(Attendee, columns, rows)
        self.attendees.update((row[0], i) for row, i in zip(rows, ids, strict=True))
        updates = []
        for change in plan.attendee_updates:
            row = {k: v for k, v in change.items() if k != "order_reference"}
            reference = change.get("order_reference")
            if isinstance(reference, str):
                row["order_id"] = self.orders[reference]
            row["updated_at"] = self.now
            updates.append(row)
        update_rows(self.conn, _table(Attendee), updates, self.tick)

    def _new_search_keys(self, plan: Plan) -> list[str]:
        """The lookup's folded key of each new attendee, written with the row (the bulk
        insert bypasses the ORM hook): names from the plan, or from the database for people
        who were there before (their updates are written already)."""
        new_people = {p["username"]: p for p in plan.new_people}
        known = sorted({p for _c, p, _r, _t in plan.new_attendees if isinstance(p, int)})
        people: dict[int, Any] = {}
        for batch in chunked(known, BATCH):
            query = select(Person.id, Person.first_name, Person.last_name, Person.email,
                           Person.username).where(Person.id.in_(batch))  # fmt: skip
            people.update((r.id, r) for r in self.conn.execute(query))
        keys = []
        for code, person, reference, _at in plan.new_attendees:
            if isinstance(person, int):
                row = people[person]
                parts = (row.first_name, row.last_name, row.email, row.username)
            else:
                p = new_people[person]
                parts = (p["first_name"], p["last_name"], p["email"], p["username"])
            keys.append(attendee_search_key(*parts, reference, code))
        return keys

    def _search_keys(self, plan: Plan) -> None:
        """Keys that this import's updates made stale: changed attendees, and the attendees
        of changed people and orders (in any conference: a person is shared)."""
        refresh_search_keys(
            self.conn,
            attendee_ids=[_id(u) for u in plan.attendee_updates],
            person_ids=[_id(u) for u in plan.people_updates],
            order_ids=[_id(u) for u in plan.order_updates],
        )

    def _lines(self, plan: Plan) -> None:
        rows = [
            (
                self.orders[line.order_reference],
                line.description,
                line.quantity,
                self.products[("ticket", line.slug)] if line.kind == "ticket" else None,
                self.products[("addon", line.slug)] if line.kind == "addon" else None,
                line.source_id,
            )
            for line in plan.new_lines
        ]
        columns = (
            "order_id",
            "description",
            "quantity",
            "ticket_type_id",
            "addon_id",
            "source_line_id",
        )
        ids = self._insert(OrderLineItem, columns, rows)
        self.line_ids = dict(plan.line_ids)
        for line, line_id in zip(plan.new_lines, ids, strict=True):
            self.line_ids[(line.order_reference, line.kind, line.slug, line.source_id)] = line_id
        update_rows(self.conn, _table(OrderLineItem), plan.line_updates, self.tick)
        for batch in chunked(sorted(plan.line_deletes), BATCH):
            self.conn.execute(delete(OrderLineItem).where(OrderLineItem.id.in_(batch)))
            self.tick(len(batch))

    def _redemptions(self, plan: Plan) -> None:
        rows = [
            {
                "client_id": r.client_id,
                "attendee_id": self.attendees[r.access_code],
                "order_line_item_id": self.line_ids[r.line],
                "conference_id": self.conference_id,
                "redeemed_at": r.redeemed_at,
                "staff_id": None,
                "station": PRELOAD_STATION,
                "note": PRELOAD_NOTE,
            }
            for r in plan.new_redemptions
        ]
        # The plan skipped every client id already present; DO NOTHING on conflict
        # also covers a second import of the same preload running at the same time.
        statement = _insert_ignoring_conflicts(self.conn, _table(ProductRedemption))
        for batch in chunked(rows, BATCH):
            self.conn.execute(statement, list(batch))
            self.tick(len(batch))

    def _check_ins(self, plan: Plan) -> None:
        """The source's first check-in as a check-in row: the badge, the re-entry
        wording and the check-in export all read check-in rows."""
        rows = [
            {
                "client_id": preload_check_in_id(self.conference_slug, code),
                "attendee_id": self.attendees[code],
                "conference_id": self.conference_id,
                "checked_in_at": at,
                "staff_id": None,
                "station": PRELOAD_STATION,
                "note": PRELOAD_NOTE,
            }
            for code, at in plan.new_check_ins
        ]
        statement = _insert_ignoring_conflicts(self.conn, _table(CheckIn))
        for batch in chunked(rows, BATCH):
            self.conn.execute(statement, list(batch))
            self.tick(len(batch))


def _insert_ignoring_conflicts(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=["client_id"])
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=["client_id"])


def _id(update: dict[str, object]) -> int:
    value = update["id"]
    assert isinstance(value, int)
    return value


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table
