"""Deciding a scan: the order of the checks, the reason, the words, what is recorded.

``decide(facts)`` is the whole rule set for check-in, door and redemption. Its
answer is an ``Accept`` (what a store writes, with the premise it was decided
on) or the ``Refusal`` the volunteer sees. The ``*_result`` functions turn a
recorded decision into what the screen shows, so the wording of successes
lives here too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from station.domain import ACTIVE_ORDER_STATUSES, OrderStatus
from station.rulebook import event_rules, words
from station.rulebook.event_rules import ProductRules
from station.rulebook.facts import (
    Action,
    DoorState,
    FirstEntry,
    Holder,
    Line,
    OfflineFacts,
    RecordKind,
    ScanFacts,
    ScanRecord,
    Target,
    VoidFacts,
)
from station.services.errors import ConfigurationError, FullyRedeemed, Reason, Refusal
from station.services.results import (
    BadgeData,
    CheckInResult,
    DoorCheckResult,
    FirstCheckIn,
    ProductChoice,
    ProductLine,
    RedemptionResult,
    VoidResult,
)
from station.text import display_safe

# What each action is called in a refusal's words.
_ACTION_WORDS: dict[Action, str] = {
    "checkin": "check-in",
    "door": "entry",
    "redeem": "redemption",
    "lookup": "redemption",
}


class Accept(NamedTuple):
    """A scan to record, and the premise it was decided on.

    A store writes it only while the premise still holds (``first``: nobody has
    checked the attendee in yet; ``line.used``: that many units of the line are
    used), so a decision made on a read that another station overtook is taken
    again on fresh facts, never written on stale ones.
    """

    action: Action
    attendee_id: int
    reason: Reason
    message: str = ""
    first: bool = False
    line: Line | None = None
    target: Target | None = None
    door_seen: int | None = None
    """A door scan's premise: how many scans of the holder at this door it was decided on."""
    direction: str = "in"


Decision = Accept | Refusal


def order_gate(status: OrderStatus | None, action: Action) -> Refusal | None:
    """None when the order allows the action, else the refusal."""
    if status in ACTIVE_ORDER_STATUSES:
        return None
    return words.order_refused(status, _ACTION_WORDS[action])


def unknown_product(kind: str, slug: str, conference_slug: str) -> ConfigurationError:
    label = "Ticket type" if kind == "ticket" else "Add-on"
    return ConfigurationError(f"{label} {slug!r} does not exist in conference {conference_slug!r}.")


def decide(facts: ScanFacts, conference_slug: str) -> Decision:
    """The decision on one scan whose client id has no record yet.

    Checked in this order: the station's product exists (else the station is
    misconfigured), the badge is known, the order allows the action, then what
    the action itself needs. A scan with a prior record is a replay, answered by
    the ``*_result`` functions from ``facts.prior`` and never decided again.
    """
    request = facts.request
    if facts.target_missing:
        wanted = request.wanted_product()
        assert wanted is not None, "only a named product can be missing"
        raise unknown_product(*wanted, conference_slug)
    holder = facts.holder
    if holder is None:
        return words.not_found(request.code)
    refusal = order_gate(holder.order_status, request.action)
    if refusal is not None:
        return refusal.concerning(holder.attendee_id, name(holder))
    if request.action == "checkin":
        held = _ticket_rules(holder, facts)
        if held is not None:
            return held.concerning(holder.attendee_id, name(holder))
        first = not holder.checked_in
        return Accept(
            "checkin", holder.attendee_id, Reason.OK if first else Reason.REENTRY, first=first
        )
    if request.action == "door":
        return _door(holder, facts)
    if request.action == "redeem":
        return _redeem(holder, facts)
    raise ValueError(f"nothing to decide for {request.action!r}")


def _door(holder: Holder, facts: ScanFacts) -> Decision:
    target = facts.target
    assert target is not None, "a door scan needs its product"
    bought = any(
        line.kind == target.kind and line.product_id == target.id and line.quantity > 0
        for line in holder.lines
    )
    if not bought:
        return words.not_admitted(words.product_name(target.name)).concerning(
            holder.attendee_id, name(holder)
        )
    door = facts.door or DoorState()
    seen = len(door.events)
    if facts.request.direction == "out":  # an exit: no rule keeps anybody in
        return Accept(
            "door", holder.attendee_id, Reason.OK, message="exit", target=target,
            door_seen=seen, direction="out",
        )  # fmt: skip
    product = words.product_name(target.name)
    held = time_rules(target.rules, facts, product) or entry_rules(
        target.rules, door, facts, product
    )
    if held is not None:
        return held.concerning(holder.attendee_id, name(holder))
    return Accept("door", holder.attendee_id, Reason.OK, target=target, door_seen=seen)


