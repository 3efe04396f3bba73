"""The words a volunteer sees, and how untrusted names are made fit to show.

Every refusal's wording lives here and nowhere else: the scan log, the screen
and the reports take these, whichever store recorded the scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from station.domain import OrderStatus
from station.services.errors import (
    AttendeeNotFound,
    InvalidInput,
    NotEligible,
    NotPurchased,
    OfflineLimit,
    Reason,
    RuleRefusal,
    VoidRefused,
)
from station.text import display_safe

GENERAL_ADMISSION = "General Admission"
# A picked line that is not an add-on line of the attendee's order: in practice their
# ticket line (django-program lets any line be redeemed; station redeems add-ons only).
NOT_ON_ORDER = (
    "Only add-ons are redeemed here, and that line is not one of this attendee's add-ons; "
    "a ticket is used by checking in at the desk (or at a door), not redeemed."
)
PARTLY_REFUNDED = "Order partially refunded — check what is still included."

_STATUS_REASONS = {
    OrderStatus.PENDING: Reason.UNPAID,
    OrderStatus.CANCELLED: Reason.CANCELLED,
    OrderStatus.REFUNDED: Reason.REFUNDED,
}


def person_name(first_name: str, last_name: str, username: str) -> str:
    """The name a screen shows: first and last, else the username; display-safe."""
    full = f"{first_name} {last_name}".strip()
    return display_safe(full or username, limit=120)


def ticket_name(name: str | None) -> str:
    return display_safe(name, limit=80) if name else GENERAL_ADMISSION


def product_name(name: str | None) -> str:
    return display_safe(name or "Product", limit=80)


def station_name(name: str) -> str:
    return display_safe(name, limit=60)


def not_found(code: str) -> AttendeeNotFound:
    return AttendeeNotFound(f"Badge {display_safe(code, limit=40)} not found for this conference.")


def order_refused(status: OrderStatus | None, action: str) -> NotEligible:
    """Why an order (or its absence) does not allow ``action``."""
    if status is None:
        return NotEligible(f"Attendee has no order — {action} not allowed.", reason=Reason.NO_ORDER)
    return NotEligible(
        f"Order status is '{status.label}' — {action} not allowed.",
        reason=_STATUS_REASONS.get(status, Reason.UNPAID),
    )


def not_on_order() -> InvalidInput:
    """A picked line item that is not an add-on line of the attendee's own order."""
    return InvalidInput(NOT_ON_ORDER, reason=Reason.NOT_PURCHASED)


def not_purchased(product: str) -> NotPurchased:
    """A meal line's product the attendee did not buy."""
    return NotPurchased(f"{product} was not purchased by this attendee.")


def not_admitted(product: str) -> NotPurchased:
    """A door's ticket type or add-on the attendee did not buy."""
    return NotPurchased(f"{product} was not purchased — not admitted.")


def offline_refused(product: str) -> OfflineLimit:
    """A product this event does not give out while the station is offline."""
    return OfflineLimit(f"{product} cannot be redeemed while offline — try again when back online.")


def offline_cap_reached(product: str, cap: int) -> OfflineLimit:
    return OfflineLimit(
        f"Offline limit reached: {cap} {product} given out since the network went down "
        "— wait for the network."
    )


def offline_too_long(product: str, seconds: float) -> OfflineLimit:
    return OfflineLimit(
        f"Offline for more than {_duration(seconds)}: {product} is no longer given out "
        "until the network is back."
    )


def offline_pin() -> InvalidInput:
    """An operator with a PIN cannot be checked without the database."""
    return InvalidInput(
        "Database not reachable: signing in with a PIN needs it — sign in as an operator "
        "without a PIN, or wait for the network."
    )


def offline_unknown_operator(name: str) -> InvalidInput:
    return InvalidInput(f"No operator called {display_safe(name, limit=40)!r} in the offline copy.")


def fully_redeemed_words(product: str, redeemed: int | str, quantity: int | str) -> str:
    return f"{product} is fully redeemed ({redeemed}/{quantity})."


# One note is cut at NOTE_LIMIT characters, all of them together at ATTENTION_LIMIT: a
# verdict band and the badge's attention line show them in full at 80 columns, in 2-4 lines.
NOTE_LIMIT = 120
ATTENTION_LIMIT = 300
ATTENTION_SEPARATOR = " · "


def attention_note(raw: str | None) -> str:
    """One stored note made fit to show: no control or bidi characters, one line, cut."""
    if not raw:
        return ""
    return display_safe(" ".join(display_safe(raw).split()), limit=NOTE_LIMIT)


