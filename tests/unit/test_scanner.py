"""Decoding of keyboard-wedge scanner payloads, rule by rule, with real-looking scans."""

from __future__ import annotations

import ast
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station import scanner
from station.scanner import (
    DecodedScan,
    ScanConfigError,
    ScannerProfile,
    ScanRejected,
    decode_scan,
    is_terminator,
    normalise_code,
)

DEFAULT = ScannerProfile()
TAB = ScannerProfile(terminator="tab")
QWERTZ = ScannerProfile(layout_map={"y": "z", "z": "y", "Y": "Z", "Z": "Y"})
ALLOW_LIST = ScannerProfile(url_hosts=("Checkin.Example.org",))

NOTHING = "Nothing was scanned."
CONTROL = "Scan contains control characters — not a badge."
BIDI = "Scan contains hidden text-direction characters — not a badge."


def rejected(
    payload: str,
    profile: ScannerProfile = DEFAULT,
    *,
    conference_slug: str | None = None,
) -> ScanRejected:
    with pytest.raises(ScanRejected) as caught:
        decode_scan(payload, profile, conference_slug=conference_slug)
    return caught.value


# --- accepted payloads -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "profile", "expected"),
    [
        pytest.param(
            "]Q1https://example.org/checkin/ABCD1234\t", TAB, "ABCD1234", id="qr-aim-url-tab"
        ),
        pytest.param(
            "https://example.org/checkin?code=abcd1234\r", DEFAULT, "ABCD1234", id="url-query"
        ),
        pytest.param(
            "https://example.org/checkin/ABCD1234/\r", DEFAULT, "ABCD1234", id="url-trailing-slash"
        ),
        pytest.param(
            "https://example.org/c/ABCD1234?utm_source=badge#top\r",
            DEFAULT,
            "ABCD1234",
            id="url-other-query-and-fragment",
        ),
        pytest.param(
            "https://example.org/c/abcd%2D1234\r", DEFAULT, "ABCD-1234", id="url-percent-encoded"
        ),
        pytest.param(
            "https://example.org/c/IGNORED?x=1&code=WXYZ9876\r",
            DEFAULT,
            "WXYZ9876",
            id="url-query-wins-over-path",
        ),
        pytest.param(
            "http://example.org:8080/c/ABCD1234\r", DEFAULT, "ABCD1234", id="url-http-with-port"
        ),
        pytest.param("abcd1234\r", DEFAULT, "ABCD1234", id="lower-case-enter"),
        pytest.param("ABCD1234\r\n", ScannerProfile(terminator="crlf"), "ABCD1234", id="crlf"),
        pytest.param("ABCD1234\n", DEFAULT, "ABCD1234", id="bare-lf"),
        pytest.param("ABCD1234", ScannerProfile(terminator="none"), "ABCD1234", id="no-term"),
        pytest.param("ABCD1234\r\n\t \r", DEFAULT, "ABCD1234", id="stray-trailing-framing"),
        pytest.param("  ABCD1234  \r", DEFAULT, "ABCD1234", id="surrounding-spaces"),
        pytest.param(
            "HTTPS://EXAMPLE.ORG/CHECKIN/ABCD1234\r",
            DEFAULT,
            "ABCD1234",
            id="qr-alphanumeric-upper-case-url",
        ),
        pytest.param(
            "HTTPS://EXAMPLE.ORG/CHECKIN/abcd1234\r",
            DEFAULT,
            "ABCD1234",
            id="caps-lock-inverted-url",
        ),
        pytest.param("AbCd-1234\r", DEFAULT, "ABCD-1234", id="mixed-case-with-dash"),
    ],
)
def test_decodes_real_payloads(payload: str, profile: ScannerProfile, expected: str) -> None:
    result = decode_scan(payload, profile)
    assert result.code == expected
    assert result.conference_slug is None


def test_decoded_scan_keeps_a_display_safe_raw_payload() -> None:
    result = decode_scan("]Q1abcd1234\r\n", DEFAULT)
    assert result == DecodedScan(code="ABCD1234", conference_slug=None, raw="]Q1abcd1234")


def test_raw_is_cut_to_80_characters() -> None:
    url = "https://example.org/" + "x" * 100 + "/ABCD1234"
    result = decode_scan(url + "\r", DEFAULT)
    assert result.code == "ABCD1234"
    assert result.raw == url[:80] + "…"


# --- AIM identifiers, prefix, suffix, layout ---------------------------------------------------


