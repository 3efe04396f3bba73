"""Find attendees by what a volunteer types: part of a name, e-mail, order reference or code.

Everything is compared folded (``station.searchkey.fold``: no case, no accents, ``ø`` → ``o``,
in every script), against the key stored with each attendee (``attendee.search_key``,
written by ``station.models``). What was typed is split into words; a hit has
every word somewhere in its key (``zoe lef`` finds "Zoë Lefèvre"), best first:

1. **contains** — every word is part of the key. A word equal to a whole word of the key
   counts 3, the start of one 2, anywhere else 1; ties by last name, first name.
2. **unkeyed** — rows whose key is NULL (written by a path that bypassed the key; there
   should be none) are folded here and matched the same way, so nobody is unfindable.
3. **similar** (only while fewer than ``limit`` were found, for words of 4 characters or
   more and none with a digit: codes and references must be typed right) — typo
   tolerance: candidates sharing trigrams with the words (pg_trgm's ``<%`` on PostgreSQL,
   the FTS5 trigram table on SQLite), ranked by the same trigram similarity in Python on
   both (``station.searchkey.word_similarity``), kept from 0.4.

The indexes are optional: a PostgreSQL without pg_trgm, or a SQLite without FTS5 trigram,
scans (still fast enough at a few thousand attendees) and has no typo tolerance.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    TextClause,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from station.models import Attendee, Order, OrderLineItem, Person, TicketType, key_of_row
from station.rulebook.words import person_name, ticket_name
from station.searchkey import key_has_word, key_names, query_words, word_similarity
from station.services.results import AttendeeMatch
from station.text import display_safe

#: Typo candidates share this much of the words' trigrams (SQLite) or have this word
#: similarity (PostgreSQL's ``<%``); hits have this trigram similarity with a word of the key.
CANDIDATE_SHARE = 0.5
CANDIDATE_SIMILARITY = 0.4
SIMILAR_ENOUGH = 0.4
_CANDIDATES = 200
_UNKEYED_MAX = 20_000


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What this database offers the lookup (found once per engine)."""

    trigram_schema: str | None = None  # PostgreSQL: where pg_trgm lives, if indexed
    fts: bool = False  # SQLite: the FTS5 trigram table of migration 0010


_capabilities: weakref.WeakKeyDictionary[Engine, Capabilities] = weakref.WeakKeyDictionary()


def capabilities(session: Session) -> Capabilities:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    found = _capabilities.get(engine)
    if found is None:
        found = _probe(session)
        _capabilities[engine] = found
    return found


def _probe(session: Session) -> Capabilities:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        schema = session.scalar(
            text(
                "SELECT n.nspname FROM pg_extension e "
                "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
            )
        )
        indexed = session.scalar(
            text(
                "SELECT to_regclass('ix_attendee_search_key_trgm') IS NOT NULL "
                "AND to_regclass('ix_attendee_search_names_trgm') IS NOT NULL"
            )
        )
        return Capabilities(trigram_schema=str(schema) if schema and indexed else None)
    if dialect == "sqlite":
        fts = session.scalar(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'attendee_search'")
        )
        return Capabilities(fts=bool(fts))
    return Capabilities()


@dataclass(frozen=True, slots=True)
class _Hit:
    id: int
    access_code: str
    order_id: int | None
    first_name: str
    last_name: str
    username: str
    email: str
    ticket: str | None = None  # the ticket type's name, when the row's query read it
    ticket_read: bool = False


def find_attendees(
    session: Session, conference_id: int, query: str, *, limit: int = 20
) -> tuple[AttendeeMatch, ...]:
    """The attendees of the conference that ``query`` names, best first, at most ``limit``."""
    words = query_words(query)
    if not words or limit <= 0:
        return ()
    caps = capabilities(session)
    unkeyed = _prepare(session, caps, conference_id, words)
    hits = _contains(session, caps, conference_id, words, limit)
    if len(hits) < limit and unkeyed:
        hits += _unkeyed(session, conference_id, words, {h.id for h in hits})[: limit - len(hits)]
    if len(hits) < limit and _typo_tolerant(words):
        seen = {h.id for h in hits}
        hits += _similar(session, caps, conference_id, words, seen)[: limit - len(hits)]
    return _matches(session, hits)


def _typo_tolerant(words: Sequence[str]) -> bool:
    """Names get typo tolerance; codes and references (any digit) do not: ORD-0123 is not
    ORD-0124."""
    return any(len(w) >= 4 for w in words) and not any(_has_digit(w) for w in words)


