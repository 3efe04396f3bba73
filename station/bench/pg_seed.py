"""Fill a fresh PostgreSQL schema with a conference of N attendees in seconds, via COPY.

Every attendee has a paid order with a ticket, one lunch and three meal
vouchers. Codes are spread over the key space (a bijection of the index), as
real badge codes are, so lookups do not ride on sequential keys.

The last ``history`` share of attendees already came in and had lunch (a
check-in, a redemption, their scan-log rows): the benchmark measures a
conference in full swing, with statistics that say so, not the first minute
of an empty event (when prepared statements plan for empty tables until
autovacuum's ANALYZE catches up, about a minute in).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import Connection, Engine, text

from station.db import DatabaseSettings, make_engine, upgrade

CONFERENCE = "bench-con"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_SPREAD = 0x9E3779B97F4A7C15 % (1 << 40) | 1  # odd, so i -> i * _SPREAD mod 2**40 is a bijection


def access_code(i: int) -> str:
    n = (i * _SPREAD) % (1 << 40)
    chars = []
    for _ in range(8):
        n, r = divmod(n, 32)
        chars.append(_ALPHABET[r])
    return "".join(chars)


def line_ids(i: int) -> tuple[int, int, int]:
    """(ticket, lunch, voucher) line item ids of attendee ``i`` (1-based)."""
    return 3 * i - 2, 3 * i - 1, 3 * i


def fresh_schema(url: str, schema: str) -> DatabaseSettings:
    """A new schema at head, marked with this process (see ``_drop_abandoned``)."""
    _unwind_when_stopped()
    admin = make_engine(DatabaseSettings(url=url))
    with admin.begin() as conn:
        for name, pid in _drop_abandoned(conn):
            print(f"dropped schema {name}, left by benchmark process {pid} (no longer running)")
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        owner = _RUNNING.format(host=socket.gethostname(), pid=os.getpid())
        conn.execute(text(f"COMMENT ON SCHEMA {schema} IS '{_quoted(owner)}'"))
    admin.dispose()
    settings = DatabaseSettings(url=url, schema=schema)
    engine = make_engine(settings)
    upgrade(engine)
    engine.dispose()
    return settings


# Who made a benchmark schema, on its comment: a process killed outright (SIGKILL, the
# OOM killer, a power cut) runs no ``finally`` and leaves a whole seeded conference
# behind; the next benchmark on the same host drops it. A kept one (--keep) says so.
_RUNNING = "station benchmark running on {host}, pid {pid}"
_RUNNING_PATTERN = re.compile(r"station benchmark running on (.+), pid (\d+)")
_KEPT = "station benchmark schema kept with --keep"


def _drop_abandoned(conn: Connection) -> list[tuple[str, int]]:
    """Drop the benchmark schemas whose process, on this host, is gone."""
    host = socket.gethostname()
    dropped = []
    for name, comment in conn.execute(
        text(
            "SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace"
            " WHERE nspname LIKE 'station\\_bench\\_%'"
        )
    ):
        made = _RUNNING_PATTERN.fullmatch(comment or "")
        if made is None or made.group(1) != host or _running(int(made.group(2))):
            continue
        quoted = str(name).replace('"', '""')
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{quoted}" CASCADE'))
        dropped.append((str(name), int(made.group(2))))
    return dropped


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # PermissionError: another user's process, running
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _quoted(literal: str) -> str:
    return literal.replace("'", "''")


def _unwind_when_stopped() -> None:
    """Make SIGTERM and SIGHUP unwind the benchmark like Ctrl-C does.

    Killed by ``timeout``, a closed terminal or an SSH hang-up, a benchmark died without
    running its ``finally``, and its ``station_bench_*`` schemas stayed in the database.
    Only where nobody set a handler yet, and only in the process that set it: a forked
    station process still dies as it did.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    owner = os.getpid()

    def unwind(signum: int, _frame: object) -> None:
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise SystemExit(128 + signum)

    for stop in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(stop) is signal.SIG_DFL:
            signal.signal(stop, unwind)


def drop_schema(url: str, schema: str) -> None:
    admin = make_engine(DatabaseSettings(url=url))
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def done_with_schemas(url: str, schemas: list[str], *, keep: bool) -> None:
    """Drop a finished benchmark's schemas, or mark them kept so no later run drops them."""
    admin = make_engine(DatabaseSettings(url=url))
    with admin.begin() as conn:
        for schema in schemas:
            if keep:
                conn.execute(text(f"COMMENT ON SCHEMA {schema} IS '{_KEPT}'"))
            else:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def fresh_attendees(attendees: int, history: float = 0.2) -> int:
    """How many attendees (from 1 up) have no history, for the flows to use."""
    return attendees - int(attendees * history)


