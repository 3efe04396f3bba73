"""Read the documented attendee CSV into records, locating every bad row by line.

The file is read as bytes so that encoding trouble is reported per line
instead of as one decoding crash: invalid UTF-8 becomes "line N: not valid
UTF-8", a UTF-8 byte-order mark (what Excel writes for "CSV UTF-8") is
stripped with a notice, and a UTF-16 file or a ';'-separated export is
refused as a whole with a message that says what was detected.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Iterable, Iterator

from station.importer import fields
from station.importer.fields import BadValue
from station.importer.records import (
    AttendeeRecord,
    ImportFileError,
    ParsedFile,
    Problem,
    WantedProduct,
)
from station.text import display_safe

COLUMNS = (
    "access_code",
    "first_name",
    "last_name",
    "email",
    "order_reference",
    "order_status",
    "ticket_type",
    "addons",
)
# Columns a file may have; a file without them is read as before.
OPTIONAL_COLUMNS = ("attention",)
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_DELIMITER_NAMES = {";": "semicolons (;)", "\t": "tabs", "|": "pipes (|)", ",": "commas"}
_UNDECODABLE = re.compile("[\udc80-\udcff]")
# No row of an attendee file comes near this (a field may hold 128 KiB, the csv module's
# limit); a longer line is refused before the csv module splits it into millions of fields.
MAX_LINE = 1024 * 1024


def read_csv(data: bytes) -> ParsedFile:
    """Parse a whole CSV file; file-level trouble raises ImportFileError."""
    notices: list[str] = []
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
        notices.append("line 1: UTF-8 byte-order mark found and ignored")
    elif data.startswith(_UTF16_BOMS):
        raise ImportFileError(
            Problem(1, "the file is UTF-16 encoded; save it as 'CSV UTF-8' and import again")
        )
    text = data.decode("utf-8", errors="surrogateescape")
    check_bytes = _UNDECODABLE.search(text) is not None  # look row by row only if needed
    check_nul = "\x00" in text
    reader = csv.reader(_bounded_lines(io.StringIO(text, newline="")), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ImportFileError(Problem(1, f"the header row is not valid CSV ({exc})")) from None
    if not header or not any(cell.strip() for cell in header):
        raise ImportFileError(Problem(1, "the file is empty; expected a header row first"))
    positions = _column_positions(header, notices)

    records: list[AttendeeRecord] = []
    problems: list[Problem] = []
    first_line_of: dict[str, int] = {}
    rows = 0
    end_of_previous = reader.line_num
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            raise ImportFileError(
                Problem(end_of_previous + 1, f"the file stops being valid CSV here ({exc})")
            ) from None
        if row is None:
            break
        line, end_of_previous = end_of_previous + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        rows += 1
        code = _code_of(row, len(header), positions)
        if code is not None:  # a duplicate is reported even when the first row is bad
            earlier = first_line_of.setdefault(code, line)
            if earlier != line:
                problems.append(
                    Problem(line, f"access_code {code} already appears on line {earlier}")
                )
                continue
        try:
            if check_nul:
                _refuse_nul(row)
            records.append(_record(line, row, len(header), positions, check_bytes))
        except BadValue as exc:
            problems.append(Problem(line, str(exc)))
    return ParsedFile(
        kind="csv",
        records=tuple(records),
        problems=tuple(problems),
        notices=tuple(notices),
        rows_read=rows,
    )


def _bounded_lines(lines: Iterable[str]) -> Iterator[str]:
    """The file's physical lines, refusing the file at the first one over MAX_LINE."""
    for number, line in enumerate(lines, 1):
        if len(line) > MAX_LINE:
            raise ImportFileError(
                Problem(
                    number,
                    f"the line is {len(line):,} characters long; no row of an attendee file "
                    f"is longer than {MAX_LINE:,} (is this the right file?)",
                )
            )
        yield line


