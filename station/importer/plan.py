"""Diff the records against the snapshot: what to create, update or remove, and why not.

Planning writes nothing, so ``--dry-run`` is the plan's counts, and a file
with bad rows can be refused before a single statement changes data. Each
record's changes are kept apart until its checks pass, so a bad row is left
out whole, never half-applied.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from station.domain import OrderStatus
from station.importer.existing import (
    ExistingLine,
    ExistingOrder,
    Snapshot,
    username_for,
)
from station.importer.records import (
    AttendeeRecord,
    LineKey,
    Problem,
    ProductKind,
    WantedProduct,
)

# A person or order is referred to by id when it exists, by its natural key when it is new.
PersonRef = int | str  # person id | username
ProductKey = tuple[ProductKind, str]
# An order line by order reference, product and source id: (reference, kind, slug, source id).
LineRef = tuple[str, ProductKind, str, str | None]

COUNT_NAMES = (
    "attendees",
    "people",
    "orders",
    "order lines",
    "ticket types",
    "add-ons",
    "check-ins carried over",
    "redemptions carried over",
)


@dataclass(slots=True)
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
        }


@dataclass(frozen=True, slots=True)
class NewLine:
    order_reference: str
    kind: ProductKind
    slug: str
    quantity: int
    description: str
    source_id: str | None = None


@dataclass(frozen=True, slots=True)
class NewRedemption:
    access_code: str
    order_reference: str
    kind: ProductKind
    slug: str
    client_id: uuid.UUID
    redeemed_at: datetime
    source_id: str | None = None

    @property
    def line(self) -> LineRef:
        return (self.order_reference, self.kind, self.slug, self.source_id)


@dataclass(frozen=True, slots=True)
class QuantityCheck:
    """After the import, ``line_id`` must have room for what is redeemed plus ``adding``."""

    line_id: int
    label: str
    quantity: int
    adding: int
    removing: bool


@dataclass(slots=True)
class RecordPlan:
    """One record's share of the plan, merged only if its checks pass."""

    record: AttendeeRecord
    new_person: dict[str, str] | None = None
    person_update: dict[str, object] | None = None
    new_order: tuple[str, PersonRef, OrderStatus, str | None] | None = None
    order_update: dict[str, object] | None = None
    new_attendee: tuple[str, PersonRef, str | None, datetime | None] | None = None
    attendee_update: dict[str, object] | None = None
    new_lines: list[NewLine] = field(default_factory=list)
    line_updates: list[dict[str, object]] = field(default_factory=list)
    line_deletes: list[int] = field(default_factory=list)
    line_ids: dict[LineRef, int] = field(default_factory=dict)
    unchanged_lines: int = 0
    new_redemptions: list[NewRedemption] = field(default_factory=list)
    known_redemptions: int = 0
    checks: list[QuantityCheck] = field(default_factory=list)
    carried_check_in: bool = False
    check_in: tuple[str, datetime] | None = None

    @property
    def changes_anything(self) -> bool:
        return bool(
            self.new_person
            or self.person_update
            or self.new_order
            or self.order_update
            or self.new_attendee
            or self.attendee_update
            or self.new_lines
            or self.line_updates
            or self.line_deletes
            or self.new_redemptions
        )


@dataclass
class Plan:
    new_products: dict[ProductKey, str] = field(default_factory=dict)
    new_people: list[dict[str, str]] = field(default_factory=list)
    people_updates: list[dict[str, object]] = field(default_factory=list)
    # (reference, person, status, attention note)
    new_orders: list[tuple[str, PersonRef, OrderStatus, str | None]] = field(default_factory=list)
    order_updates: list[dict[str, object]] = field(default_factory=list)
    new_attendees: list[tuple[str, PersonRef, str | None, datetime | None]] = field(
        default_factory=list
    )
    attendee_updates: list[dict[str, object]] = field(default_factory=list)
    new_lines: list[NewLine] = field(default_factory=list)
    line_updates: list[dict[str, object]] = field(default_factory=list)
    line_deletes: list[int] = field(default_factory=list)
    line_ids: dict[LineRef, int] = field(default_factory=dict)
    new_redemptions: list[NewRedemption] = field(default_factory=list)
    # (access code, time): the source's first check-in, written as a check-in row.
    new_check_ins: list[tuple[str, datetime]] = field(default_factory=list)
    counts: dict[str, Counts] = field(default_factory=lambda: {n: Counts() for n in COUNT_NAMES})
    problems: list[Problem] = field(default_factory=list)

    @property
    def writes(self) -> int:
        """Rows to insert, update or delete: the progress bar's total."""
        return (
            len(self.new_products)
            + len(self.new_people)
            + len(self.people_updates)
            + len(self.new_orders)
            + len(self.order_updates)
            + len(self.new_attendees)
            + len(self.attendee_updates)
            + len(self.new_lines)
            + len(self.line_updates)
            + len(self.line_deletes)
            + len(self.new_redemptions)
            + len(self.new_check_ins)
        )


