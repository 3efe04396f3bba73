"""Display-safe text: the printable fast path must agree with the careful one everywhere."""

from __future__ import annotations

import sys
import unicodedata

from station.text import _BIDI_CONTROLS, display_safe, has_unsafe_characters


def _careful(text: str) -> str:
    return "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or (unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
    )


def test_every_code_point_is_cleaned_as_the_careful_pass_would() -> None:
    wrong = []
    for point in range(sys.maxunicode + 1):
        if 0xD800 <= point <= 0xDFFF:
            continue  # lone surrogates cannot appear in decoded text
        ch = chr(point)
        text = f"a{ch}b"
        unsafe = unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS
        if display_safe(text) != _careful(text) or has_unsafe_characters(text) != unsafe:
            wrong.append(hex(point))
    assert wrong == []


def test_hostile_names_lose_only_what_the_terminal_would_obey() -> None:
    assert display_safe("[bold]Bob[/] \x1b]0;pwned\x07 \u202eevil") == "[bold]Bob[/] ]0;pwned evil"
    assert display_safe("Zoë\tØ") == "Zoë Ø"
    assert display_safe("x" * 10, limit=5) == "xxxx…"
