"""``station import``, ``station export`` and ``station report``: data in and out.

Added to the main group in ``station/cli.py``. Like the other
commands they stay thin: read the file or flags, call the importer, exporter
or report module, print. Bad rows are listed one per line on stderr with
their line numbers; the closing ``station: ...`` line says what happened.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from station.cli_base import configured_engine

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from station.cli_base import CliState
    from station.importer import ImportReport, Progress

# The same as station.exporter.KINDS / FORMATS (tests check), spelled out here so
# that `station --help` and `station run` do not import SQLAlchemy to build options.
KINDS = (
    "checkins",
    "door-checks",
    "door-clears",
    "redemptions",
    "scan-log",
    "offline-conflicts",
)
FORMATS = ("csv", "json", "jsonl")
# Below this many rows an import is over before a bar would be worth drawing.
PROGRESS_FROM_ROWS = 2000


class DataFailure(click.ClickException):
    """The closing one-line ``station: ...`` of a data command that did not do its job."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"station: {self.format_message()}", err=True, file=file)


class InputFailure(DataFailure):
    """The input file needs fixing (unreadable, malformed, bad rows): exit code 2, as
    the README says of set-up and input problems."""

    exit_code = 2


# --- station import ----------------------------------------------------------------------


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--conference", metavar="SLUG", help="Conference to import into.")
@click.option("--create", is_flag=True, help="Create the conference if it does not exist.")
@click.option("--name", help="With --create: the conference's display name.")
@click.option("--timezone", metavar="ZONE", help="With --create: e.g. Europe/Berlin (UTC).")
@click.option(
    "--format",
    "kind",
    type=click.Choice(["auto", "csv", "preload"]),
    default="auto",
    show_default=True,
    help="preload = django-program's offline preload JSON; auto goes by the file.",
)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows, list the bad ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_obj
def import_cmd(
    state: CliState,
    file: Path,
    conference: str | None,
    create: bool,
    name: str | None,
    timezone: str | None,
    kind: str,
    dry_run: bool,
    skip_bad_rows: bool,
    as_json: bool,
) -> None:
    """Import attendees from a CSV file or a django-program preload JSON file.

    Safe to repeat: the same file changes nothing, an updated file updates in
    place (keyed by access code and order reference), check-ins and
    redemptions are never deleted. Everything is one transaction.
    """
    from station.importer import ImportFileError, ImportOptions, import_parsed, read_file

    label = click.format_filename(file.name)
    try:
        parsed = read_file(file, kind)
    except ImportFileError as exc:
        raise InputFailure(f"{label} {exc.problem}; nothing was imported.") from None
    except OSError as exc:
        shown = click.format_filename(file)
        raise InputFailure(f"cannot read {shown}: {exc.strerror or exc}") from None
    for notice in parsed.notices:
        click.echo(f"{label} {notice}", err=True)
    options = ImportOptions(
        conference=conference,
        create=create,
        name=name,
        timezone=timezone,
        dry_run=dry_run,
        skip_bad_rows=skip_bad_rows,
    )
    show_bar = sys.stderr.isatty() and len(parsed.records) >= PROGRESS_FROM_ROWS
    with configured_engine(state) as engine, _progress(show_bar) as progress:
        report = import_parsed(engine, parsed, options, progress)
    for problem in report.problems:
        click.echo(f"{label} {problem}", err=True)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(_summary(report, label))
    bad = len({p.line for p in report.problems})
    if report.problems and not skip_bad_rows:
        what = "would be refused" if dry_run else "nothing was imported"
        raise InputFailure(
            f"{bad} bad row{'s' if bad != 1 else ''} in {label}; {what} "
            "(fix them, or use --skip-bad-rows to import the rest)."
        )
    if report.problems:
        verb = "would skip" if dry_run else "skipped"
        click.echo(f"station: {verb} {bad} bad row{'s' if bad != 1 else ''} in {label}.", err=True)


