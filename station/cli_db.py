"""``station db grant-station-role`` and ``station bench``: the database engineer's commands.

Added to the command tree in ``station.cli``; kept here so that file stays thin.
"""

from __future__ import annotations

import click

from station.cli_base import CliState, pass_state
from station.db_roles import (
    IDLE_IN_TRANSACTION_TIMEOUT_MS,
    LOCK_TIMEOUT_MS,
    MAX_TIMEOUT_MS,
    MIN_TIMEOUT_MS,
    STATEMENT_TIMEOUT_MS,
    RoleTimeouts,
)


@click.command("grant-station-role")
@click.argument("name")
@click.option(
    "--conference",
    "conference",
    required=True,
    metavar="SLUG",
    help="The one conference whose people, orders and scans the role sees.",
)
@click.option(
    "--idle-in-transaction-timeout-ms",
    type=click.IntRange(MIN_TIMEOUT_MS, MAX_TIMEOUT_MS),
    default=IDLE_IN_TRANSACTION_TIMEOUT_MS,
    show_default=True,
    help="Role default: end a session whose transaction sits idle this long.",
)
@click.option(
    "--statement-timeout-ms",
    type=click.IntRange(MIN_TIMEOUT_MS, MAX_TIMEOUT_MS),
    default=STATEMENT_TIMEOUT_MS,
    show_default=True,
    help="Role default: cancel a statement running this long.",
)
@click.option(
    "--lock-timeout-ms",
    type=click.IntRange(MIN_TIMEOUT_MS, MAX_TIMEOUT_MS),
    default=LOCK_TIMEOUT_MS,
    show_default=True,
    help="Role default: give up waiting for a lock after this long.",
)
@click.option("--print-sql", is_flag=True, help="Only print the SQL, for a DBA to run.")
@pass_state
def grant_station_role_cmd(
    state: CliState,
    name: str,
    conference: str,
    idle_in_transaction_timeout_ms: int,
    statement_timeout_ms: int,
    lock_timeout_ms: int,
    print_sql: bool,
) -> None:
    """Create (if missing) the PostgreSQL login role NAME with only what a station needs.

    SELECT on reference data (staff without PIN hashes); scans recorded only through
    the guarded functions, which check quantity, order status and conference and stamp
    the server's time; operators signed in by functions that never show a PIN hash. It
    sees the people, orders and scans of the --conference only. No INSERT, UPDATE or
    DELETE on any table. Role defaults cut off idle transactions and long statements.
    Safe to repeat. Set its password yourself.
    """
    from station.db import make_engine
    from station.db_roles import grant_station_role, station_role_sql

    timeouts = RoleTimeouts(idle_in_transaction_timeout_ms, statement_timeout_ms, lock_timeout_ms)
    database = state.database()
    if print_sql:
        for statement in station_role_sql(name, conference, database.schema or "public", timeouts):
            click.echo(statement + ";")
        return
    engine = make_engine(database)
    try:
        grant_station_role(engine, name, conference, database.schema, timeouts)
    finally:
        engine.dispose()
    click.echo(
        f"Role {name} can now run stations of {conference} "
        "(no deletes, no order changes, no PIN hashes, no other conference's people)."
    )


@click.command("bench", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench_cmd(args: tuple[str, ...]) -> None:
    """Benchmark the scan paths on PostgreSQL (station.bench; --help for options).

    ``station bench offline`` measures offline mode instead (station.bench.offline_bench);
    ``station bench rules`` what a per-day cap or a capacity costs (station.bench.rules_bench);
    ``station bench dashboard`` what `station dashboard` costs with 200 stations;
    ``station bench fleet`` 200 stations through PgBouncer (station.bench.fleet_bench).
    """
    if args and args[0] == "fleet":
        from station.bench.fleet_bench import main as fleet_main

        raise SystemExit(fleet_main(list(args[1:])))
    if args and args[0] == "rules":
        from station.bench.rules_bench import main as rules_main

        raise SystemExit(rules_main(list(args[1:])))
    if args and args[0] == "dashboard":
        from station.bench.dashboard_bench import main as dashboard_main

        raise SystemExit(dashboard_main(list(args[1:])))
    if args and args[0] == "offline":
        from station.bench.offline_bench import main as offline_main

        raise SystemExit(offline_main(list(args[1:])))
    from station.bench.pg_bench import main

    raise SystemExit(main(list(args)))
