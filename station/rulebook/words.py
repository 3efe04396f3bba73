"""The words a volunteer sees, and how untrusted names are made fit to show.

Every refusal's wording lives here and nowhere else: the scan log, the screen
and the reports take these, whichever store recorded the scan.
"""

from __future__ import annotations

from station.domain import OrderStatus
from station.services.errors import (
    AttendeeNotFound,
    InvalidInput,
    NotEligible,
    NotPurchased,
    Reason,
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


def fully_redeemed_words(product: str, redeemed: int | str, quantity: int | str) -> str:
    return f"{product} is fully redeemed ({redeemed}/{quantity})."


def attention(status: OrderStatus | None) -> str | None:
    """A note staff must see even though the scan went through."""
    if status is OrderStatus.PARTIALLY_REFUNDED:
        return PARTLY_REFUNDED
    return None
