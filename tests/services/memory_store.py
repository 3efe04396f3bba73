"""The rule book alone: a scan store over plain Python data, no database at all.

It reads a built database once into lists, then answers facts and records
decisions in memory, so the differential test can run a day through the rule
book with nothing else in the way and compare it with every real store. Its
records come out in ``rows_written``'s shape.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from station.domain import OrderStatus
from station.models import (
    AddOn,
    Attendee,
    Conference,
    DoorCheck,
    DoorClear,
    Order,
    OrderLineItem,
    Person,
    Staff,
    TicketType,
)
from station.rulebook import Accept, Holder, Line, Prior, ScanFacts, ScanRequest, Target
from station.rulebook.event_rules import Direction, ProductRules
from station.rulebook.facts import (
    DoorState,
    FirstEntry,
    RecordKind,
    ScanRecord,
    VoidFacts,
    VoidRequest,
)
from station.rulebook.rules import VoidAccept
from station.services.errors import ConfigurationError, StationError
from station.services.results import StationContext
from station.services.store import ConferenceRef, ConflictReport, Recorded
from station.text import display_safe


@dataclass
class Snapshot:
    conferences: dict[str, ConferenceRef]
    attendees: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    products: list[dict[str, Any]]
    staff: dict[int, str]
    check_ins: list[dict[str, Any]] = field(default_factory=list)
    door_checks: list[dict[str, Any]] = field(default_factory=list)
    redemptions: list[dict[str, Any]] = field(default_factory=list)
    scan_log: list[dict[str, Any]] = field(default_factory=list)
    voids: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    door_clears: list[dict[str, Any]] = field(default_factory=list)
    # One id sequence per record table, as in the databases (a void names kind and id).
    ids: dict[str, Iterator[int]] = field(
        default_factory=lambda: {k: itertools.count(1) for k in ("checkin", "door", "redeem")}
    )


def snapshot(sessions: sessionmaker[Session]) -> Snapshot:
    """Everything a day of scans reads, copied out of a built database."""
    with sessions() as s:
        conferences = {
            c.slug: ConferenceRef(c.id, c.slug, display_safe(c.name), c.timezone)
            for c in s.scalars(select(Conference))
        }
        attendees = [
            {"id": a.id, "code": a.access_code, "conference_id": a.conference_id,
             "order_id": a.order_id, "first_name": p.first_name, "last_name": p.last_name,
             "username": p.username, "email": p.email,
             "status": o.status if o else None, "reference": o.reference if o else None,
             "attention": (o.checkin_attention or "") if o else "",
             "in_at": datetime.min if a.checked_in_at is not None else None}
            for a, p, o in s.execute(
                select(Attendee, Person, Order)
                .join(Person, Person.id == Attendee.person_id)
                .outerjoin(Order, Order.id == Attendee.order_id)
            )
        ]  # fmt: skip
        lines = [
            {"id": li.id, "order_id": li.order_id, "ticket": li.ticket_type_id,
             "addon": li.addon_id, "description": li.description, "quantity": li.quantity}
            for li in s.scalars(select(OrderLineItem).order_by(OrderLineItem.id))
        ]  # fmt: skip
        products = [
            {"kind": kind, "id": p.id, "conference_id": p.conference_id, "slug": p.slug,
             "name": p.name, "attention": p.checkin_attention or "",
             "rules": ProductRules.from_columns(p.daily_limit, p.open_hours, p.valid_dates,
                                                p.reentry, p.capacity)}
            for kind, model in (("ticket", TicketType), ("addon", AddOn))
            for p in s.scalars(select(model))  # type: ignore[attr-defined]
        ]  # fmt: skip
        staff = {m.id: m.name for m in s.scalars(select(Staff))}
        # A day may start with a room's history: scans at its doors and its clears.
        door_checks = [
            {"id": d.id, "client_id": d.client_id, "attendee_id": d.attendee_id,
             "at": d.checked_at, "staff_id": d.staff_id, "station": d.station,
             "kind": "ticket" if d.ticket_type_id is not None else "addon",
             "product": d.ticket_type_id or d.addon_id, "direction": d.direction}
            for d in s.scalars(select(DoorCheck).order_by(DoorCheck.id))
        ]  # fmt: skip
        door_clears = [
            {"kind": "ticket" if c.ticket_type_id is not None else "addon",
             "product": c.ticket_type_id or c.addon_id, "at": c.cleared_at}
            for c in s.scalars(select(DoorClear).order_by(DoorClear.id))
        ]  # fmt: skip
    data = Snapshot(conferences, attendees, lines, products, staff, door_checks=door_checks,
                    door_clears=door_clears)  # fmt: skip
    data.ids["door"] = itertools.count(max((d["id"] for d in door_checks), default=0) + 1)
    return data


class MemoryStore:
    def __init__(self, data: Snapshot, clock: Callable[[], datetime]) -> None:
        self.data = data
        self._clock = clock

    def conference(self, slug: str) -> ConferenceRef:
        ref = self.data.conferences.get(slug)
        if ref is None:
            raise ConfigurationError(f"Conference {slug!r} does not exist in this database.")
        return ref

    @contextmanager
    def attempt(
        self, ctx: StationContext, request: ScanRequest, *, attendee_id: int | None = None
    ) -> Iterator[MemoryAttempt]:
        yield MemoryAttempt(self, ctx, request, self.conference(ctx.conference), attendee_id)

    def log_refusal(self, ctx: StationContext, action: str, code: str, error: StationError,
                    *, client_at: datetime | None = None) -> None:  # fmt: skip
        conference = self.data.conferences.get(ctx.conference)
        self.log(ctx, conference.id if conference else None, action, code, "refused",
                 str(error.reason), error.message, error.attendee_id)  # fmt: skip

    def log(self, ctx: StationContext, conference_id: int | None, action: str, code: str,
            outcome: str, reason: str, message: str, attendee_id: int | None) -> None:  # fmt: skip
        self.data.scan_log.append(
            {"conference_id": conference_id, "attendee_id": attendee_id,
             "client_at": self._clock(), "station": ctx.station[:100], "staff_id": ctx.staff_id,
             "action": action, "code": display_safe(code, limit=256), "outcome": outcome,
             "reason": reason, "message": message[:300]}
        )  # fmt: skip

    def record_conflict(self, ctx: StationContext, conflict: ConflictReport) -> bool:
        if any(c["client_id"] == conflict.client_id for c in self.data.conflicts):
            return False
        station = ctx.station[:100]
        other = None
        if conflict.kind == "overspend" and conflict.line_item_id is not None:
            standing = [r for r in self.data.redemptions
                        if r["line_id"] == conflict.line_item_id
                        and not self.voided("redeem", r["id"])]  # fmt: skip
            standing.sort(key=lambda r: (r["station"] != station, r["at"], r["id"]))
            other = standing[-1] if standing else None
        self.data.conflicts.append(
            {"client_id": conflict.client_id, "conference_id": self.conference(ctx.conference).id,
             "attendee_id": conflict.attendee_id, "kind": conflict.kind,
             "action": conflict.action, "code": display_safe(conflict.code, limit=256),
             "line_id": conflict.line_item_id, "station": station, "staff_id": conflict.staff_id,
             "client_at": conflict.client_at, "received_at": self._clock(),
             "reason": conflict.reason[:40], "message": conflict.message[:300],
             "other_station": other["station"] if other else None,
             "other_at": other["at"] if other else None}
        )  # fmt: skip
        return True

    def voided(self, kind: str, record_id: int) -> bool:
        return any(v["kind"] == kind and v["record_id"] == record_id for v in self.data.voids)

    def records(self, conference_id: int) -> list[ScanRecord]:
        """Every record as a void sees it (the shape of station.services.void_queries)."""
        data = self.data
        people = {a["id"]: a for a in data.attendees if a["conference_id"] == conference_id}
        products = {(p["kind"], p["id"]): p["name"] for p in data.products}
        lines = {li["id"]: li for li in data.lines}
        found = []
        tables: tuple[tuple[RecordKind, list[dict[str, Any]]], ...] = (
            ("checkin", data.check_ins),
            ("door", data.door_checks),
            ("redeem", data.redemptions),
        )
        for kind, table in tables:
            for r in table:
                person = people.get(r["attendee_id"])
                if person is None:
                    continue
                product = ""
                if kind == "door":
                    product = products[(r["kind"], r["product"])]
                elif kind == "redeem":
                    product = products.get(("addon", lines[r["line_id"]]["addon"]), "")
                found.append(ScanRecord(
                    kind, r["id"], r["attendee_id"], r["at"], r["station"],
                    person["first_name"], person["last_name"], person["username"],
                    person["code"], product, self.voided(kind, r["id"]),
                ))  # fmt: skip
        return found

    @contextmanager
    def void_attempt(
        self, ctx: StationContext, request: VoidRequest, target: tuple[RecordKind, int] | None
    ) -> Iterator[MemoryVoidAttempt]:
        yield MemoryVoidAttempt(self, ctx, request, self.conference(ctx.conference), target)

    def scan_records(self, ctx: StationContext, code: str) -> tuple[ScanRecord, ...]:
        mine = [
            r for r in self.records(self.conference(ctx.conference).id) if r.access_code == code
        ]
        return tuple(sorted(mine, key=lambda r: (r.at, r.id), reverse=True))

    def door_state(self, attendee_id: int, target: Target) -> DoorState:
        """The holder's standing scans at the door, its last clear, and (for a door with a
        capacity) how many are inside: whoever's last standing scan since the clear is an
        entry (the rule of ``station.services.rooms``, over plain lists)."""
        data, product = self.data, (target.kind, target.id)
        cleared = max((c["at"] for c in data.door_clears
                       if (c["kind"], c["product"]) == product), default=None)  # fmt: skip
        standing = sorted(
            (d for d in data.door_checks
             if (d["kind"], d["product"]) == product and not self.voided("door", d["id"])),
            key=lambda d: (d["at"], d["id"]),
        )  # fmt: skip
        events: tuple[tuple[datetime, Direction], ...] = tuple(
            (d["at"], d["direction"]) for d in standing if d["attendee_id"] == attendee_id
        )
        inside = None
        if target.rules.capacity is not None:
            last: dict[int, str] = {}
            for d in standing:
                if cleared is None or d["at"] > cleared:
                    last[d["attendee_id"]] = d["direction"]
            inside = sum(1 for direction in last.values() if direction == "in")
        return DoorState(events=events, cleared_at=cleared, inside=inside)

    def holder(self, attendee: dict[str, Any]) -> Holder:
        data = self.data
        products = {(p["kind"], p["id"]): p for p in data.products}
        made = []
        for li in data.lines:
            if attendee["order_id"] is None or li["order_id"] != attendee["order_id"]:
                continue
            kind: Literal["ticket", "addon"] = "addon" if li["addon"] is not None else "ticket"
            product = products[(kind, li["addon"] if kind == "addon" else li["ticket"])]
            uses = [r for r in data.redemptions
                    if r["line_id"] == li["id"] and r["attendee_id"] == attendee["id"]
                    and not self.voided("redeem", r["id"])]  # fmt: skip
            made.append(
                Line(li["id"], kind, product["id"], product["slug"], product["name"],
                     li["description"], li["quantity"], len(uses),
                     uses[-1]["at"] if uses else None, uses[-1]["station"] if uses else "",
                     product["attention"], product["rules"],
                     tuple(use["at"] for use in uses) if kind == "addon" else ())
            )  # fmt: skip
        entries = [c for c in data.check_ins if c["attendee_id"] == attendee["id"]
                   and not self.voided("checkin", c["id"])]  # fmt: skip
        first = None
        if entries:
            earliest = min(entries, key=lambda c: (c["at"], c["id"]))
            first = FirstEntry(earliest["at"], earliest["station"],
                               data.staff.get(earliest["staff_id"]))  # fmt: skip
        status = attendee["status"]
        return Holder(
            attendee["id"], attendee["code"], attendee["first_name"], attendee["last_name"],
            attendee["username"], attendee["email"] or "",
            OrderStatus(status) if status else None, attendee["reference"],
            attendee["in_at"] is not None or bool(entries), first, len(entries), tuple(made),
            attendee["attention"],
        )  # fmt: skip


class MemoryAttempt:
    final = True  # facts from the store itself: a refusal on them is the answer

    def __init__(self, store: MemoryStore, ctx: StationContext, request: ScanRequest,
                 conference: ConferenceRef, attendee_id: int | None) -> None:  # fmt: skip
        self._store, self._ctx, self._request = store, ctx, request
        self._conference, self._attendee_id = conference, attendee_id

    def facts(self) -> ScanFacts:
        data, request, conference = self._store.data, self._request, self._conference
        wanted = request.wanted_product()
        kind, slug = wanted if wanted is not None else (None, None)
        target = None
        for p in data.products:
            if (p["kind"], p["slug"], p["conference_id"]) == (kind, slug, conference.id):
                target = Target(p["kind"], p["id"], p["slug"], p["name"], p["rules"])
        found = [
            a for a in data.attendees if a["conference_id"] == conference.id
            and (a["id"] == self._attendee_id if self._attendee_id is not None
                 else a["code"] == request.code)
        ]  # fmt: skip
        holder = self._store.holder(found[0]) if found else None
        door = None
        if request.action == "door" and holder is not None and target is not None:
            door = self._store.door_state(holder.attendee_id, target)
        return ScanFacts(
            request=request,
            conference_id=conference.id,
            timezone=conference.timezone,
            holder=holder,
            target=target,
            target_missing=kind is not None and target is None,
            prior=self._prior(),
            now=self._store._clock(),
            door=door,
        )

    def _prior(self) -> Prior | None:
        data, client_id = self._store.data, self._request.client_id
        action = self._request.action
        if action == "checkin":
            for c in data.check_ins:
                if c["client_id"] == client_id:
                    same = [e for e in data.check_ins if e["attendee_id"] == c["attendee_id"]]
                    before = sum(1 for e in same if e["id"] < c["id"])
                    return Prior(c["attendee_id"], c["at"], entries_before=before)
        if action == "door":
            for d in data.door_checks:
                if d["client_id"] == client_id:
                    return Prior(d["attendee_id"], d["at"])
        if action == "redeem":
            for r in data.redemptions:
                if r["client_id"] == client_id:
                    then = sum(1 for e in data.redemptions if e["attendee_id"] == r["attendee_id"]
                               and e["line_id"] == r["line_id"] and e["id"] <= r["id"])  # fmt: skip
                    return Prior(r["attendee_id"], r["at"], line_item_id=r["line_id"],
                                 used_then=then)  # fmt: skip
        return None

    def record(self, accept: Accept, code: str) -> Recorded | None:
        store, data, ctx, request = self._store, self._store.data, self._ctx, self._request
        now = store._clock()
        row: dict[str, Any] = {"id": next(data.ids[accept.action]),
                               "client_id": request.client_id,
                               "attendee_id": accept.attendee_id, "at": now,
                               "staff_id": ctx.staff_id, "station": ctx.station[:100]}  # fmt: skip
        if accept.action == "checkin":
            data.check_ins.append({**row, "note": request.note})
            for attendee in data.attendees:
                if attendee["id"] == accept.attendee_id and accept.first:
                    attendee["in_at"] = attendee["in_at"] or now
        elif accept.action == "door":
            assert accept.target is not None
            data.door_checks.append({**row, "kind": accept.target.kind,
                                     "product": accept.target.id,
                                     "direction": accept.direction})  # fmt: skip
        else:
            assert accept.line is not None
            data.redemptions.append({**row, "line_id": accept.line.id, "note": request.note})
        store.log(ctx, self._conference.id, accept.action, code, "accepted", str(accept.reason),
                  accept.message, accept.attendee_id)  # fmt: skip
        staff = data.staff.get(ctx.staff_id) if ctx.staff_id is not None else None
        return Recorded(now, staff if accept.action == "checkin" else None)

    def log_refusal(self, error: StationError, code: str) -> None:
        self._store.log(self._ctx, self._conference.id, self._request.action, code, "refused",
                        str(error.reason), error.message, error.attendee_id)  # fmt: skip


class MemoryVoidAttempt:
    def __init__(
        self,
        store: MemoryStore,
        ctx: StationContext,
        request: VoidRequest,
        conference: ConferenceRef,
        target: tuple[RecordKind, int] | None,
    ) -> None:
        self._store, self._ctx, self._request = store, ctx, request
        self._conference, self._target = conference, target

    def facts(self) -> VoidFacts:
        records = self._store.records(self._conference.id)
        here = [r for r in records if r.station == self._ctx.station[:100]]
        last = max(here, key=lambda r: (r.at, r.id), default=None)
        if self._target is None:
            return VoidFacts(self._request, last, last_at_station=last is not None)
        record = next((r for r in records if (r.kind, r.id) == self._target), None)
        is_last = record is not None and last is not None and (last.kind, last.id) == self._target
        return VoidFacts(self._request, record, last_at_station=is_last)

    def record(self, accept: VoidAccept, staff_id: int | None, pin_hash: str | None) -> Recorded:
        store, data, ctx = self._store, self._store.data, self._ctx
        now = store._clock()
        data.voids.append({"client_id": self._request.client_id, "attendee_id": accept.attendee_id,
                           "kind": accept.kind, "record_id": accept.record_id,
                           "staff_id": staff_id, "station": ctx.station[:100],
                           "reason": accept.reason[:300], "at": now})  # fmt: skip
        if accept.kind == "checkin":
            voided_at = next(c["at"] for c in data.check_ins if c["id"] == accept.record_id)
            for attendee in data.attendees:
                if attendee["id"] == accept.attendee_id and attendee["in_at"] == voided_at:
                    left = [c["at"] for c in data.check_ins
                            if c["attendee_id"] == accept.attendee_id
                            and not store.voided("checkin", c["id"])]  # fmt: skip
                    attendee["in_at"] = min(left, default=None)
        store.log(ctx, self._conference.id, "void", f"{accept.kind}:{accept.record_id}",
                  "accepted", "void", accept.reason, accept.attendee_id)  # fmt: skip
        return Recorded(now)


def rows(data: Snapshot) -> dict[str, list[tuple[Any, ...]]]:
    """The memory's records in ``scenario.rows_written``'s shape."""
    return {
        "check_in": [(c["client_id"], c["attendee_id"], c["at"], c["staff_id"], c["station"],
                      c["note"]) for c in data.check_ins],
        "door_check": [(d["client_id"], d["attendee_id"],
                        d["product"] if d["kind"] == "ticket" else None,
                        d["product"] if d["kind"] == "addon" else None, d["at"], d["station"],
                        d["direction"]) for d in data.door_checks],
        "product_redemption": [(r["client_id"], r["attendee_id"], r["line_id"], r["at"],
                                r["station"], r["note"]) for r in data.redemptions],
        "scan_log": [(e["conference_id"], e["attendee_id"], e["client_at"], e["station"],
                      e["staff_id"], e["action"], e["code"], e["outcome"], e["reason"],
                      e["message"]) for e in data.scan_log],
        "attendee": sorted((a["id"], a["in_at"] is not None) for a in data.attendees),
        "scan_void": [(v["client_id"], v["attendee_id"], v["kind"], v["record_id"], v["staff_id"],
                       v["station"], v["reason"], v["at"]) for v in data.voids],
    }  # fmt: skip


__all__ = ["MemoryStore", "rows", "snapshot", "uuid"]