def _column_positions(header: list[str], notices: list[str]) -> dict[str, int]:
    if any(_UNDECODABLE.search(cell) for cell in header):
        raise ImportFileError(Problem(1, "the header row is not valid UTF-8; save as 'CSV UTF-8'"))
    names = [cell.strip().lower() for cell in header]
    if len(header) == 1:
        detected = _other_delimiter(header[0])
        if detected:
            raise ImportFileError(
                Problem(
                    1,
                    f"the file is separated by {_DELIMITER_NAMES[detected]}, not commas; "
                    "export it again as comma-separated CSV",
                )
            )
    duplicates = sorted({n for n in names if n and names.count(n) > 1})
    if duplicates:
        raise ImportFileError(Problem(1, f"column(s) appear twice: {', '.join(duplicates)}"))
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ImportFileError(
            Problem(
                1,
                f"missing column(s): {', '.join(missing)} (the header must name: "
                f"{', '.join(COLUMNS)})",
            )
        )
    known = COLUMNS + OPTIONAL_COLUMNS
    extra = [display_safe(n, limit=40) for n in names if n not in known]
    if extra:
        notices.append(f"line 1: ignoring column(s) not in the import format: {', '.join(extra)}")
    return {name: names.index(name) for name in known if name in names}


def _other_delimiter(header_cell: str) -> str | None:
    """The separator a one-column header was really written with, if it is a known one."""
    counts = {d: header_cell.count(d) for d in (";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None


def _refuse_nul(row: list[str]) -> None:
    """PostgreSQL stores no NUL character in text, so a row holding one is a bad row."""
    for index, value in enumerate(row):
        if "\x00" in value:
            raise BadValue(f"field {index + 1} contains a NUL byte, which is not text")


def _code_of(row: list[str], width: int, at: dict[str, int]) -> str | None:
    """The row's access code if it is a valid one, else None (the row check says why)."""
    if len(row) != width:
        return None
    try:
        return fields.access_code(row[at["access_code"]])
    except BadValue:
        return None


def _record(
    line: int, row: list[str], width: int, at: dict[str, int], check_bytes: bool
) -> AttendeeRecord:
    if len(row) != width:
        raise BadValue(
            f"expected {width} fields, found {len(row)} (a value containing a comma must be "
            "in double quotes)"
        )
    if check_bytes:
        for index, value in enumerate(row):
            match = _UNDECODABLE.search(value)
            if match:
                byte = ord(match.group()) - 0xDC00
                raise BadValue(
                    f"not valid UTF-8 (byte 0x{byte:02X} in field {index + 1}); "
                    "save the file as 'CSV UTF-8'"
                )
    code = fields.access_code(row[at["access_code"]])
    reference = fields.text(row[at["order_reference"]], "order_reference", fields.MAX_REFERENCE)
    status = fields.order_status(row[at["order_status"]])
    products = _products(row[at["ticket_type"]], row[at["addons"]])
    if reference and status is None:
        raise BadValue(f"order_reference {fields.shown(reference)} has no order_status")
    if status is not None and not reference:
        raise BadValue(f"order_status {status.value} needs an order_reference")
    if products and status is None:
        raise BadValue("ticket_type and addons need an order (order_reference and order_status)")
    attention = None
    if "attention" in at:
        attention = fields.text(row[at["attention"]], "attention", fields.MAX_ATTENTION)
        if attention and status is None:
            raise BadValue("attention is a note on the order: it needs an order_reference")
    return AttendeeRecord(
        line=line,
        access_code=code,
        first_name=fields.text(row[at["first_name"]], "first_name", fields.MAX_NAME),
        last_name=fields.text(row[at["last_name"]], "last_name", fields.MAX_NAME),
        email=fields.text(row[at["email"]], "email", fields.MAX_EMAIL),
        order_reference=reference or None,
        order_status=status,
        products=products,
        order_attention=attention,
    )


@functools.lru_cache(maxsize=4096)
def _products(ticket_type: str, addons: str) -> tuple[WantedProduct, ...]:
    """The product lines of a row; cached, since big files repeat a few combinations."""
    products: list[WantedProduct] = []
    if ticket_type.strip():
        name, slug = fields.product_name(ticket_type, "ticket_type")
        products.append(WantedProduct("ticket", slug, name, 1, name))
    for name, slug, count in fields.addons(addons):
        if count:
            products.append(WantedProduct("addon", slug, name, count, name))
    return tuple(products)