def inside(door: DoorState) -> bool:
    """Whether the holder is inside: their last scan since the door was cleared was an entry."""
    since = [
        direction
        for at, direction in door.events
        if door.cleared_at is None or at > door.cleared_at
    ]
    return bool(since) and since[-1] == "in"


def entry_rules(
    rules: ProductRules, door: DoorState, facts: ScanFacts, product: str
) -> Refusal | None:
    """A door's re-entry policy, then its capacity (someone already inside takes no seat)."""
    entries = [at for at, direction in door.events if direction == "in"]
    now, timezone = facts.now, facts.timezone
    if rules.reentry == "once" and entries:
        assert now is not None
        return words.already_entered(product, event_rules.when_words(entries[0], now, timezone))
    if rules.reentry == "daily" and entries:
        assert now is not None
        today = event_rules.local_day(now, timezone)
        todays = [at for at in entries if event_rules.local_day(at, timezone) == today]
        if todays:
            return words.entered_today(
                product,
                event_rules.when_words(todays[0], now, timezone),
                _next_day_words(rules, now, timezone),
            )
    in_now = inside(door)
    if rules.reentry == "after_exit" and in_now:
        assert now is not None
        return words.needs_exit(product, event_rules.when_words(entries[-1], now, timezone))
    if rules.capacity is not None and not in_now:
        count = door.inside or 0
        if count >= rules.capacity:
            return words.room_full(product, count, rules.capacity)
    return None


def time_rules(rules: ProductRules, facts: ScanFacts, product: str) -> Refusal | None:
    """Valid dates, then opening hours, at the time the scan was made.

    That is the time it is decided at, except for an offline scan replayed later: it was
    made at its station's time (``client_at``), when the line was open. Counts (a daily
    limit, a door's entries today) go by recording times, as the database's guards do.
    """
    if not rules.hours and not rules.valid_dates:
        return None
    now, timezone = facts.request.client_at or facts.now, facts.timezone
    assert now is not None, "event rules need the time of the scan"
    today = event_rules.local_day(now, timezone)
    upcoming = event_rules.next_opening(rules, now, timezone)
    upcoming_words = event_rules.when_words(upcoming, now, timezone) if upcoming else None
    if not event_rules.valid_on(rules, today):
        days = [event_rules.day_words(day) for day in rules.valid_dates]
        refusal = words.not_valid_today(product, days, upcoming_words)
    elif not event_rules.open_now(rules, now, timezone):
        refusal = words.closed(product, upcoming_words)
    else:
        return None
    refusal.allows_at = upcoming
    return refusal


def _ticket_rules(holder: Holder, facts: ScanFacts) -> Refusal | None:
    """A check-in needs one ticket of the holder's that is valid and open now."""
    tickets = [line for line in holder.lines if line.kind == "ticket" and line.quantity > 0]
    refusals = []
    for line in tickets:
        refusal = time_rules(line.rules, facts, words.ticket_name(line.name))
        if refusal is None:
            return None
        refusals.append(refusal)
    return refusals[0] if refusals else None


def _next_day_words(rules: ProductRules, now: datetime, timezone: str) -> str | None:
    """When a per-day count starts again: the next day's start, or its first opening."""
    next_day = event_rules.local_day(now, timezone) + timedelta(days=1)
    start = event_rules.day_start(next_day, timezone)
    if rules.hours or rules.valid_dates:
        opening = event_rules.next_opening(rules, start - timedelta(microseconds=1), timezone)
        if opening is None:
            return None
        start = opening
    return event_rules.when_words(start, now, timezone)


def candidate_lines(holder: Holder, facts: ScanFacts) -> tuple[Line, ...]:
    """The add-on lines a redemption may use: the picked one, or every line of the product."""
    request = facts.request
    if request.line_item_id is not None:
        return tuple(
            [
                line
                for line in holder.lines
                if line.kind == "addon" and line.id == request.line_item_id
            ]
        )
    target = facts.target
    assert target is not None, "a meal line's scan needs its product"
    return tuple(
        [line for line in holder.lines if line.kind == "addon" and line.product_id == target.id]
    )


