"""Read django-program's offline preload JSON (what its check-in scanner downloads).

The schema is documented in the README ("Importing attendees and getting
results out"); in short::

    {"format": "django-program/checkin-preload", "version": 1,
     "conference": "pycon-test", "generated_at": "2025-05-14T05:30:00Z",
     "attendees": [{"access_code": "...", "first_name": "...", "last_name": "...",
                    "email": "...", "order": {"reference": "...", "status": "paid"},
                    "ticket_type": {"slug": "...", "name": "..."},
                    "checked_in": false, "checked_in_at": null,
                    "products": [{"line_item_id": 101, "description": "...",
                                  "quantity": 2, "addon_slug": "lunch",
                                  "redeemed": 1, "remaining": 1}]}]}

Units already redeemed there become redemptions here with a client id derived
from conference, line item and index, so importing the file again adds
nothing and a redeemed lunch cannot be handed out twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from station.domain import OrderStatus
from station.importer import fields
from station.importer.fields import BadValue
from station.importer.records import (
    AttendeeRecord,
    CarriedRedemption,
    ImportFileError,
    ParsedFile,
    Problem,
    ProductKind,
    WantedProduct,
    preload_client_id,
)

FORMAT = "django-program/checkin-preload"
_ACCESS_CODE_KEY = re.compile(r'"access_code"\s*:')
_SLUG = re.compile(r"^[\w-]+$")


def read_preload(data: bytes) -> ParsedFile:
    document = _load(data)
    if not isinstance(document, dict):
        raise ImportFileError(
            Problem(1, "expected a JSON object with 'conference' and 'attendees'")
        )
    if document.get("format", FORMAT) != FORMAT:
        raise ImportFileError(
            Problem(1, f"format is {fields.shown(str(document['format']))}, expected {FORMAT!r}")
        )
    conference = document.get("conference")
    if not isinstance(conference, str) or not conference.strip():
        raise ImportFileError(Problem(1, "'conference' must be the conference slug"))
    try:
        generated_at = _time(document.get("generated_at"), "generated_at")
    except BadValue as exc:
        raise ImportFileError(Problem(1, str(exc))) from None
    if generated_at is None:
        raise ImportFileError(Problem(1, "'generated_at' is missing"))
    attendees = document.get("attendees")
    if not isinstance(attendees, list):
        raise ImportFileError(Problem(1, "'attendees' must be a list"))

    lines = _attendee_lines(data, len(attendees))
    located = lines is not None
    reader = _Reader(conference.strip(), generated_at)
    records: list[AttendeeRecord] = []
    problems: list[Problem] = []
    first_line_of: dict[str, int] = {}
    for index, item in enumerate(attendees):
        line = lines[index] if lines is not None else 1
        prefix = "" if located else f"attendee #{index + 1}: "
        code = _code_of(item)
        if code is not None:  # a duplicate is reported even when the first one is bad
            earlier = first_line_of.setdefault(code, line)
            if earlier != line:
                where = f"line {earlier}" if located else "an earlier attendee"
                problems.append(
                    Problem(line, f"{prefix}access_code {code} already appears on {where}")
                )
                continue
        try:
            records.append(reader.record(line, item))
        except BadValue as exc:
            problems.append(Problem(line, prefix + str(exc)))
    return ParsedFile(
        kind="preload",
        records=tuple(records),
        problems=tuple(problems),
        conference_slug=conference.strip(),
        generated_at=generated_at,
        rows_read=len(attendees),
    )


def _code_of(item: object) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("access_code"), str):
        return None
    try:
        return fields.access_code(item["access_code"])
    except BadValue:
        return None


def _load(data: bytes) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFileError(
            Problem(line, "not valid UTF-8; the file must be UTF-8 JSON")
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(Problem(exc.lineno, f"not valid JSON ({exc.msg})")) from None


def _attendee_lines(data: bytes, count: int) -> list[int] | None:
    """The line each attendee's ``access_code`` is on, found by scanning the raw text.

    The json module keeps no positions; the n-th ``"access_code":`` key is the
    n-th attendee's as long as the counts agree, and if they do not, problems
    name the attendee by position instead.
    """
    text = data.decode("utf-8-sig")
    offsets = [m.start() for m in _ACCESS_CODE_KEY.finditer(text)]
    if len(offsets) != count:
        return None
    lines: list[int] = []
    line, position = 1, 0
    for offset in offsets:
        line += text.count("\n", position, offset)
        position = offset
        lines.append(line)
    return lines


def _time(raw: object, what: str) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise BadValue(f"{what} must be an ISO 8601 time string")
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise BadValue(f"{what} {fields.shown(raw)} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise BadValue(f"{what} {fields.shown(raw)} has no UTC offset (add 'Z' or '+02:00')")
    return value


def _string(item: dict[str, Any], key: str, limit: int) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadValue(f"{key} must be a string")
    return fields.text(value, key, limit)


def _slug(raw: object, what: str) -> str:
    if not isinstance(raw, str) or not _SLUG.match(raw.strip()) or len(raw.strip()) > 100:
        shown = fields.shown(raw) if isinstance(raw, str) else repr(raw)
        raise BadValue(f"{what} {shown} is not a slug (letters, digits, '-', at most 100)")
    return raw.strip()


class _Reader:
    def __init__(self, conference: str, generated_at: datetime) -> None:
        self.conference = conference
        self.generated_at = generated_at
        self.line_item_ids: set[str] = set()

    def record(self, line: int, item: object) -> AttendeeRecord:
        if not isinstance(item, dict):
            raise BadValue("each attendee must be a JSON object")
        raw_code = item.get("access_code")
        if not isinstance(raw_code, str):
            raise BadValue("access_code is missing")
        code = fields.access_code(raw_code)
        reference, status = self._order(item.get("order"), code)
        ticket_slug, ticket_name = self._ticket_type(item.get("ticket_type"))
        products, carried = self._products(item.get("products"), ticket_slug, ticket_name)
        if ticket_slug and not any(p.kind == "ticket" for p in products):
            products.insert(0, WantedProduct("ticket", ticket_slug, ticket_name, 1, ticket_name))
        checked_in = item.get("checked_in", False)
        if not isinstance(checked_in, bool):
            raise BadValue("checked_in must be true or false")
        checked_in_at = _time(item.get("checked_in_at"), "checked_in_at")
        if checked_in and checked_in_at is None:
            checked_in_at = self.generated_at
        if not checked_in:
            checked_in_at = None
        return AttendeeRecord(
            line=line,
            access_code=code,
            first_name=_string(item, "first_name", fields.MAX_NAME),
            last_name=_string(item, "last_name", fields.MAX_NAME),
            email=_string(item, "email", fields.MAX_EMAIL),
            order_reference=reference,
            order_status=status,
            products=tuple(products),
            carried=tuple(carried),
            checked_in_at=checked_in_at,
        )

    def _order(self, raw: object, code: str) -> tuple[str, OrderStatus]:
        if raw is None:
            # The scanner export lists people who may enter; give them a paid order
            # under a reference that is stable across imports.
            reference = f"PRELOAD-{code}"
            if len(reference) > fields.MAX_REFERENCE:
                reference = "PRELOAD-" + hashlib.sha256(code.encode()).hexdigest()[:40].upper()
            return reference, OrderStatus.PAID
        if not isinstance(raw, dict):
            raise BadValue("order must be an object with 'reference' and 'status'")
        reference = _string(raw, "reference", fields.MAX_REFERENCE)
        if not reference:
            raise BadValue("order.reference is empty")
        status_raw = raw.get("status")
        status = fields.order_status(status_raw) if isinstance(status_raw, str) else None
        if status is None:
            raise BadValue(f"order {fields.shown(reference)} has no status")
        return reference, status

    def _ticket_type(self, raw: object) -> tuple[str, str]:
        if raw is None:
            return "", ""
        if not isinstance(raw, dict):
            raise BadValue("ticket_type must be an object with 'slug' and 'name'")
        slug = _slug(raw.get("slug"), "ticket_type.slug")
        name = _string(raw, "name", fields.MAX_PRODUCT_NAME) or slug
        return slug, name

    def _products(
        self, raw: object, ticket_slug: str, ticket_name: str
    ) -> tuple[list[WantedProduct], list[CarriedRedemption]]:
        if raw is None:
            return [], []
        if not isinstance(raw, list):
            raise BadValue("products must be a list")
        wanted: dict[tuple[ProductKind, str], WantedProduct] = {}
        carried: list[CarriedRedemption] = []
        new_ids: set[str] = set()
        for product in raw:
            if not isinstance(product, dict):
                raise BadValue("each product must be a JSON object")
            line_item_id = product.get("line_item_id")
            if isinstance(line_item_id, bool) or not isinstance(line_item_id, int | str):
                raise BadValue("a product has no line_item_id")
            line_id = str(line_item_id).strip()
            if not line_id or line_id in self.line_item_ids or line_id in new_ids:
                raise BadValue(f"line_item_id {line_id!r} is empty or used twice in the file")
            new_ids.add(line_id)
            kind, slug = self._product_slug(product, line_id)
            description = _string(product, "description", 300)
            name = _string(product, "name", fields.MAX_PRODUCT_NAME) or description or slug
            if kind == "ticket" and slug == ticket_slug:
                name = ticket_name
            what = f"line item {line_id}"
            quantity = fields.quantity(product.get("quantity"), what)
            redeemed = fields.quantity(product.get("redeemed", 0), f"redeemed of {what}")
            if redeemed > quantity:
                raise BadValue(f"{what}: redeemed {redeemed} is more than quantity {quantity}")
            remaining = product.get("remaining")
            if remaining is not None and remaining != quantity - redeemed:
                raise BadValue(
                    f"{what}: remaining {remaining!r} is not quantity {quantity} "
                    f"minus redeemed {redeemed}"
                )
            before = wanted.get((kind, slug))
            if before is not None:
                quantity += before.quantity
                description = before.description
            wanted[(kind, slug)] = WantedProduct(
                kind, slug, before.name if before else name, quantity, description or name
            )
            carried.extend(
                CarriedRedemption(
                    kind, slug, preload_client_id(self.conference, line_id, i), self.generated_at
                )
                for i in range(redeemed)
            )
        self.line_item_ids |= new_ids
        return list(wanted.values()), carried

    @staticmethod
    def _product_slug(product: dict[str, Any], line_id: str) -> tuple[ProductKind, str]:
        addon, ticket = product.get("addon_slug"), product.get("ticket_type_slug")
        if (addon is None) == (ticket is None):
            raise BadValue(
                f"line item {line_id} needs exactly one of addon_slug and ticket_type_slug"
            )
        if addon is not None:
            return "addon", _slug(addon, f"addon_slug of line item {line_id}")
        return "ticket", _slug(ticket, f"ticket_type_slug of line item {line_id}")