def seed(engine: Engine, attendees: int, history: float = 0.2) -> float:
    """COPY the conference in; returns the seconds it took (load, sequences, ANALYZE)."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1)
    came = range(fresh_attendees(attendees, history) + 1, attendees + 1)
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert isinstance(conn, psycopg.Connection)
        conn.autocommit = False  # one transaction: the SET LOCALs below hold for the load
        with conn.cursor() as cur:
            cur.execute("SET LOCAL statement_timeout = 0")
            # The rows are consistent by construction: skip the per-row foreign-key
            # checks where allowed (a superuser), which would dominate the load.
            cur.execute("SAVEPOINT replica")
            try:
                cur.execute("SET LOCAL session_replication_role = replica")
            except psycopg.errors.InsufficientPrivilege:
                cur.execute("ROLLBACK TO SAVEPOINT replica")
            cur.execute(
                "INSERT INTO conference (id, slug, name, timezone) VALUES (1, %s, 'Bench', 'UTC')",
                (CONFERENCE,),
            )
            cur.execute(
                "INSERT INTO ticket_type (id, conference_id, name, slug) "
                "VALUES (1, 1, 'Conference pass', 'general')"
            )
            cur.execute(
                "INSERT INTO addon (id, conference_id, name, slug) "
                "VALUES (1, 1, 'Lunch', 'lunch'), (2, 1, 'Meal voucher', 'voucher')"
            )
            cur.execute("INSERT INTO staff (id, name, active) VALUES (1, 'Bench', true)")
            people = range(1, attendees + 1)
            with cur.copy(
                "COPY person (id, username, first_name, last_name, email) FROM STDIN"
            ) as cp:
                for i in people:
                    cp.write_row((i, f"user{i}", "Ada", f"Lovelace {i}", f"user{i}@example.org"))
            with cur.copy(
                'COPY "order" (id, conference_id, person_id, reference, status) FROM STDIN'
            ) as cp:
                for i in people:
                    cp.write_row((i, 1, i, f"B{i:08d}", "paid"))
            with cur.copy(
                "COPY order_line_item (id, order_id, description, quantity, "
                "ticket_type_id, addon_id) FROM STDIN"
            ) as cp:
                for i in people:
                    ticket, lunch, voucher = line_ids(i)
                    cp.write_row((ticket, i, "Conference pass", 1, 1, None))
                    cp.write_row((lunch, i, "Lunch", 1, None, 1))
                    cp.write_row((voucher, i, "Meal voucher x3", 3, None, 2))
            with cur.copy(
                "COPY attendee (id, person_id, conference_id, order_id, access_code, "
                "checked_in_at, created_at, updated_at) FROM STDIN"
            ) as cp:
                for i in people:
                    checked_in = yesterday if i in came else None
                    cp.write_row((i, i, 1, i, access_code(i), checked_in, now, now))
            with cur.copy(
                "COPY check_in (client_id, attendee_id, conference_id, checked_in_at, "
                "staff_id, station, note) FROM STDIN"
            ) as cp:
                for i in came:
                    cp.write_row((uuid.uuid4(), i, 1, yesterday, 1, "Earlier", ""))
            with cur.copy(
                "COPY product_redemption (client_id, attendee_id, order_line_item_id, "
                "conference_id, redeemed_at, staff_id, station, note) FROM STDIN"
            ) as cp:
                for i in came:
                    cp.write_row((uuid.uuid4(), i, line_ids(i)[1], 1, yesterday, 1, "Earlier", ""))
            with cur.copy(
                "COPY scan_log (conference_id, attendee_id, scanned_at, station, "
                "staff_id, action, code, outcome, reason, message) FROM STDIN"
            ) as cp:
                for i in came:
                    code = access_code(i)
                    cp.write_row(
                        (1, i, yesterday, "Earlier", 1, "checkin", code, "accepted", "ok", "")
                    )
                    cp.write_row(
                        (1, i, yesterday, "Earlier", 1, "redeem", code, "accepted", "ok", "Lunch")
                    )
            for table in (
                "conference",
                "ticket_type",
                "addon",
                "staff",
                "person",
                "order",
                "order_line_item",
                "attendee",
            ):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                    f'(SELECT max(id) FROM "{table}"))'
                )
        conn.commit()
        conn.autocommit = True
        conn.execute("SET statement_timeout = 0")
        conn.execute("ANALYZE")
        conn.autocommit = False
    finally:
        raw.close()
    return time.perf_counter() - started
