"""Every word the station says about a scan, in one place.

A verdict must be readable from two metres and without colour (NO_COLOR, a
monochrome kiosk), so each one carries a symbol and a word as well as a tone.
Reason codes from the services map to plain language here and nowhere else.
Nothing in this module renders: it builds plain strings, and the banner shows
them literally.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from station.services.errors import DatabaseBusy, FullyRedeemed, Reason, Refusal, StationError
from station.services.results import (
    BadgeData,
    CheckInResult,
    DoorCheckResult,
    DoorClearResult,
    RedemptionResult,
    VoidResult,
)
from station.text import display_safe


class Tone(enum.StrEnum):
    """Which colour a verdict gets; the CSS class is ``-tone-<value>``."""

    OK = "ok"
    ATTENTION = "attention"
    """Recorded, and there is a note the volunteer must read (order, ticket, add-on)."""
    WARNING = "warning"
    REFUSED = "refused"
    OFFLINE = "offline"
    IDLE = "idle"


SYMBOLS = {
    Tone.OK: "✔",
    Tone.ATTENTION: "⚠",
    Tone.WARNING: "▲",
    Tone.REFUSED: "✖",
    Tone.OFFLINE: "✖",
    Tone.IDLE: "●",
}

# What a console font has for the glyphs above and the banner's others: the Linux
# console's font and vt100-class terminals lack ✔, ✖ and ⚠, and a missing glyph is a
# blank or a box. The word next to a symbol carries the verdict either way.
_ASCII_STAND_INS = str.maketrans(
    {"✔": "+", "✖": "X", "▲": "!", "●": "*", "⚠": "!!", "→": "->", "—": "-", "…": "..."}
)


def console_text(text: str, *, ascii_only: bool) -> str:
    """``text`` with ASCII stand-ins for the station's own glyphs when ``ascii_only``."""
    return text.translate(_ASCII_STAND_INS) if ascii_only else text


# Headlines for refusals, by reason: short enough to read at a glance.
REFUSAL_HEADLINES: dict[Reason, str] = {
    Reason.NOT_FOUND: "UNKNOWN BADGE",
    Reason.OTHER_CONFERENCE: "BADGE OF ANOTHER CONFERENCE",
    Reason.NO_ORDER: "NO ORDER",
    Reason.UNPAID: "ORDER NOT PAID",
    Reason.CANCELLED: "ORDER CANCELLED",
    Reason.REFUNDED: "ORDER REFUNDED",
    Reason.NOT_PURCHASED: "NOT PURCHASED",
    Reason.FULLY_REDEEMED: "ALREADY REDEEMED",
    Reason.INVALID_INPUT: "NOT A BADGE",
    Reason.CONFIGURATION: "STATION SET UP WRONGLY",
    Reason.VOID_NOT_ALLOWED: "CANNOT VOID",
    Reason.OFFLINE_LIMIT: "NOT WHILE OFFLINE",
    Reason.DAILY_LIMIT: "ENOUGH FOR TODAY",
    Reason.CLOSED: "CLOSED NOW",
    Reason.NOT_VALID_TODAY: "NOT VALID TODAY",
    Reason.FULL: "ROOM FULL",
    Reason.NEEDS_EXIT: "ALREADY INSIDE",
    Reason.ALREADY_ENTERED: "ALREADY ADMITTED",
}

# What the volunteer should do next, by reason.
REFUSAL_ADVICE: dict[Reason, str] = {
    Reason.NOT_FOUND: "Send to the help desk.",
    Reason.OTHER_CONFERENCE: "This badge is for another event.",
    Reason.NO_ORDER: "Send to the help desk.",
    Reason.UNPAID: "Send to the help desk.",
    Reason.CANCELLED: "Send to the help desk.",
    Reason.REFUNDED: "Send to the help desk.",
    Reason.NOT_PURCHASED: "Not included in their order.",
    Reason.FULLY_REDEEMED: "Everything they bought was already used.",
    Reason.INVALID_INPUT: "Scan again, or press / to look the attendee up.",
    Reason.CONFIGURATION: "Tell a supervisor: the station settings need fixing.",
    Reason.VOID_NOT_ALLOWED: "A supervisor can void it: F5.",
    Reason.OFFLINE_LIMIT: "Ask them to come back when the network is back.",
    Reason.DAILY_LIMIT: "Today's share is used; the line says when the next one is.",
    Reason.CLOSED: "Not open now; the line says when it opens.",
    Reason.NOT_VALID_TODAY: "Their ticket is for another day: send to the help desk.",
    Reason.FULL: "Let them in when someone has left (exit scan).",
    Reason.NEEDS_EXIT: "They were not scanned out: scan them at the exit first.",
    Reason.ALREADY_ENTERED: "This door admits each person once.",
}