@pytest.mark.parametrize(
    "aim",
    [
        pytest.param("]C0", id="code128"),
        pytest.param("]E0", id="ean13"),
        pytest.param("]d2", id="gs1-datamatrix"),
        pytest.param("]A0", id="code39"),
        pytest.param("]I0", id="itf"),
        pytest.param("]Q1", id="qr"),
    ],
)
def test_aim_identifier_is_stripped(aim: str) -> None:
    assert decode_scan(f"{aim}ABCD1234\r", DEFAULT).code == "ABCD1234"


def test_aim_identifier_kept_when_stripping_is_off() -> None:
    error = rejected("]C0ABCD1234\r", ScannerProfile(strip_aim=False))
    assert str(error) == "Scan contains characters that are not in a badge code (']')."
    assert error.reason == "invalid_input"


def test_aim_identifier_only_at_the_start() -> None:
    error = rejected("ABCD]C01234\r")
    assert str(error) == "Scan contains characters that are not in a badge code (']')."


def test_aim_identifier_alone_has_no_code() -> None:
    assert str(rejected("]Q1\r")) == "Scan has no badge code in it."


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param("PFXABCD1234#\r", "ABCD1234", id="prefix-and-suffix"),
        pytest.param("ABCD1234\r", "ABCD1234", id="neither-present"),
        pytest.param("PFX]Q1ABCD1234#\r", "ABCD1234", id="prefix-then-aim"),
        pytest.param("PFX ]Q1 ABCD1234 #\r", "ABCD1234", id="spaces-inside-decoration"),
        pytest.param("PFXPFXABCD#\r", "PFXABCD", id="prefix-stripped-once"),
        pytest.param("ABCD##\r", "ABCD#", id="suffix-stripped-once"),
    ],
)
def test_prefix_and_suffix_are_stripped(payload: str, expected: str) -> None:
    profile = ScannerProfile(prefix="PFX", suffix="#", alphabet="A-Z0-9#-")
    assert decode_scan(payload, profile).code == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param("ABCY\r", "ABCZ", id="y-becomes-z"),
        pytest.param("abcz\r", "ABCY", id="z-becomes-y-lower"),
        pytest.param("]Q1https://example.org/c/YZ12\r", "ZY12", id="through-a-url"),
    ],
)
def test_qwertz_layout_map(payload: str, expected: str) -> None:
    assert decode_scan(payload, QWERTZ).code == expected


# A scanner set to German (QWERTZ) on a terminal set to US: what it means -> what arrives.
GERMAN_ON_US = ScannerProfile(
    layout_map={
        **{"y": "z", "z": "y", "Y": "Z", "Z": "Y"},
        **{"/": "-", "&": "/", ">": ":", "_": "?", ")": "=", "^": "&"},
    }
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        pytest.param("https>&&example.org&checkin&ABCY/12\r", "ABCZ-12", id="url-path"),
        pytest.param("https>&&example.org&c_x)1^code)abcy/12\r", "ABCZ-12", id="url-query"),
        pytest.param("pzcon/2026>ABCY\r", "ABCZ", id="slug-code"),
    ],
)
def test_german_scanner_on_a_us_terminal(typed: str, expected: str) -> None:
    """The README's example map, on what such a scanner really types."""
    assert decode_scan(typed, GERMAN_ON_US, conference_slug="pycon-2026").code == expected


def test_layout_map_applies_before_prefix() -> None:
    profile = ScannerProfile(prefix="Z-", layout_map={"y": "z", "z": "y", "Y": "Z", "Z": "Y"})
    # The scanner means "Z-ABCZ" but, through QWERTZ, types "Y-ABCY".
    assert decode_scan("Y-ABCY\r", profile).code == "ABCZ"


# --- URL host allow-list and URLs without a code -----------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("https://checkin.example.org/c/ABCD1234\r", id="exact"),
        pytest.param("https://CHECKIN.EXAMPLE.ORG/c/ABCD1234\r", id="case-insensitive"),
        pytest.param("https://checkin.example.org:8443/c/ABCD1234\r", id="with-port"),
        pytest.param("https://checkin.example.org./c/ABCD1234\r", id="trailing-dot"),
    ],
)
def test_allow_listed_host_is_accepted(payload: str) -> None:
    assert decode_scan(payload, ALLOW_LIST).code == "ABCD1234"


