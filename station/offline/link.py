"""Online or offline: who decides a scan, and when the station switches.

``FailoverScanService`` stands where the UI's ``ScanService`` stands. Online,
a scan goes to the database with a deadline (``threshold_s``, 2 s by
default); no answer in time, or a failed connection, switches the station to
OFFLINE and the same scan, with the same client id, is decided from the
snapshot and journaled. Offline, scans go straight to the offline store. The
``OfflineKeeper`` thread probes the database while offline, and once it
answers switches back, replays the journal and keeps the snapshot current
(LISTEN/NOTIFY on PostgreSQL tells it of changes at once).

A scan abandoned at the deadline may still reach the database later: its
client id is then recorded online and in the journal, and replay finds the
online record instead of writing a second one.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from station.db import listen_connection
from station.offline.journal import Journal
from station.offline.replay import Replayer
from station.offline.sync import SnapshotSync
from station.rulebook.event_rules import Direction
from station.services.db_errors import database_errors
from station.services.errors import DatabaseBusy, DatabaseUnavailable, StationError
from station.services.results import ScanAnswer, StationContext, StationInfo
from station.services.scan import ScanService

log = logging.getLogger("station.offline")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class LinkState:
    online: bool
    since: datetime | None
    """When the outage began (None online)."""
    waiting: int
    """Journal entries not replayed yet."""
    notices: tuple[str, ...] = ()
    """Conflicts found by replay since the last look, in words."""


class Link:
    """The station's connection state, shared by the scan worker, the keeper and the UI."""

    def __init__(self, journal: Journal, clock: Callable[[], datetime]) -> None:
        self.journal = journal
        self._clock = clock
        self._lock = threading.Lock()
        since = journal.current_outage()  # an outage survives a restart
        self._online = since is None
        self._since = since
        self._notices: deque[str] = deque(maxlen=20)
        self.changed = threading.Event()
        """Set whenever the station goes online (the keeper replays at once)."""

    @property
    def online(self) -> bool:
        return self._online

    def go_offline(self, why: str) -> None:
        with self._lock:
            if not self._online:
                return
            self._since = self.journal.begin_outage(self._clock())
            self._online = False
        log.warning("OFFLINE: %s", why)

    def go_online(self) -> None:
        with self._lock:
            if self._online:
                return
            self.journal.end_outage(self._clock())
            self._online = True
            self._since = None
        log.warning("back ONLINE; %s offline scans to replay", self.journal.waiting_count())
        self.changed.set()

    def notice(self, words: str) -> None:
        self._notices.append(words)

    def state(self) -> LinkState:
        notices: list[str] = []
        while self._notices:
            notices.append(self._notices.popleft())
        return LinkState(self._online, self._since, self.journal.waiting_count(), tuple(notices))


