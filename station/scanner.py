"""Turn what a keyboard-wedge scanner typed into an access code.

A wedge scanner is a keyboard, so anything that can type can "scan": the
payload is untrusted input that may reach the terminal and the logs. The
rules run in this order, each for a reason:

1. One trailing terminator (and any stray ``\\r``/``\\n``/tab/space after it)
   is dropped first, because it is framing, not content.
2. Refusals come before any work: empty, over-long (checked by length alone,
   so a pasted novel costs nothing), control characters (ESC sequences could
   drive the terminal) and bidi controls (they make text read differently
   than it is). A refused scan leaves nothing half-decoded behind. The one
   exception are the ASCII information separators FS, GS, RS and US
   (0x1C-0x1F): scanners emit them by themselves (GS is the GS1 field
   separator, RS/GS frame ISO 15434 payloads), and a terminal delivers them
   as ctrl-chords, so they are dropped, never a reason to refuse a badge.
3. The layout map is applied to the whole payload before anything else looks
   at it: a scanner set to the wrong keyboard layout mistypes *every*
   character, so prefix, suffix and URL are only recognisable after the fix.
   Prefix and suffix are therefore configured as the scanner means them.
4. Surrounding whitespace, the configured prefix and suffix, and then an AIM
   symbology identifier (``]Q1``, ``]C0``...) are removed; scanners emit the
   AIM id after their own prefix, so it is looked for at the start of what
   remains.
5. ``http(s)://`` payloads are recognised before ``slug:CODE``, because a URL
   has a colon too. The host allow-list is checked even when ``code_pattern``
   is set, so a custom pattern never widens which sites' badges count.
   Any other ``scheme:rest`` whose scheme a phone would open (``WIFI:``,
   ``mailto:``, ``tel:``, ``geo:``, a vCard's ``BEGIN:VCARD``...) is refused
   as "not a badge" in words, not as another conference's badge, and before
   ``code_pattern`` (a loose pattern could find a "code" in a Wi-Fi password).
   Nothing after the scheme is echoed: it may be a password or a 2FA secret.
   The station's own conference slug always wins over a scheme of that name.
6. ``code_pattern`` replaces the built-in extraction for unusual badges.
7. ``slug:CODE`` (django-program badges) is split last, on whatever the
   earlier steps extracted, so a slugged code inside a URL works as well.
8. The code is upper-cased and checked against the alphabet one character at
   a time, so a character that upper-cases into several (``ﬁ`` -> ``FI``)
   is refused rather than silently becoming two valid ones.

Every refusal message is one line, echoes at most ~40 characters of the
payload, and shows non-printable characters escaped, never raw.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from station.slugs import SLUG_CHARACTERS

__all__ = [
    "SEPARATORS",
    "DecodedScan",
    "Reason",
    "ScanConfigError",
    "ScanRejected",
    "ScannerProfile",
    "Terminator",
    "decode_scan",
    "is_terminator",
    "normalise_code",
]

Terminator = Literal["enter", "crlf", "tab", "none"]
Reason = Literal["invalid_input", "other_conference"]

_TERMINATORS: tuple[Terminator, ...] = ("enter", "crlf", "tab", "none")
_TRAILING_FRAMING = " \r\n\t"
_MESSAGE_ECHO = 40
_RAW_DISPLAY = 80

# Category Cc is exactly C0, DEL and C1.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")
# FS, GS, RS, US: separators a scanner adds itself (GS1 FNC1 is sent as GS).
SEPARATORS = "\x1c\x1d\x1e\x1f"
_DROP_SEPARATORS = dict.fromkeys(map(ord, SEPARATORS))
# Embeddings/overrides/isolates plus the invisible marks (ALM, LRM, RLM).
_BIDI_RE = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_AIM_RE = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_URL_RE = re.compile(r"https?://", re.IGNORECASE)
# Conference slugs by Django's rule, as the config accepts them (station.slugs).
_SLUG_RE = re.compile(rf"({SLUG_CHARACTERS}+):(.*)", re.DOTALL)
# RFC 3986 scheme syntax; a slug with "_" or a leading digit is never one.
_SCHEME_RE = re.compile(r"[a-z][a-z0-9+.-]*(?=:)", re.IGNORECASE)

_WIFI = "Wi-Fi QR code — not a badge."
_CONTACT = "QR code of a contact, phone number or e-mail — not a badge."
_CALENDAR = "QR code of a calendar event — not a badge."
_CARD_OR_EVENT = "QR code of a contact card or calendar event — not a badge."
_PLACE = "QR code of a place on a map — not a badge."
_PAYMENT = "QR code of a payment — not a badge."
_SIGN_IN = "QR code of a sign-in app (two-factor key) — not a badge."
_APP_LINK = "Link to an app or a file — not a badge."

# What a phone's camera app opens instead of a web page, by scheme (lower case). The
# vCard and iCalendar property names are here because a scanner that types a line
# feed as Enter delivers such a QR code one line at a time ("FN:Ada Lovelace").
_NON_BADGE_KINDS: tuple[tuple[str, str], ...] = (
    (_WIFI, "wifi"),
    (_CONTACT, "mailto matmsg smtp mecard bizcard tel telprompt callto sms smsto mms mmsto"),
    (_CONTACT, "facetime facetime-audio sip sips skype whatsapp"),
    (_CONTACT, "n fn org title role email adr nickname bday photo note impp label"),
    (_CALENDAR, "dtstart dtend dtstamp summary location description prodid rrule"),
    (_CALENDAR, "organizer attendee"),
    (_CARD_OR_EVENT, "begin end version uid url rev categories"),
    (_PLACE, "geo"),
    (_PAYMENT, "bitcoin bitcoincash ethereum litecoin dogecoin monero lightning upi"),
    (_SIGN_IN, "otpauth otpauth-migration"),
    (_APP_LINK, "market itms-apps itms-services intent file data magnet"),
    (_APP_LINK, "ftp ftps sftp smb spotify tg zoommtg msteams"),
)
_NON_BADGE_SCHEMES: Mapping[str, str] = {
    scheme: message for message, schemes in _NON_BADGE_KINDS for scheme in schemes.split()
}
_CALENDAR_OBJECTS = ("VCALENDAR", "VEVENT", "VTODO", "VJOURNAL", "VALARM", "VTIMEZONE")


class ScanRejected(Exception):
    """A scan that is not a usable badge; ``str()`` is fit to show a volunteer."""

    reason: Reason = "invalid_input"

    def __init__(self, message: str, reason: Reason = "invalid_input") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class ScanConfigError(ValueError):
    """A scanner profile setting is wrong; the message names the setting."""


class _LayoutMap(Mapping[str, str]):
    """Read-only, hashable char map, so a profile stays frozen and hashable."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, str] | None = None) -> None:
        self._data: dict[str, str] = dict(data or {})

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return repr(self._data)