@pytest.mark.parametrize(
    ("payload", "host"),
    [
        pytest.param("https://evil.example/c/ABCD1234\r", "evil.example", id="other-host"),
        pytest.param(
            "https://checkin.example.org@evil.example/c/ABCD1234\r",
            "evil.example",
            id="userinfo-trick",
        ),
        pytest.param(
            "https://checkin.example.org.evil.example/ABCD1234\r",
            "checkin.example.org.evil.example",
            id="suffix-trick",
        ),
    ],
)
def test_unknown_host_is_refused(payload: str, host: str) -> None:
    error = rejected(payload, ALLOW_LIST)
    assert str(error) == f"Badge link from an unknown site ({host}) — not a badge."
    assert error.reason == "invalid_input"


def test_plain_codes_are_not_subject_to_the_allow_list() -> None:
    assert decode_scan("ABCD1234\r", ALLOW_LIST).code == "ABCD1234"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param(
            "https://example.org/\r",
            "Badge link has no badge code in it — not a badge.",
            id="no-path",
        ),
        pytest.param(
            "https://example.org/checkin?code=\r",
            "Badge link has no single badge code in it — not a badge.",
            id="blank-code-does-not-fall-back-to-path",
        ),
        pytest.param(
            "https://example.org/c?code=AAAA&code=BBBB\r",
            "Badge link has no single badge code in it — not a badge.",
            id="two-different-codes",
        ),
        pytest.param(
            "https:///ABCD1234\r", "Badge link has no site in it — not a badge.", id="no-host"
        ),
        pytest.param(
            "https://[::1/ABCD1234\r",
            "Badge link is not a valid web address — not a badge.",
            id="broken-ipv6",
        ),
        pytest.param(
            "https://example.org/c/%1b%5d0%3bpwned\r",
            "Scan contains characters that are not in a badge code ('\\x1b').",
            id="encoded-escape-is-shown-escaped",
        ),
    ],
)
def test_url_without_usable_code_is_refused(payload: str, message: str) -> None:
    error = rejected(payload)
    assert str(error) == message
    assert error.reason == "invalid_input"


# --- conference slugs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "conference", "expected"),
    [
        pytest.param("pycon-2026:ABCD1234\r", "pycon-2026", "ABCD1234", id="same-conference"),
        pytest.param("PyCon-2026:abcd1234\r", "pycon-2026", "ABCD1234", id="case-insensitive"),
        pytest.param("pycon-2026:ABCD1234\r", None, "ABCD1234", id="no-conference-given"),
        pytest.param(
            "https://example.org/b/pycon-2026:ABCD1234\r",
            "pycon-2026",
            "ABCD1234",
            id="inside-a-url",
        ),
    ],
)
def test_slugged_badge_accepted(payload: str, conference: str | None, expected: str) -> None:
    result = decode_scan(payload, DEFAULT, conference_slug=conference)
    assert (result.code, result.conference_slug) == (expected, "pycon-2026")


def test_slugged_badge_of_another_conference_is_refused() -> None:
    error = rejected("pycon-2025:ABCD1234\r", conference_slug="pycon-2026")
    assert str(error) == "Badge of another conference (pycon-2025) — not valid here."
    assert error.reason == "other_conference"


def test_url_scheme_is_not_mistaken_for_a_slug() -> None:
    result = decode_scan("https://example.org/c/ABCD1234\r", DEFAULT, conference_slug="pycon")
    assert (result.code, result.conference_slug) == ("ABCD1234", None)


def test_slug_with_an_underscore_is_a_slug() -> None:
    # The config accepts "_" in a conference slug, so its badges must decode too.
    result = decode_scan("PyCon_2026:abcd1234\r", DEFAULT, conference_slug="pycon_2026")
    assert (result.code, result.conference_slug) == ("ABCD1234", "pycon_2026")
    error = rejected("pycon_2025:ABCD1234\r", conference_slug="pycon_2026")
    assert error.reason == "other_conference"


# Slugs as the config accepts them (letters, digits, "-", "_"), in any case.
CONFIG_SLUGS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,30}", fullmatch=True)
CODES = st.from_regex(r"[A-Z0-9][A-Z0-9-]{0,19}", fullmatch=True)


@given(slug=CONFIG_SLUGS, code=CODES)
def test_a_badge_of_this_conference_always_decodes(slug: str, code: str) -> None:
    # Even a conference unluckily named "tel", "wifi" or "begin": its own slug wins.
    result = decode_scan(f"{slug}:{code}\r", DEFAULT, conference_slug=slug.lower())
    assert (result.code, result.conference_slug) == (code, slug.lower())