def _redeem(holder: Holder, facts: ScanFacts) -> Decision:
    lines = candidate_lines(holder, facts)
    by_line = facts.request.line_item_id is not None
    if not lines:
        if by_line:
            return words.not_on_order().concerning(holder.attendee_id, name(holder))
        assert facts.target is not None
        return words.not_purchased(words.product_name(facts.target.name)).concerning(
            holder.attendee_id, name(holder)
        )
    product = words.product_name(lines[0].name)
    rules = lines[0].rules
    held = time_rules(rules, facts, product)
    if held is not None:
        return held.concerning(holder.attendee_id, name(holder))
    for line in lines:  # the first line with a unit left, in order
        if line.used < line.quantity:
            if rules.daily_limit is not None:
                held = _daily_limit(holder, line, facts, product)
                if held is not None:
                    return held.concerning(holder.attendee_id, name(holder))
            if facts.offline is not None:
                held = offline_limit(facts.offline, product)
                if held is not None:
                    return held.concerning(holder.attendee_id, name(holder))
            return Accept(
                "redeem", holder.attendee_id, Reason.OK, message=product, line=line,
                target=facts.target,
            )  # fmt: skip
    used = sum(line.used for line in lines)
    quantity = sum(line.quantity for line in lines)
    last = max(
        (line for line in lines if line.last_used_at is not None),
        key=lambda line: line.last_used_at,  # type: ignore[arg-type, return-value]
        default=None,
    )
    return FullyRedeemed(
        words.fully_redeemed_words(product, used, quantity),
        product=product,
        redeemed=used,
        quantity=quantity,
        last_redeemed_at=last.last_used_at if last else None,
        last_station=words.station_name(last.last_station) if last else "",
    ).concerning(holder.attendee_id, name(holder))


def used_today(holder: Holder, line: Line, facts: ScanFacts) -> int:
    """Units of the line's product the holder used on the scan's conference day (all lines)."""
    assert facts.now is not None, "a daily limit needs the time of the scan"
    today = event_rules.local_day(facts.now, facts.timezone)
    return sum(
        event_rules.count_on_day(each.used_times, today, facts.timezone)
        for each in holder.lines
        if each.kind == line.kind and each.product_id == line.product_id
    )


def _daily_limit(holder: Holder, line: Line, facts: ScanFacts, product: str) -> Refusal | None:
    limit = line.rules.daily_limit
    assert limit is not None and facts.now is not None
    used = used_today(holder, line, facts)
    if used < limit:
        return None
    refusal = words.daily_limit(
        product, used, limit, _next_day_words(line.rules, facts.now, facts.timezone)
    )
    return refusal


def offline_limit(offline: OfflineFacts, product: str) -> Refusal | None:
    """Why an offline station keeps a unit for later, or None: the outage's bounded risk.

    Checked only once a unit is left by the snapshot's count (so a used-up
    product is still "fully redeemed", offline as online).
    """
    if offline.policy == "refuse":
        return words.offline_refused(product)
    if offline.max_seconds is not None and (
        (offline.now - offline.since).total_seconds() > offline.max_seconds
    ):
        return words.offline_too_long(product, offline.max_seconds)
    if offline.cap is not None and offline.redeemed >= offline.cap:
        return words.offline_cap_reached(product, offline.cap)
    return None


def name(holder: Holder) -> str:
    return words.person_name(holder.first_name, holder.last_name, holder.username)


def attention(holder: Holder, lines: tuple[Line, ...] | None = None) -> str | None:
    """The attention text of a scan: the order's note, then the notes of ``lines``.

    ``lines`` are the products the scan concerns (every line of the order when None);
    a ticket type's note concerns every scan of its holders, so those always count.
    """
    chosen = holder.lines if lines is None else lines
    chosen_ids = {line.id for line in chosen}
    concerned = [
        line for line in holder.lines if line.kind == "ticket" and line.id not in chosen_ids
    ]
    concerned += chosen
    ordered = sorted(concerned, key=lambda line: (line.kind != "ticket", line.id))
    return words.attention(
        holder.order_status, (holder.order_attention, *(line.attention for line in ordered))
    )


