"""``station attention``: set, clear or show the attention note of an order, a ticket type
or an add-on (what a volunteer must see when the badge is scanned).

Kept apart from the CLI so tests call it directly; the note is stored as given (trimmed)
and made fit to show by the rule book (``station.rulebook.words.attention``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, select, update

from station.importer.fields import MAX_ATTENTION
from station.models import AddOn, Conference, Order, TicketType
from station.services.conferences import conference_slug
from station.text import display_safe

Kind = Literal["order", "ticket", "addon"]
KINDS: tuple[Kind, ...] = ("order", "ticket", "addon")
_WORDS = {"order": "Order", "ticket": "Ticket type", "addon": "Add-on"}


class AttentionInputError(ValueError):
    """Input the command cannot act on; the message is one line for the operator."""


@dataclass(frozen=True, slots=True)
class AttentionNote:
    conference: str
    kind: Kind
    key: str
    name: str
    note: str | None


def clean_note(raw: str) -> str:
    """The note to store: trimmed, at most MAX_ATTENTION characters, text only."""
    note = raw.strip()
    if "\x00" in note:
        raise AttentionInputError("the note contains a NUL character, which is not text")
    if len(note) > MAX_ATTENTION:
        raise AttentionInputError(
            f"the note is {len(note)} characters long (at most {MAX_ATTENTION})"
        )
    return note


def attention(
    engine: Engine,
    kind: str,
    key: str,
    *,
    conference: str | None = None,
    note: str | None = None,
    clear: bool = False,
) -> AttentionNote:
    """Set (``note``), clear (``clear``) or, with neither, read the note of one thing.

    ``key`` is an order reference for an order, a slug for a ticket type or an add-on.
    ``conference`` may be left out when the database holds exactly one.
    """
    if kind not in KINDS:
        raise AttentionInputError(
            f"unknown kind {shown(kind)}: say order (by reference), ticket or addon (by slug)"
        )
    if note is not None and clear:
        raise AttentionInputError("give a note or --clear, not both")
    wanted = clean_note(note) if note is not None else None
    if note is not None and not wanted:
        raise AttentionInputError("the note is empty; use --clear to remove a note")
    model: Any = {"order": Order, "ticket": TicketType, "addon": AddOn}[kind]
    natural = model.reference if kind == "order" else model.slug
    with engine.begin() as conn:
        slug = conference_slug(conn, conference, AttentionInputError)
        found = conn.execute(
            select(model.id, natural.label("key"), model.checkin_attention)
            .join(Conference, Conference.id == model.conference_id)
            .where(Conference.slug == slug, natural == key)
        ).one_or_none()
        if found is None:
            label = "reference" if kind == "order" else "slug"
            raise AttentionInputError(
                f"{_WORDS[kind].lower()} {label} {shown(key)} does not exist in conference "
                f"{shown(slug)}"
            )
        current = found.checkin_attention
        if wanted is not None or clear:
            current = wanted or None
            conn.execute(
                update(model).where(model.id == found.id).values(checkin_attention=current)
            )
    return AttentionNote(slug, kind, found.key, _WORDS[kind], current)


def shown(value: str) -> str:
    return repr(display_safe(value, limit=60))
