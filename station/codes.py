"""Access codes: one normal form, used at write time and at lookup.

Codes are case-folded to upper case so a scanner with caps lock on, or one set
to lower case, finds the same badge through the plain unique index.
"""

from __future__ import annotations

from station.services.errors import InvalidInput
from station.text import display_safe, has_unsafe_characters

MAX_CODE_LENGTH = 256


def normalise_access_code(raw: str, *, max_length: int = MAX_CODE_LENGTH) -> str:
    """Return the stored form of a code, or raise InvalidInput before any query runs."""
    code = raw.strip()
    if not code:
        raise InvalidInput("Nothing was scanned — empty code.")
    if has_unsafe_characters(code):
        raise InvalidInput("Scan contains control characters — not a badge code.")
    if len(code) > max_length:
        raise InvalidInput(f"Code too long ({len(code)} characters) — not a badge code.")
    if len(code.split()) > 1:  # whitespace inside (str.split splits on what isspace() sees)
        raise InvalidInput(
            f"Code contains spaces ({display_safe(code, limit=40)!r}) — not a badge code."
        )
    return code.upper()
