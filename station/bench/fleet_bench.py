"""``station bench fleet``: many stations, each with its own connection, through PgBouncer.

    station bench fleet                       # 200 stations, 20 server connections
    station bench fleet --stations 50 --seconds 10 --processes 2

Seeds a conference in a throwaway schema (as ``station bench`` does), starts a real
PgBouncer in transaction pooling mode in front of the server (``station.bench.pgbouncer``:
a generated ini in a temporary folder, a free loopback port, ``--server-connections``
server connections at most), and runs ``--stations`` simulated stations as threads in
``--processes`` worker processes (one process cannot drive thousands of scans a second:
the GIL). Each station is what a real one is at the database: ``build_services`` with
``[database] pooler = "pgbouncer"``, its own engine and held connection, and every scan
through ``services.scans.scan(ctx, code, client_id=...)``; check-in desks, meal lines
(lunch) and doors, mixed. Three phases:

1. realistic: each station scans every 2 to 5 s (uniform, its own random stream);
2. burst: each station scans back to back, as fast as it can;
3. contended: every station becomes a meal line and they all race for the same few
   attendees' lunch (1 unit) and vouchers (3 units); the units redeemed are then counted
   in the database (SQL, not the stations' answers): any unit over a line's quantity is
   an oversell.

While the phases run, the benchmark samples PgBouncer's admin console (``SHOW POOLS``,
``SHOW SERVERS``) and ``pg_stat_activity`` for the connections used, the server's wait
events, and reads the CPU time of the station processes, PgBouncer and the server
processes behind it, to show where the time went. Prints figures; asserts nothing
(the test ``tests/pooler/test_fleet_bench.py`` runs it small and checks the report).

Extension points (issue #19): ``Periodic`` is a per-station extra call every N seconds
(station heartbeats), timed apart from the scans; ``DashboardProbe`` is a refresh run in
the benchmark's own process during each phase (the organisers' dashboard), reported in
its own section.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import queue
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

import psycopg
from sqlalchemy import Engine, text

from station import heap
from station.bench.pg_bench import DEFAULT_URL, cpu_probe, machine
from station.bench.pg_seed import (
    CONFERENCE,
    access_code,
    done_with_schemas,
    fresh_attendees,
    fresh_schema,
    line_ids,
    seed,
)
from station.bench.pgbouncer import (
    PGBOUNCER,
    Bouncer,
    PgBouncerUnavailable,
    admin_rows,
    running_pgbouncer,
)
from station.bootstrap import Services, build_services
from station.config import Settings
from station.db import DatabaseSettings, make_engine
from station.domain import Mode
from station.offline.settings import OfflineSettings
from station.services.errors import Refusal, StationError
from station.services.results import StationContext

# The station mix, in turn: two check-in desks, two meal lines, one door.
MIX: tuple[tuple[Mode, str | None], ...] = (
    (Mode.CHECKIN, None),
    (Mode.MEAL, "lunch"),
    (Mode.DOOR, "ticket:general"),
    (Mode.CHECKIN, None),
    (Mode.MEAL, "lunch"),
)
CONTENDED_PRODUCTS = (("lunch", 1), ("voucher", 3))  # (add-on, units each attendee bought)
TARGET_P95_MS = 25.0
WORKER_WAIT_S = 1800.0  # a worker left waiting this long for the next phase gives up
TARGET_BURST_RATE = 2000.0


# --- extension points -----------------------------------------------------------------


@dataclass(frozen=True)
class Periodic:
    """An extra call each station makes every ``every_s`` seconds, besides its scans.

    ``make`` runs once per station, in its worker process, with the station's services
    and plan, and returns the call (for example a heartbeat through
    ``station.services.health``). Its latencies and errors are reported under ``label``,
    apart from the scans'. The first call comes at a random point of the first period, so
    the stations do not all call at once.
    """

    label: str
    every_s: float
    make: Callable[[Services, StationPlan], Callable[[], None]]


@dataclass(frozen=True)
class DashboardProbe:
    """An organisers' view refreshed every ``every_s`` seconds during each phase, in the
    benchmark's own process: ``make`` gets PgBouncer's database settings (the schema is
    on PgBouncer's side) and returns ``(refresh, close)``; each refresh is timed."""

    label: str
    every_s: float
    make: Callable[[DatabaseSettings], tuple[Callable[[], None], Callable[[], None]]]


def make_heartbeat(services: Services, plan: StationPlan) -> Callable[[], None]:
    """A station's heartbeat, as the app sends it every ``heartbeat_s`` (one statement)."""
    from station import __version__
    from station.health import Heartbeat, WindowSummary

    started = datetime.now(UTC)

    def beat() -> None:
        services.health.beat(
            CONFERENCE,
            Heartbeat(
                station=plan.name,
                mode=str(plan.mode),
                product=plan.product,
                operator="Bench",
                version=__version__,
                online=True,
                backlog=None,
                window=WindowSummary(20, 1, 12.0, 25.0, datetime.now(UTC)),
                every_s=HEARTBEAT_S,
                started_at=started,
            ),
        )

    return beat


def make_dashboard_refresh(
    database: DatabaseSettings,
) -> tuple[Callable[[], None], Callable[[], None]]:
    """The dashboard's regular read (every station's heartbeat row and the last minutes of
    scan counts), through PgBouncer like the stations. Its totals, read every 10 s, are
    measured by ``station bench dashboard``."""
    from station.services.dashboard import DashboardFeed

    engine = make_engine(database)
    feed = DashboardFeed(engine, CONFERENCE)

    def refresh() -> None:
        feed.stations()

    return refresh, engine.dispose


HEARTBEAT_S = 5.0
PERIODIC: tuple[Periodic, ...] = (Periodic("heartbeat", HEARTBEAT_S, make_heartbeat),)
DASHBOARD: DashboardProbe | None = DashboardProbe("dashboard refresh", 1.0, make_dashboard_refresh)


# --- what each station does -----------------------------------------------------------


@dataclass(frozen=True)
class StationPlan:
    index: int
    name: str
    mode: Mode
    product: str | None
    codes: tuple[str, ...]  # its own attendees for the realistic and burst phases
    contended_product: str
    contended_codes: tuple[str, ...]  # the shared attendees, in this station's order
    seed: int


@dataclass(frozen=True)
class Phase:
    name: str
    seconds: float | None  # None: until every station has scanned its list
    paced: bool  # True: one scan every 2 to 5 s; False: back to back
    contended: bool = False


@dataclass
class Tally:
    """What stations measured in one phase; added up across threads and processes."""

    latencies: list[float] = field(default_factory=list)  # seconds, one per scan
    accepted: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    accepted_by_product: Counter[str] = field(default_factory=Counter)
    late: int = 0  # paced scans that started over 1 s after their time
    rescans: int = 0  # scans of an attendee the station had scanned already (list wrapped)
    periodic: dict[str, list[float]] = field(default_factory=dict)
    periodic_errors: Counter[str] = field(default_factory=Counter)
    first_start: float = float("inf")
    last_end: float = 0.0

    def add(self, other: Tally) -> None:
        self.latencies += other.latencies
        self.accepted += other.accepted
        self.refused.update(other.refused)
        self.errors.update(other.errors)
        self.accepted_by_product.update(other.accepted_by_product)
        self.late += other.late
        self.rescans += other.rescans
        for label, values in other.periodic.items():
            self.periodic.setdefault(label, []).extend(values)
        self.periodic_errors.update(other.periodic_errors)
        self.first_start = min(self.first_start, other.first_start)
        self.last_end = max(self.last_end, other.last_end)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile in milliseconds (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000


def error_kind(exc: BaseException) -> str:
    name = type(exc).__name__
    if isinstance(exc, StationError) and not isinstance(exc, Refusal):
        return f"{name}: {str(exc).splitlines()[0][:80]}" if str(exc) else name
    return name


class Station:
    """One simulated station: its own services, engine and connection through PgBouncer."""

    def __init__(self, plan: StationPlan, database: DatabaseSettings, periodic: Sequence[Periodic]):
        self.plan = plan
        settings = Settings(
            database=database,
            conference=CONFERENCE,
            station=plan.name,
            mode=plan.mode,
            product=plan.product,
            # Offline mode's snapshot sync and polling are not what this measures.
            offline=OfflineSettings(enabled=False),
        )
        self.settings = settings
        self.ctx = StationContext(CONFERENCE, plan.name, 1)
        self.random = random.Random(plan.seed)
        self.next_code = 0
        self.services: Services | None = None
        self.contended: Services | None = None
        self.periodic_specs = tuple(periodic)
        self.periodic_calls: list[tuple[Periodic, Callable[[], None]]] = []

    def connect(self) -> None:
        """Build the services as a station does and open the connection (one look-up)."""
        services = build_services(self.settings)
        self.services = services
        # The contended phase turns every station into a meal line: the same services
        # for another product, on the same engine (so the same held connection).
        self.contended = build_services(
            replace(self.settings, mode=Mode.MEAL, product=self.plan.contended_product),
            engine=services.engine,
        )
        services.scans.station_info(self.ctx)
        self.periodic_calls = [(p, p.make(services, self.plan)) for p in self.periodic_specs]

    def close(self) -> None:
        if self.services is not None:
            self.services.dispose()

    def codes(self) -> Iterator[tuple[str, bool]]:
        """(code, rescan): its own attendees in turn, then again (refusals) if it runs out."""
        codes = self.plan.codes
        while True:
            index = self.next_code
            self.next_code += 1
            yield codes[index % len(codes)], index >= len(codes)

    def run(self, phase: Phase, start: float, end: float | None) -> Tally:
        assert self.services is not None and self.contended is not None
        tally = Tally()
        scans = self.contended.scans if phase.contended else self.services.scans
        if phase.contended:
            todo: Iterator[tuple[str, bool]] = ((c, False) for c in self.plan.contended_codes)
        else:
            todo = self.codes()
        # The periodic calls' first time: a random point of their first period.
        due = [start + self.random.uniform(0, p.every_s) for p, _ in self.periodic_calls]
        next_scan = start + (self.random.uniform(0, 5.0) if phase.paced else 0.0)
        while True:
            now = time.monotonic()
            if end is not None and now >= end:
                break
            for i, (spec, call) in enumerate(self.periodic_calls):
                if now >= due[i]:
                    due[i] += spec.every_s
                    t0 = time.perf_counter()
                    try:
                        call()
                    except Exception as exc:  # counted and printed, not hidden
                        tally.periodic_errors[f"{spec.label}: {error_kind(exc)}"] += 1
                    tally.periodic.setdefault(spec.label, []).append(time.perf_counter() - t0)
            now = time.monotonic()
            if now < next_scan:
                wake = min([next_scan, *due]) if due else next_scan
                if end is not None:
                    wake = min(wake, end)
                time.sleep(max(0.0, wake - now))
                continue
            if phase.paced and now - next_scan > 1.0:
                tally.late += 1
            try:
                code, rescan = next(todo)
            except StopIteration:
                break
            tally.rescans += rescan
            client_id = uuid.uuid4()
            t0 = time.perf_counter()
            tally.first_start = min(tally.first_start, time.monotonic())
            try:
                scans.scan(self.ctx, code, client_id=client_id)
            except Refusal as exc:
                tally.refused[exc.reason.value] += 1
            except Exception as exc:  # DatabaseUnavailable and the like: counted by kind
                tally.errors[error_kind(exc)] += 1
            else:
                tally.accepted += 1
                if phase.contended:
                    tally.accepted_by_product[self.plan.contended_product] += 1
            tally.latencies.append(time.perf_counter() - t0)
            tally.last_end = time.monotonic()
            if phase.paced:
                next_scan += self.random.uniform(2.0, 5.0)
        return tally


def _run_threads(stations: list[Station], job: Callable[[Station], Tally | None]) -> Tally:
    total = Tally()
    lock = threading.Lock()

    def run(station: Station) -> None:
        try:
            got = job(station)
        except Exception as exc:
            got = Tally()
            got.errors[f"station failed: {error_kind(exc)}: {str(exc)[:120]}"] += 1
        if got is not None:
            with lock:
                total.add(got)

    threads = [threading.Thread(target=run, args=(s,), daemon=True) for s in stations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return total


def _connect(station: Station) -> None:
    station.connect()


def _worker(
    plans: list[StationPlan],
    database: DatabaseSettings,
    phases: list[Phase],
    periodic: Sequence[Periodic],
    barrier: Any,
    start_at: Any,
    results: Any,
) -> None:
    stations = [Station(plan, database, periodic) for plan in plans]
    results.put(("connected", os.getpid(), _run_threads(stations, _tally_of(_connect))))
    heap.settle()  # as a station does once it is ready
    for phase in phases:
        barrier.wait(timeout=WORKER_WAIT_S)
        start = start_at.value
        end = None if phase.seconds is None else start + phase.seconds
        delay = start - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        tally = _run_threads(stations, partial(Station.run, phase=phase, start=start, end=end))
        results.put((phase.name, os.getpid(), tally))
    barrier.wait(timeout=WORKER_WAIT_S)
    for station in stations:
        with contextlib.suppress(Exception):
            station.close()


def _tally_of(job: Callable[[Station], None]) -> Callable[[Station], Tally]:
    def run(station: Station) -> Tally:
        tally = Tally()
        try:
            job(station)
        except Exception as exc:
            tally.errors[f"connect: {error_kind(exc)}: {str(exc)[:120]}"] += 1
        return tally

    return run


# --- what the benchmark watches while the stations scan --------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float, float]:
    """(busy, steal, total) CPU seconds of the whole machine so far, all cores (/proc/stat).

    Steal is time the hypervisor gave another guest while this one wanted the CPU (a
    shared virtual machine); it counts as busy here.
    """
    with open("/proc/stat", encoding="ascii") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    steal = values[7] if len(values) > 7 else 0
    total = sum(values[:8])  # guest time is already in user
    return (total - idle) / tick, steal / tick, total / tick


@dataclass
class Watch:
    """What the sampler saw during one phase."""

    server_max: int = 0  # SHOW POOLS: server connections of the station pool
    servers_listed_max: int = 0  # SHOW SERVERS: rows
    activity_max: int = 0  # pg_stat_activity rows with the fleet's application_name
    clients_max: int = 0  # SHOW POOLS: client connections (active + waiting + idle)
    waiting_max: int = 0  # SHOW POOLS: clients waiting for a server connection
    samples: int = 0
    waits: Counter[str] = field(default_factory=Counter)  # active backends by wait event
    backend_pids: set[int] = field(default_factory=set)
    sample_errors: Counter[str] = field(default_factory=Counter)


class Sampler:
    """Samples PgBouncer's console and pg_stat_activity every ``every_s`` in a thread."""

    def __init__(self, bouncer: Bouncer, direct: DatabaseSettings, app: str, every_s: float):
        self.admin = psycopg.connect(bouncer.admin_url, autocommit=True)
        self.direct = psycopg.connect(
            direct.url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
        )
        self.app = app
        self.every_s = every_s
        self.watch = Watch()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def restart(self) -> Watch:
        """The watch so far, and a new one from now."""
        with self._lock:
            done, self.watch = self.watch, Watch()
        return done

    def stats(self) -> dict[str, int]:
        with self._lock:
            rows = admin_rows(self.admin, "SHOW STATS")
        row = next((r for r in rows if r["database"] == "station"), None)
        return {k: int(v) for k, v in row.items() if k != "database" and v} if row else {}

    def server_pids(self) -> set[int]:
        with self._lock:
            rows = admin_rows(self.admin, "SHOW SERVERS")
        return {int(r["remote_pid"]) for r in rows if r.get("remote_pid") not in (None, "0")}

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self._sample()
            except Exception as exc:  # the sampler must not stop the run; shown in the report
                with self._lock:
                    self.watch.sample_errors[error_kind(exc)] += 1

    def _sample(self) -> None:
        with self._lock:
            pools = admin_rows(self.admin, "SHOW POOLS")
            servers = admin_rows(self.admin, "SHOW SERVERS")
            activity = self.direct.execute(
                "SELECT pid, state, wait_event_type, wait_event, "
                "substring(query from 'station_[a-z_]+\\(') FROM pg_stat_activity "
                "WHERE application_name = %s AND backend_type = 'client backend'",
                (self.app,),
            ).fetchall()
            watch = self.watch
            pool = [p for p in pools if p["database"] == "station"]
            server = sum(
                int(p[k] or 0)
                for p in pool
                for k in ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login")
            )
            clients = sum(int(p[k] or 0) for p in pool for k in ("cl_active", "cl_waiting"))
            clients += sum(int(p.get("cl_idle") or 0) for p in pool)  # not in SHOW POOLS of 1.18
            watch.server_max = max(watch.server_max, server)
            watch.clients_max = max(watch.clients_max, clients)
            watch.waiting_max = max(watch.waiting_max, sum(int(p["cl_waiting"]) for p in pool))
            station_servers = [s for s in servers if s["database"] == "station"]
            watch.servers_listed_max = max(watch.servers_listed_max, len(station_servers))
            watch.activity_max = max(watch.activity_max, len(activity))
            for s in station_servers:
                if s.get("remote_pid") not in (None, "0"):
                    watch.backend_pids.add(int(s["remote_pid"]))
            watch.samples += 1
            for pid, state, kind, event, function in activity:
                watch.backend_pids.add(int(pid))
                if state == "active":
                    where = f" in {function.rstrip('(')}" if kind == "Lock" and function else ""
                    watch.waits[f"{kind}:{event}{where}" if kind else "on CPU (no wait event)"] += 1
                else:
                    watch.waits[f"({state})"] += 1

    def clients(self) -> int:
        with self._lock:
            rows = admin_rows(self.admin, "SHOW CLIENTS")
        return sum(1 for r in rows if r["database"] == "station")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.admin.close()
        self.direct.close()


class DashboardRunner:
    """Runs a DashboardProbe's refresh every ``every_s`` while a phase runs."""

    def __init__(self, probe: DashboardProbe, database: DatabaseSettings) -> None:
        self.probe = probe
        self.refresh, self.close = probe.make(database)
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.latencies, self.errors, self._stop = [], Counter(), threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.probe.every_s):
            t0 = time.perf_counter()
            try:
                self.refresh()
            except Exception as exc:
                self.errors[error_kind(exc)] += 1
            self.latencies.append(time.perf_counter() - t0)


# --- the run ----------------------------------------------------------------------------


@dataclass
class PhaseReport:
    phase: Phase
    stations: int
    tally: Tally
    wall: float
    watch: Watch
    cpu: dict[str, float]  # cores used on average: clients, pgbouncer, postgres, rest, machine
    bouncer: dict[str, float]  # from SHOW STATS deltas
    window: float = 0.0  # seconds the CPU figures cover (the phase and its start and end)
    dashboard: list[float] | None = None
    dashboard_errors: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return len(self.tally.latencies) / self.wall if self.wall else 0.0


@dataclass
class FleetOptions:
    url: str = DEFAULT_URL
    stations: int = 200
    processes: int = 4
    seconds: float = 30.0
    burst_seconds: float = 15.0
    server_connections: int = 20
    # For comparison only: the stations connect straight to PostgreSQL (prepared
    # statements, start-up settings), not through PgBouncer; the pool limit does not apply.
    direct: bool = False
    attendees: int = 60_000
    contended_attendees: int = 20
    sample_every_s: float = 0.1
    keep: bool = False
    # pgbouncer.ini settings added after the tested ini's (later lines win), for levers.
    pgbouncer_settings: tuple[tuple[str, str], ...] = ()


@dataclass
class FleetReport:
    options: FleetOptions
    machine: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    probe_before: float
    probe_after: float
    connected: Tally
    phases: list[PhaseReport]
    contended: dict[str, tuple[int, int, int]]  # product -> (redeemed, bought, oversold)
    client_connections: int
    pgbouncer_version: str
    ini: str

    @property
    def oversold(self) -> int:
        return sum(over for _, _, over in self.contended.values())

    @property
    def server_max(self) -> int:
        return max(
            max(p.watch.server_max, p.watch.servers_listed_max, p.watch.activity_max)
            for p in self.phases
        )

    @property
    def errors(self) -> Counter[str]:
        total = Counter(self.connected.errors)
        for p in self.phases:
            total.update(p.tally.errors)
            total.update(p.tally.periodic_errors)
            total.update(p.dashboard_errors)
        return total


def plans(options: FleetOptions, first_free: int, contended: list[int]) -> list[StationPlan]:
    """Each station's mode and attendees: its own slice of the fresh attendees, and the
    contended ones, starting at a different one per station so all of them race."""
    per = (first_free - 1) // options.stations
    if per < 1:
        raise SystemExit(f"--attendees {options.attendees} is too few for the stations")
    made = []
    for i in range(options.stations):
        mode, product = MIX[i % len(MIX)]
        own = range(1 + i * per, 1 + (i + 1) * per)
        rotation = i % len(contended)
        order = contended[rotation:] + contended[:rotation]
        contended_product = CONTENDED_PRODUCTS[i % len(CONTENDED_PRODUCTS)][0]
        made.append(
            StationPlan(
                index=i,
                name=f"Fleet {mode.value} {i + 1:03d}",
                mode=mode,
                product=product,
                codes=tuple(access_code(n) for n in own),
                contended_product=contended_product,
                contended_codes=tuple(access_code(n) for n in order),
                seed=i,
            )
        )
    return made


def count_contended(engine: Engine, attendees: Sequence[int]) -> dict[str, tuple[int, int, int]]:
    """Per contended product: (units redeemed, units bought, units oversold), counted in SQL."""
    counted = {}
    for product, _units in CONTENDED_PRODUCTS:
        position = 1 if product == "lunch" else 2
        lines = [line_ids(i)[position] for i in attendees]
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT li.quantity, count(pr.id) AS used FROM order_line_item li "
                    "LEFT JOIN product_redemption pr ON pr.order_line_item_id = li.id "
                    "AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'redeem' "
                    "AND v.record_id = pr.id) "
                    "WHERE li.id = ANY(:ids) GROUP BY li.id, li.quantity"
                ),
                {"ids": lines},
            ).all()
        counted[product] = (
            sum(r.used for r in rows),
            sum(r.quantity for r in rows),
            sum(max(0, r.used - r.quantity) for r in rows),
        )
    return counted