class Planner:
    """Turns records into a plan in two passes: draft every record, then check quantities.

    Between the passes the caller locks the order lines whose checks need redeemed
    counts and loads those counts (see ``existing.lock_lines``).
    """

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.drafts: list[RecordPlan] = []
        self.problems: list[Problem] = []
        self._reference_lines: dict[str, int] = {}

    def draft(
        self, records: Sequence[AttendeeRecord], tick: Callable[[int], None] | None = None
    ) -> None:
        for index, record in enumerate(records, 1):
            try:
                self.drafts.append(self._draft(record))
            except _RowProblem as exc:
                self.problems.append(Problem(record.line, str(exc)))
            if tick is not None and index % 5000 == 0:
                tick(index)

    def lines_to_check(self) -> set[int]:
        return {check.line_id for d in self.drafts for check in d.checks}

    def finish(self, redeemed: dict[int, int]) -> Plan:
        plan = Plan()
        seen_products = set(self.snapshot.products)
        for draft in self.drafts:
            failed = [c for c in draft.checks if redeemed.get(c.line_id, 0) + c.adding > c.quantity]
            if failed:
                self.problems.extend(
                    Problem(draft.record.line, _quantity_message(c, redeemed.get(c.line_id, 0)))
                    for c in failed
                )
                continue
            _merge(plan, draft, seen_products)
        plan.problems = sorted(self.problems, key=lambda p: p.line)
        for kind, name in (("ticket", "ticket types"), ("addon", "add-ons")):
            existing = sum(1 for k in self.snapshot.products if k[0] == kind)
            plan.counts[name].created = sum(1 for k in plan.new_products if k[0] == kind)
            plan.counts[name].unchanged = existing
        return plan

    def _draft(self, record: AttendeeRecord) -> RecordPlan:
        draft = RecordPlan(record)
        code = record.access_code
        other = self.snapshot.foreign_codes.get(code)
        if other is not None:
            raise _RowProblem(f"access_code {code} already belongs to conference {other!r}")
        attendee = self.snapshot.attendees.get(code)
        person = self._person(draft, attendee.person_id if attendee else None)
        order = self._order(draft, person)
        if attendee is None:
            draft.new_attendee = (code, person, record.order_reference, record.checked_in_at)
            draft.carried_check_in = record.checked_in_at is not None
            if record.checked_in_at is not None:
                draft.check_in = (code, record.checked_in_at)
        else:
            changes: dict[str, object] = {}
            if order is None and record.order_reference is not None:
                changes["order_reference"] = record.order_reference  # a new order: id comes later
            elif (order.id if order else None) != attendee.order_id:
                changes["order_id"] = order.id if order else None
            if record.checked_in_at is not None and attendee.checked_in_at is None:
                changes["checked_in_at"] = record.checked_in_at
                draft.carried_check_in = True
                draft.check_in = (code, record.checked_in_at)
            if changes:
                draft.attendee_update = {"id": attendee.id, **changes}
        if record.order_reference is not None:
            self._lines(draft, record.order_reference, order)
        return draft

    def _person(self, draft: RecordPlan, person_id: int | None) -> PersonRef:
        record = draft.record
        wanted = {
            "first_name": record.first_name,
            "last_name": record.last_name,
            "email": record.email,
        }
        if person_id is not None:
            attendee = self.snapshot.attendees[record.access_code]
            current = (attendee.first_name, attendee.last_name, attendee.email)
        else:
            username = username_for(record.access_code)
            existing = self.snapshot.people.get(username)
            if existing is None:
                draft.new_person = {"username": username, **wanted}
                return username
            if existing.id in self.snapshot.people_here:
                raise _RowProblem(
                    f"person {username!r} already has another badge in this conference"
                )
            person_id = existing.id
            current = (existing.first_name, existing.last_name, existing.email)
        if current != (record.first_name, record.last_name, record.email):
            draft.person_update = {"id": person_id, **wanted}
        return person_id

    def _order(self, draft: RecordPlan, person: PersonRef) -> ExistingOrder | None:
        record = draft.record
        reference = record.order_reference
        if reference is None or record.order_status is None:
            return None
        earlier = self._reference_lines.setdefault(reference, record.line)
        if earlier != record.line:
            raise _RowProblem(
                f"order_reference {reference!r} is already used on line {earlier} "
                "(each attendee needs an order of their own)"
            )
        order = self.snapshot.orders.get(reference)
        if order is None:
            draft.new_order = (
                reference,
                person,
                record.order_status,
                record.order_attention or None,
            )
            return None
        others = order.owner_codes - {record.access_code}
        if others:
            raise _RowProblem(
                f"order_reference {reference!r} belongs to attendee {min(others)} already"
            )
        changes: dict[str, object] = {}
        if order.status != record.order_status:
            changes["status"] = record.order_status
        wanted = record.order_attention
        if wanted is not None and (wanted or None) != order.attention:
            changes["checkin_attention"] = wanted or None
        if isinstance(person, str) or person != order.person_id:
            changes["person"] = person
        if changes:
            draft.order_update = {"id": order.id, **changes}
        return order

    def _lines(self, draft: RecordPlan, reference: str, order: ExistingOrder | None) -> None:
        record = draft.record
        adding: dict[LineKey, int] = {}
        for carried in record.carried:
            if carried.client_id in self.snapshot.carried_ids:
                draft.known_redemptions += 1
                continue
            adding[carried.key] = adding.get(carried.key, 0) + 1
            draft.new_redemptions.append(
                NewRedemption(
                    record.access_code,
                    reference,
                    carried.kind,
                    carried.slug,
                    carried.client_id,
                    carried.redeemed_at,
                    carried.source_id,
                )
            )
        existing: list[ExistingLine] = self.snapshot.lines.get(order.id, []) if order else []
        pairs, unmatched = match_lines(existing, record.products)
        for line, product in pairs:
            draft.line_ids[(reference, *product.key)] = line.id
            source_id = product.source_id or line.source_id
            if (line.quantity, line.description, line.source_id) != (
                product.quantity,
                product.description,
                source_id,
            ):
                draft.line_updates.append(
                    {
                        "id": line.id,
                        "quantity": product.quantity,
                        "description": product.description,
                        "source_line_id": source_id,
                    }
                )
            else:
                draft.unchanged_lines += 1
            more = adding.get(product.key, 0)
            if product.quantity < line.quantity or more:
                draft.checks.append(
                    QuantityCheck(line.id, product.name, product.quantity, more, removing=False)
                )
        matched_lines = {line.id for line, _product in pairs}
        for line in existing:
            if line.id not in matched_lines:
                draft.line_deletes.append(line.id)
                draft.checks.append(QuantityCheck(line.id, line.description, 0, 0, removing=True))
        for product in unmatched:
            draft.new_lines.append(
                NewLine(
                    reference,
                    product.kind,
                    product.slug,
                    product.quantity,
                    product.description,
                    product.source_id,
                )
            )