@given(slug=CONFIG_SLUGS.filter(lambda s: any(c.isdigit() for c in s)), code=CODES)
def test_a_badge_of_another_conference_says_so(slug: str, code: str) -> None:
    # Real slugs carry a year or a number; no QR scheme does, so these are never "not a badge".
    error = rejected(f"{slug}:{code}\r", conference_slug=f"other-{slug}")
    assert error.reason == "other_conference"


# --- QR codes that are not badges --------------------------------------------------------------

WIFI = "Wi-Fi QR code — not a badge."
CONTACT = "QR code of a contact, phone number or e-mail — not a badge."
CALENDAR = "QR code of a calendar event — not a badge."
CARD_OR_EVENT = "QR code of a contact card or calendar event — not a badge."
PLACE = "QR code of a place on a map — not a badge."
PAYMENT = "QR code of a payment — not a badge."
SIGN_IN = "QR code of a sign-in app (two-factor key) — not a badge."
APP_LINK = "Link to an app or a file — not a badge."
NOT_A_BADGE = {WIFI, CONTACT, CALENDAR, CARD_OR_EVENT, PLACE, PAYMENT, SIGN_IN, APP_LINK}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param("WIFI:S:Venue Guest;T:WPA;P:hunter2-secret;;\r", WIFI, id="wifi"),
        pytest.param("]Q1wifi:T:WPA;S:x;P:hunter2;H:false;;\r", WIFI, id="wifi-aim-lower"),
        pytest.param("mailto:help@pycon.example?subject=Hi\r", CONTACT, id="mailto"),
        pytest.param("MATMSG:TO:help@pycon.example;SUB:Hi;BODY:x;;\r", CONTACT, id="matmsg"),
        pytest.param("tel:+44-20-7946-0000\r", CONTACT, id="tel"),
        pytest.param("TEL:02079460000\r", CONTACT, id="tel-digits-only"),
        pytest.param("sms:+4420794600?body=hi\r", CONTACT, id="sms"),
        pytest.param("SMSTO:+4420794600:hello\r", CONTACT, id="smsto"),
        pytest.param(
            "MECARD:N:Lovelace,Ada;TEL:0207;EMAIL:ada@example.org;;\r", CONTACT, id="mecard"
        ),
        pytest.param("BEGIN:VCARD\r", CONTACT, id="vcard-first-line"),
        pytest.param("FN:Ada Lovelace\r", CONTACT, id="vcard-line"),
        pytest.param("END:VCARD\r", CONTACT, id="vcard-last-line"),
        pytest.param("VERSION:3.0\r", CARD_OR_EVENT, id="vcard-or-ical-line"),
        pytest.param("BEGIN:VEVENT\r", CALENDAR, id="vevent"),
        pytest.param("BEGIN:VCALENDAR\r", CALENDAR, id="vcalendar"),
        pytest.param("DTSTART:20260514T090000Z\r", CALENDAR, id="ical-line"),
        pytest.param("geo:51.5074,-0.1278\r", PLACE, id="geo"),
        pytest.param("bitcoin:BC1QXY2KGDYGJRSQTZQ2N0YRF2493P83KKFJHX0WLH\r", PAYMENT, id="bitcoin"),
        pytest.param("otpauth://totp/PyCon:ada?secret=JBSWY3DPEHPK3PXP\r", SIGN_IN, id="otp"),
        pytest.param("zoommtg://zoom.us/join?confno=123\r", APP_LINK, id="app-link"),
        pytest.param("slack://open?team=T123\r", APP_LINK, id="unknown-app-link"),
    ],
)
def test_qr_codes_that_are_not_badges_say_what_they_are(payload: str, message: str) -> None:
    error = rejected(payload, conference_slug="pycon-2026")
    assert (str(error), error.reason) == (message, "invalid_input")


def test_a_custom_code_pattern_finds_no_code_in_a_wifi_password() -> None:
    loose = ScannerProfile(code_pattern=r"(?P<code>[A-Z0-9]{6,})")
    error = rejected("WIFI:S:Venue;T:WPA;P:SECRET123;;\r", loose, conference_slug="pycon-2026")
    assert (str(error), error.reason) == (WIFI, "invalid_input")


# The schemes the issue names (and a few more a phone's camera app opens).
KNOWN_SCHEMES = (
    *("wifi", "mailto", "tel", "sms", "smsto", "geo", "mecard", "matmsg", "begin"),
    *("otpauth", "bitcoin", "facetime", "market"),
)