OFFLINE_HEADLINE = "NOT RECORDED — database offline, try again"
OFFLINE_ADVICE = "Nothing was saved. The light turns green when the database is back."


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the banner shows for one scan: all plain, untrusted-safe strings."""

    tone: Tone
    word: str
    headline: str
    subject: str = ""
    detail: str = ""
    note: str | None = None
    """An attention note staff must see even though the scan went through."""
    advice: str = ""
    """What to do next, for refusals."""

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.tone]

    @property
    def title(self) -> str:
        """The big line: symbol, word and headline, readable without colour."""
        if self.word in self.headline:
            return f"{self.symbol} {self.headline}"
        return f"{self.symbol} {self.word} — {self.headline}"

    @property
    def rings_bell(self) -> bool:
        """Refusals, failures and attention notes: the volunteer must look up."""
        return self.tone in (Tone.REFUSED, Tone.OFFLINE, Tone.ATTENTION)

    @property
    def recorded(self) -> bool:
        return self.tone in (Tone.OK, Tone.ATTENTION, Tone.WARNING)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime, timezone: str, *, seconds: bool = False) -> str:
    """A time of day in the conference's zone, the way people at the venue read clocks."""
    local = moment.astimezone(zone(timezone))
    return local.strftime("%H:%M:%S" if seconds else "%H:%M")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def idle(message: str = "READY — scan a badge") -> Verdict:
    return Verdict(Tone.IDLE, "READY", message)


def checking(code: str) -> Verdict:
    return Verdict(Tone.IDLE, "CHECKING", "CHECKING…", _code_subject(code))


def choosing(name: str) -> Verdict:
    return Verdict(Tone.IDLE, "CHOOSE", "CHOOSE what to redeem", name)


def nothing_to_redeem(name: str) -> Verdict:
    """Meal line without a fixed product, and the attendee has nothing left."""
    return Verdict(
        Tone.REFUSED,
        "REFUSED",
        "NOTHING LEFT TO REDEEM",
        name,
        "Every product on this order is used up, or none was bought.",
        advice=REFUSAL_ADVICE[Reason.FULLY_REDEEMED],
    )


def just_scanned(previous: Verdict) -> Verdict:
    """The same badge again within the double-scan window: the earlier answer, nothing new."""
    return Verdict(
        Tone.WARNING,
        "JUST SCANNED",
        f"JUST SCANNED — {previous.headline}",
        previous.subject,
        "Same badge scanned again just now — nothing new was recorded.",
        previous.note,
        previous.advice,
    )


def first_in_text(badge: BadgeData) -> str:
    """'first in 09:12 at Door B by Ana', from whichever station saw them first."""
    first = badge.first_check_in
    if first is None:
        return "first check-in"
    text = f"first in {local_time(first.at, badge.timezone)}"
    if first.station:
        text += f" at {first.station}"
    if first.staff_name:
        text += f" by {first.staff_name}"
    return text


ATTENTION_WORD = "ATTENTION"


def with_attention(verdict: Verdict) -> Verdict:
    """A recorded scan with a note becomes the attention variant: its own colour, symbol
    and word, and the bell; what was recorded still reads in the headline."""
    if not verdict.note:
        return verdict
    return replace(
        verdict,
        tone=Tone.ATTENTION,
        word=ATTENTION_WORD,
        headline=f"{ATTENTION_WORD} — {verdict.headline}",
    )


def for_check_in(result: CheckInResult) -> Verdict:
    badge = result.badge
    subject = badge.name
    detail = badge.ticket_type
    if result.reentry:
        return with_attention(
            Verdict(
                Tone.WARNING,
                "RE-ENTRY",
                f"RE-ENTRY — {first_in_text(badge)}",
                subject,
                f"{detail} · entry number {badge.check_in_count}",
                badge.attention,
            )
        )
    return with_attention(
        Verdict(Tone.OK, "OK", "OK — CHECKED IN", subject, detail, badge.attention)
    )


def for_redemption(result: RedemptionResult) -> Verdict:
    product = display_safe(result.product, limit=40).upper()
    left = f"{result.remaining} left"
    return with_attention(
        Verdict(
            Tone.OK,
            "OK",
            f"{product} OK — {left}",
            result.attendee_name,
            f"Used {result.redeemed} of {result.quantity}",
            result.attention,
        )
    )


def for_door(result: DoorCheckResult) -> Verdict:
    """ADMITTED, or OUT for an exit scan; a counted room says how full it is now."""
    room = ""
    if result.inside is not None:
        shown = f"{result.inside}/{result.capacity}" if result.capacity else str(result.inside)
        room = f"Inside now: {shown}"
    if result.direction == "out":
        return Verdict(Tone.OK, "OUT", f"OUT — {result.product}", result.attendee_name,
                       f"Exit recorded. {room}".strip())  # fmt: skip
    return with_attention(
        Verdict(
            Tone.OK,
            "ADMITTED",
            f"ADMITTED — {result.product}",
            result.attendee_name,
            room,
            result.attention,
        )
    )