def _has_digit(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


def _escaped(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _columns(*, ticket: bool = True) -> tuple[Any, ...]:
    """What a hit shows; with its ticket type's name (the order's last ticket line, as the
    badge shows it) read by the same statement, for the few rows of an answer."""
    columns = (
        Attendee.id,
        Attendee.access_code,
        Attendee.order_id,
        Person.first_name,
        Person.last_name,
        Person.username,
        Person.email,
    )
    if not ticket:
        return columns
    last_ticket = (
        select(TicketType.name)
        .join(OrderLineItem, OrderLineItem.ticket_type_id == TicketType.id)
        .where(OrderLineItem.order_id == Attendee.order_id)
        .order_by(OrderLineItem.id.desc())
        .limit(1)
        .scalar_subquery()
        .label("ticket")
    )
    return (*columns, last_ticket)


def _hit(row: Any) -> _Hit:
    has_ticket = "ticket" in row._fields
    return _Hit(
        row.id,
        row.access_code,
        row.order_id,
        row.first_name,
        row.last_name,
        row.username,
        row.email,
        row.ticket if has_ticket else None,
        has_ticket,
    )


def _prepare(
    session: Session, caps: Capabilities, conference_id: int, words: Sequence[str]
) -> bool:
    """Whether the conference has rows without a key; on PostgreSQL in the same round trip
    as the settings of ``_plan_for_the_trigram_index``."""
    unkeyed = (
        select(Attendee.id)
        .where(Attendee.conference_id == conference_id, Attendee.search_key.is_(None))
        .exists()
    )
    if caps.trigram_schema is not None:
        return bool(_plan_for_the_trigram_index(session, words, unkeyed))
    return bool(session.scalar(select(unkeyed)))


def _patterns(word: str) -> list[str]:
    """LIKE patterns (escaped), any of which finds ``word`` in a key (``key_has_word``)."""
    w = _escaped(word)
    return [f"%{w}%"] if len(word) >= 3 else [f"% {w}%", f"%{w} %"]


def _contains(
    session: Session, caps: Capabilities, conference_id: int, words: Sequence[str], limit: int
) -> list[_Hit]:
    key = Attendee.search_key
    conditions: list[ColumnElement[bool]] = [Attendee.conference_id == conference_id]
    score: Any = literal(0)
    for word in words:
        w = _escaped(word)
        conditions.append(or_(*(key.like(p, escape="\\") for p in _patterns(word))))
        score = score + case(
            (key.like(f"% {w} %", escape="\\"), 3),
            (key.like(f"% {w}%", escape="\\"), 2),
            else_=1,
        )
    if caps.fts:
        for n, word in enumerate(w for w in words if len(w) >= 2):
            # The trigram table answers LIKE from its index when the pattern has 3 characters
            # (so ' ab' for a short word). Without ESCAPE (which turns the index off) it may
            # match more; the exact condition on the key then decides.
            patterns = [f"%{word}%"] if len(word) >= 3 else [f"% {word}%", f"%{word} %"]
            union = " UNION ".join(
                f"SELECT rowid FROM attendee_search WHERE search_key LIKE :w{n}_{i}"
                for i in range(len(patterns))
            )
            rowids = text(union).bindparams(**{f"w{n}_{i}": p for i, p in enumerate(patterns)})
            conditions.append(Attendee.id.in_(rowids.columns(rowid=Attendee.id.type)))
    # The best ``limit`` from the attendee rows alone (the key orders ties: first name, then
    # last name, folded), then their people: a common word ("ada", "smith") matches
    # thousands, and joining every one of them to its person cost more than the rest.
    best = (
        select(Attendee.id, score.label("score"))
        .where(and_(*conditions))
        .order_by(score.desc(), key, Attendee.id)
        .limit(limit)
        .subquery()
    )
    rows = session.execute(
        select(*_columns())
        .join(best, best.c.id == Attendee.id)
        .join(Person, Person.id == Attendee.person_id)
        .order_by(best.c.score.desc(), key, Attendee.id)
    ).all()
    return [_hit(r) for r in rows]


def _plan_for_the_trigram_index(
    session: Session, words: Sequence[str], also: ColumnElement[bool]
) -> Any:
    """For this transaction only: plan as a lookup wants, through the trigram index.

    The planner's estimate for ``LIKE '%…%'`` is a fixed guess; on 100,000 attendees it chose
    a (parallel) sequential scan over the key, 40–80 ms, where the index takes 2 ms. A lookup
    always has an indexable condition, so sequential scans are costed out (still used where
    there is no index) and no parallel workers are started for a 20-row answer. The
    threshold of ``<%`` is the one for the typo candidates (``_candidate_similarity``).
    """
    threshold = f"{_candidate_similarity(_longest(words)):.3f}"
    settings = select(
        func.set_config("enable_seqscan", "off", True),
        func.set_config("max_parallel_workers_per_gather", "0", True),
        func.set_config("pg_trgm.word_similarity_threshold", threshold, True),
        also,
    )
    return session.execute(settings).one()[3]  # the value of ``also``


def _unkeyed(
    session: Session, conference_id: int, words: Sequence[str], seen: set[int]
) -> list[_Hit]:
    rows = session.execute(
        select(*_columns(), Attendee.search_key, Order.reference)
        .join(Person, Person.id == Attendee.person_id)
        .outerjoin(Order, Order.id == Attendee.order_id)
        .where(Attendee.conference_id == conference_id, Attendee.search_key.is_(None))
        .order_by(Person.last_name, Person.first_name, Attendee.id)
        .limit(_UNKEYED_MAX)
    ).all()
    found = []
    for row in rows:
        key = key_of_row(row)
        if row.id not in seen and all(key_has_word(key, w) for w in words):
            found.append(_hit(row))
    return found


def _similar(
    session: Session,
    caps: Capabilities,
    conference_id: int,
    words: Sequence[str],
    seen: set[int],
) -> list[_Hit]:
    if caps.trigram_schema is not None:
        candidates = _candidates_pg(session, caps.trigram_schema, conference_id, words)
    elif caps.fts:
        candidates = _candidates_fts(words)
    else:
        return []
    rows = session.execute(
        select(*_columns(ticket=False), Attendee.search_key)
        .join(Person, Person.id == Attendee.person_id)
        .where(
            Attendee.id.in_(candidates.columns(id=Attendee.id.type)),
            Attendee.conference_id == conference_id,
        )
    ).all()
    scored = []
    for row in rows:
        if row.id in seen:
            continue
        similarity = _similarity(words, key_names(row.search_key or "").split())
        if similarity >= SIMILAR_ENOUGH:
            scored.append((-similarity, row.last_name, row.first_name, row.id, row))
    scored.sort(key=lambda s: s[:4])
    return [_hit(s[4]) for s in scored]


def _similarity(words: Sequence[str], key_words: Sequence[str]) -> float:
    """The mean over the typed words of each one's best trigram similarity in the key."""
    return sum(word_similarity(w, key_words) for w in words) / len(words)


def _longest(words: Sequence[str]) -> str:
    return max(words, key=len)


def _candidate_similarity(word: str) -> float:
    """The word similarity a typo candidate needs on PostgreSQL: what one wrong letter inside
    a word of n letters leaves, (n - 2) / (n + 4) (3 of its n + 1 trigrams differ), at least
    ``CANDIDATE_SIMILARITY``. A lower threshold for a long word made the index recheck
    thousands of rows (lindquist: 44 ms at 0.4)."""
    n = len(word)
    return max(CANDIDATE_SIMILARITY, (n - 2) / (n + 4) - 0.01)


def _candidates_pg(
    session: Session, schema: str, conference_id: int, words: Sequence[str]
) -> TextClause:
    """The ids most like the longest word by pg_trgm's word similarity (the GIN index answers
    ``<%``; its threshold was set by ``_plan_for_the_trigram_index``, in this transaction)."""
    quoted = session.get_bind().dialect.identifier_preparer.quote_schema(schema)
    names = "split_part(search_key, '|', 1)"  # as indexed (ix_attendee_search_names_trgm)
    return text(
        f"SELECT id FROM attendee WHERE conference_id = :c "
        f"AND :q OPERATOR({quoted}.<%) {names} "
        f"ORDER BY {quoted}.word_similarity(:q, {names}) DESC LIMIT :n"
    ).bindparams(c=conference_id, q=_longest(words), n=_CANDIDATES)


def _candidates_fts(words: Sequence[str]) -> TextClause:
    """The ids sharing at least half of the words' trigrams (`` ab``, ``abc``, ``bc ``), most
    shared first, counted by SQLite from the FTS5 trigram table."""
    grams: set[str] = set()
    for word in words:
        padded = f" {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    ordered = sorted(grams)
    union = " UNION ALL ".join(
        f"SELECT rowid FROM attendee_search WHERE attendee_search MATCH :g{i}"
        for i in range(len(ordered))
    )
    return text(
        f"SELECT rowid FROM ({union}) GROUP BY rowid HAVING count(*) >= :needed "
        "ORDER BY count(*) DESC LIMIT :n"
    ).bindparams(
        needed=max(2, math.ceil(CANDIDATE_SHARE * len(ordered))),
        n=_CANDIDATES,
        **{f"g{i}": '"' + g.replace('"', '""') + '"' for i, g in enumerate(ordered)},
    )


def _matches(session: Session, hits: Sequence[_Hit]) -> tuple[AttendeeMatch, ...]:
    unread = {h.order_id for h in hits if h.order_id is not None and not h.ticket_read}
    tickets = _ticket_names(session, unread)
    return tuple(
        AttendeeMatch(
            access_code=h.access_code,
            name=person_name(h.first_name, h.last_name, h.username),
            email=display_safe(h.email, limit=80),
            ticket_type=ticket_name(
                h.ticket if h.ticket_read else tickets.get(h.order_id) if h.order_id else None
            ),
        )
        for h in hits
    )


def _ticket_names(session: Session, order_ids: Iterable[int]) -> dict[int, str]:
    """Each order's ticket type name (its last ticket line, as the badge shows it)."""
    wanted = sorted(order_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(OrderLineItem.order_id, TicketType.name)
        .join(TicketType, TicketType.id == OrderLineItem.ticket_type_id)
        .where(OrderLineItem.order_id.in_(wanted))
        .order_by(OrderLineItem.order_id, OrderLineItem.id)
    ).all()
    return {r.order_id: r.name for r in rows}  # the last line of each order wins


__all__ = ["Capabilities", "capabilities", "find_attendees"]