def run_fleet(
    options: FleetOptions,
    *,
    periodic: Sequence[Periodic] = PERIODIC,
    dashboard: DashboardProbe | None = DASHBOARD,
    out: Callable[[str], None] = print,
) -> FleetReport:
    schema = f"station_bench_fleet_{uuid.uuid4().hex[:6]}"
    app = f"station fleet {schema[-6:]}"
    load_before = os.getloadavg()
    try:
        settings = fresh_schema(options.url, schema)
        engine = make_engine(settings)
        described = machine(engine)
        out(f"machine: {described}")
        took = seed(engine, options.attendees)
        free = fresh_attendees(options.attendees)
        contended = list(range(free - options.contended_attendees + 1, free + 1))
        station_plans = plans(options, contended[0], contended)
        out(
            f"seeded {options.attendees:,} attendees in {took:.1f} s into schema {schema}; "
            f"{len(station_plans[0].codes)} fresh attendees per station"
        )
        # A station opens two client connections: the scans' held one, and the pool's
        # (sign-in's station_info reads in a session while the held one is opened).
        extra = (
            f"max_client_conn = {2 * options.stations + 20}\n"
            f"max_db_connections = {options.server_connections}\n"
            "admin_users = {user}\n"
        ) + "".join(f"{key} = {value}\n" for key, value in options.pgbouncer_settings)
        with running_pgbouncer(
            options.url,
            schema,
            pool_size=options.server_connections,
            extra=extra.replace("{user}", engine.url.username or "postgres"),
        ) as bouncer:
            report = _run(
                options,
                bouncer,
                settings,
                app,
                station_plans,
                periodic,
                dashboard,
                out,
            )
        report.contended = count_contended(engine, contended)
        engine.dispose()
        report.machine = described
        report.load_before = load_before
        report.load_after = os.getloadavg()
        return report
    finally:
        done_with_schemas(options.url, [schema], keep=options.keep)