def _show_char(ch: str) -> str:
    """A character as text that cannot act on a terminal."""
    if ch.isprintable() and not _BIDI_RE.match(ch):
        return ch
    point = ord(ch)
    if point < 0x100:
        return f"\\x{point:02x}"
    if point < 0x10000:
        return f"\\u{point:04x}"
    return f"\\U{point:08x}"


def _excerpt(text: str, limit: int = _MESSAGE_ECHO) -> str:
    """At most ``limit`` characters of untrusted text, escaped, for a message."""
    shown = "".join(_show_char(ch) for ch in text[:limit])
    return shown + "…" if len(text) > limit else shown


def _show_value(value: object) -> str:
    """A config value as shown in an error message: its repr, short and escaped."""
    return _excerpt(repr(value))


def _display_raw(text: str) -> str:
    """The scanned text for screens and logs: non-printables as ``?``, cut short."""
    cut = text[:_RAW_DISPLAY]
    shown = "".join(ch if ch.isprintable() else "?" for ch in cut)
    return shown + "…" if len(text) > _RAW_DISPLAY else shown


def _compile_alphabet(alphabet: str, setting: str = "scanner.alphabet") -> re.Pattern[str]:
    if not alphabet or alphabet.startswith("^"):
        raise ScanConfigError(
            f"{setting} must be a non-empty, non-negated character class body "
            f"such as A-Z0-9- (got {_show_value(alphabet)})"
        )
    try:
        return re.compile(f"[{alphabet}]")
    except re.error as exc:
        raise ScanConfigError(
            f"{setting} is not a valid character class ({exc.msg}; got {_show_value(alphabet)})"
        ) from None