def match_lines(
    existing: Sequence[ExistingLine], wanted: Sequence[WantedProduct]
) -> tuple[list[tuple[ExistingLine, WantedProduct]], list[WantedProduct]]:
    """Pair an order's lines with the lines the file wants; the rest are new.

    A line with a source id (django-program's) is the wanted line with that id
    and product. Then lines are paired by product, each once, where at most one
    side has a source id: a CSV import updates an imported line by product, and
    a preload import takes over a line made before it kept ids. Two different
    source ids are two different lines.
    """
    pairs: list[tuple[ExistingLine, WantedProduct]] = []
    by_source = {p.key: p for p in wanted if p.source_id is not None}
    taken: set[int] = set()  # id() of the wanted products paired
    rest: list[ExistingLine] = []
    for line in existing:
        product = by_source.get((line.kind, line.slug, line.source_id))
        if product is not None and id(product) not in taken:
            taken.add(id(product))
            pairs.append((line, product))
        else:
            rest.append(line)
    for line in rest:
        for product in wanted:
            if (
                id(product) not in taken
                and (product.kind, product.slug) == (line.kind, line.slug)
                and (line.source_id is None or product.source_id is None)
            ):
                taken.add(id(product))
                pairs.append((line, product))
                break
    return pairs, [p for p in wanted if id(p) not in taken]


