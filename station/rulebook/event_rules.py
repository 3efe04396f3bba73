"""Event rules of a product or a door: when it is open, on which days, how often, how full.

A conference sets them per ticket type or add-on (``station rules``); they are
stored as plain columns (a count, a canonical text, a policy name) and read
back through :func:`ProductRules.from_columns`. Days are the conference's days:
a date in its time zone, midnight to midnight, whatever the server's zone or a
daylight-saving change does to the length of the day.

Pure: parsing, formatting and the calendar arithmetic the rule book needs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Reentry = Literal["unlimited", "once", "daily", "after_exit"]
REENTRY_POLICIES: tuple[Reentry, ...] = get_args(Reentry)
Direction = Literal["in", "out"]

# What each re-entry policy is called in `station rules show` and the README.
REENTRY_WORDS: dict[Reentry, str] = {
    "unlimited": "re-entry any time",
    "once": "admits once",
    "daily": "admits once a day",
    "after_exit": "re-entry only after an exit scan",
}

MAX_WINDOWS = 8
MAX_DATES = 60
MAX_COUNT = 1_000_000
HOURS_LIMIT = 200  # characters of the stored text (columns are String(200) and String(400))
DATES_LIMIT = 400

_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class RuleSyntaxError(ValueError):
    """A rule's text that does not parse; the message says what is expected, in one line."""


Window = tuple[time, time]


@dataclass(frozen=True, slots=True)
class ProductRules:
    """The rules of one product (ticket type or add-on), all optional.

    ``daily_limit``: units of the product one attendee may redeem per conference day.
    ``hours``: local opening windows, the same every day (start inclusive, end
    exclusive); empty means open all day. ``valid_dates``: the only days the product
    is valid on; empty means every day. ``reentry`` and ``capacity`` concern a door
    for the product: how often one person is admitted, how many may be inside.
    """

    daily_limit: int | None = None
    hours: tuple[Window, ...] = ()
    valid_dates: tuple[date, ...] = ()
    reentry: Reentry = "unlimited"
    capacity: int | None = None

    @classmethod
    def from_columns(
        cls,
        daily_limit: int | None,
        hours: str | None,
        valid_dates: str | None,
        reentry: str | None,
        capacity: int | None,
    ) -> ProductRules:
        """The rules as stored; anything unreadable raises RuleSyntaxError."""
        return _from_columns(daily_limit, hours or "", valid_dates or "", reentry or "", capacity)

    @property
    def any(self) -> bool:
        return self != NO_RULES

    def columns(self) -> dict[str, object]:
        """The stored form (the inverse of ``from_columns``)."""
        return {
            "daily_limit": self.daily_limit,
            "open_hours": format_hours(self.hours) or None,
            "valid_dates": format_dates(self.valid_dates) or None,
            "reentry": self.reentry,
            "capacity": self.capacity,
        }

    def describe(self) -> str:
        """One line for `station rules show`: "1 a day · 11:30-14:30 · ..." or "no rules"."""
        parts = []
        if self.daily_limit is not None:
            parts.append(f"at most {self.daily_limit} a day")
        if self.hours:
            parts.append(f"open {format_hours(self.hours)}")
        if self.valid_dates:
            parts.append(f"valid {format_dates(self.valid_dates)}")
        if self.reentry != "unlimited":
            parts.append(REENTRY_WORDS[self.reentry])
        if self.capacity is not None:
            parts.append(f"capacity {self.capacity}")
        return " · ".join(parts) or "no rules"


NO_RULES = ProductRules()


@lru_cache(maxsize=512)
def _from_columns(
    daily_limit: int | None, hours: str, valid_dates: str, reentry: str, capacity: int | None
) -> ProductRules:
    if (
        daily_limit is None
        and not hours
        and not valid_dates
        and capacity is None
        and (reentry in ("", "unlimited"))
    ):
        return NO_RULES  # the common case: no parsing on a scan's path
    return ProductRules(
        daily_limit=_count(daily_limit, "daily limit"),
        hours=parse_hours(hours),
        valid_dates=parse_dates(valid_dates),
        reentry=parse_reentry(reentry or "unlimited"),
        capacity=_count(capacity, "capacity"),
    )