def _has_unsafe(text: str) -> bool:
    return bool(_CONTROL_RE.search(text) or _BIDI_RE.search(text))


@dataclass(frozen=True, slots=True)
class ScannerProfile:
    """How one station's scanner frames and decorates what it types."""

    terminator: Terminator = "enter"
    prefix: str = ""
    suffix: str = ""
    strip_aim: bool = True
    url_hosts: tuple[str, ...] = ()
    code_pattern: str | None = None
    layout_map: Mapping[str, str] = field(default_factory=_LayoutMap)
    max_length: int = 256
    alphabet: str = "A-Z0-9-"
    burst_gap_ms: float = 30.0
    double_scan_window_s: float = 3.0

    def __post_init__(self) -> None:
        if self.terminator not in _TERMINATORS:
            raise _terminator_error(self.terminator)
        for name, value in (("prefix", self.prefix), ("suffix", self.suffix)):
            if _has_unsafe(value):
                raise ScanConfigError(
                    f"scanner.{name} must not contain control characters, "
                    f"scans containing them are refused (got {_show_value(value)})"
                )
            if value != value.strip():
                raise ScanConfigError(
                    f"scanner.{name} must not start or end with whitespace "
                    f"(got {_show_value(value)})"
                )
        hosts = tuple(host.strip().lower().rstrip(".") for host in self.url_hosts)
        if any(not host for host in hosts):
            raise ScanConfigError(
                f"scanner.url_hosts must not contain empty host names "
                f"(got {_show_value(list(self.url_hosts))})"
            )
        object.__setattr__(self, "url_hosts", hosts)
        if self.code_pattern is not None:
            try:
                compiled = re.compile(self.code_pattern)
            except re.error as exc:
                raise ScanConfigError(
                    f"scanner.code_pattern is not a valid regular expression "
                    f"({exc.msg}; got {_show_value(self.code_pattern)})"
                ) from None
            if "code" not in compiled.groupindex:
                raise ScanConfigError(
                    f"scanner.code_pattern must have a named group (?P<code>...) "
                    f"(got {_show_value(self.code_pattern)})"
                )
        for key, target in self.layout_map.items():
            if len(key) != 1 or len(target) != 1 or _has_unsafe(key + target):
                raise ScanConfigError(
                    f"scanner.layout_map must map single printable characters to single "
                    f"printable characters (got {_show_value(key)}: {_show_value(target)})"
                )
        object.__setattr__(self, "layout_map", _LayoutMap(self.layout_map))
        if self.max_length < 1:
            raise ScanConfigError(
                f"scanner.max_length must be at least 1 (got {_show_value(self.max_length)})"
            )
        _compile_alphabet(self.alphabet)
        if not math.isfinite(self.burst_gap_ms) or self.burst_gap_ms <= 0:
            raise ScanConfigError(
                f"scanner.burst_gap_ms must be a positive number of milliseconds "
                f"(got {_show_value(self.burst_gap_ms)})"
            )
        if not math.isfinite(self.double_scan_window_s) or self.double_scan_window_s < 0:
            raise ScanConfigError(
                f"scanner.double_scan_window_s must be zero or a positive number of seconds "
                f"(got {_show_value(self.double_scan_window_s)})"
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> ScannerProfile:
        """Build a profile from a ``[scanner]`` TOML table, refusing anything unknown."""
        known = sorted(f.name for f in fields(cls))
        for key in data:
            if key not in known:
                raise ScanConfigError(
                    f"scanner.{_excerpt(str(key))} is not a scanner setting "
                    f"(known: {', '.join(known)})"
                )
        default = cls()
        code_pattern = data.get("code_pattern")
        if code_pattern is not None and not isinstance(code_pattern, str):
            raise ScanConfigError(
                f"scanner.code_pattern must be a regular expression in quotes "
                f"(got {_show_value(code_pattern)})"
            )
        return cls(
            terminator=_get_terminator(data, default.terminator),
            prefix=_get_str(data, "prefix", default.prefix),
            suffix=_get_str(data, "suffix", default.suffix),
            strip_aim=_get_bool(data, "strip_aim", default.strip_aim),
            url_hosts=_get_hosts(data),
            code_pattern=code_pattern,
            layout_map=_get_layout_map(data),
            max_length=_get_int(data, "max_length", default.max_length),
            alphabet=_get_str(data, "alphabet", default.alphabet),
            burst_gap_ms=_get_float(data, "burst_gap_ms", default.burst_gap_ms),
            double_scan_window_s=_get_float(
                data, "double_scan_window_s", default.double_scan_window_s
            ),
        )


def _terminator_error(value: object) -> ScanConfigError:
    return ScanConfigError(
        f"scanner.terminator must be one of {', '.join(_TERMINATORS)} (got {_show_value(value)})"
    )


def _get_terminator(data: Mapping[str, object], default: Terminator) -> Terminator:
    value = data.get("terminator", default)
    for option in _TERMINATORS:
        if value == option:
            return option
    raise _terminator_error(value)


def _get_str(data: Mapping[str, object], key: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ScanConfigError(f"scanner.{key} must be text in quotes (got {_show_value(value)})")
    return value


def _get_bool(data: Mapping[str, object], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ScanConfigError(f"scanner.{key} must be true or false (got {_show_value(value)})")
    return value


def _get_int(data: Mapping[str, object], key: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScanConfigError(f"scanner.{key} must be a whole number (got {_show_value(value)})")
    return value


def _get_float(data: Mapping[str, object], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScanConfigError(f"scanner.{key} must be a number (got {_show_value(value)})")
    return float(value)


def _get_hosts(data: Mapping[str, object]) -> tuple[str, ...]:
    value = data.get("url_hosts", [])
    if not isinstance(value, list | tuple) or not all(isinstance(h, str) for h in value):
        raise ScanConfigError(
            f"scanner.url_hosts must be a list of host names such as "
            f'["checkin.example.org"] (got {_show_value(value)})'
        )
    return tuple(str(host) for host in value)


def _get_layout_map(data: Mapping[str, object]) -> Mapping[str, str]:
    value = data.get("layout_map", {})
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ScanConfigError(
            f"scanner.layout_map must be a table of single characters such as "
            f'{{ y = "z", z = "y" }} (got {_show_value(value)})'
        )
    return {str(k): str(v) for k, v in value.items()}


@dataclass(frozen=True, slots=True)
class DecodedScan:
    """A scan that yielded an access code."""

    code: str
    """The access code, normalised (upper case, alphabet checked)."""
    conference_slug: str | None
    """Lower-cased slug when the badge said ``slug:CODE``, else ``None``."""
    raw: str
    """What was scanned (terminator removed), display-safe and at most 80 characters + "…"."""


def is_terminator(key_character: str, profile: ScannerProfile) -> bool:
    """Whether ``key_character`` is the terminator this profile names.

    The station's key router is more lenient: CR and LF end every scan, whatever
    the profile says (see ``station.scanflow.keys``).
    """
    if profile.terminator in ("enter", "crlf"):
        return key_character in ("\r", "\n")
    if profile.terminator == "tab":
        return key_character == "\t"
    return False


def normalise_code(text: str, *, max_length: int = 256, alphabet: str = "A-Z0-9-") -> str:
    """Upper-case and validate a code, so every path into the database agrees on it."""
    allowed = _compile_alphabet(alphabet, setting="alphabet")
    stripped = text.strip()
    if not stripped:
        raise ScanRejected("Scan has no badge code in it.")
    if len(stripped) > max_length:
        raise ScanRejected(f"Badge code too long ({len(stripped)} characters) — not a badge.")
    folded: list[str] = []
    for ch in stripped:
        upper = ch.upper()
        if not allowed.fullmatch(upper):
            raise ScanRejected(
                f"Scan contains characters that are not in a badge code ('{_show_char(ch)}')."
            )
        folded.append(upper)
    return "".join(folded)


def _refuse_unsafe(text: str, profile: ScannerProfile) -> str:
    """Step 2: refuse before doing any work on the payload; drop the separators."""
    if not text:
        raise ScanRejected("Nothing was scanned.")
    if len(text) > profile.max_length:
        raise ScanRejected(f"Scan too long ({len(text)} characters) — not a badge.")
    text = text.translate(_DROP_SEPARATORS).rstrip(_TRAILING_FRAMING)
    if not text:
        raise ScanRejected("Nothing was scanned.")
    if _CONTROL_RE.search(text):
        raise ScanRejected("Scan contains control characters — not a badge.")
    if _BIDI_RE.search(text):
        raise ScanRejected("Scan contains hidden text-direction characters — not a badge.")
    if not text.strip():
        raise ScanRejected("Nothing was scanned.")
    return text


def _strip_decoration(text: str, profile: ScannerProfile) -> str:
    """Step 4: whitespace, prefix, suffix, then the AIM identifier."""
    text = text.strip()
    if profile.prefix and text.startswith(profile.prefix):
        text = text[len(profile.prefix) :].strip()
    if profile.suffix and text.endswith(profile.suffix):
        text = text[: -len(profile.suffix)].strip()
    if profile.strip_aim and _AIM_RE.match(text):
        text = text[3:].strip()
    return text


def _check_host(host: str, profile: ScannerProfile) -> None:
    if profile.url_hosts and host not in profile.url_hosts:
        raise ScanRejected(f"Badge link from an unknown site ({_excerpt(host)}) — not a badge.")


def _split_url(url: str) -> tuple[str, str, str]:
    """Host, path and query of a badge link, or a refusal if it is not a link."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        raise ScanRejected("Badge link is not a valid web address — not a badge.") from None
    if not host:
        raise ScanRejected("Badge link has no site in it — not a badge.")
    return host, parts.path, parts.query


def _code_from_url(path: str, query: str) -> str:
    """Step 5: the ``code`` query parameter, else the last path segment."""
    params = parse_qs(query, keep_blank_values=True)
    if "code" in params:
        values = {value.strip() for value in params["code"]}
        if len(values) != 1 or not next(iter(values)):
            raise ScanRejected("Badge link has no single badge code in it — not a badge.")
        return next(iter(values))
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        raise ScanRejected("Badge link has no badge code in it — not a badge.")
    return unquote(segments[-1])


def _refuse_non_badge(text: str, conference_slug: str | None) -> None:
    """Step 5: a QR code a phone would open (Wi-Fi, contact, ...) is refused in words.

    Only the scheme decides, never the rest, and nothing of the rest is shown:
    a Wi-Fi code carries its password, a 2FA code its secret.
    """
    found = _SCHEME_RE.match(text)
    if found is None:
        return
    scheme = found.group().lower()
    if conference_slug is not None and scheme == conference_slug.strip().lower():
        return  # this conference's own slug, whatever word it happens to be
    rest = text[found.end() + 1 :].strip().upper()
    message = _NON_BADGE_SCHEMES.get(scheme)
    if scheme in ("begin", "end") and rest.startswith("VCARD"):
        message = _CONTACT
    elif scheme in ("begin", "end") and rest.startswith(_CALENDAR_OBJECTS):
        message = _CALENDAR
    elif message is None and rest.startswith("//"):
        message = _APP_LINK  # some app's link (zoommtg://, slack://...), never a code
    if message is not None:
        raise ScanRejected(message)


def decode_scan(
    payload: str, profile: ScannerProfile, *, conference_slug: str | None = None
) -> DecodedScan:
    """Decode one scan; raise :class:`ScanRejected` if it is not a badge for here."""
    text = _refuse_unsafe(payload.rstrip(_TRAILING_FRAMING), profile)
    raw = _display_raw(text)

    if profile.layout_map:
        table = {ord(key): target for key, target in profile.layout_map.items()}
        text = text.translate(table)
    text = _strip_decoration(text, profile)

    candidate = text
    if _URL_RE.match(text):
        host, path, query = _split_url(text)
        _check_host(host, profile)
        if profile.code_pattern is None:
            candidate = _code_from_url(path, query)
    else:
        _refuse_non_badge(text, conference_slug)
    if profile.code_pattern is not None:
        match = re.search(profile.code_pattern, text)
        found = match.group("code") if match else None
        if found is None:
            raise ScanRejected("Scan does not match the station's badge format.")
        candidate = found

    slug: str | None = None
    slugged = _SLUG_RE.fullmatch(candidate)
    if slugged:
        slug = slugged.group(1).lower()
        if conference_slug is not None and slug != conference_slug.strip().lower():
            raise ScanRejected(
                f"Badge of another conference ({_excerpt(slug)}) — not valid here.",
                reason="other_conference",
            )
        candidate = slugged.group(2)

    code = normalise_code(candidate, max_length=profile.max_length, alphabet=profile.alphabet)
    return DecodedScan(code=code, conference_slug=slug, raw=raw)
