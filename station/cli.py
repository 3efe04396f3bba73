"""The ``station`` command: set up databases and staff, run a station, run the demo.

Commands stay thin: they load settings, call a module that does the work,
and print. Errors a person can act on (StationError and database failures)
become one ``station: ...`` line on stderr and exit code 2 for set-up
mistakes, 1 for runtime failures; never a traceback. This is the entry point:
commands kept in other modules (``cli_data``, ``cli_db``, ``cli_rules``) are added here with
``add_command``; what they share with these comes from ``cli_base``.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from station import __version__, oplog
from station.cli_base import EXIT_RUNTIME, CliState, Failure, StationGroup, pass_state
from station.cli_dashboard import dashboard_cmd
from station.cli_data import attention_cmd, export_cmd, import_cmd, report_cmd
from station.cli_db import bench_cmd, grant_station_role_cmd
from station.cli_rules import rules_cmd
from station.domain import Mode
from station.paths import data_dir
from station.services.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from station.config import Settings
    from station.db import DatabaseSettings


@click.group(cls=StationGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="station")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PATH",
    help="TOML settings file (default: $STATION_CONFIG). See config/station.example.toml.",
)
@click.option(
    "--log-level",
    type=click.Choice(list(oplog.LEVELS), case_sensitive=False),
    metavar="LEVEL",
    help="debug, info (default), warning or error: how much a station writes to its log "
    "file (STATION_LOG_LEVEL).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, log_level: str | None) -> None:
    """Conference check-in and product redemption in the terminal.

    Start with `station demo`; set up a real event with a config file,
    `station db upgrade` and `station staff add`, then `station run`.
    """
    ctx.obj = CliState(
        config_path=config_path,
        env=dict(os.environ),
        log_level=log_level.lower() if log_level else None,
    )


def main() -> None:
    cli.main(prog_name="station")


# --- station run -----------------------------------------------------------------------


@cli.command()
@click.option("--conference", help="Conference slug (STATION_CONFERENCE).")
@click.option(
    "--mode",
    type=click.Choice([m.value for m in Mode]),
    help="checkin (desk), meal (meal line) or door (STATION_MODE).",
)
@click.option(
    "--product",
    help='meal: add-on slug; door: "ticket:<slug>" or "addon:<slug>" (STATION_PRODUCT).',
)
@click.option("--station", "station_name", help="This station's name (STATION_NAME).")
@click.option("--operator", help="Volunteer signing in; else picked at start (STATION_OPERATOR).")
@click.option("--kiosk/--no-kiosk", default=None, help="Lock the station (STATION_KIOSK).")
@click.option(
    "--direction",
    type=click.Choice(["in", "out"]),
    help="Door mode: in admits, out records exits; F6 switches (STATION_DIRECTION).",
)
@click.option(
    "--clock",
    metavar="TIME",
    help='Demo clock: run as if it were this time, e.g. "2026-06-15 12:00" (STATION_CLOCK).',
)
@pass_state
def run(
    state: CliState,
    conference: str | None,
    mode: str | None,
    product: str | None,
    station_name: str | None,
    operator: str | None,
    kiosk: bool | None,
    direction: str | None,
    clock: str | None,
) -> None:
    """Run a station on the configured database."""
    _require_terminal()
    from station.dbadmin import check_conference, prepare_for_station

    settings = state.settings(
        conference=conference,
        mode=mode,
        product=product,
        station=station_name,
        operator=operator,
        kiosk=kiosk,
        direction=direction,
        clock=clock,
    )
    prepare_for_station(settings.database, own_dir=data_dir(state.env))
    check_conference(settings.database, settings.conference)
    run_station = _station_ui()
    if run_station is None:
        raise Failure("The station UI (station.tui.app) is not available in this install.")
    _run_logged(run_station, settings)


def _require_terminal() -> None:
    """Without a terminal (``ssh`` without ``-t``) the UI would spin: refuse before all else."""
    from station.terminal import refuse_without_terminal

    refused = refuse_without_terminal()
    if refused is not None:
        sys.exit(refused)


def _station_ui() -> Callable[..., int] | None:
    """``run_station(settings) -> exit code`` from the UI package, or None while it is missing."""
    try:
        module = importlib.import_module("station.tui.app")
    except ModuleNotFoundError as exc:
        if exc.name in ("station.tui", "station.tui.app"):
            return None
        raise
    run_station: Callable[..., int] = module.run_station
    return run_station


def _run_logged(run_station: Callable[[Settings], int], settings: Settings) -> NoReturn:
    """Open the log file, then run the UI; its start, end and any crash go in the log.

    Set up here, before the UI takes the screen, so that a log directory that cannot
    be written is said on stderr where people can read it.
    """
    oplog.setup_logging(
        station=settings.station, level=settings.log_level, log_dir=settings.log_dir
    )
    log = logging.getLogger("station.cli")
    log.info(
        "station %s starting: version %s, conference %s, mode %s%s, pid %d, log level %s",
        oplog.safe_for_log(settings.station),
        __version__,
        settings.conference,
        settings.mode.value,
        f" {settings.product}" if settings.product else "",
        os.getpid(),
        settings.log_level,
    )
    try:
        code = run_station(settings)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            log.info("station stopped: %s", type(exc).__name__)
        else:
            log.critical("station crashed", exc_info=True)
        raise
    log.info("station stopped (exit code %s)", code)
    sys.exit(code)


# --- station demo ----------------------------------------------------------------------


@cli.command()
@click.option(
    "--attendees",
    type=click.IntRange(min=20, max=200_000),
    default=2000,
    show_default=True,
    help="How many attendees to create (only when the demo is created or reset).",
)
@click.option("--reset", is_flag=True, help="Delete the demo conference and seed it again.")
@click.option(
    "--database",
    "database_url",
    metavar="URL",
    help="Put the demo here instead of demo.sqlite3 in the data directory.",
)
@click.option("--mode", type=click.Choice([m.value for m in Mode]), default="checkin")
@click.option("--product", help="For meal and door mode, e.g. lunch-day-1 or addon:social.")
@click.option("--station", "station_name", default="Demo desk", show_default=True)
@click.option("--no-run", is_flag=True, help="Only prepare the data and print the codes.")
@click.option(
    "--direction",
    type=click.Choice(["in", "out"]),
    help="Door mode: in admits, out records exits; F6 switches (STATION_DIRECTION).",
)
@click.option(
    "--clock",
    metavar="TIME",
    help='Demo clock: run as if it were this time, e.g. "2026-06-15 12:00" (STATION_CLOCK).',
)
@pass_state
def demo(
    state: CliState,
    attendees: int,
    reset: bool,
    database_url: str | None,
    mode: str,
    product: str | None,
    station_name: str,
    no_run: bool,
    direction: str | None,
    clock: str | None,
) -> None:
    """Create (or reuse) the demo conference `demo-con` and run a station on it.

    The demo has its own SQLite file, so it never touches real data. Sample
    badge codes are printed first and saved to demo-codes.txt.
    """
    from station.dbadmin import open_engine, reporting_failures, shown_url, upgrade_database
    from station.demo import DEMO_SLUG, demo_summary, format_summary, seed_demo
    from station.paths import demo_database_url

    settings = state.settings(
        **{"database.url": database_url or demo_database_url(state.env)},
        conference=DEMO_SLUG,
        mode=mode,
        product=product,
        station=station_name,
        direction=direction,
        clock=clock,
    )
    upgrade_database(settings.database, own_dir=data_dir(state.env))
    engine = open_engine(settings.database)
    try:
        with reporting_failures(settings.database):
            existing = None if reset else demo_summary(engine)
            if existing is not None:
                summary = existing
                note = "Reusing the demo data (use --reset to start again)."
            else:
                summary = seed_demo(engine, attendees=attendees, reset=reset)
                note = f"Created the demo data in {shown_url(settings.database)}."
    finally:
        engine.dispose()
    codes_file = _demo_codes_path(settings.database, state.env)
    text = format_summary(summary)
    try:
        codes_file.parent.mkdir(parents=True, exist_ok=True)
        codes_file.write_text(text + "\n", encoding="utf-8")
        saved = f"These codes are saved in {codes_file}"
    except OSError as exc:
        saved = f"(could not save the codes to {codes_file}: {exc.strerror})"
    click.echo(f"{note}\n{text}\n{saved}")
    if no_run:
        return
    run_station = _station_ui()
    if run_station is None:
        click.echo("The station UI is not installed yet; the demo data is ready.")
        return
    # The UI shows the sample codes itself (under the scan field, and with F1): the
    # text printed above is covered as soon as it starts.
    codes = tuple((sample.label, sample.code) for sample in summary.samples)
    _run_logged(partial(run_station, demo_codes=codes), settings)


def _demo_codes_path(database: DatabaseSettings, env: Mapping[str, str]) -> Path:
    from station.dbadmin import sqlite_path
    from station.paths import DEMO_CODES_FILE

    path = sqlite_path(database)
    return (path.parent if path is not None else data_dir(env)) / DEMO_CODES_FILE


# --- station db ------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Create, upgrade and inspect the database schema."""