def badge(holder: Holder, timezone: str, own: FirstEntry | None = None) -> BadgeData:
    """What the badge preview shows; ``own`` is a check-in this scan just recorded."""
    first = holder.first_entry
    entries = holder.entries
    if own is not None:
        entries += 1
        if first is None or own.at < first.at:
            first = own
    tickets = [line for line in holder.lines if line.kind == "ticket"]
    return BadgeData(
        attendee_id=holder.attendee_id,
        access_code=holder.access_code,
        name=name(holder),
        email=display_safe(holder.email or "", limit=120),
        ticket_type=words.ticket_name(tickets[-1].name if tickets else None),
        order_reference=display_safe(holder.order_reference or "") or None,
        order_status=holder.order_status,
        checked_in=first is not None or holder.checked_in,
        first_check_in=(
            FirstCheckIn(
                at=first.at,
                station=words.station_name(first.station),
                staff_name=words.station_name(first.staff_name) if first.staff_name else None,
            )
            if first is not None
            else None
        ),
        check_in_count=entries,
        products=tuple(
            ProductLine(
                line_item_id=line.id,
                addon_slug=line.slug,
                name=words.product_name(line.name),
                description=display_safe(line.description, limit=120),
                quantity=line.quantity,
                redeemed=line.used,
            )
            for line in holder.lines
            if line.kind == "addon"
        ),
        timezone=timezone,
        attention=attention(holder),
    )


def choices(facts: ScanFacts) -> ProductChoice | Refusal:
    """A picker's list: what the attendee can still redeem, if their order allows it."""
    holder = facts.holder
    if holder is None:
        return words.not_found(facts.request.code)
    refusal = order_gate(holder.order_status, "redeem")
    if refusal is not None:
        return refusal.concerning(holder.attendee_id, name(holder))
    shown = badge(holder, facts.timezone)
    return ProductChoice(shown, tuple(p for p in shown.products if p.remaining > 0))


def checked_in(
    facts: ScanFacts, accept: Accept, at: datetime, station: str, staff_name: str | None
) -> CheckInResult:
    assert facts.holder is not None
    own = FirstEntry(at=at, station=station, staff_name=staff_name)
    return CheckInResult(
        client_id=facts.request.client_id,
        reason=accept.reason,
        checked_in_at=at,
        badge=badge(facts.holder, facts.timezone, own),
    )


def admitted(facts: ScanFacts, at: datetime, *, replayed: bool = False) -> DoorCheckResult:
    holder, target = facts.holder, facts.target
    assert holder is not None and target is not None
    direction = facts.request.direction
    door = facts.door or DoorState()
    count = door.inside
    if count is not None and not replayed:  # the room after this scan
        was_inside = inside(door)
        if direction == "in" and not was_inside:
            count += 1
        elif direction == "out" and was_inside:
            count = max(count - 1, 0)
    return DoorCheckResult(
        direction=direction,
        inside=count,
        capacity=target.rules.capacity,
        client_id=facts.request.client_id,
        attendee_name=name(holder),
        access_code=holder.access_code,
        product=words.product_name(target.name),
        checked_at=at,
        timezone=facts.timezone,
        attention=attention(holder, _lines_of(holder, target)),
        replayed=replayed,
    )


def _lines_of(holder: Holder, target: Target) -> tuple[Line, ...]:
    return tuple(
        line for line in holder.lines if line.kind == target.kind and line.product_id == target.id
    )


def redeemed(facts: ScanFacts, accept: Accept, at: datetime) -> RedemptionResult:
    """One unit redeemed; a meal line's product spread over lines reports all of them."""
    holder, line = facts.holder, accept.line
    assert holder is not None and line is not None
    if facts.request.line_item_id is None:
        lines = candidate_lines(holder, facts)
        used = sum(each.used for each in lines) + 1
        quantity = sum(each.quantity for each in lines)
    else:
        used, quantity = line.used + 1, line.quantity
    return RedemptionResult(
        client_id=facts.request.client_id,
        attendee_name=name(holder),
        access_code=holder.access_code,
        line_item_id=line.id,
        product=accept.message,
        redeemed=used,
        quantity=quantity,
        redeemed_at=at,
        timezone=facts.timezone,
        attention=attention(holder, (line,)),
    )