def attention(status: OrderStatus | None, notes: Iterable[str | None] = ()) -> str | None:
    """What staff must see even though the scan went through, or None.

    ``notes`` are the raw notes of the order, then its products that concern this scan;
    each is cleaned, empty ones and repeats are dropped, and a partially refunded order
    adds its own note last.
    """
    shown: list[str] = []
    for raw in notes:
        note = attention_note(raw)
        if note and note not in shown:
            shown.append(note)
    if status is OrderStatus.PARTIALLY_REFUNDED:
        shown.append(PARTLY_REFUNDED)
    if not shown:
        return None
    return display_safe(ATTENTION_SEPARATOR.join(shown), limit=ATTENTION_LIMIT)


# What each kind of scan record is called when it is voided.
RECORD_WORDS = {"checkin": "Check-in", "door": "Admission", "redeem": "Redemption"}
VOIDED = "VOIDED"


def record_words(kind: str, product: str = "") -> str:
    """ "Redemption: Lunch", "Admission: Workshop", "Check-in" (display-safe)."""
    what = RECORD_WORDS.get(kind, "Scan")
    return f"{what}: {product_name(product)}" if product else what


def nothing_to_void() -> VoidRefused:
    return VoidRefused("Nothing to void: no scan was recorded at this station.")


def already_voided(kind: str) -> VoidRefused:
    return VoidRefused(f"{RECORD_WORDS.get(kind, 'Scan')} already voided.")


def void_not_last() -> VoidRefused:
    return VoidRefused(
        "Only the last scan at this station can be voided here — ask a supervisor (F5)."
    )


def void_window_passed(seconds: float) -> VoidRefused:
    return VoidRefused(
        f"The last scan is older than {_duration(seconds)} — ask a supervisor to void it (F5)."
    )


def void_needs_reason() -> VoidRefused:
    return VoidRefused("A supervisor's void needs a reason.")


def not_a_supervisor(action: str = "void this scan") -> InvalidInput:
    return InvalidInput(f"Only a supervisor can {action}: wrong name or not a supervisor.")


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} seconds"


# --- Event rules (station rules): each refusal says which rule, and when it allows again ---


def closed(product: str, opens: str | None) -> RuleRefusal:
    """Outside the product's opening hours; ``opens`` is when it next opens, in words."""
    if opens is None:
        return RuleRefusal(f"{product} is closed — no later opening.", reason=Reason.CLOSED)
    return RuleRefusal(f"{product} is closed — opens {opens}.", reason=Reason.CLOSED)


def not_valid_today(product: str, days: Sequence[str], next_words: str | None) -> RuleRefusal:
    """A product valid on some days only (a day ticket), scanned on another day."""
    shown = ", ".join(days[:3]) + (f" and {len(days) - 3} more" if len(days) > 3 else "")
    later = f" — next {next_words}" if next_words else ""
    return RuleRefusal(
        f"{product} is not valid today (valid {shown}){later}.", reason=Reason.NOT_VALID_TODAY
    )


def daily_limit(product: str, used: int, limit: int, next_words: str | None) -> RuleRefusal:
    """The product's per-day cap is reached: "Lunch: 1 of 1 today — next from tomorrow 00:00"."""
    later = f" — next from {next_words}" if next_words else " — no later day"
    return RuleRefusal(f"{product}: {used} of {limit} today{later}.", reason=Reason.DAILY_LIMIT)


def entered_today(product: str, at: str, next_words: str | None) -> RuleRefusal:
    """A door that admits once a day, scanned again the same day."""
    later = f" — next from {next_words}" if next_words else " — no later day"
    return RuleRefusal(f"{product}: 1 of 1 today (in at {at}){later}.", reason=Reason.DAILY_LIMIT)


def already_entered(product: str, at: str) -> RuleRefusal:
    """A door that admits each person once, scanned again."""
    return RuleRefusal(
        f"{product} admits once — already admitted {at}.", reason=Reason.ALREADY_ENTERED
    )


def needs_exit(product: str, at: str) -> RuleRefusal:
    """A door that re-admits only after an exit scan; the person is still inside."""
    return RuleRefusal(
        f"Already inside {product} (in at {at}) — scan out at the exit first.",
        reason=Reason.NEEDS_EXIT,
    )


def room_full(product: str, inside: int, capacity: int) -> RuleRefusal:
    return RuleRefusal(
        f"Room full ({inside}/{capacity}) — {product}: admit after someone leaves.",
        reason=Reason.FULL,
    )