@db.command("upgrade")
@pass_state
def db_upgrade(state: CliState) -> None:
    """Create the database or upgrade it to the newest schema (safe to repeat)."""
    from station.dbadmin import shown_url, upgrade_database

    database = state.database()
    before, after = upgrade_database(database, own_dir=data_dir(state.env))
    where = shown_url(database)
    if before == after:
        click.echo(f"{where}: already at revision {after} (head), nothing to do.")
    else:
        click.echo(f"{where}: upgraded from {before or 'an empty database'} to {after} (head).")


@db.command("current")
@pass_state
def db_current(state: CliState) -> None:
    """Show the database's schema revision and the newest one; exit 1 if they differ."""
    from station.dbadmin import revisions, shown_url

    database = state.database()
    found = revisions(database)
    current = found.current or ("no database yet" if not found.exists else "empty")
    click.echo(f"database: {shown_url(database)}")
    click.echo(f"current:  {current}")
    click.echo(f"head:     {found.head}")
    if not found.at_head:
        click.echo("Run `station db upgrade` to bring it up to date.")
        sys.exit(EXIT_RUNTIME)


# --- PINs and staff --------------------------------------------------------------------


def _read_pin(*, confirm: bool) -> str:
    """A PIN from the keyboard (hidden, twice) or, when piped, the first line of stdin."""
    from station.staffadmin import check_pin

    if sys.stdin.isatty():
        pin = click.prompt(
            "PIN", hide_input=True, confirmation_prompt=confirm, err=True, show_default=False
        )
    else:
        pin = sys.stdin.readline().rstrip("\r\n")
        if not pin:
            raise InvalidInput("No PIN given on standard input.")
    return check_pin(str(pin))