@st.composite
def any_case(draw: st.DrawFn, words: st.SearchStrategy[str]) -> str:
    word = draw(words)
    upper = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if up else c for c, up in zip(word, upper, strict=True))


# Anything a scanner could type after the scheme that passes the control-character rules.
RESTS = st.text(st.characters(exclude_categories=("Cc", "Cs", "Cf")), max_size=120)


@given(
    scheme=any_case(st.sampled_from(KNOWN_SCHEMES)),
    rest=RESTS,
    conference=st.one_of(st.none(), CONFIG_SLUGS.map(lambda s: f"{s}-2026")),
)
def test_a_known_scheme_is_never_a_badge_and_nothing_after_it_is_shown(
    scheme: str, rest: str, conference: str | None
) -> None:
    # Only the scheme decides, in any case; the message is one of a fixed few, so
    # nothing of the rest (a Wi-Fi password, a 2FA secret) can be echoed.
    error = rejected(f"{scheme}:{rest}\r", conference_slug=conference)
    assert error.reason == "invalid_input"
    assert str(error) in NOT_A_BADGE


# --- refusals before any work ------------------------------------------------------------------


def test_ten_thousand_characters_are_refused_by_their_length_first() -> None:
    # The length rule fires before any rule that reads the characters: the escape at the
    # end is never reached. (How fast that is, is not a test's business: see benchmarks/.)
    error = rejected("A" * 9_999 + "\x1b")
    assert str(error) == "Scan too long (10000 characters) — not a badge."
    assert error.reason == "invalid_input"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param("", NOTHING, id="empty"),
        pytest.param("\r", NOTHING, id="terminator-only"),
        pytest.param("\r\n", NOTHING, id="crlf-only"),
        pytest.param("   \r", NOTHING, id="spaces"),
        pytest.param(" \t \r\n", NOTHING, id="spaces-and-tabs"),
        pytest.param("\u3000\u00a0\r", NOTHING, id="unicode-spaces"),
        pytest.param("\x1b]0;pwned\x07\r", CONTROL, id="osc-title-escape"),
        pytest.param("\x1b[2J\x1b[HABCD1234\r", CONTROL, id="csi-clear-screen"),
        pytest.param("ABCD\x001234\r", CONTROL, id="nul"),
        pytest.param("\x1d\r", NOTHING, id="group-separator-alone"),
        pytest.param("\x1c\x1d\x1e\x1f \t", NOTHING, id="separators-and-framing-only"),
        pytest.param("ABCD1234\x04\r", CONTROL, id="eot-is-not-a-separator"),
        pytest.param("ABCD\x101234\r", CONTROL, id="dle-ctrl-p"),
        pytest.param("ABCD\x111234\r", CONTROL, id="dc1-ctrl-q"),
        pytest.param("ABCD\x7f1234\r", CONTROL, id="del"),
        pytest.param("ABCD\x9b1234\r", CONTROL, id="c1-csi"),
        pytest.param("AB\tCD\t", CONTROL, id="tab-inside"),
        pytest.param("\nABCD1234\r", CONTROL, id="leading-newline"),
        pytest.param("ABCD\u202e4321\r", BIDI, id="rtl-override"),
        pytest.param("\u2066ABCD1234\u2069\r", BIDI, id="bidi-isolate"),
    ],
)
def test_unsafe_or_empty_input_is_refused(payload: str, message: str) -> None:
    error = rejected(payload)
    assert str(error) == message
    assert error.reason == "invalid_input"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param("ABCD1234\x1d\r", "ABCD1234", id="gs-suffix"),
        pytest.param("\x1dABCD1234\r", "ABCD1234", id="gs-prefix-fnc1"),
        pytest.param("]C1\x1dABCD1234\r", "ABCD1234", id="gs1-128-aim-then-fnc1"),
        pytest.param("]d2010123456789012\x1d10ABC\r", "01012345678901210ABC", id="gs1-inside"),
        pytest.param("\x1e\x1cABCD\x1f1234\x1d\t", "ABCD1234", id="all-four-separators"),
        pytest.param("https://example.org/checkin/ABCD1234\x1d\r", "ABCD1234", id="gs-after-a-url"),
    ],
)
def test_information_separators_are_dropped_not_refused(payload: str, expected: str) -> None:
    assert decode_scan(payload, DEFAULT).code == expected


def test_separators_do_not_count_against_the_raw_display() -> None:
    assert decode_scan("AB\x1dCD\r", DEFAULT).raw == "ABCD"