def _run(
    options: FleetOptions,
    bouncer: Bouncer,
    direct: DatabaseSettings,
    app: str,
    station_plans: list[StationPlan],
    periodic: Sequence[Periodic],
    dashboard: DashboardProbe | None,
    out: Callable[[str], None],
) -> FleetReport:
    database = bouncer.settings(application_name=app)
    if options.direct:
        database = replace(direct, application_name=app)
    phases = [
        Phase("realistic", options.seconds, paced=True),
        Phase("burst", options.burst_seconds, paced=False),
        Phase("contended", None, paced=False, contended=True),
    ]
    processes = max(1, min(options.processes, options.stations))
    groups = [station_plans[i::processes] for i in range(processes)]
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(processes + 1)
    start_at = ctx.Value("d", 0.0)
    results = ctx.Queue()
    probe_before = cpu_probe()
    workers = [
        ctx.Process(
            target=_worker,
            args=(group, database, phases, periodic, barrier, start_at, results),
            daemon=True,
        )
        for group in groups
    ]
    for worker in workers:
        worker.start()
    try:
        connected = _collect(results, workers, 300)
        sampler = Sampler(bouncer, direct, app, options.sample_every_s)
        out(
            f"{options.stations} stations connected through PgBouncer on port {bouncer.port} "
            f"({processes} processes); {len(connected.errors)} kinds of connect errors"
        )
        board = DashboardRunner(dashboard, bouncer.settings()) if dashboard else None
        reports = []
        client_connections = sampler.clients()
        for phase in phases:
            sampler.restart()
            stats_before = sampler.stats()
            pids = [bouncer.pid, *(w.pid for w in workers if w.pid)]
            backends = sampler.server_pids()
            cpu_before = {pid: cpu_seconds(pid) for pid in (*pids, *backends)}
            busy_before, steal_before, total_before = machine_busy()
            window_start = time.monotonic()
            start_at.value = time.monotonic() + 0.2
            if board:
                board.start()
            barrier.wait(timeout=120)
            tally = _collect(results, workers, (phase.seconds or 0) + 600)
            if board:
                board.stop()
            busy_after, steal_after, total_after = machine_busy()
            window = time.monotonic() - window_start  # what the CPU figures cover
            watch = sampler.restart()
            backends |= watch.backend_pids | sampler.server_pids()
            cpu_after = {pid: cpu_seconds(pid) for pid in (*pids, *backends)}
            stats_after = sampler.stats()
            wall = max(tally.last_end, start_at.value + (phase.seconds or 0)) - start_at.value
            used = {pid: cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after}
            clients = sum(used[w.pid] for w in workers if w.pid)
            pgbouncer = used[bouncer.pid]
            postgres = sum(used[pid] for pid in backends if pid in used)
            machine_cores = (busy_after - busy_before) / window
            cpu = {
                "stations": clients / window,
                "pgbouncer": pgbouncer / window,
                "postgres": postgres / window,
                "machine": machine_cores,
                "cores": (total_after - total_before) / window,
                "steal": (steal_after - steal_before) / window,
            }
            ours = cpu["stations"] + cpu["pgbouncer"] + cpu["postgres"]
            cpu["rest"] = max(0.0, machine_cores - ours - cpu["steal"])
            delta = {k: stats_after.get(k, 0) - stats_before.get(k, 0) for k in stats_after}
            xacts = delta.get("total_xact_count", 0) or 1
            bouncer_figures = {
                "transactions": float(delta.get("total_xact_count", 0)),
                "xact_ms": delta.get("total_xact_time", 0) / xacts / 1000,
                "wait_ms": delta.get("total_wait_time", 0) / xacts / 1000,
            }
            reports.append(
                PhaseReport(
                    phase,
                    len(station_plans),
                    tally,
                    wall,
                    watch,
                    cpu,
                    bouncer_figures,
                    window=window,
                    dashboard=list(board.latencies) if board else None,
                    dashboard_errors=Counter(board.errors) if board else Counter(),
                )
            )
            out(f"  {phase.name}: {len(tally.latencies)} scans in {wall:.1f} s")
        barrier.wait(timeout=120)
        for worker in workers:
            worker.join(60)
        sampler.close()
        if board:
            board.close()
        version = _pgbouncer_version()
        return FleetReport(
            options=options,
            machine="",
            load_before=(0.0, 0.0, 0.0),
            load_after=(0.0, 0.0, 0.0),
            probe_before=probe_before,
            probe_after=cpu_probe(),
            connected=connected,
            phases=reports,
            contended={},
            client_connections=client_connections,
            pgbouncer_version=version,
            ini=bouncer.ini,
        )
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
                worker.join()