def for_door_clear(result: DoorClearResult, timezone: str) -> Verdict:
    """A supervisor's "everyone out": the room counts from zero again."""
    when = local_time(result.cleared_at, timezone)
    people = "person" if result.counted_out == 1 else "people"
    return Verdict(
        Tone.WARNING,
        "EVERYONE OUT",
        f"EVERYONE OUT — {display_safe(result.product, limit=50)}",
        f"{result.counted_out} {people} counted out",
        display_safe(f"Cleared {when} by {result.by}; inside now: 0", limit=120),
    )


def for_void(result: VoidResult, timezone: str) -> Verdict:
    """A scan taken back: shown as VOIDED, with what it was and when it was scanned."""
    scanned = local_time(result.scanned_at, timezone)
    by = f" by {result.by}" if result.by else ""
    return Verdict(
        Tone.WARNING,
        "VOIDED",
        f"VOIDED — {display_safe(result.what, limit=50)}",
        result.attendee_name,
        display_safe(f"Scanned {scanned}; voided{by}: {result.reason}", limit=120),
    )


def for_error(error: StationError, *, code: str = "", timezone: str = "UTC") -> Verdict:
    """A refusal or failure from a service, or a scan refused before reaching one.

    ``timezone`` is the conference's: times inside errors arrive in UTC.
    """
    reason = error.reason
    if reason is Reason.CONFIGURATION:
        return Verdict(
            Tone.OFFLINE,
            "NOT READY",
            "NOT READY — this station is set up wrongly",
            _code_subject(code),
            display_safe(error.message, limit=120),
            advice=REFUSAL_ADVICE[reason],
        )
    if reason is Reason.DATABASE_UNAVAILABLE:
        return Verdict(
            Tone.OFFLINE,
            "NOT RECORDED",
            OFFLINE_HEADLINE,
            _code_subject(code),
            advice=OFFLINE_ADVICE,
        )
    headline = REFUSAL_HEADLINES.get(reason, "REFUSED")
    if isinstance(error, FullyRedeemed):
        headline = f"ALREADY REDEEMED {error.redeemed}/{error.quantity}"
        if error.last_redeemed_at is not None:
            headline += f" — {local_time(error.last_redeemed_at, timezone)}"
            if error.last_station:
                headline += f" at {error.last_station}"
    detail = display_safe(error.message, limit=120)
    advice = REFUSAL_ADVICE.get(reason, "")
    if isinstance(error, Refusal) and not error.logged:
        advice = " ".join(filter(None, (advice, "Not in the scan log (database unreachable).")))
    subject = _code_subject(code)
    if error.attendee_name:
        # The person, so the volunteer can speak to them; the badge, for the help desk.
        name = display_safe(error.attendee_name, limit=60)
        subject = f"{name} · badge {display_safe(code, limit=60)}" if code else name
    return Verdict(Tone.REFUSED, "REFUSED", headline, subject, detail, advice=advice)


def recorded_earlier(original: Verdict) -> Verdict:
    """A rescan found the write of an earlier scan whose answer never arrived."""
    detail = f"{original.headline} · {original.detail}" if original.detail else original.headline
    return Verdict(
        original.tone,
        original.word,
        f"{original.word} — recorded earlier, answer was lost",
        original.subject,
        detail,
        original.note,
    )


BUSY_HEADLINE = "NOT RECORDED — database busy, try again"
RETRY_ADVICE = "Scan again: the same scan is sent again and can never count twice."
NOT_KEPT_NOTE = "This station could not save the scan to its disk: a restart forgets it."


def not_recorded(
    error: StationError | None, *, code: str, retry: bool, kept: bool = True
) -> Verdict:
    """No answer: the database was away or busy, or the call broke. For a write, the
    outcome is unknown until the same code is scanned again (``retry``)."""
    if error is None:
        verdict = Verdict(
            Tone.OFFLINE,
            "NOT RECORDED",
            "NOT RECORDED — unexpected error, try again",
            _code_subject(code),
            advice="If this repeats, tell a supervisor.",
        )
    elif isinstance(error, DatabaseBusy):
        verdict = Verdict(
            Tone.OFFLINE,
            "NOT RECORDED",
            BUSY_HEADLINE,
            _code_subject(code),
            "Another station was using this record; nothing waited longer.",
            advice=RETRY_ADVICE if retry else "Scan again in a moment.",
        )
    else:
        verdict = Verdict(
            Tone.OFFLINE,
            "NOT RECORDED",
            OFFLINE_HEADLINE,
            _code_subject(code),
            advice=RETRY_ADVICE if retry else OFFLINE_ADVICE,
        )
    if retry and not kept:
        verdict = replace(verdict, note=NOT_KEPT_NOTE)
    return verdict


def for_worker_failure(error: BaseException) -> Verdict:
    """A bug, not a refusal: say so plainly and make clear nothing is known to be saved."""
    text = display_safe(f"{type(error).__name__}: {error}", limit=100)
    return Verdict(
        Tone.OFFLINE,
        "NOT RECORDED",
        "NOT RECORDED — unexpected error, try again",
        "",
        text,
        advice="If this repeats, tell a supervisor.",
    )


def _code_subject(code: str) -> str:
    return f"Badge {display_safe(code, limit=60)}" if code else ""