def test_ten_thousand_valid_characters_are_refused_before_any_decoding() -> None:
    error = rejected("]Q1https://example.org/checkin/" + "A" * 10_000 + "\t", TAB)
    assert str(error) == "Scan too long (10031 characters) — not a badge."


def test_max_length_is_the_profiles() -> None:
    short = ScannerProfile(max_length=8)
    assert decode_scan("ABCD1234\r", short).code == "ABCD1234"
    assert str(rejected("ABCD12345\r", short)) == "Scan too long (9 characters) — not a badge."


# --- normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "shown"),
    [
        pytest.param("ABCD_1234\r", "_", id="underscore"),
        pytest.param("abcdé\r", "é", id="accented"),
        pytest.param("ABC 123\r", " ", id="inner-space"),
        pytest.param("ABC\u200b123\r", "\\u200b", id="zero-width-space-escaped"),
        pytest.param("abc\ufb01\r", "\ufb01", id="ligature-not-split-into-two"),
        pytest.param("ABC:DEF:GHI\r", ":", id="colon-after-slug"),
    ],
)
def test_characters_outside_the_alphabet_are_named(payload: str, shown: str) -> None:
    error = rejected(payload)
    assert str(error) == f"Scan contains characters that are not in a badge code ('{shown}')."
    assert error.reason == "invalid_input"


def test_custom_alphabet_is_checked_after_case_folding() -> None:
    hex_only = ScannerProfile(alphabet="A-F0-9")
    assert decode_scan("deadbeef\r", hex_only).code == "DEADBEEF"
    error = rejected("ABCG\r", hex_only)
    assert str(error) == "Scan contains characters that are not in a badge code ('G')."


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        pytest.param(" abcd-1234 ", {}, "ABCD-1234", id="strip-and-upper"),
        pytest.param("abcd", {"max_length": 4}, "ABCD", id="exactly-max-length"),
        pytest.param("a1b2", {"alphabet": "A-Z0-9"}, "A1B2", id="custom-alphabet"),
    ],
)
def test_normalise_code(text: str, kwargs: dict[str, object], expected: str) -> None:
    assert normalise_code(text, **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        pytest.param("   ", {}, "Scan has no badge code in it.", id="blank"),
        pytest.param(
            "ABCDE",
            {"max_length": 4},
            "Badge code too long (5 characters) — not a badge.",
            id="long",
        ),
        pytest.param(
            "AB\x1bC",
            {},
            "Scan contains characters that are not in a badge code ('\\x1b').",
            id="control-escaped",
        ),
        pytest.param(
            "AB\U0001f600",
            {},
            "Scan contains characters that are not in a badge code ('\U0001f600').",
            id="emoji",
        ),
    ],
)
def test_normalise_code_refuses(text: str, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ScanRejected) as caught:
        normalise_code(text, **kwargs)  # type: ignore[arg-type]
    assert str(caught.value) == message
    assert caught.value.reason == "invalid_input"


def test_normalise_code_refuses_a_bad_alphabet() -> None:
    with pytest.raises(ScanConfigError, match=r"^alphabet is not a valid character class"):
        normalise_code("ABC", alphabet="Z-A")


@pytest.mark.parametrize(
    ("payload", "profile", "conference"),
    [
        pytest.param("\x1b]0;" + "x" * 200 + "\x07", DEFAULT, None, id="escape"),
        pytest.param("https://e\u200bvil.example/" + "A" * 200, ALLOW_LIST, None, id="host"),
        pytest.param("a" * 300 + ":ABCD", DEFAULT, "pycon", id="long-slug"),
        pytest.param("AB\u200bCD", DEFAULT, None, id="invisible-char"),
        pytest.param("x" * 257, DEFAULT, None, id="too-long"),
    ],
)
def test_messages_are_one_short_printable_line(
    payload: str, profile: ScannerProfile, conference: str | None
) -> None:
    message = str(rejected(payload, profile, conference_slug=conference))
    assert message.isprintable()
    assert len(message) <= 120


# --- code_pattern ------------------------------------------------------------------------------


def test_code_pattern_extracts_the_code() -> None:
    profile = ScannerProfile(code_pattern=r"^TKT\|(?P<code>[A-Za-z0-9]+)\|")
    assert decode_scan("TKT|abcd1234|2026-05-14\r", profile).code == "ABCD1234"


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("https://example.org/c/PATH?ticket=abcd1234&code=ZZZZ\r", id="both"),
        pytest.param("https://example.org/?ticket=abcd1234\r", id="url-rule-would-refuse"),
    ],
)
def test_code_pattern_overrides_the_url_rule(payload: str) -> None:
    profile = ScannerProfile(code_pattern=r"[?&]ticket=(?P<code>\w+)")
    assert decode_scan(payload, profile).code == "ABCD1234"