def replayed(
    facts: ScanFacts, conference_slug: str
) -> CheckInResult | DoorCheckResult | RedemptionResult:
    """The answer to a retry whose original was recorded: the original's, never a new write.

    A retry naming a product the conference does not have is refused as ``decide``
    refuses it (a misconfigured station), whatever its client id recorded before.
    """
    prior, holder = facts.prior, facts.holder
    assert prior is not None and holder is not None
    if facts.target_missing:
        wanted = facts.request.wanted_product()
        assert wanted is not None, "only a named product can be missing"
        raise unknown_product(*wanted, conference_slug)
    client_id: uuid.UUID = facts.request.client_id
    action = facts.request.action
    if action == "checkin":
        return CheckInResult(
            client_id=client_id,
            reason=Reason.REENTRY if prior.entries_before else Reason.OK,
            checked_in_at=prior.at,
            badge=badge(holder, facts.timezone),
            replayed=True,
        )
    if action == "door":
        return admitted(facts, prior.at, replayed=True)
    line = next(line for line in holder.lines if line.id == prior.line_item_id)
    return RedemptionResult(
        client_id=client_id,
        attendee_name=name(holder),
        access_code=holder.access_code,
        line_item_id=line.id,
        product=words.product_name(line.name),
        redeemed=prior.used_then,
        quantity=line.quantity,
        redeemed_at=prior.at,
        timezone=facts.timezone,
        attention=attention(holder, (line,)),
        replayed=True,
    )


@dataclass(frozen=True, slots=True)
class VoidAccept:
    """A void to record: the record it takes back (a store writes it only while unvoided)."""

    kind: RecordKind
    record_id: int
    attendee_id: int
    reason: str


def decide_void(facts: VoidFacts) -> VoidAccept | Refusal:
    """Who may void what.

    An operator voids the last scan recorded at their station, while it is at most
    ``window_seconds`` old; a supervisor (their PIN checked) voids any check-in,
    door admission or redemption of the conference, and says why. Nothing is voided
    twice.
    """
    request, record = facts.request, facts.record
    if record is None:
        return words.nothing_to_void()
    if record.voided:
        return words.already_voided(record.kind).concerning(
            record.attendee_id, _record_name(record)
        )
    reason = display_safe(request.reason.strip(), limit=300).strip()
    if request.supervisor:
        if not reason:
            return words.void_needs_reason()
    else:
        if not facts.last_at_station:
            return words.void_not_last()
        if (request.now - record.at).total_seconds() > request.window_seconds:
            return words.void_window_passed(request.window_seconds).concerning(
                record.attendee_id, _record_name(record)
            )
        reason = reason or "Voided by the operator: scanned by mistake."
    return VoidAccept(record.kind, record.id, record.attendee_id, reason)


def _record_name(record: ScanRecord) -> str:
    return words.person_name(record.first_name, record.last_name, record.username)


def voided(record: ScanRecord, accept: VoidAccept, at: datetime, by: str | None) -> VoidResult:
    """What the screen shows once a void is recorded."""
    return VoidResult(
        kind=record.kind,
        record_id=record.id,
        attendee_name=_record_name(record),
        access_code=display_safe(record.access_code, limit=40),
        what=words.record_words(record.kind, record.product),
        scanned_at=record.at,
        voided_at=at,
        reason=accept.reason,
        by=words.station_name(by) if by else None,
    )


def void_choice(record: ScanRecord) -> VoidResult:
    """A record as a supervisor's picker lists it (not voided: ``voided_at`` None)."""
    return VoidResult(
        kind=record.kind,
        record_id=record.id,
        attendee_name=_record_name(record),
        access_code=display_safe(record.access_code, limit=40),
        what=words.record_words(record.kind, record.product),
        scanned_at=record.at,
        voided_at=None,
        reason="",
        by=None,
        station=words.station_name(record.station),
        already_voided=record.voided,
    )


OVERSPEND_REASONS = frozenset(
    {
        Reason.FULLY_REDEEMED,
        Reason.DAILY_LIMIT,
        Reason.FULL,
        Reason.ALREADY_ENTERED,
        Reason.NEEDS_EXIT,
    }
)
"""Refusals on replay that mean the offline station gave what was used up meanwhile."""


def replay_refusal_kind(reason: Reason) -> str:
    """What a scan accepted offline and refused on replay was.

    An "overspend" when what it gave was used up meanwhile by scans the offline station
    could not see: the last unit (fully redeemed), the day's units (daily limit), a seat
    in the room (full), a once-only or once-a-day entry (already entered), an entry of
    someone another door let in meanwhile (needs an exit). A "conflict" for any other
    disagreement: the order refunded, the badge unknown, the product no longer sold, or
    the product's hours and dates changed meanwhile (replay judges those at the scan's
    station time, so they refuse it only if the rules themselves changed).
    """
    return "overspend" if reason in OVERSPEND_REASONS else "conflict"