def match_ticket_types_by_name(
    records: Sequence[AttendeeRecord], snapshot: Snapshot
) -> list[AttendeeRecord]:
    """Point ticket lines at the conference's ticket type of the same name.

    django-program names an attendee's ticket type; a conference set up here
    (by hand or by a CSV import) may keep that type under another slug, and a
    second type of the same name would split the report and the door rules.
    A slug the conference already has wins; otherwise the name decides.
    """
    known = snapshot.ticket_slugs_by_name
    result: list[AttendeeRecord] = []
    for record in records:
        renamed = {
            p.slug: known[p.name.casefold()]
            for p in record.products
            if p.kind == "ticket"
            and ("ticket", p.slug) not in snapshot.products
            and known.get(p.name.casefold(), p.slug) != p.slug
        }
        if not renamed:
            result.append(record)
            continue
        products = tuple(
            replace(p, slug=renamed[p.slug]) if p.kind == "ticket" and p.slug in renamed else p
            for p in record.products
        )
        carried = tuple(
            replace(c, slug=renamed[c.slug]) if c.kind == "ticket" and c.slug in renamed else c
            for c in record.carried
        )
        result.append(replace(record, products=products, carried=carried))
    return result


class _RowProblem(ValueError):
    pass


def _quantity_message(check: QuantityCheck, redeemed: int) -> str:
    if check.removing:
        return (
            f"{check.label!r} is no longer in the order but {redeemed} already redeemed; "
            "not removed (keep it in the file)"
        )
    if check.adding:
        return (
            f"{check.label!r}: {redeemed} redeemed here plus {check.adding} redeemed before "
            f"is more than the quantity {check.quantity}; nothing changed for this attendee"
        )
    return (
        f"{check.label!r}: quantity {check.quantity} is below the {redeemed} already redeemed; "
        "not lowered (fix the file)"
    )


def _merge(plan: Plan, draft: RecordPlan, seen_products: set[ProductKey]) -> None:
    counts = plan.counts
    record = draft.record
    for product in record.products:
        key = (product.kind, product.slug)
        if key not in seen_products:
            seen_products.add(key)
            plan.new_products[key] = product.name
    if draft.new_person is not None:
        plan.new_people.append(draft.new_person)
        counts["people"].created += 1
    elif draft.person_update is not None:
        plan.people_updates.append(draft.person_update)
        counts["people"].updated += 1
    else:
        counts["people"].unchanged += 1
    if draft.new_order is not None:
        plan.new_orders.append(draft.new_order)
        counts["orders"].created += 1
    elif draft.order_update is not None:
        plan.order_updates.append(draft.order_update)
        counts["orders"].updated += 1
    elif record.order_reference is not None:
        counts["orders"].unchanged += 1
    if draft.new_attendee is not None:
        plan.new_attendees.append(draft.new_attendee)
        counts["attendees"].created += 1
    else:
        if draft.attendee_update is not None:
            plan.attendee_updates.append(draft.attendee_update)
        if draft.changes_anything:
            counts["attendees"].updated += 1
        else:
            counts["attendees"].unchanged += 1
    if draft.carried_check_in:
        counts["check-ins carried over"].created += 1
        if draft.check_in is not None:
            plan.new_check_ins.append(draft.check_in)
    elif record.checked_in_at is not None:
        counts["check-ins carried over"].unchanged += 1
    plan.new_lines.extend(draft.new_lines)
    plan.line_updates.extend(draft.line_updates)
    plan.line_deletes.extend(draft.line_deletes)
    plan.line_ids.update(draft.line_ids)
    lines = counts["order lines"]
    lines.created += len(draft.new_lines)
    lines.updated += len(draft.line_updates)
    lines.removed += len(draft.line_deletes)
    lines.unchanged += draft.unchanged_lines
    plan.new_redemptions.extend(draft.new_redemptions)
    counts["redemptions carried over"].created += len(draft.new_redemptions)
    counts["redemptions carried over"].unchanged += draft.known_redemptions
