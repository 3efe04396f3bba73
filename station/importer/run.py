"""One import, start to finish: pick the conference, plan in a transaction, write or not.

The whole import is one transaction. A file with bad rows is refused before
anything is written (unless the caller asked to skip bad rows), and a dry
run plans everything and rolls back, so its counts are exactly what a real
run would do against the data as it is now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, insert, text

from station.importer import existing
from station.importer.apply import Writer
from station.importer.csv_source import read_csv
from station.importer.plan import Counts, Planner, match_ticket_types_by_name
from station.importer.preload_json import read_preload
from station.importer.records import ParsedFile, Problem
from station.models import Conference, utcnow
from station.services.errors import ConfigurationError

# stage, done, total: called often; a progress bar redraws from it.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class ImportOptions:
    conference: str | None = None
    create: bool = False
    name: str | None = None
    timezone: str | None = None
    dry_run: bool = False
    skip_bad_rows: bool = False


@dataclass(frozen=True, slots=True)
class ImportReport:
    conference: str
    kind: str
    rows_read: int
    counts: dict[str, Counts]
    problems: tuple[Problem, ...]
    notices: tuple[str, ...]
    dry_run: bool
    written: bool
    conference_created: bool = False
    skipped: int = field(default=0)

    @property
    def refused(self) -> bool:
        """Bad rows stopped the import (nothing was written)."""
        return bool(self.problems) and not self.written and not self.dry_run

    def as_dict(self) -> dict[str, object]:
        return {
            "conference": self.conference,
            "kind": self.kind,
            "rows_read": self.rows_read,
            "dry_run": self.dry_run,
            "written": self.written,
            "conference_created": self.conference_created,
            "counts": {name: c.as_dict() for name, c in self.counts.items()},
            "problems": [{"line": p.line, "message": p.message} for p in self.problems],
            "notices": list(self.notices),
        }


def read_file(path: Path, kind: str = "auto") -> ParsedFile:
    """Parse a CSV or preload JSON file (``kind`` auto: by extension, else by content).

    Raises ImportFileError for a file that cannot be used at all, OSError when it
    cannot be read.
    """
    data = path.read_bytes()  # OSError (missing, unreadable) is the caller's to report
    if kind == "auto":
        looks_json = data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")
        kind = "preload" if path.suffix.lower() == ".json" or looks_json else "csv"
    return read_preload(data) if kind == "preload" else read_csv(data)


def import_parsed(
    engine: Engine,
    parsed: ParsedFile,
    options: ImportOptions,
    progress: Progress | None = None,
) -> ImportReport:
    slug = _conference_slug(parsed, options)
    report = progress or (lambda _stage, _done, _total: None)
    with engine.connect() as conn, conn.begin() as transaction:
        _relax_timeouts(conn)
        conference = existing.find_conference(conn, slug)
        created = conference is None
        if conference is None:
            name, zone = _new_conference_details(slug, options)
            if not options.dry_run:
                conference_id = conn.execute(
                    insert(Conference)
                    .values(slug=slug, name=name, timezone=zone)
                    .returning(Conference.id)
                ).scalar_one()
                conference = existing.ConferenceRow(conference_id, slug, zone)

        total = len(parsed.records)
        report("Comparing", 0, total)
        snapshot = existing.load_snapshot(conn, conference, parsed.records)
        records = parsed.records
        if parsed.kind == "preload":
            records = tuple(match_ticket_types_by_name(records, snapshot))
        planner = Planner(snapshot)
        planner.draft(records, lambda done: report("Comparing", done, total))
        to_check = planner.lines_to_check()
        redeemed: dict[int, int] = {}
        if conference is not None and to_check:
            existing.lock_lines(conn, to_check)
            redeemed = existing.load_redeemed(conn, conference.id, to_check)
        plan = planner.finish(redeemed)
        report("Comparing", total, total)

        problems = tuple(sorted((*parsed.problems, *plan.problems), key=lambda p: p.line))
        write = not options.dry_run and (not problems or options.skip_bad_rows)
        if write and conference is not None:
            done = 0

            def tick(rows: int) -> None:
                nonlocal done
                done += rows
                report("Writing", done, plan.writes)

            writer = Writer(
                conn,
                conference.id,
                conference.slug,
                existing_products=snapshot.products,
                existing_orders={ref: o.id for ref, o in snapshot.orders.items()},
                existing_attendees={code: a.id for code, a in snapshot.attendees.items()},
                now=utcnow(),
                tick=tick,
            )
            writer.write(plan)
            transaction.commit()
        else:
            transaction.rollback()
    return ImportReport(
        conference=slug,
        kind=parsed.kind,
        rows_read=parsed.rows_read,
        counts=plan.counts,
        problems=problems,
        notices=parsed.notices,
        dry_run=options.dry_run,
        written=write,
        conference_created=created and write,
        skipped=len({p.line for p in problems}) if write else 0,
    )


def _conference_slug(parsed: ParsedFile, options: ImportOptions) -> str:
    named = options.conference
    if parsed.conference_slug and named and parsed.conference_slug != named:
        raise ConfigurationError(
            f"The file is for conference {parsed.conference_slug!r}, "
            f"not {options.conference!r}; nothing was imported."
        )
    slug = options.conference or parsed.conference_slug
    if not slug:
        raise ConfigurationError("Say which conference to import into: --conference SLUG.")
    return slug


def _new_conference_details(slug: str, options: ImportOptions) -> tuple[str, str]:
    if not options.create:
        raise ConfigurationError(
            f"Conference {slug!r} does not exist; add --create "
            "(with --name and --timezone) to make it."
        )
    zone = options.timezone or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"Unknown time zone {zone!r}; use a name like Europe/Berlin."
        ) from None
    return (options.name or slug)[:200], zone


def _relax_timeouts(conn: Connection) -> None:
    """Stations get 5 s statement timeouts; a bulk import needs longer, for itself only."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL statement_timeout = '5min'"))
        conn.execute(text("SET LOCAL idle_in_transaction_session_timeout = '5min'"))