def _count(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise RuleSyntaxError(f"The {what} must be a whole number from 0 to {MAX_COUNT:,}.")
    return value


def parse_count(text: str, what: str) -> int | None:
    """A count from the command line: ASCII digits, or "none"/"" for no limit.

    Other scripts' digits ("١٢", "²") are refused, not read: what a person typed is
    what the station counts to.
    """
    text = text.strip().lower()
    if text in ("", "none", "-"):
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 7:
        raise RuleSyntaxError(
            f"The {what} must be a whole number from 0 to {MAX_COUNT:,} (or none), "
            f"not {text[:20]!r}."
        )
    return _count(int(text), what)


def parse_hours(text: str) -> tuple[Window, ...]:
    """ "11:30-14:30, 18:00-20:00" -> windows, sorted; "" or "always" -> () (open all day).

    An end of 24:00 means midnight; a window may not wrap past midnight (split it).
    """
    text = text.strip()
    if text.lower() in ("", "always", "none", "-"):
        return ()
    if len(text) > HOURS_LIMIT:
        raise RuleSyntaxError(f"Opening hours are at most {HOURS_LIMIT} characters.")
    windows: list[Window] = []
    for part in re.split(r"[,;\s]+(?=\d)", text):
        match = _WINDOW.match(part.strip())
        if match is None:
            raise RuleSyntaxError(
                f"Opening hours are windows like 11:30-14:30, separated by commas, "
                f"not {part.strip()[:20]!r}."
            )
        h1, m1, h2, m2 = (int(group) for group in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise RuleSyntaxError(f"{part.strip()!r} is not a time of day.")
        start = time(h1, m1)
        end = time.max if h2 == 24 else time(h2, m2)
        if end <= start:
            raise RuleSyntaxError(
                f"{part.strip()!r} ends before it starts; a window past midnight is two "
                "windows (e.g. 22:00-24:00, 00:00-02:00)."
            )
        windows.append((start, end))
    if len(windows) > MAX_WINDOWS:
        raise RuleSyntaxError(f"At most {MAX_WINDOWS} opening windows a day.")
    windows.sort()
    for (_s1, e1), (s2, _e2) in itertools.pairwise(windows):
        if s2 < e1:
            raise RuleSyntaxError("Opening windows overlap; merge them into one.")
    return tuple(windows)


def format_hours(windows: Iterable[Window]) -> str:
    return ", ".join(f"{clock(start)}-{clock(end)}" for start, end in windows)


def clock(at: time) -> str:
    return "24:00" if at == time.max else at.strftime("%H:%M")


def parse_dates(text: str) -> tuple[date, ...]:
    """ "2027-05-13, 2027-05-14" -> sorted unique dates; "" or "any" -> () (every day)."""
    text = text.strip()
    if text.lower() in ("", "any", "none", "-"):
        return ()
    if len(text) > DATES_LIMIT:
        raise RuleSyntaxError(f"Valid dates are at most {DATES_LIMIT} characters.")
    dates: set[date] = set()
    for part in re.split(r"[,;\s]+", text):
        try:
            dates.add(date.fromisoformat(part))
        except ValueError:
            raise RuleSyntaxError(
                f"Valid dates are days like 2027-05-13, separated by commas, not {part[:20]!r}."
            ) from None
    if len(dates) > MAX_DATES:
        raise RuleSyntaxError(f"At most {MAX_DATES} valid dates.")
    return tuple(sorted(dates))


def format_dates(dates: Iterable[date]) -> str:
    return ", ".join(day.isoformat() for day in dates)


def parse_reentry(text: str) -> Reentry:
    policy = text.strip().lower().replace("-", "_")
    aliases = {"once_per_day": "daily", "once-per-day": "daily", "exit": "after_exit"}
    policy = aliases.get(policy, policy)
    for known in REENTRY_POLICIES:
        if policy == known:
            return known
    raise RuleSyntaxError(
        f"Re-entry is one of {', '.join(REENTRY_POLICIES)} (or once_per_day), not {text[:20]!r}."
    )


def zone(name: str) -> ZoneInfo:
    """The conference's zone; an unknown name counts as UTC (as the report does)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_day(at: datetime, timezone: str) -> date:
    return at.astimezone(zone(timezone)).date()


def day_start(day: date, timezone: str) -> datetime:
    """Midnight starting ``day`` in the conference's zone, as an aware datetime."""
    return datetime.combine(day, time(), tzinfo=zone(timezone))


def local_time(at: datetime, timezone: str) -> time:
    return at.astimezone(zone(timezone)).time().replace(tzinfo=None)


def open_now(rules: ProductRules, at: datetime, timezone: str) -> bool:
    if not rules.hours:
        return True
    now = local_time(at, timezone)
    return any(
        start <= now < end or (end == time.max and now >= start) for start, end in rules.hours
    )


def valid_on(rules: ProductRules, day: date) -> bool:
    return not rules.valid_dates or day in rules.valid_dates


def next_opening(rules: ProductRules, at: datetime, timezone: str) -> datetime | None:
    """When the product is next open and valid after ``at`` (within 400 days), or None."""
    tz = zone(timezone)
    local = at.astimezone(tz)
    day = local.date()
    for offset in range(400):
        candidate = day + timedelta(days=offset)
        if rules.valid_dates and candidate > rules.valid_dates[-1]:
            return None
        if not valid_on(rules, candidate):
            continue
        starts = [start for start, _end in rules.hours] or [time()]
        for start in starts:
            opening = datetime.combine(candidate, start, tzinfo=tz)
            if opening > local:
                return opening
    return None


def count_on_day(times: Iterable[datetime], day: date, timezone: str) -> int:
    tz = zone(timezone)
    return sum(1 for at in times if at.astimezone(tz).date() == day)


def when_words(at: datetime, now: datetime, timezone: str) -> str:
    """ "11:30" today, "tomorrow 00:00", "Thu 14 May 11:30" later: how a volunteer says it."""
    tz = zone(timezone)
    local, today = at.astimezone(tz), now.astimezone(tz).date()
    hhmm = local.strftime("%H:%M")
    if local.date() == today:
        return hhmm
    if local.date() == today + timedelta(days=1):
        return f"tomorrow {hhmm}"
    return f"{local.strftime('%a')} {local.day} {local.strftime('%b')} {hhmm}"


def day_words(day: date) -> str:
    return f"{day.strftime('%a')} {day.day} {day.strftime('%b')}"


# --- Setting rules (station rules set / import): a field at a time, each checked here ---

RuleField = Literal["daily_limit", "hours", "valid_dates", "reentry", "capacity"]
RULE_FIELDS: tuple[RuleField, ...] = get_args(RuleField)


def set_field(rules: ProductRules, name: str, text: str) -> ProductRules:
    """``rules`` with one rule set from text (as the command line takes it)."""
    if name == "daily_limit":
        return replace(rules, daily_limit=parse_count(text, "daily limit"))
    if name == "capacity":
        return replace(rules, capacity=parse_count(text, "capacity"))
    if name == "hours":
        return replace(rules, hours=parse_hours(text))
    if name == "valid_dates":
        return replace(rules, valid_dates=parse_dates(text))
    if name == "reentry":
        return replace(rules, reentry=parse_reentry(text))
    raise RuleSyntaxError(f"Unknown rule {name[:30]!r}; rules are {', '.join(RULE_FIELDS)}.")


def with_fields(rules: ProductRules, texts: Mapping[str, str]) -> ProductRules:
    """``rules`` with the named fields set from text; "none" clears a field.

    Raises RuleFieldError naming the first field that does not parse.
    """
    for name, text in texts.items():
        try:
            rules = set_field(rules, name, text)
        except RuleSyntaxError as exc:
            raise RuleFieldError(name, str(exc)) from None
    return rules


def rules_from_table(table: Mapping[str, object]) -> ProductRules:
    """A product's whole rules from a TOML table (``station rules import``).

    Counts are TOML integers (or "none"); hours and valid dates a string or a list of
    strings (dates may be TOML dates); re-entry a policy name. A field left out has no
    rule. Raises RuleFieldError naming the field.
    """
    rules = NO_RULES
    for name, value in table.items():
        if name not in RULE_FIELDS:
            raise RuleFieldError(
                name, f"Unknown rule {name[:30]!r}; rules are {', '.join(RULE_FIELDS)}."
            )
        try:
            rules = set_field(rules, name, _toml_text(name, value))
        except RuleSyntaxError as exc:
            raise RuleFieldError(name, str(exc)) from None
    return rules


def _toml_text(name: str, value: object) -> str:
    """A TOML value as the text the command line would take for that field."""
    if name in ("daily_limit", "capacity"):
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value <= MAX_COUNT:
                raise RuleSyntaxError(
                    f"The {name.replace('_', ' ')} must be a whole number from 0 to {MAX_COUNT:,}."
                )
            return str(value)
        if isinstance(value, str) and value.strip().lower() in ("none", ""):
            return "none"
        raise RuleSyntaxError(f'Give a whole number from 0 to {MAX_COUNT:,} (or "none").')
    if name in ("hours", "valid_dates") and isinstance(value, list):
        if len(value) > MAX_DATES:
            raise RuleSyntaxError(f"At most {MAX_DATES} entries.")
        return ", ".join(_toml_text(name, item) for item in value)
    if name == "valid_dates" and isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise RuleSyntaxError(f"Give text, not a TOML {type(value).__name__}.")


class RuleFieldError(RuleSyntaxError):
    """A rule that does not parse, with the field it belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def rule_words(rules: ProductRules) -> dict[RuleField, str]:
    """Each rule in the words of `station rules show` ("" where there is none)."""
    return {
        "daily_limit": "" if rules.daily_limit is None else f"{rules.daily_limit} a day",
        "hours": ", ".join(f"{clock(start)}\u2013{clock(end)}" for start, end in rules.hours),
        "valid_dates": ", ".join(day_words(day) for day in rules.valid_dates),
        "reentry": "" if rules.reentry == "unlimited" else REENTRY_WORDS[rules.reentry],
        "capacity": "" if rules.capacity is None else f"{rules.capacity} at most",
    }
