"""Read django-program's offline preload JSON, exactly as django-program 0.1.2 writes it.

That is what its ``OfflinePreloadView`` serves to the check-in scanner::

    {"conference": "pycon_test_2027", "generated_at": "2026-12-02T11:20:17+00:00",
     "count": 8,
     "attendees": [{"access_code": "7VOURT07", "name": "Ada Lovelace",
                    "email": "...", "ticket_type": "Individual",
                    "checked_in": true, "checked_in_at": "2026-12-02T11:20:17+00:00",
                    "products": [{"id": 2, "description": "Lunch Day 1", "quantity": 1,
                                  "ticket_type_slug": null, "addon_slug": "lunch-day-1",
                                  "redeemed_count": 1, "remaining": 0}]}]}

The file has no orders (it lists people who may enter), so each attendee gets
a paid order ``PRELOAD-<code>``. Units already redeemed there become
redemptions here with a client id derived from conference, line item id and
index, so importing the file again adds nothing and a redeemed lunch cannot
be handed out twice.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import UTC, datetime
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
from station.slugs import SLUG

_ACCESS_CODE_KEY = re.compile(r'"access_code"\s*:')
_SLUG = SLUG  # Django's slug rule (validate_slug), as everywhere a slug is read
# Scripts written without spaces between family and given name: no first/last split.
_UNSPACED_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL")


def read_preload(data: bytes) -> ParsedFile:
    document = _load(data)
    if not isinstance(document, dict):
        raise ImportFileError(
            Problem(1, "expected a JSON object with 'conference' and 'attendees'")
        )
    conference = document.get("conference")
    if not isinstance(conference, str) or not conference.strip():
        raise ImportFileError(Problem(1, "'conference' must be the conference slug"))
    try:
        slug = _slug(conference, "conference")
        generated_at = _time(document.get("generated_at"), "generated_at")
    except BadValue as exc:
        raise ImportFileError(Problem(1, str(exc))) from None
    if generated_at is None:
        raise ImportFileError(Problem(1, "'generated_at' is missing"))
    attendees = document.get("attendees")
    if not isinstance(attendees, list):
        raise ImportFileError(Problem(1, "'attendees' must be a list"))
    count = document.get("count")
    if count is not None and count != len(attendees):
        # A cut-off download: importing the rest would look complete and is not.
        raise ImportFileError(
            Problem(1, f"'count' says {count!r} attendees but the file has {len(attendees)}")
        )

    lines = _attendee_lines(data, len(attendees))
    located = lines is not None
    reader = _Reader(slug, generated_at)
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
        conference_slug=slug,
        generated_at=generated_at,
        rows_read=len(attendees),
    )


def split_name(name: str) -> tuple[str, str]:
    """django-program has one ``name``; station keeps first and last name apart.

    The first word is the first name and the rest the last name ("Guido van
    Rossum" -> "Guido", "van Rossum"). A single word, or a name in a script
    written family name first (Chinese, Japanese, Korean), stays whole in
    the first name: splitting it would put the parts the wrong way round.
    """
    words = name.split()
    if len(words) < 2 or any(_unspaced(ch) for ch in name):
        return " ".join(words), ""
    return words[0], " ".join(words[1:])


def _unspaced(ch: str) -> bool:
    return ord(ch) > 0x2E7F and unicodedata.name(ch, "").startswith(_UNSPACED_SCRIPTS)


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
    except RecursionError:
        raise ImportFileError(
            Problem(1, "the JSON is nested too deeply to be a preload file")
        ) from None
    except ValueError:  # Python refuses to read a number of more than 4,300 digits
        raise ImportFileError(
            Problem(1, "the file holds a number with thousands of digits; not a preload file")
        ) from None


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
    """An aware time that both databases can store: year 1 to 9999 once in UTC."""
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
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise BadValue(
            f"{what} {fields.shown(raw)} is outside the years 1 to 9999 in UTC"
        ) from None


def _string(item: dict[str, Any], key: str, limit: int) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadValue(f"{key} must be a string")
    if not _storable(value):
        raise BadValue(f"{key} {fields.shown(value)} holds a NUL or a lone surrogate, not text")
    return fields.text(value, key, limit)


def _storable(value: str) -> bool:
    """Text both databases take: PostgreSQL refuses NUL, and UTF-8 has no lone surrogates."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _slug(raw: object, what: str) -> str:
    value = raw.strip() if isinstance(raw, str) else None
    if value is None or not _SLUG.match(value) or len(value) > fields.MAX_SLUG:
        shown = fields.shown(raw) if isinstance(raw, str) else repr(raw)
        raise BadValue(f"{what} {shown} is not a slug (letters, digits, '-' and '_', at most 100)")
    return value


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
        first_name, last_name = split_name(_string(item, "name", 2 * fields.MAX_NAME))
        if len(first_name) > fields.MAX_NAME or len(last_name) > fields.MAX_NAME:
            raise BadValue(f"name is too long (at most {fields.MAX_NAME} characters a part)")
        ticket_name = _string(item, "ticket_type", fields.MAX_PRODUCT_NAME)
        products, carried = self._products(item.get("products"), ticket_name)
        if ticket_name and not any(p.kind == "ticket" for p in products):
            _name, slug = fields.product_name(ticket_name, "ticket_type")
            products.insert(0, WantedProduct("ticket", slug, ticket_name, 1, ticket_name))
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
            first_name=first_name,
            last_name=last_name,
            email=_string(item, "email", fields.MAX_EMAIL),
            order_reference=_reference(code),
            order_status=OrderStatus.PAID,
            products=tuple(products),
            carried=tuple(carried),
            checked_in_at=checked_in_at,
        )

    def _products(
        self, raw: object, ticket_name: str
    ) -> tuple[list[WantedProduct], list[CarriedRedemption]]:
        if raw is None:
            return [], []
        if not isinstance(raw, list):
            raise BadValue("products must be a list")
        wanted: list[WantedProduct] = []
        carried: list[CarriedRedemption] = []
        new_ids: set[str] = set()
        for product in raw:
            if not isinstance(product, dict):
                raise BadValue("each product must be a JSON object")
            line_item_id = product.get("id")
            if isinstance(line_item_id, bool) or not isinstance(line_item_id, int | str):
                raise BadValue("a product has no id")
            line_id = str(line_item_id).strip()
            if len(line_id) > fields.MAX_REFERENCE:
                raise BadValue(f"a product id is longer than {fields.MAX_REFERENCE} characters")
            if not line_id or line_id in self.line_item_ids or line_id in new_ids:
                raise BadValue(f"product id {line_id!r} is empty or used twice in the file")
            if not _storable(line_id):
                raise BadValue(
                    f"product id {fields.shown(line_id)} holds a NUL or a lone surrogate"
                )
            new_ids.add(line_id)
            kind, slug = self._product_slug(product, line_id)
            description = _string(product, "description", 300)
            name = description[: fields.MAX_PRODUCT_NAME] or slug
            if kind == "ticket" and ticket_name:
                name = ticket_name
            what = f"line item {line_id}"
            quantity = fields.quantity(product.get("quantity"), what)
            redeemed = fields.quantity(
                product.get("redeemed_count", 0), f"redeemed_count of {what}"
            )
            if redeemed > quantity:
                raise BadValue(
                    f"{what}: redeemed_count {redeemed} is more than quantity {quantity}"
                )
            remaining = product.get("remaining")
            if remaining is not None and remaining != quantity - redeemed:
                raise BadValue(
                    f"{what}: remaining {fields.shown(str(remaining))} is not quantity "
                    f"{quantity} minus redeemed_count {redeemed}"
                )
            # Each line item stays a line of its own, under its django-program id.
            wanted.append(
                WantedProduct(kind, slug, name, quantity, description or name, source_id=line_id)
            )
            carried.extend(
                CarriedRedemption(
                    kind,
                    slug,
                    preload_client_id(self.conference, line_id, i),
                    self.generated_at,
                    source_id=line_id,
                )
                for i in range(redeemed)
            )
        self.line_item_ids |= new_ids
        return wanted, carried

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


def _reference(code: str) -> str:
    """The file has no orders; each attendee gets a paid one under a stable reference."""
    reference = f"PRELOAD-{code}"
    if len(reference) > fields.MAX_REFERENCE:
        reference = "PRELOAD-" + hashlib.sha256(code.encode()).hexdigest()[:40].upper()
    return reference
