"""Stream what the stations recorded to CSV or JSON, however many rows there are.

Rows come from a server-side cursor (``stream_results``/``yield_per``) and go
straight to the output, so memory stays flat for a million scans. Times are
ISO 8601 in UTC. Attendee names and the rest are untrusted: control and bidi
characters are dropped, and in CSV a cell starting with = + - @ (or a tab or
carriage return) gets a leading ' so a spreadsheet shows it instead of
running it as a formula.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.orm import aliased

from station.models import (
    AddOn,
    Attendee,
    CheckIn,
    Conference,
    DoorCheck,
    DoorClear,
    OfflineConflict,
    Order,
    OrderLineItem,
    Person,
    ProductRedemption,
    ScanLog,
    ScanVoid,
    Staff,
    TicketType,
)
from station.services.errors import ConfigurationError, InvalidInput
from station.text import display_safe

KINDS = (
    "checkins",
    "door-checks",
    "door-clears",
    "redemptions",
    "scan-log",
    "offline-conflicts",
)
FORMATS = ("csv", "json", "jsonl")
YIELD_PER = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """What to export; times are aware (see ``parse_time``)."""

    conference: str | None = None
    station: str | None = None
    product: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Export:
    columns: tuple[str, ...]
    rows: Iterator[tuple[Any, ...]]


def parse_time(raw: str, zone: str | None) -> datetime:
    """An ISO 8601 time; without an offset it is read in ``zone`` (the conference's)."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(
            f"{display_safe(raw, limit=40)!r} is not an ISO time (e.g. 2025-05-14T12:00)."
        ) from None
    if value.tzinfo is not None:
        return value
    if zone is None:
        raise InvalidInput(
            f"{display_safe(raw, limit=40)!r} has no UTC offset and there is more than one "
            "conference: add --conference or an offset like +02:00."
        )
    try:
        return value.replace(tzinfo=ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"The conference's time zone {zone!r} is not known.") from None


def conference_zone(conn: Connection, conference: str | None) -> str | None:
    """The zone naive times are read in: the named conference's, or the only one's."""
    query = select(Conference.slug, Conference.timezone)
    if conference is not None:
        query = query.where(Conference.slug == conference)
    rows = conn.execute(query.limit(2)).all()
    if conference is not None and not rows:
        raise ConfigurationError(f"Conference {conference!r} does not exist in this database.")
    return rows[0].timezone if len(rows) == 1 else None


def export_rows(conn: Connection, kind: str, filters: ExportFilter) -> Export:
    """The rows of one kind, streamed; raise before the first row if a filter is wrong."""
    if kind not in KINDS:
        raise InvalidInput(f"Unknown export {kind!r}; choose one of {', '.join(KINDS)}.")
    if filters.product is not None and kind in ("checkins", "scan-log", "offline-conflicts"):
        raise InvalidInput(f"--product does not apply to {kind}.")
    if filters.product is not None:
        _require_product(conn, kind, filters)
    build = {
        "checkins": _checkins,
        "door-checks": _door_checks,
        "door-clears": _door_clears,
        "redemptions": _redemptions,
        "scan-log": _scan_log,
        "offline-conflicts": _offline_conflicts,
    }[kind]
    columns, query, product_at = build(filters)
    result = conn.execution_options(stream_results=True, yield_per=YIELD_PER).execute(query)

    def rows() -> Iterator[tuple[Any, ...]]:
        for row in result:
            values = tuple(row)
            if product_at is not None:  # (ticket slug, add-on slug) -> "ticket:x" / "addon:x"
                ticket, addon = values[product_at], values[product_at + 1]
                product = (
                    f"ticket:{ticket}"
                    if ticket is not None
                    else (f"addon:{addon}" if addon is not None else None)
                )
                values = (*values[:product_at], product, *values[product_at + 2 :])
            yield values

    return Export(columns, rows())