@cli.command("hash-pin")
def hash_pin_command() -> None:
    """Print the hash of a PIN, for supervisor_pin_hash in the config file.

    Asks twice without echoing; reads the first line of standard input when
    it is not a terminal (echo 2468 | station hash-pin).
    """
    from station.pins import hash_pin

    click.echo(hash_pin(_read_pin(confirm=True)))


@contextmanager
def _staff_sessions(state: CliState) -> Iterator[sessionmaker[Session]]:
    """Sessions on the configured database, made ready first; failures become one line."""
    from station.db import make_session_factory
    from station.dbadmin import open_engine, prepare_for_station, reporting_failures

    database = state.database()
    prepare_for_station(database, own_dir=data_dir(state.env))
    engine = open_engine(database)
    try:
        with reporting_failures(database):
            yield make_session_factory(engine)
    finally:
        engine.dispose()


@cli.group()
def staff() -> None:
    """Add and list the operators who sign in at stations."""


@staff.command("add")
@click.argument("name")
@click.option("--pin", "with_pin", is_flag=True, help="Ask for a PIN (or read it from stdin).")
@click.option(
    "--supervisor",
    is_flag=True,
    help="May void any scan with their PIN (implies --pin).",
)
@pass_state
def staff_add(state: CliState, name: str, with_pin: bool, supervisor: bool) -> None:
    """Add an operator called NAME."""
    from station.staffadmin import add_staff

    pin = _read_pin(confirm=True) if with_pin or supervisor else None
    with _staff_sessions(state) as sessions:
        added = add_staff(sessions, name, pin=pin, supervisor=supervisor)
    what = " a supervisor" if added.supervisor else ""
    click.echo(f"Added{what} {added.name}{' with a PIN' if added.has_pin else ''}.")


@staff.command("list")
@pass_state
def staff_list(state: CliState) -> None:
    """List operators (name, whether they have a PIN, whether active)."""
    from station.staffadmin import list_staff

    with _staff_sessions(state) as sessions:
        rows = list_staff(sessions)
    if not rows:
        click.echo("No staff yet: add some with `station staff add NAME`.")
        return
    width = max(len(row.name) for row in rows)
    for row in rows:
        flags = ", ".join(
            flag
            for flag, on in (
                ("PIN", row.has_pin),
                ("supervisor", row.supervisor),
                ("inactive", not row.active),
            )
            if on
        )
        click.echo(f"{row.name:<{width}}  {flags}".rstrip())


# --- commands that live in other modules ------------------------------------------------

cli.add_command(import_cmd, "import")
cli.add_command(export_cmd, "export")
cli.add_command(report_cmd, "report")
cli.add_command(dashboard_cmd, "dashboard")
cli.add_command(attention_cmd, "attention")
cli.add_command(rules_cmd, "rules")
cli.add_command(bench_cmd, "bench")
db.add_command(grant_station_role_cmd, "grant-station-role")
