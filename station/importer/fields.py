"""Checks for single values of an import row, shared by the CSV and JSON readers.

Each function returns the clean value or raises ``BadValue`` with a message a
volunteer can act on; the reader adds the line number.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from station.codes import MAX_CODE_LENGTH
from station.domain import OrderStatus
from station.text import display_safe

_CODE = re.compile(r"^[A-Z0-9-]+$")
_NOT_SLUG = re.compile(r"[^\w]+|_+")
_WHOLE_NUMBER = re.compile(r"\s*[0-9]+\s*")

MAX_NAME = 150
MAX_EMAIL = 254
MAX_REFERENCE = 64
MAX_PRODUCT_NAME = 200
MAX_SLUG = 100
MAX_QUANTITY = 1000
MAX_ATTENTION = 300

STATUS_CHOICES = ", ".join(s.value for s in OrderStatus)


class BadValue(ValueError):
    """One value of a row is unusable; the message says which and why."""


def shown(value: str, limit: int = 40) -> str:
    """Quote untrusted input for an error message without letting it reach the terminal raw."""
    # A lone surrogate (from JSON's "\\ud800") cannot be written to a terminal: escape it.
    safe = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return repr(display_safe(safe, limit=limit))


def access_code(raw: str) -> str:
    code = raw.strip().upper()
    if not code:
        raise BadValue("access_code is empty")
    if len(code) > MAX_CODE_LENGTH:
        raise BadValue(f"access_code is {len(code)} characters long (at most {MAX_CODE_LENGTH})")
    if not _CODE.match(code):
        raise BadValue(f"access_code {shown(code)} may only contain letters, digits and '-'")
    return code


@functools.lru_cache(maxsize=256)
def order_status(raw: str) -> OrderStatus | None:
    value = raw.strip().lower()
    if not value:
        return None
    try:
        return OrderStatus(value)
    except ValueError:
        raise BadValue(
            f"unknown order_status {shown(raw)} (use one of: {STATUS_CHOICES}, or leave it empty)"
        ) from None


def text(raw: str, column: str, limit: int) -> str:
    value = raw.strip()
    if len(value) > limit:
        raise BadValue(f"{column} is {len(value)} characters long (at most {limit})")
    return value


def slugify(name: str) -> str:
    """Lower-case words joined by '-': accents dropped, other scripts kept."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_SLUG.sub("-", plain.lower()).strip("-")


@functools.lru_cache(maxsize=4096)
def product_name(raw: str, column: str) -> tuple[str, str]:
    """A ticket type or add-on name and the slug it is stored under."""
    name = text(raw, column, MAX_PRODUCT_NAME)
    slug = slugify(name)
    if not slug:
        raise BadValue(f"{column} {shown(name)} has no letters or digits to make a slug from")
    if len(slug) > MAX_SLUG:
        raise BadValue(f"{column} {shown(name)} makes a slug longer than {MAX_SLUG} characters")
    return name, slug


def quantity(raw: object, what: str, name: str | None = None) -> int:
    """A whole number of units, 0 to MAX_QUANTITY; strings are accepted from CSV.

    ``name`` (untrusted) is quoted into ``what`` only when there is an error to write.
    """

    def bad(reason: str) -> BadValue:
        label = f"{what} {shown(name)}" if name is not None else what
        return BadValue(f"quantity of {label} must be {reason}")

    if isinstance(raw, int) and not isinstance(raw, bool):  # True is an int to Python only
        value = raw
    elif isinstance(raw, str) and _WHOLE_NUMBER.fullmatch(raw):
        digits = raw.strip()
        if len(digits) > 9:  # int() of thousands of digits raises; this is out of range anyway
            raise bad(f"between 0 and {MAX_QUANTITY}, not a number of {len(digits):,} digits")
        value = int(digits)
    else:
        given = shown(raw) if isinstance(raw, str) else repr(raw)
        raise bad(f"a whole number, not {given}")
    if not 0 <= value <= MAX_QUANTITY:
        written = str(value)
        if len(written) > 12:
            written = f"a number of {len(written):,} digits"
        raise bad(f"between 0 and {MAX_QUANTITY}, not {written}")
    return value


@functools.lru_cache(maxsize=4096)
def addons(raw: str) -> tuple[tuple[str, str, int], ...]:
    """Parse ``Lunch Day 1:1; Meal voucher:3`` into (name, slug, quantity) triples.

    Cached: a large file repeats the same few add-on cells over and over.
    """
    result: list[tuple[str, str, int]] = []
    seen: dict[str, str] = {}
    for part in raw.split(";"):
        if not part.strip():
            continue
        name_part, colon, amount = part.rpartition(":")
        if not colon or not name_part.strip():
            raise BadValue(
                f"add-on {shown(part.strip())} needs a quantity, written as name:quantity "
                "(e.g. 'Lunch Day 1:1')"
            )
        name, slug = product_name(name_part, "add-on name")
        count = quantity(amount, "add-on", name)
        if slug in seen:
            raise BadValue(f"add-on {shown(name)} is listed twice (also as {shown(seen[slug])})")
        seen[slug] = name
        result.append((name, slug, count))
    return tuple(result)