def _collect(results: Any, workers: list[Any], timeout_s: float) -> Tally:
    """One tally from each worker; a worker that died or a phase that hangs ends the run."""
    total = Tally()
    deadline = time.monotonic() + timeout_s
    waiting = len(workers)
    while waiting:
        try:
            _, _, got = results.get(timeout=1.0)
        except queue.Empty:
            dead = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"a station process died (exit code {dead[0]})") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer from the stations in {timeout_s:.0f} s") from None
            continue
        total.add(got)
        waiting -= 1
    return total


def _pgbouncer_version() -> str:
    try:
        done = subprocess.run(
            [str(PGBOUNCER), "--version"], capture_output=True, text=True, timeout=10
        )
        return done.stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "PgBouncer (version unknown)"


# --- printing ---------------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def print_report(report: FleetReport, out: Callable[[str], None] = print) -> None:
    o = report.options
    out("")
    out(f"machine: {report.machine}")
    out(
        f"{report.pgbouncer_version}, transaction pooling, at most {o.server_connections} "
        f"server connections; {o.stations} stations in {o.processes} processes, "
        "one connection each, offline mode off"
    )
    if o.direct:
        out("COMPARISON RUN: the stations connected straight to PostgreSQL (--direct), "
            "not through PgBouncer; its server connection limit did not apply")  # fmt: skip
    if o.pgbouncer_settings:
        changed = ", ".join(f"{k} = {v}" for k, v in o.pgbouncer_settings)
        out(f"pgbouncer.ini changed from the tested one (README): {changed}")
    out(
        "load average before / after: "
        f"{' '.join(f'{x:.2f}' for x in report.load_before)} / "
        f"{' '.join(f'{x:.2f}' for x in report.load_after)}; "
        f"CPU probe before / after {report.probe_before:.0f} / {report.probe_after:.0f} ms"
    )
    out("")
    head = (
        f"{'phase':<11}{'scans':>7}{'secs':>6}{'scans/s':>9}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'p99 ms':>8}{'max ms':>8}{'accepted':>9}{'refused':>8}{'errors':>7}"
    )
    out(head)
    for p in report.phases:
        t = p.tally
        out(
            f"{p.phase.name:<11}{len(t.latencies):>7}{p.wall:>6.1f}{p.rate:>9.0f}"
            f"{percentile(t.latencies, 50):>8.2f}{percentile(t.latencies, 95):>8.2f}"
            f"{percentile(t.latencies, 99):>8.2f}{percentile(t.latencies, 100):>8.1f}"
            f"{t.accepted:>9}{sum(t.refused.values()):>8}{sum(t.errors.values()):>7}"
        )
    for p in report.phases:
        notes = []
        if p.tally.refused:
            notes.append("refused " + ", ".join(f"{k} {v}" for k, v in p.tally.refused.items()))
        if p.tally.rescans:
            notes.append(f"{p.tally.rescans} rescans (a station ran out of fresh attendees)")
        if p.tally.late:
            notes.append(f"{p.tally.late} paced scans started over 1 s late")
        if notes:
            out(f"  {p.phase.name}: {'; '.join(notes)}")

    out("")
    out("Where the time went (CPU in cores, averaged over the phase; the machine has "
        f"{report.phases[0].cpu['cores']:.0f})")  # fmt: skip
    out(
        f"{'phase':<11}{'stations':>9}{'pgbouncer':>10}{'postgres':>9}{'rest':>6}{'steal':>6}"
        f"{'busy':>6}"
        f"{'CPU ms/scan: st':>17}{'pgb':>6}{'pg':>6}{'xact ms':>9}{'wait ms':>9}"
    )
    for p in report.phases:
        c, b = p.cpu, p.bouncer
        per_scan = p.window / max(1, len(p.tally.latencies)) * 1000  # CPU cores -> ms/scan
        out(
            f"{p.phase.name:<11}{c['stations']:>9.2f}{c['pgbouncer']:>10.2f}{c['postgres']:>9.2f}"
            f"{c['rest']:>6.2f}{c['steal']:>6.2f}{c['machine']:>6.2f}"
            f"{c['stations'] * per_scan:>17.2f}"
            f"{c['pgbouncer'] * per_scan:>6.2f}{c['postgres'] * per_scan:>6.2f}"
            f"{b['xact_ms']:>9.2f}{b['wait_ms']:>9.2f}"
        )
    out(
        "  stations: the worker processes (services, psycopg, Python); postgres: the server "
        "processes behind PgBouncer; rest: everything else on the machine (other work, "
        "PostgreSQL's WAL writer, the sampler); steal: CPU the hypervisor gave to other "
        "guests; busy: all of it; CPU ms/scan: each one's CPU per scan; "
        "xact ms: PgBouncer's mean time per transaction (from the client's query, its wait "
        "for a server connection included); wait ms: mean time a client waited for one"
    )
    for p in report.phases:
        w = p.watch
        total = sum(w.waits.values()) or 1
        top = ", ".join(f"{k} {v / total:.0%}" for k, v in w.waits.most_common(5))
        out(f"  {p.phase.name} server connections sampled ({w.samples} samples): {top}")

    out("")
    out("Connections")
    for p in report.phases:
        w = p.watch
        out(
            f"  {p.phase.name:<10} server connections max: {w.server_max} (SHOW POOLS), "
            f"{w.servers_listed_max} (SHOW SERVERS), {w.activity_max} (pg_stat_activity); "
            f"clients waiting max {w.waiting_max}"
        )
    out(f"  client connections to PgBouncer (SHOW CLIENTS, after connecting): "
        f"{report.client_connections}")  # fmt: skip

    out("")
    out("Contended: every station a meal line, all on the same attendees (counted in SQL)")
    for product, (redeemed, bought, over) in report.contended.items():
        out(f"  {product:<8} {redeemed:>5} units redeemed of {bought:>5} bought, oversold {over}")
    answered = report.phases[-1].tally.accepted_by_product
    out(f"  the stations were told 'accepted' {sum(answered.values())} times "
        f"({', '.join(f'{k} {v}' for k, v in sorted(answered.items()))})")  # fmt: skip

    out("")
    out("Periodic station calls (issue #19: heartbeats)")
    shown = False
    for p in report.phases:
        for label, values in p.tally.periodic.items():
            shown = True
            out(
                f"  {p.phase.name:<10} {label}: {len(values)} calls, p50 "
                f"{percentile(values, 50):.2f} ms, p95 {percentile(values, 95):.2f} ms"
            )
    if not shown:
        out("  none configured (fleet_bench.PERIODIC)")
    out("Dashboard refresh at this many stations (issue #19: station dashboard)")
    if all(p.dashboard is None for p in report.phases):
        out("  not measured: no dashboard yet (fleet_bench.DASHBOARD)")
    for p in report.phases:
        if p.dashboard is not None:
            out(
                f"  {p.phase.name:<10} {len(p.dashboard)} refreshes, p50 "
                f"{percentile(p.dashboard, 50):.1f} ms, p95 {percentile(p.dashboard, 95):.1f} ms, "
                f"max {percentile(p.dashboard, 100):.1f} ms"
            )

    out("")
    errors = report.errors
    sampling = Counter[str]()
    for p in report.phases:
        sampling.update(p.watch.sample_errors)
    if errors:
        out(f"ERRORS: {sum(errors.values())}")
        for kind, n in errors.most_common():
            out(f"  {n:>6}  {kind}")
    else:
        out("errors: none (no scan raised anything but a refusal)")
    if sampling:
        out(f"sampler errors (not scans): {dict(sampling)}")

    realistic, burst = report.phases[0], report.phases[1]
    p95 = percentile(realistic.tally.latencies, 95)
    out("")
    out("Targets")
    out(f"  realistic p95 <= {TARGET_P95_MS:g} ms: {p95:.2f} ms, {verdict(p95 <= TARGET_P95_MS)}")
    out(
        f"  burst >= {TARGET_BURST_RATE:,.0f} scans/s: {burst.rate:,.0f}/s, "
        f"{verdict(burst.rate >= TARGET_BURST_RATE)}"
    )
    out(f"  0 oversells: {report.oversold}, {verdict(report.oversold == 0)}")
    if o.direct:
        out(f"  server connections: {report.server_max} (--direct: no pooler, no limit)")
    else:
        out(
            f"  <= {o.server_connections} server connections: {report.server_max}, "
            f"{verdict(report.server_max <= o.server_connections)}"
        )
    out(f"  no errors: {sum(errors.values())}, {verdict(not errors)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="station bench fleet", description=__doc__.split("\n\n")[0]
    )
    defaults = FleetOptions()
    parser.add_argument(
        "--url",
        default=os.environ.get("STATION_BENCH_DATABASE_URL", DEFAULT_URL),
        help=f"PostgreSQL server to use (default $STATION_BENCH_DATABASE_URL or {DEFAULT_URL})",
    )
    parser.add_argument(
        "--stations",
        type=int,
        default=defaults.stations,
        help="simulated stations, each with its own engine and connections (200)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=defaults.processes,
        help=f"worker processes the stations are spread over, as threads ({defaults.processes})",
    )
    parser.add_argument(
        "--seconds", type=float, default=defaults.seconds, help="realistic phase (30)"
    )
    parser.add_argument(
        "--burst-seconds",
        type=float,
        default=None,
        help="burst phase (15, or --seconds if shorter)",
    )
    parser.add_argument(
        "--server-connections",
        type=int,
        default=defaults.server_connections,
        help="PgBouncer's pool_size and max_db_connections (20)",
    )
    parser.add_argument(
        "--attendees", type=int, default=defaults.attendees, help="conference size (60,000)"
    )
    parser.add_argument(
        "--contended-attendees",
        type=int,
        default=defaults.contended_attendees,
        help="attendees every station races for in the contended phase (20)",
    )
    parser.add_argument(
        "--pgbouncer-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a pgbouncer.ini setting added after the tested ini's (repeatable), e.g. "
        "server_check_delay=30",
    )
    parser.add_argument(
        "--direct",
        action="store_true",
        help="for comparison: stations connect straight to PostgreSQL, not through PgBouncer "
        "(prepared statements; two connections per station count against max_connections)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark schema")
    args = parser.parse_args(argv)
    changed = []
    for item in args.pgbouncer_set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier() or "\n" in value:
            parser.error(f"--pgbouncer-set wants KEY=VALUE, got {item!r}")
        changed.append((key.strip(), value.strip()))
    burst = args.burst_seconds
    if burst is None:
        burst = min(defaults.burst_seconds, args.seconds)
    options = FleetOptions(
        url=args.url,
        stations=args.stations,
        processes=args.processes,
        seconds=args.seconds,
        burst_seconds=burst,
        server_connections=args.server_connections,
        attendees=args.attendees,
        contended_attendees=args.contended_attendees,
        keep=args.keep,
        pgbouncer_settings=tuple(changed),
        direct=args.direct,
    )
    started = time.perf_counter()
    try:
        report = run_fleet(options)
    except (PgBouncerUnavailable, RuntimeError) as exc:
        print(f"station bench fleet: {exc}", file=sys.stderr)
        return 2
    print_report(report)
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s "
          f"({time.strftime('%Y-%m-%d %H:%M')})")  # fmt: skip
    met = report.oversold == 0 and (
        options.direct or report.server_max <= options.server_connections
    )
    return 0 if met and not report.errors else 1


if __name__ == "__main__":
    sys.exit(main())
