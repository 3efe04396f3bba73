"""What every ``station`` command shares: the one-line failures, exit codes and state.

Its own module so that the command modules (``cli_data``, ``cli_db``) depend on
it and not on the entry point ``station.cli`` that imports them to assemble the
command tree: no import cycle between the entry point and its commands.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from station import oplog
from station.services.errors import ConfigurationError, InvalidInput, StationError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from station.config import Settings
    from station.db import DatabaseSettings

EXIT_RUNTIME = 1
EXIT_SETUP = 2


class Failure(click.ClickException):
    """Something failed at run time: one line ``station: <message>``, exit code 1."""

    exit_code = EXIT_RUNTIME

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"station: {self.format_message()}", err=True, file=file)


class SetupFailure(Failure):
    """The set-up needs fixing (config, input, schema): exit code 2, like usage errors."""

    exit_code = EXIT_SETUP


class UsageFailure(SetupFailure):
    """A command line click cannot parse: one ``station:`` line, exit code 2.

    Click's own form is three lines (usage, hint, error) without the prefix.
    """

    @classmethod
    def of(cls, error: click.UsageError) -> UsageFailure:
        message = " ".join(line.strip() for line in error.format_message().splitlines())
        if error.ctx is not None:
            message += f" (see '{error.ctx.command_path} --help')"
        return cls(message.strip())


def _one_line_usage(error: click.UsageError) -> click.UsageError | UsageFailure:
    """The one-line form of a usage error; "no arguments" still shows the help."""
    if isinstance(error, click.exceptions.NoArgsIsHelpError):
        return error
    return UsageFailure.of(error)


def _failure_for(exc: BaseException) -> Failure | None:
    """The one-line form of an error people can act on; None for bugs (which keep tracebacks)."""
    from sqlalchemy.exc import SQLAlchemyError

    from station.dbadmin import first_line

    # Our own messages are kept whole (a URL, a path and the fix can pass 300 characters);
    # a driver's own text is still cut short where it is quoted.
    if isinstance(exc, ConfigurationError | InvalidInput):
        return SetupFailure(first_line(exc.message, limit=1000))
    if isinstance(exc, StationError):
        return Failure(first_line(exc.message, limit=1000))
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        return Failure(f"Database error: {first_line(str(orig or exc))}")
    return None


class StationGroup(click.Group):
    """A group whose commands' StationErrors become one-line failures."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _one_line_usage(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line_usage(exc) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            failure = _failure_for(exc)
            if failure is None:
                raise
            raise failure from None

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Say where the log file is: the first thing to look at when a station misbehaved."""
        super().format_epilog(ctx, formatter)
        if ctx.parent is None:  # `station --help`, not the subgroups'
            formatter.write_paragraph()
            formatter.write_text(
                f"\b\nLog file: {_shown_log_file(os.environ)}\n"
                "(one per station name; log_dir or STATION_LOG_DIR moves it)"
            )


def _shown_log_file(env: Mapping[str, str]) -> str:
    """The default log file, with ``~`` for the home directory, for ``station --help``."""
    path = oplog.default_log_dir(env) / "<station>.log"
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except (ValueError, RuntimeError):  # not under the home directory, or no home
        return str(path)


@dataclass(frozen=True, slots=True)
class CliState:
    """Where the settings come from, so each command loads them with its own overrides."""

    config_path: Path | None
    env: Mapping[str, str]
    log_level: str | None = None

    def settings(self, **overrides: object) -> Settings:
        from station.config import load_settings

        return load_settings(self.config_path, self.env, {"log_level": self.log_level, **overrides})

    def database(self, **overrides: object) -> DatabaseSettings:
        from station.config import load_database_settings

        return load_database_settings(self.config_path, self.env, overrides)


pass_state = click.make_pass_decorator(CliState)


@contextmanager
def configured_engine(state: CliState, *, read_only: bool = False) -> Iterator[Engine]:
    """The configured database, migrated if SQLite, checked if PostgreSQL.

    A SQLite file is created for an import, never for a report, an export or the rules.
    """
    from station.dbadmin import open_engine, prepare_for_station, reporting_failures
    from station.paths import data_dir

    database = state.database()
    prepare_for_station(database, own_dir=data_dir(state.env), read_only=read_only)
    engine = open_engine(database)
    try:
        with reporting_failures(database):
            yield engine
    finally:
        engine.dispose()
