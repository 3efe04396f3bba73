"""Turn the one row of a PostgreSQL hot-path statement into the general path's results.

The statements (``hot_sql``) return raw columns; the words, the display-safe
text and the refusal objects are made here, from the same helpers the general
path uses, so both paths answer a scan identically.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Row

from station.domain import OrderStatus
from station.services import queries
from station.services.errors import ConfigurationError, NotEligible, Refusal
from station.services.results import BadgeData, FirstCheckIn, ProductLine
from station.text import display_safe

# Stand-ins for what only the statement knows (a product's name, counts), in that order.
HOLES = ("\x01", "\x02", "\x03")


def sql_format(words: str) -> str:
    """Words made with HOLES as a PostgreSQL format() string: hole n becomes %n$s."""
    made = words.replace("%", "%%")
    for n, hole in enumerate(HOLES, 1):
        made = made.replace(hole, f"%{n}$s")
    return made


@cache
def refusals_json(
    action: str,
    check: Callable[..., NotEligible | None],
    words: tuple[tuple[str, Refusal], ...] = (),
) -> str:
    """{order status, or "" for no order: [reason, message]} for each status that refuses.

    Made from the general path's own rule, so the statement refuses with its words.
    ``words`` adds refusals the statement decides and logs itself, keyed "#<name>",
    each made by the general path's rule with HOLES for what the statement fills in.
    """
    refusals: dict[str, list[str]] = {}
    for status in (None, *OrderStatus):
        refusal = check(status, action=action)
        if refusal is not None:
            refusals[status.value if status else ""] = [str(refusal.reason), refusal.message]
    for key, made in words:
        refusals[key] = [str(made.reason), sql_format(made.message)]
    return json.dumps(refusals)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def order_status(value: str | None) -> OrderStatus | None:
    return OrderStatus(value) if value else None


def unknown_conference(slug: str) -> ConfigurationError:
    return ConfigurationError(f"Conference {slug!r} does not exist in this database.")


def attendee_name(row: Row[Any]) -> str:
    return queries.person_name(row.first_name, row.last_name, row.username)


def badge(row: Row[Any], *, own_check_in: FirstCheckIn | None = None) -> BadgeData:
    """The badge as of the statement, plus the check-in it just wrote, if any."""
    first = None
    if row.first_at is not None:
        first = FirstCheckIn(
            at=utc(row.first_at),
            station=display_safe(row.first_station, limit=60),
            staff_name=display_safe(row.first_staff, limit=60) if row.first_staff else None,
        )
    count = int(row.check_in_count or 0)
    if own_check_in is not None:
        count += 1
        # The general path orders by (time, id); the new row has the highest id.
        if first is None or own_check_in.at < first.at:
            first = own_check_in
    products = tuple(
        ProductLine(
            line_item_id=line_id,
            addon_slug=slug,
            name=display_safe(name, limit=80),
            description=display_safe(description, limit=120),
            quantity=quantity,
            redeemed=redeemed,
        )
        for line_id, slug, name, description, quantity, redeemed in (row.products or ())
    )
    return BadgeData(
        attendee_id=row.attendee_id,
        access_code=row.access_code,
        name=attendee_name(row),
        email=display_safe(row.email or "", limit=120),
        ticket_type=queries.ticket_name(row.ticket_type),
        order_reference=display_safe(row.order_reference or "") or None,
        order_status=order_status(row.order_status),
        checked_in=first is not None or row.checked_in_at is not None,
        first_check_in=first,
        check_in_count=count,
        products=products,
        timezone=row.timezone,
    )