def _summary(report: ImportReport, label: str) -> str:
    if report.dry_run:
        head = f"Dry run of {label} into {report.conference}: nothing was written. Would be:"
    elif report.written:
        created = " (conference created)" if report.conference_created else ""
        head = f"Imported {label} into {report.conference}{created}:"
    else:
        head = f"Not imported: {label} has bad rows. With them left out it would be:"
    lines = [head, f"  rows read: {report.rows_read:,}"]
    for name, counts in report.counts.items():
        figures = [
            f"{value:,} {word}"
            for word, value in (
                ("created", counts.created),
                ("updated", counts.updated),
                ("removed", counts.removed),
                ("unchanged", counts.unchanged),
            )
            if value or word in ("created", "unchanged")
        ]
        if counts.created or counts.updated or counts.removed or counts.unchanged:
            lines.append(f"  {name}: {', '.join(figures)}")
    return "\n".join(lines)


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    """A progress bar on stderr for long imports on a terminal; nothing otherwise."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


# --- station export ----------------------------------------------------------------------


@click.command("export")
@click.argument("kind", type=click.Choice(KINDS))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="csv",
    show_default=True,
    help="json: one streamed array; jsonl: one object per line.",
)
@click.option("--conference", metavar="SLUG")
@click.option("--station", "station_name", metavar="NAME", help="Only this station.")
@click.option(
    "--product",
    metavar="SLUG",
    help="door-checks/door-clears/redemptions: add-on slug, ticket:<slug> or addon:<slug>.",
)
@click.option("--since", metavar="TIME", help="ISO time; no offset = conference time zone.")
@click.option("--until", metavar="TIME", help="ISO time (exclusive); same rules as --since.")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write here instead of standard output (replaced only when complete).",
)
@click.pass_obj
def export_cmd(
    state: CliState,
    kind: str,
    fmt: str,
    conference: str | None,
    station_name: str | None,
    product: str | None,
    since: str | None,
    until: str | None,
    output: Path | None,
) -> None:
    """Export check-ins, door checks, door clears, redemptions or the scan log as CSV or JSON.

    Times are ISO 8601 UTC. Rows are streamed, so exports of any size use
    little memory.
    """
    from station.exporter import ExportFilter, conference_zone, export_rows, parse_time, write
    from station.reading import read_connection

    with configured_engine(state, read_only=True) as engine, read_connection(engine) as conn:
        zone = conference_zone(conn, conference)
        filters = ExportFilter(
            conference=conference,
            station=station_name,
            product=product,
            since=parse_time(since, zone) if since else None,
            until=parse_time(until, zone) if until else None,
        )
        export = export_rows(conn, kind, filters)
        if output is None:
            try:
                write(export, sys.stdout, fmt)
                sys.stdout.flush()
            except BrokenPipeError:
                # The reader (`| head -1`) has what it wanted: a normal end, not an error.
                # Point stdout at /dev/null so the flush at exit does not fail again.
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            return
        with _replaced_when_done(output) as handle:
            count = write(export, handle, fmt)
    click.echo(f"Exported {count:,} {kind} rows to {click.format_filename(output)}.", err=True)


@contextmanager
def _replaced_when_done(path: Path) -> Iterator[TextIO]:
    """Write next to ``path`` and rename over it at the end: never a half-written export."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as exc:
        raise DataFailure(f"cannot write {click.format_filename(path)}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- station report ----------------------------------------------------------------------


@click.command("report")
@click.option("--conference", metavar="SLUG", help="One conference (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@click.option("--watch", is_flag=True, help="Refresh every few seconds; Ctrl-C to stop.")
@click.option(
    "--interval",
    type=click.FloatRange(min=1.0),
    default=5.0,
    show_default=True,
    help="Seconds between refreshes with --watch.",
)
@click.pass_obj
def report_cmd(
    state: CliState, conference: str | None, as_json: bool, watch: bool, interval: float
) -> None:
    """Attendees, check-ins, add-ons, stations and refused scans per conference.

    Says which database it read; times are in each conference's time zone.
    """
    from station.dbadmin import shown_url
    from station.report import build_reports

    if watch and as_json:
        raise click.UsageError("--watch draws a table; use --json without --watch.")
    where = shown_url(state.database())
    with configured_engine(state, read_only=True) as engine:
        if watch:
            _watch(engine, conference, interval, where)
            return
        reports = build_reports(engine, conference)
    if as_json:
        data = {"database": where, "conferences": [r.as_dict() for r in reports]}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.text import Text

    console = Console()
    console.print(Text(f"Database: {where}"))
    if not reports:
        console.print("No conferences in this database yet.", markup=False)
    for report in reports:
        console.print(_rendered(report))


def _rendered(report: Any) -> Any:
    from station.report import render

    return render(report)


def _watch(engine: Engine, conference: str | None, interval: float, where: str) -> None:
    """Redraw until Ctrl-C; a database hiccup is shown and retried, not fatal.

    Ctrl-C only sets a flag, seen between frames: raised at an arbitrary point
    (inside the connection pool, say) it could leave a lock held and hang the
    clean-up after it.
    """
    import signal
    import threading

    from rich.console import Console, Group
    from rich.live import Live
    from rich.text import Text
    from sqlalchemy.exc import SQLAlchemyError

    from station.dbadmin import first_line
    from station.report import build_reports

    console = Console()

    def frame() -> Any:
        stamp = time.strftime("%H:%M:%S")
        try:
            reports = build_reports(engine, conference)
        except SQLAlchemyError as exc:
            detail = first_line(str(getattr(exc, "orig", None) or exc))
            return Text(f"{stamp}  Database not reachable, retrying: {detail}", style="bold red")
        footer = Text(f"Every {interval:g} s; Ctrl-C to stop.", style="dim")
        return Group(Text(f"Database: {where}"), *(_rendered(r) for r in reports), footer)

    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    try:
        with Live(frame(), console=console, auto_refresh=False) as live:
            while not stop.wait(interval):
                live.update(frame(), refresh=True)
    finally:
        signal.signal(signal.SIGINT, previous)


# --- station attention -------------------------------------------------------------------


@click.command("attention")
@click.argument("kind", metavar="order|ticket|addon")
@click.argument("key", metavar="REFERENCE|SLUG")
@click.argument("note", required=False)
@click.option("--clear", is_flag=True, help="Remove the note.")
@click.option("--conference", metavar="SLUG", help="Needed when the database has several.")
@click.pass_obj
def attention_cmd(
    state: CliState, kind: str, key: str, note: str | None, clear: bool, conference: str | None
) -> None:
    """Set, clear or show an attention note, shown large whenever the badge is scanned.

    \b
    station attention order ORD-1234 "VIP — call the host"
    station attention ticket speaker "Speaker: send to the green room"
    station attention addon t-shirt-m "collect T-shirt M"
    station attention order ORD-1234 --clear
    station attention order ORD-1234          (shows the note)
    """
    from station.attention import AttentionInputError, attention

    try:  # never creates a database: a note needs the orders an import brought
        with configured_engine(state, read_only=True) as engine:
            found = attention(engine, kind, key, conference=conference, note=note, clear=clear)
    except AttentionInputError as exc:
        raise InputFailure(str(exc)) from None
    from station.text import display_safe

    what = f"{found.name} {display_safe(found.key, limit=64)} ({found.conference})"
    if found.note is None:
        verb = "cleared" if clear else "none"
        click.echo(f"{what}: attention note {verb}.")
    else:
        prefix = "set to" if note is not None else "is"
        click.echo(f"{what}: attention note {prefix} {display_safe(found.note)!r}.")