class FailoverScanService:
    """The UI's scan door when offline mode is on: online with a deadline, else offline."""

    def __init__(
        self,
        online: ScanService,
        offline: ScanService,
        link: Link,
        *,
        info_offline: Callable[[StationContext], StationInfo],
        threshold_s: float = 2.0,
    ) -> None:
        self._online = online
        self._offline = offline
        self._info_offline = info_offline
        self.link = link
        self._threshold_s = threshold_s
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="station-online")

    def action(self, line_item_id: int | None = None) -> str:
        return self._online.action(line_item_id)

    def target(self, line_item_id: int | None = None, *, direction: Direction = "in") -> str:
        return self._online.target(line_item_id, direction=direction)

    def _first_online(self, call: Callable[[], _T]) -> tuple[bool, _T | None]:
        """(True, answer) from the database within the deadline, else (False, None), offline."""
        if not self.link.online:
            return False, None
        future: Future[_T] = self._pool.submit(call)
        try:
            return True, future.result(timeout=self._threshold_s)
        except FutureTimeout:
            self.link.go_offline(f"no answer within {self._threshold_s:g} s")
        except DatabaseBusy:
            raise  # the server is there, just busy: not an outage
        except DatabaseUnavailable as away:
            self.link.go_offline(away.message)
        return False, None

    def scan(
        self,
        ctx: StationContext,
        code: str,
        *,
        client_id: uuid.UUID,
        line_item_id: int | None = None,
        direction: Direction = "in",
    ) -> ScanAnswer:
        done, answer = self._first_online(
            lambda: self._online.scan(
                ctx, code, client_id=client_id, line_item_id=line_item_id, direction=direction
            )
        )
        if done:
            assert answer is not None
            return answer
        return self._offline.scan(
            ctx, code, client_id=client_id, line_item_id=line_item_id, direction=direction
        )

    def recorded(
        self, ctx: StationContext, *, action: str, target: str, client_id: uuid.UUID
    ) -> ScanAnswer | None:
        done, answer = self._first_online(
            lambda: self._online.recorded(ctx, action=action, target=target, client_id=client_id)
        )
        if done:
            return answer
        return self._offline.recorded(ctx, action=action, target=target, client_id=client_id)

    def station_info(self, ctx: StationContext) -> StationInfo:
        done, info = self._first_online(lambda: self._online.station_info(ctx))
        if done:
            assert info is not None
            return info
        return self._info_offline(ctx)

    def log_unreadable(self, ctx: StationContext, shown: str, error: StationError) -> None:
        done, _ = self._first_online(lambda: self._online.log_unreadable(ctx, shown, error))
        if not done:
            self._offline.log_unreadable(ctx, shown, error)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class OfflineKeeper:
    """The background thread: probe while offline; replay and sync while online."""

    def __init__(
        self,
        link: Link,
        engine: Engine,
        sync: SnapshotSync,
        replayer: Replayer,
        *,
        threshold_s: float = 2.0,
        sync_s: float = 5.0,
        probe_s: float = 1.0,
    ) -> None:
        self.link = link
        self._engine = engine
        self._sync = sync
        self._replayer = replayer
        self._threshold_s = threshold_s
        self._sync_s = sync_s
        self._probe_s = probe_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: Any = None
        self.last_sync: float = 0.0
        self.synced = threading.Event()
        """Set after each successful sync (tests and the start-up fill wait on it)."""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="station-offline", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.link.changed.set()
        self._close_listener()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.link.online:
                    self._online_round()
                else:
                    self._offline_round()
            except Exception as crash:  # the keeper must outlive anything
                log.exception("offline keeper: %s", crash)
                self._stop.wait(self._probe_s)

    def _online_round(self) -> None:
        try:
            with database_errors():
                if self.link.journal.waiting_count():
                    outcome = self._replayer.replay()
                    log.info("replayed %s offline scans", outcome.replayed)
                self._sync.sync()
            self.last_sync = time.monotonic()
            self.synced.set()
        except (StationError, SQLAlchemyError) as away:
            if isinstance(away, DatabaseUnavailable) and not isinstance(away, DatabaseBusy):
                self.link.go_offline(f"sync: {away}")
                self._close_listener()
                return
            log.warning("offline keeper: %s", away)
        self._wait_for_changes(self._sync_s)

    def _offline_round(self) -> None:
        if self._probe():
            self.link.go_online()
        else:
            self._stop.wait(self._probe_s)

    def _probe(self) -> bool:
        """Whether the database answers ``SELECT 1`` within the threshold."""
        answered = threading.Event()

        def ping() -> None:
            try:
                with self._engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                answered.set()
            except Exception:
                pass

        threading.Thread(target=ping, name="station-probe", daemon=True).start()
        return answered.wait(self._threshold_s)

    # -- LISTEN/NOTIFY --------------------------------------------------------

    def _wait_for_changes(self, seconds: float) -> None:
        """Until a change is notified (PostgreSQL), the keeper is stopped, or ``seconds``."""
        listener = self._listen()
        if listener is None:
            self._stop.wait(seconds)
            return
        try:
            for _ in listener.notifies(timeout=seconds, stop_after=1):
                break
            # A burst of sales or refunds: sync at most once a second, however busy.
            self._stop.wait(max(0.0, 1.0 - (time.monotonic() - self.last_sync)))
        except Exception:
            self._close_listener()
            self._stop.wait(min(seconds, self._probe_s))

    def _listen(self) -> Any:
        # None on SQLite and through PgBouncer: the keeper polls every sync_s instead.
        if self._listener is None:
            timeout = max(2, int(self._threshold_s + 0.999))
            self._listener = listen_connection(
                self._engine, "station_changes", connect_timeout=timeout
            )
        return self._listener

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                listener.close()
