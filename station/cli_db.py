"""``station db grant-station-role`` and ``station bench``: the database engineer's commands.

Added to the command tree in ``station.cli``; kept here so that file stays thin.
"""

from __future__ import annotations

import click

from station.cli_base import CliState, pass_state


@click.command("grant-station-role")
@click.argument("name")
@click.option("--print-sql", is_flag=True, help="Only print the SQL, for a DBA to run.")
@click.option(
    "--idle-in-transaction-timeout-ms",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Role default: end a session whose transaction sits idle this long.",
)
@click.option(
    "--statement-timeout-ms",
    type=click.IntRange(min=1),
    default=15_000,
    show_default=True,
    help="Role default: cancel a statement running this long.",
)
@pass_state
def grant_station_role_cmd(
    state: CliState,
    name: str,
    print_sql: bool,
    idle_in_transaction_timeout_ms: int,
    statement_timeout_ms: int,
) -> None:
    """Create (if missing) the PostgreSQL login role NAME with only what a station needs.

    SELECT on reference data (not PIN hashes); INSERT into check-ins, door checks,
    redemptions and the scan log, each checked by the database's guards; the
    station's functions (redeem, attendee lock, operator list and PIN check). No
    UPDATE or DELETE anywhere. Safe to repeat. Set its password yourself.
    """
    from station.db import make_engine
    from station.db_roles import grant_station_role, station_role_sql

    database = state.database()
    timeouts = {
        "idle_in_transaction_timeout_ms": idle_in_transaction_timeout_ms,
        "statement_timeout_ms": statement_timeout_ms,
    }
    if print_sql:
        for statement in station_role_sql(name, database.schema or "public", **timeouts):
            click.echo(statement + ";")
        return
    engine = make_engine(database)
    try:
        grant_station_role(engine, name, database.schema, **timeouts)
    finally:
        engine.dispose()
    click.echo(f"Role {name} can now run stations (no updates, no deletes, no PIN hashes).")


@click.command("bench", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench_cmd(args: tuple[str, ...]) -> None:
    """Benchmark the scan paths on PostgreSQL (station.bench; --help for options)."""
    from station.bench.pg_bench import main

    raise SystemExit(main(list(args)))