def _require_product(conn: Connection, kind: str, filters: ExportFilter) -> None:
    """A --product nobody sells is a typo: say so instead of writing an empty file."""
    product = filters.product or ""
    product_kind, _, slug = product.partition(":")
    if not slug:
        product_kind, slug = ("addon" if kind == "redemptions" else "any"), product
    models: tuple[Any, ...] = {
        "ticket": (TicketType,),
        "addon": (AddOn,),
        "any": (TicketType, AddOn),
    }.get(product_kind, ())
    if not models:
        return  # the query builder explains the form
    for model in models:
        query = select(model.id).join(Conference, Conference.id == model.conference_id)
        query = query.where(model.slug == slug)
        if filters.conference is not None:
            query = query.where(Conference.slug == filters.conference)
        if conn.execute(query.limit(1)).first() is not None:
            return
    where = f" in conference {filters.conference!r}" if filters.conference else ""
    raise InvalidInput(f"There is no product {product!r}{where}; nothing was exported.")


def write(export: Export, out: TextIO, fmt: str) -> int:
    """Write every row in ``fmt`` (csv, json = one streamed array, jsonl); return the count."""
    if fmt == "csv":
        return _write_csv(export, out)
    if fmt == "json":
        return _write_json_array(export, out)
    if fmt == "jsonl":
        return _write_json_lines(export, out)
    raise InvalidInput(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")


# --- queries -----------------------------------------------------------------------------


_Query = Select[*tuple[Any, ...]]
_Built = tuple[tuple[str, ...], _Query, int | None]

_ATTENDEE = ("access_code", "first_name", "last_name")


def _time_window(query: _Query, column: Any, filters: ExportFilter) -> _Query:
    if filters.since is not None:
        query = query.where(column >= filters.since)
    if filters.until is not None:
        query = query.where(column < filters.until)
    return query


def _common(query: _Query, model: Any, time_column: Any, filters: ExportFilter) -> _Query:
    if filters.conference is not None:
        query = query.where(Conference.slug == filters.conference)
    if filters.station is not None:
        query = query.where(model.station == filters.station)
    return _time_window(query, time_column, filters).order_by(time_column, model.id)


def _product_filter(
    query: _Query, ticket: Any, addon: Any, product: str | None, *, bare: str
) -> _Query:
    """``ticket:x`` / ``addon:x`` match that product; a bare slug matches ``bare`` kinds."""
    if product is None:
        return query
    kind, _, slug = product.partition(":")
    if not slug:
        kind, slug = bare, product
    if kind == "ticket":
        return query.where(ticket.slug == slug)
    if kind == "addon":
        return query.where(addon.slug == slug)
    if kind == "any":
        return query.where((ticket.slug == slug) | (addon.slug == slug))
    raise InvalidInput(f"--product {product!r}: use a slug, ticket:<slug> or addon:<slug>.")


def _void_of(kind: str, record_id: Any) -> Any:
    """The join to a record's void: exports keep voided records, with when they were voided
    (``voided_at``, empty when not), so the file is the whole audit and a sum can skip them."""
    return (ScanVoid.record_kind == kind) & (ScanVoid.record_id == record_id)


def _checkins(filters: ExportFilter) -> _Built:
    columns = (
        "checked_in_at",
        "conference",
        *_ATTENDEE,
        "station",
        "operator",
        "note",
        "client_id",
        "voided_at",
    )
    query = (
        select(
            CheckIn.checked_in_at,
            Conference.slug,
            Attendee.access_code,
            Person.first_name,
            Person.last_name,
            CheckIn.station,
            Staff.name,
            CheckIn.note,
            CheckIn.client_id,
            ScanVoid.voided_at,
        )
        .join(Attendee, Attendee.id == CheckIn.attendee_id)
        .join(Person, Person.id == Attendee.person_id)
        .join(Conference, Conference.id == CheckIn.conference_id)
        .outerjoin(Staff, Staff.id == CheckIn.staff_id)
        .outerjoin(ScanVoid, _void_of("checkin", CheckIn.id))
    )
    return columns, _common(query, CheckIn, CheckIn.checked_in_at, filters), None


def _door_checks(filters: ExportFilter) -> _Built:
    columns = (
        "checked_at",
        "conference",
        *_ATTENDEE,
        "station",
        "operator",
        "product",
        "product_name",
        "direction",
        "client_id",
        "voided_at",
    )
    query = (
        select(
            DoorCheck.checked_at,
            Conference.slug,
            Attendee.access_code,
            Person.first_name,
            Person.last_name,
            DoorCheck.station,
            Staff.name,
            TicketType.slug,
            AddOn.slug,
            func.coalesce(TicketType.name, AddOn.name),
            DoorCheck.direction,
            DoorCheck.client_id,
            ScanVoid.voided_at,
        )
        .join(Attendee, Attendee.id == DoorCheck.attendee_id)
        .join(Person, Person.id == Attendee.person_id)
        .join(Conference, Conference.id == DoorCheck.conference_id)
        .outerjoin(Staff, Staff.id == DoorCheck.staff_id)
        .outerjoin(ScanVoid, _void_of("door", DoorCheck.id))
        .outerjoin(TicketType, TicketType.id == DoorCheck.ticket_type_id)
        .outerjoin(AddOn, AddOn.id == DoorCheck.addon_id)
    )
    query = _product_filter(query, TicketType, AddOn, filters.product, bare="any")
    return columns, _common(query, DoorCheck, DoorCheck.checked_at, filters), 7


def _door_clears(filters: ExportFilter) -> _Built:
    """A door's "everyone out" (migration 0014): who cleared it, and how many were inside."""
    columns = (
        "cleared_at",
        "conference",
        "station",
        "operator",
        "product",
        "product_name",
        "inside",
        "client_at",
        "client_id",
    )
    query = (
        select(
            DoorClear.cleared_at,
            Conference.slug,
            DoorClear.station,
            Staff.name,
            TicketType.slug,
            AddOn.slug,
            func.coalesce(TicketType.name, AddOn.name),
            DoorClear.inside,
            DoorClear.client_at,
            DoorClear.client_id,
        )
        .join(Conference, Conference.id == DoorClear.conference_id)
        .outerjoin(Staff, Staff.id == DoorClear.staff_id)
        .outerjoin(TicketType, TicketType.id == DoorClear.ticket_type_id)
        .outerjoin(AddOn, AddOn.id == DoorClear.addon_id)
    )
    query = _product_filter(query, TicketType, AddOn, filters.product, bare="any")
    return columns, _common(query, DoorClear, DoorClear.cleared_at, filters), 4


def _redemptions(filters: ExportFilter) -> _Built:
    columns = (
        "redeemed_at",
        "conference",
        *_ATTENDEE,
        "station",
        "operator",
        "product",
        "product_name",
        "order_reference",
        "line_item_id",
        "source_line_id",
        "note",
        "client_id",
        "voided_at",
    )
    ticket, addon = aliased(TicketType), aliased(AddOn)
    query = (
        select(
            ProductRedemption.redeemed_at,
            Conference.slug,
            Attendee.access_code,
            Person.first_name,
            Person.last_name,
            ProductRedemption.station,
            Staff.name,
            ticket.slug,
            addon.slug,
            func.coalesce(addon.name, ticket.name),
            Order.reference,
            ProductRedemption.order_line_item_id,
            OrderLineItem.source_line_id,
            ProductRedemption.note,
            ProductRedemption.client_id,
            ScanVoid.voided_at,
        )
        .join(Attendee, Attendee.id == ProductRedemption.attendee_id)
        .join(Person, Person.id == Attendee.person_id)
        .join(Conference, Conference.id == ProductRedemption.conference_id)
        .join(OrderLineItem, OrderLineItem.id == ProductRedemption.order_line_item_id)
        .join(Order, Order.id == OrderLineItem.order_id)
        .outerjoin(Staff, Staff.id == ProductRedemption.staff_id)
        .outerjoin(ScanVoid, _void_of("redeem", ProductRedemption.id))
        .outerjoin(ticket, ticket.id == OrderLineItem.ticket_type_id)
        .outerjoin(addon, addon.id == OrderLineItem.addon_id)
    )
    query = _product_filter(query, ticket, addon, filters.product, bare="addon")
    built = _common(query, ProductRedemption, ProductRedemption.redeemed_at, filters)
    return columns, built, 7


def _scan_log(filters: ExportFilter) -> _Built:
    columns = (
        "scanned_at",
        "conference",
        "station",
        "operator",
        "action",
        "code",
        *_ATTENDEE,
        "outcome",
        "reason",
        "message",
    )
    query = (
        select(
            ScanLog.scanned_at,
            Conference.slug,
            ScanLog.station,
            Staff.name,
            ScanLog.action,
            ScanLog.code,
            Attendee.access_code,
            Person.first_name,
            Person.last_name,
            ScanLog.outcome,
            ScanLog.reason,
            ScanLog.message,
        )
        .outerjoin(Conference, Conference.id == ScanLog.conference_id)
        .outerjoin(Staff, Staff.id == ScanLog.staff_id)
        .outerjoin(Attendee, Attendee.id == ScanLog.attendee_id)
        .outerjoin(Person, Person.id == Attendee.person_id)
    )
    return columns, _common(query, ScanLog, ScanLog.scanned_at, filters), None


def _offline_conflicts(filters: ExportFilter) -> _Built:
    """Replayed offline scans the server refused (migration 0013), by when they arrived."""
    columns = (
        "received_at",
        "conference",
        "kind",
        "action",
        "code",
        *_ATTENDEE,
        "station",
        "client_at",
        "operator",
        "product",
        "product_name",
        "line_item_id",
        "other_station",
        "other_at",
        "reason",
        "message",
        "client_id",
    )
    ticket, addon = aliased(TicketType), aliased(AddOn)
    query = (
        select(
            OfflineConflict.received_at,
            Conference.slug,
            OfflineConflict.kind,
            OfflineConflict.action,
            OfflineConflict.code,
            Attendee.access_code,
            Person.first_name,
            Person.last_name,
            OfflineConflict.station,
            OfflineConflict.client_at,
            Staff.name,
            ticket.slug,
            addon.slug,
            func.coalesce(addon.name, ticket.name),
            OfflineConflict.order_line_item_id,
            OfflineConflict.other_station,
            OfflineConflict.other_at,
            OfflineConflict.reason,
            OfflineConflict.message,
            OfflineConflict.client_id,
        )
        .join(Conference, Conference.id == OfflineConflict.conference_id)
        .outerjoin(Attendee, Attendee.id == OfflineConflict.attendee_id)
        .outerjoin(Person, Person.id == Attendee.person_id)
        .outerjoin(Staff, Staff.id == OfflineConflict.staff_id)
        .outerjoin(OrderLineItem, OrderLineItem.id == OfflineConflict.order_line_item_id)
        .outerjoin(ticket, ticket.id == OrderLineItem.ticket_type_id)
        .outerjoin(addon, addon.id == OrderLineItem.addon_id)
    )
    return columns, _common(query, OfflineConflict, OfflineConflict.received_at, filters), 11


# --- writers -----------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A JSON-ready value: times in UTC ISO 8601, ids as strings, text display-safe."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        return display_safe(value)
    return value


def spreadsheet_safe(value: Any) -> str:
    """A CSV cell: plain text, with a leading ' when a spreadsheet would run it."""
    if value is None:
        return ""
    text = str(plain(value))
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _write_csv(export: Export, out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(export.columns)
    count = 0
    for row in export.rows:
        writer.writerow([spreadsheet_safe(v) for v in row])
        count += 1
    return count


def _objects(export: Export) -> Iterable[str]:
    for row in export.rows:
        yield json.dumps(
            {c: plain(v) for c, v in zip(export.columns, row, strict=True)}, ensure_ascii=False
        )


def _write_json_array(export: Export, out: TextIO) -> int:
    count = 0
    out.write("[")
    for text in _objects(export):
        out.write(",\n" if count else "\n")
        out.write(text)
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def _write_json_lines(export: Export, out: TextIO) -> int:
    count = 0
    for text in _objects(export):
        out.write(text + "\n")
        count += 1
    return count


__all__: Sequence[str] = [
    "FORMATS",
    "KINDS",
    "Export",
    "ExportFilter",
    "conference_zone",
    "export_rows",
    "parse_time",
    "write",
]