def test_code_pattern_does_not_bypass_the_host_allow_list() -> None:
    profile = ScannerProfile(code_pattern=r"/(?P<code>\w+)$", url_hosts=("example.org",))
    error = rejected("https://evil.example/ABCD1234\r", profile)
    assert str(error) == "Badge link from an unknown site (evil.example) — not a badge."


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("ABCD1234\r", id="no-match"),
        pytest.param("TKT||\r", id="optional-group-empty"),
    ],
)
def test_code_pattern_mismatch_is_refused(payload: str) -> None:
    profile = ScannerProfile(code_pattern=r"^TKT\|(?P<code>[A-Z0-9]+)?\|")
    error = rejected(payload, profile)
    assert str(error) == "Scan does not match the station's badge format."
    assert error.reason == "invalid_input"


# --- is_terminator -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("terminator", "key", "expected"),
    [
        pytest.param("enter", "\r", True, id="enter-cr"),
        pytest.param("enter", "\n", True, id="enter-lf"),
        pytest.param("enter", "\t", False, id="enter-tab"),
        pytest.param("crlf", "\r", True, id="crlf-cr"),
        pytest.param("crlf", "\n", True, id="crlf-lf"),
        pytest.param("tab", "\t", True, id="tab-tab"),
        pytest.param("tab", "\r", False, id="tab-cr"),
        pytest.param("none", "\r", False, id="none-cr"),
        pytest.param("none", "\t", False, id="none-tab"),
        pytest.param("enter", "A", False, id="letter"),
    ],
)
def test_is_terminator(terminator: str, key: str, expected: bool) -> None:
    profile = ScannerProfile.from_mapping({"terminator": terminator})
    assert is_terminator(key, profile) is expected


# --- ScannerProfile.from_mapping ---------------------------------------------------------------


def test_from_mapping_full_table() -> None:
    table: Mapping[str, object] = {
        "terminator": "crlf",
        "prefix": "STN:",
        "suffix": "#",
        "strip_aim": False,
        "url_hosts": ["checkin.example.org", "Badges.Example.org"],
        "code_pattern": r"(?P<code>[A-Z0-9]{8})",
        "layout_map": {"y": "z", "z": "y"},
        "max_length": 128,
        "alphabet": "A-Z0-9",
        "burst_gap_ms": 25,
        "double_scan_window_s": 2.5,
    }
    profile = ScannerProfile.from_mapping(table)
    assert profile == ScannerProfile(
        terminator="crlf",
        prefix="STN:",
        suffix="#",
        strip_aim=False,
        url_hosts=("checkin.example.org", "badges.example.org"),
        code_pattern=r"(?P<code>[A-Z0-9]{8})",
        layout_map={"z": "y", "y": "z"},
        max_length=128,
        alphabet="A-Z0-9",
        burst_gap_ms=25.0,
        double_scan_window_s=2.5,
    )
    assert profile.url_hosts == ("checkin.example.org", "badges.example.org")
    assert isinstance(profile.burst_gap_ms, float)
    assert dict(profile.layout_map) == {"y": "z", "z": "y"}


