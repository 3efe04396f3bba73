"""Make untrusted text (names, product names, scanned payloads) safe to show.

Even with markup off, control characters reach the terminal verbatim, so a
name could retitle the window or move the cursor; bidi overrides can make a
name read as something else. Both are removed before text leaves the
service layer.
"""

from __future__ import annotations

import unicodedata

_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def display_safe(text: str, *, limit: int | None = None) -> str:
    """Drop control characters and bidi controls; optionally cut to ``limit``."""
    # Printable text has no Cc and no bidi controls (Cf): nearly every name, at C speed.
    cleaned = text if text.isprintable() else _cleaned(text)
    if limit is not None and len(cleaned) > limit:
        return cleaned[: max(limit - 1, 0)] + "…"
    return cleaned


def _cleaned(text: str) -> str:
    return "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or (unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
    )


def has_unsafe_characters(text: str) -> bool:
    if text.isprintable():  # the common case, decided in C
        return False
    return any(unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS for ch in text)
