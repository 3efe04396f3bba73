"""Hostile import files: whatever the bytes, `station import` ends with exit 0 or 2.

A refusal is one line per problem plus a closing ``station:`` line, never a
traceback, and leaves every table exactly as it was. The corpus covers what
broke before (NUL bytes, lone surrogates, numbers of thousands of digits,
JSON nested 100,000 deep, times outside years 1-9999 in UTC) and every
column or field missing in turn; hypothesis adds random bytes and rows.
Everything runs in-process through click, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station import cli as cli_module
from tests.data_helpers import HEADER, PRELOAD_JSON, dump, station_env

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

COLUMNS = HEADER.strip().split(",")
GOOD_ROW = "A-1,Ada,Lovelace,ada@example.org,R-1,paid,Conference Pass,Lunch Day 1:1"


def run_import(db: TestDatabase, tmp_path: Path, content: bytes, name: str, *extra: str) -> Any:
    """Import ``content`` like a volunteer would; check the outcome's shape, return it."""
    path = tmp_path / name
    path.write_bytes(content)
    before = dump(db)
    env = station_env(db, tmp_path)
    args = ["import", str(path), "--conference", "pycon_test_2027", "--create", *extra]
    result = CliRunner().invoke(cli_module.cli, args, env=env, catch_exceptions=True)
    assert result.exit_code in (0, 2), (result.exit_code, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    for line in result.stderr.splitlines():
        assert line.startswith((name, "station: ")), line
    if result.exit_code == 2:
        assert result.stderr.splitlines()[-1].startswith("station: ")
        assert dump(db) == before
    return result


def csv_bytes(header: str, *rows: str) -> bytes:
    return (header + "".join(f"{row}\n" for row in rows)).encode("utf-8", "surrogatepass")


def with_field(row: str, index: int, value: str) -> str:
    cells = row.split(",")
    cells[index] = value
    return ",".join(cells)


def preload_bytes(change: Callable[[dict[str, Any]], None]) -> bytes:
    document = json.loads(PRELOAD_JSON.read_text(encoding="utf-8"))
    change(document)
    return json.dumps(document, indent=1).encode()


# --- CSV -------------------------------------------------------------------------------


@pytest.mark.parametrize("column", range(len(COLUMNS)), ids=COLUMNS)
@pytest.mark.parametrize("skip", [False, True], ids=["refuse", "skip-bad-rows"])
def test_a_nul_byte_in_any_csv_field_is_a_bad_row(
    database: TestDatabase, tmp_path: Path, column: int, skip: bool
) -> None:
    bad = with_field(GOOD_ROW.replace("A-1", "B-2").replace("R-1", "R-2"), column, "x\x00y")
    extra = ("--skip-bad-rows",) if skip else ()
    result = run_import(database, tmp_path, csv_bytes(HEADER, GOOD_ROW, bad), "a.csv", *extra)
    assert result.exit_code == (0 if skip else 2)
    assert "a.csv line 3: " in result.stderr


@pytest.mark.parametrize("column", COLUMNS)
def test_every_missing_csv_column_is_refused(
    database: TestDatabase, tmp_path: Path, column: str
) -> None:
    keep = [i for i, c in enumerate(COLUMNS) if c != column]
    header = ",".join(COLUMNS[i] for i in keep) + "\n"
    row = ",".join(GOOD_ROW.split(",")[i] for i in keep)
    result = run_import(database, tmp_path, csv_bytes(header, row), "a.csv")
    assert result.exit_code == 2
    assert f"missing column(s): {column}" in result.stderr


@pytest.mark.parametrize(
    "row",
    [
        GOOD_ROW.replace("Lovelace", "Love\ud800lace"),  # a lone surrogate, as bytes ED A0 80
        GOOD_ROW.replace("Lunch Day 1:1", "Lunch Day 1:" + "9" * 5000),
        GOOD_ROW.replace("Ada", "x" * 200_000),  # over the csv module's field limit
    ],
    ids=["surrogate", "5000-digit-quantity", "huge-field"],
)
def test_hostile_csv_rows_are_refused(database: TestDatabase, tmp_path: Path, row: str) -> None:
    assert run_import(database, tmp_path, csv_bytes(HEADER, row), "a.csv").exit_code == 2


# --- preload JSON ----------------------------------------------------------------------


def deep(document: dict[str, Any]) -> None:
    document["attendees"] = []
    inner: list[Any] = document["attendees"]
    for _ in range(100_000):
        inner.append([])
        inner = inner[0]


HOSTILE_PRELOADS: dict[str, Callable[[dict[str, Any]], None]] = {
    "nul-in-name": lambda d: d["attendees"][0].update(name="Ada\x00"),
    "nul-in-description": lambda d: d["attendees"][0]["products"][0].update(description="\x00"),
    "surrogate-in-email": lambda d: d["attendees"][0].update(email="a\ud800@example.org"),
    "surrogate-in-ticket-type": lambda d: d["attendees"][0].update(ticket_type="\udfff"),
    "generated-before-year-1": lambda d: d.update(generated_at="0001-01-01T00:00:00+14:00"),
    "checked-in-after-9999": lambda d: d["attendees"][5].update(
        checked_in_at="9999-12-31T23:30:00-01:00"
    ),
    "count-wrong": lambda d: d.update(count=7),
}


@pytest.mark.parametrize("change", HOSTILE_PRELOADS.values(), ids=HOSTILE_PRELOADS.keys())
def test_hostile_preloads_are_refused(
    database: TestDatabase, tmp_path: Path, change: Callable[[dict[str, Any]], None]
) -> None:
    result = run_import(database, tmp_path, preload_bytes(change), "p.json")
    assert result.exit_code == 2


def test_json_nested_100000_deep_is_refused(database: TestDatabase, tmp_path: Path) -> None:
    head = (
        b'{"conference": "pycon_test_2027", "generated_at": "2026-12-02T11:20:17Z", "attendees": '
    )
    content = head + b"[" * 100_000 + b"]" * 100_000 + b"}"
    result = run_import(database, tmp_path, content, "p.json")
    assert result.exit_code == 2 and "nested too deeply" in result.stderr


def test_a_5000_digit_number_anywhere_in_json_is_refused(
    database: TestDatabase, tmp_path: Path
) -> None:
    for field in (b'"count": 8', b'"quantity": 3'):
        name, _value = field.split(b": ")
        content = PRELOAD_JSON.read_bytes().replace(field, name + b": " + b"8" * 5000, 1)
        assert run_import(database, tmp_path, content, "p.json").exit_code == 2


FIELDS = ("access_code", "name", "email", "ticket_type", "products", "checked_in", "checked_in_at")
PRODUCT_FIELDS = ("id", "description", "quantity", "ticket_type_slug", "addon_slug")
WRONG_VALUES: tuple[object, ...] = (None, [], {}, 1.5, True, "", "\x00")


@pytest.mark.parametrize("field", FIELDS + tuple(f"products.{f}" for f in PRODUCT_FIELDS))
def test_every_field_missing_or_of_the_wrong_type(
    sqlite_database: TestDatabase, tmp_path: Path, field: str
) -> None:
    """Each field dropped, then given each wrong type: exit 0 or 2, never a crash."""
    for value in (..., *WRONG_VALUES):

        def change(document: dict[str, Any], value: object = value) -> None:
            target = document["attendees"][1]
            key = field
            if field.startswith("products."):
                target, key = target["products"][0], field.split(".", 1)[1]
            if value is ...:
                del target[key]
            else:
                target[key] = value

        run_import(sqlite_database, tmp_path, preload_bytes(change), "p.json")


# --- 50 MB lines --------------------------------------------------------------------------

MB50 = 50 * 1024 * 1024
CSV_HEAD = HEADER.encode()


def padded_preload(padding: bytes, before: bytes = b'"conference": ') -> bytes:
    """The real preload with ``padding`` put in before the first ``before``."""
    real = PRELOAD_JSON.read_bytes()
    at = real.index(before)
    return real[:at] + padding + real[at:]


def csv_field() -> bytes:
    return CSV_HEAD + b"A-1," + b"x" * MB50 + b",L,a@x.org,R-1,paid,P,\n"


FIFTY_MB_LINES: dict[str, tuple[Callable[[], bytes], str, int]] = {
    # name: (content, file name, exit code)
    "csv-field": (csv_field, "a.csv", 2),
    "csv-open-quote": (lambda: CSV_HEAD + b'A-1,"' + b"x" * MB50 + b"\n", "a.csv", 2),
    "csv-commas": (lambda: CSV_HEAD + b"," * MB50 + b"\n", "a.csv", 2),
    "csv-header": (lambda: b"access_code" + b"," * MB50 + b"\n", "a.csv", 2),
    "json-name": (lambda: padded_preload(b"x" * MB50, before=b'Ada Lovelace"'), "p.json", 2),
    "json-string": (lambda: b'{"conference": "' + b"a" * MB50 + b'"}', "p.json", 2),
    "json-numbers": (lambda: b"[" + b"1," * (MB50 // 2) + b"1]", "p.json", 2),
    # Valid JSON with 50 MB of spaces on its first line: imported.
    "json-spaces": (lambda: padded_preload(b" " * MB50), "p.json", 0),
}  # fmt: skip


@pytest.mark.parametrize("case", FIFTY_MB_LINES.values(), ids=FIFTY_MB_LINES.keys())
def test_a_50_mb_line_is_answered_in_one_line(
    sqlite_database: TestDatabase, tmp_path: Path, case: tuple[Callable[[], bytes], str, int]
) -> None:
    content, name, code = case
    result = run_import(sqlite_database, tmp_path, content(), name)
    assert result.exit_code == code, result.stderr
    if code == 2:
        assert all(len(line) < 400 for line in result.stderr.splitlines())


# --- random input ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["r.csv", "r.json"])
def test_random_bytes_are_refused(sqlite_database: TestDatabase, tmp_path: Path, name: str) -> None:
    generator = random.Random(15)
    for size in (1, 7, 100, 4096, 65536):
        content = bytes(generator.randrange(256) for _ in range(size))
        assert run_import(sqlite_database, tmp_path, content, name).exit_code in (0, 2)


cells = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\r"), max_size=12
) | st.sampled_from(["", "paid", "R-1", "A-1", "Pass", "Lunch:1", "Lunch:" + "9" * 50, "\x00"])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(st.lists(cells, min_size=6, max_size=9), max_size=4))
def test_random_csv_rows_never_crash(
    sqlite_database: TestDatabase, tmp_path: Path, rows: list[list[str]]
) -> None:
    body = "".join(",".join('"' + c.replace('"', '""') + '"' for c in row) + "\n" for row in rows)
    run_import(sqlite_database, tmp_path, (HEADER + body).encode(), "h.csv", "--skip-bad-rows")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    field=st.sampled_from(FIELDS + PRODUCT_FIELDS + ("redeemed_count", "remaining")),
    value=json_values,
)
def test_random_preload_values_never_crash(
    sqlite_database: TestDatabase, tmp_path: Path, field: str, value: object
) -> None:
    def change(document: dict[str, Any]) -> None:
        attendee = document["attendees"][0]
        target = attendee if field in FIELDS else attendee["products"][1]
        target[field] = value

    run_import(sqlite_database, tmp_path, preload_bytes(change), "h.json")