def test_from_mapping_empty_table_is_the_default() -> None:
    assert ScannerProfile.from_mapping({}) == ScannerProfile()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param(
            {"terminator": "foo"},
            "scanner.terminator must be one of enter, crlf, tab, none (got 'foo')",
            id="bad-terminator",
        ),
        pytest.param(
            {"max_length": "abc"},
            "scanner.max_length must be a whole number (got 'abc')",
            id="max-length-text",
        ),
        pytest.param(
            {"max_length": True},
            "scanner.max_length must be a whole number (got True)",
            id="max-length-bool",
        ),
        pytest.param(
            {"max_length": 0},
            "scanner.max_length must be at least 1 (got 0)",
            id="max-length-zero",
        ),
        pytest.param(
            {"strip_aim": "yes"},
            "scanner.strip_aim must be true or false (got 'yes')",
            id="strip-aim-text",
        ),
        pytest.param(
            {"prefix": 5},
            "scanner.prefix must be text in quotes (got 5)",
            id="prefix-number",
        ),
        pytest.param(
            {"burst_gap_ms": "fast"},
            "scanner.burst_gap_ms must be a number (got 'fast')",
            id="burst-gap-text",
        ),
        pytest.param(
            {"burst_gap_ms": 0},
            "scanner.burst_gap_ms must be a positive number of milliseconds (got 0.0)",
            id="burst-gap-zero",
        ),
        pytest.param(
            {"double_scan_window_s": -1},
            "scanner.double_scan_window_s must be zero or a positive number of seconds (got -1.0)",
            id="double-scan-negative",
        ),
        pytest.param(
            {"url_hosts": "example.org"},
            "scanner.url_hosts must be a list of host names such as "
            "[\"checkin.example.org\"] (got 'example.org')",
            id="url-hosts-string",
        ),
        pytest.param(
            {"url_hosts": [""]},
            "scanner.url_hosts must not contain empty host names (got [''])",
            id="url-hosts-empty-name",
        ),
        pytest.param(
            {"layout_map": {"y": "zz"}},
            "scanner.layout_map must map single printable characters to single printable "
            "characters (got 'y': 'zz')",
            id="layout-map-multi-char",
        ),
        pytest.param(
            {"layout_map": ["y", "z"]},
            "scanner.layout_map must be a table of single characters such as "
            "{ y = \"z\", z = \"y\" } (got ['y', 'z'])",
            id="layout-map-list",
        ),
        pytest.param(
            {"code_pattern": "(?P<code>[A-Z"},
            "scanner.code_pattern is not a valid regular expression "
            "(unterminated character set; got '(?P<code>[A-Z')",
            id="code-pattern-invalid",
        ),
        pytest.param(
            {"code_pattern": "[A-Z]+"},
            "scanner.code_pattern must have a named group (?P<code>...) (got '[A-Z]+')",
            id="code-pattern-without-group",
        ),
        pytest.param(
            {"code_pattern": 3},
            "scanner.code_pattern must be a regular expression in quotes (got 3)",
            id="code-pattern-number",
        ),
        pytest.param(
            {"alphabet": "^A-Z"},
            "scanner.alphabet must be a non-empty, non-negated character class body "
            "such as A-Z0-9- (got '^A-Z')",
            id="alphabet-negated",
        ),
        pytest.param(
            {"prefix": "\x02"},
            "scanner.prefix must not contain control characters, scans containing them "
            "are refused (got '\\x02')",
            id="prefix-control-char",
        ),
        pytest.param(
            {"suffix": " #"},
            "scanner.suffix must not start or end with whitespace (got ' #')",
            id="suffix-whitespace",
        ),
    ],
)
def test_from_mapping_bad_value(table: Mapping[str, object], message: str) -> None:
    with pytest.raises(ScanConfigError) as caught:
        ScannerProfile.from_mapping(table)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_from_mapping_unknown_key() -> None:
    with pytest.raises(ScanConfigError) as caught:
        ScannerProfile.from_mapping({"terminater": "enter"})
    assert str(caught.value) == (
        "scanner.terminater is not a scanner setting (known: alphabet, burst_gap_ms, "
        "code_pattern, double_scan_window_s, layout_map, max_length, prefix, strip_aim, "
        "suffix, terminator, url_hosts)"
    )


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ScanConfigError, ValueError)


# --- the profile itself ------------------------------------------------------------------------


def test_profile_is_frozen_hashable_and_owns_its_layout_map() -> None:
    source = {"y": "z"}
    profile = ScannerProfile(layout_map=source)
    source["y"] = "q"
    assert profile.layout_map["y"] == "z"
    assert hash(profile) == hash(ScannerProfile(layout_map={"y": "z"}))
    with pytest.raises(TypeError):
        profile.layout_map["y"] = "q"  # type: ignore[index]
    with pytest.raises(AttributeError):
        profile.prefix = "X"  # type: ignore[misc]


def test_profile_carries_ui_timings() -> None:
    profile = ScannerProfile()
    assert (profile.burst_gap_ms, profile.double_scan_window_s) == (30.0, 3.0)


# The station's own modules the decoder may use: pure ones, themselves standard library only.
PURE = {"station.slugs"}


def test_module_imports_only_the_standard_library() -> None:
    imported: set[str] = set()
    for path in (Path(scanner.__file__), *(Path(scanner.__file__).with_name(m.split(".")[1] + ".py")
                                          for m in PURE)):  # fmt: skip
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.module not in PURE:
                imported.add(node.module.split(".")[0])
    assert imported, "no imports found; the check would prove nothing"
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)
