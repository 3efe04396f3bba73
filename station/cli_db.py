"""``station db grant-station-role`` and ``station bench``: the database engineer's commands.

Added to the command tree in ``station.cli``; kept here so that file stays thin.
"""

from __future__ import annotations

import click

from station.cli_base import CliState, pass_state


@click.command("grant-station-role")
@click.argument("name")
@click.option("--print-sql", is_flag=True, help="Only print the SQL, for a DBA to run.")
@pass_state
def grant_station_role_cmd(state: CliState, name: str, print_sql: bool) -> None:
    """Create (if missing) the PostgreSQL login role NAME with only what a station needs.

    SELECT on reference data; INSERT into check-ins, door checks, redemptions and the
    scan log; UPDATE of an attendee's first check-in time. No DELETE, and no change to
    orders, line items or quantities. Safe to repeat. Set its password yourself.
    """
    from station.db import make_engine
    from station.db_roles import grant_station_role, station_role_sql

    database = state.database()
    if print_sql:
        for statement in station_role_sql(name, database.schema or "public"):
            click.echo(statement + ";")
        return
    engine = make_engine(database)
    try:
        grant_station_role(engine, name, database.schema)
    finally:
        engine.dispose()
    click.echo(f"Role {name} can now run stations (no deletes, no order changes).")


@click.command("bench", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench_cmd(args: tuple[str, ...]) -> None:
    """Benchmark the scan paths on PostgreSQL (station.bench; --help for options)."""
    from station.bench.pg_bench import main

    raise SystemExit(main(list(args)))
