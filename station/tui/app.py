"""The station app: screens, the scan flow, and the workers that call the services.

Every service call runs in a thread worker and reports back by message, so a
slow or dead database never freezes the screen. The worker bodies catch
everything: a StationError becomes a verdict, anything else a "not recorded —
unexpected error" verdict, handled in one place (``_show_failure``). A scan is
shown as done only when its service call returned a result.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import App
from textual.content import Content
from textual.css.query import NoMatches
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input
from textual.worker import Worker, WorkerState, get_current_worker

from station import __version__, heap, oplog, paths, terminal
from station.domain import Mode
from station.health import Heartbeat, ScanWindow
from station.rulebook.event_rules import Direction
from station.scanflow.flow import Scan, ScanFlow, Stage
from station.scanflow.keys import BurstRouter, ScanKeys
from station.scanflow.pending import PendingScans, file_for
from station.scanner import ScanRejected, decode_scan
from station.services.errors import (
    DatabaseBusy,
    DatabaseUnavailable,
    InvalidInput,
    Reason,
    StationError,
)
from station.services.results import (
    CheckInResult,
    DoorCheckResult,
    DoorClearResult,
    ProductChoice,
    RedemptionResult,
    ScanAnswer,
    StaffMember,
    StationContext,
    StationInfo,
    VoidResult,
)
from station.text import display_safe
from station.tui import keymap, kiosk, verdicts
from station.tui.components.header import DatabaseLight, TooSmall
from station.tui.double_scan import RecentScans
from station.tui.messages import (
    BurstPauseDue,
    DatabaseChecked,
    DoorCleared,
    LinkChecked,
    PendingConfirmed,
    RedeemRequested,
    RoomLoaded,
    ScanAnswered,
    ScanFollowed,
    ScanRepeated,
    ScanSubmitted,
    SearchFinished,
    SignInChecked,
    StaffListed,
    StationInfoLoaded,
    VoidCandidateLoaded,
    VoidFinished,
    VoidRecordsLoaded,
    WorkCrashed,
)
from station.tui.screens.badge import BadgeScreen
from station.tui.screens.confirm import ConfirmScreen
from station.tui.screens.door_clear import DoorClearScreen
from station.tui.screens.help import HelpScreen, demo_code_lines
from station.tui.screens.lookup import LookupScreen
from station.tui.screens.picker import PickerScreen
from station.tui.screens.scan import ScanScreen
from station.tui.screens.sign_in import SignInScreen
from station.tui.screens.supervisor_void import SupervisorVoidScreen
from station.tui.verdicts import Verdict

if TYPE_CHECKING:
    from station.bootstrap import Services
    from station.config import Settings

Clock = Callable[[], datetime]

WORKING_AFTER_S = 0.2
PROBE_EVERY_S = 2.0
COUNTS_AFTER_S = 0.3
LINK_EVERY_S = 0.5
"""How often the OFFLINE bar reads offline mode's state (when offline mode is on)."""
BADGE_WAIT_S = 0.05
SEARCH_SHOWN = 20
"""Lookup rows shown; one more is asked for, to know that there are more."""
MIN_WIDTH, MIN_HEIGHT = 80, 24
"""Below this the screens lose lines (the badge's products, the history): say so instead."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StationApp(App[int], inherit_bindings=False):
    CSS_PATH = "station.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = keymap.APP
    TITLE = "station"

    def __init__(
        self,
        services: Services,
        settings: Settings,
        *,
        clock: Clock | None = None,
        pending_path: Path | None = None,
        demo_codes: tuple[tuple[str, str], ...] = (),
    ):
        super().__init__()
        self.services = services
        self.demo_codes = demo_codes
        """The demo's sample codes as (case, code): shown on the scan screen and by F1."""
        self.too_small_text = ""
        self.settings = settings
        self.clock: Clock = clock or _utcnow
        self.ctx = StationContext(conference=settings.conference, station=settings.station)
        self.operator: StaffMember | None = None
        self.info: StationInfo | None = None
        self.online = True
        self.link_online = True
        """Offline mode's view: False while scans are decided from the snapshot."""
        self.ready = False
        """Signed in, scan screen up: what the start-up benchmark waits for."""
        self.handle_hangup = False
        self.exit_signals: terminal.ExitOnSignal | None = None
        self.probe_every = PROBE_EVERY_S
        """While the database is away, how often to knock (tests shorten it)."""
        self.verdict_times: dict[int, float] = {}
        self.scan_window = ScanWindow()
        """The last minute of verdicts and their times on screen (what the heartbeat says)."""
        self.started_at = datetime.now(UTC)
        self._beat_failed = False
        """seq -> monotonic time the verdict was painted (read by the latency benchmark)."""
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        """Work for the one scan worker, in arrival order; None stops it."""
        self._answers: dict[int, tuple[Verdict, str]] = {}
        """The verdict of each answered scan that another scan of its code follows."""
        self._working_timer: Timer | None = None
        self._probe_timer: Timer | None = None
        self._counts_timer: Timer | None = None
        self._burst_timer: Timer | None = None
        self._badge_screen: BadgeScreen | None = None
        self._badge_wait: Timer | None = None
        self.verdict: Verdict = verdicts.idle()
        """The verdict of the latest scan (what the banner on top shows)."""
        self.direction: Direction = settings.direction
        """A door's scans: "in" admits, "out" records exits (F6 switches)."""
        profile = settings.scanner
        self.recent = RecentScans(profile.double_scan_window_s)
        """The double-scan guard: each code's last verdict at this station."""
        self.router: BurstRouter[events.Key] = BurstRouter(
            gap=profile.burst_gap_ms / 1000,
            submit_on_pause=profile.terminator == "none",
            tab_ends=profile.terminator == "tab",
        )
        if pending_path is None:
            pending_path = file_for(paths.data_dir(os.environ) / "pending", settings.station)
        self.flow = ScanFlow(
            settings.conference,
            PendingScans(pending_path),
            follow_duplicates=profile.double_scan_window_s > 0,
        )
        """Every scan's client id and stage; unknown outcomes kept on disk."""

    # ----------------------------------------------------------------- set-up

    def get_default_screen(self) -> Screen[None]:
        return ScanScreen()

    @property
    def badge_screen(self) -> BadgeScreen:
        if self._badge_screen is None:
            self._badge_screen = BadgeScreen()
            self.install_screen(self._badge_screen, name="badge")
        return self._badge_screen

    @property
    def scan_screen(self) -> ScanScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, ScanScreen)
        return screen

    @property
    def closing_down(self) -> bool:
        """Results can still arrive while the app shuts down: then the scan screen is gone,
        or still there with its widgets already taken away."""
        if self._exit or not self.screen_stack:
            return True
        screen = self.screen_stack[0]
        if not isinstance(screen, ScanScreen):
            return True
        try:
            screen.query_one("#counters")  # cached by id: cheap on every message
        except NoMatches:
            return True
        return False

    @property
    def timezone(self) -> str:
        return self.info.timezone if self.info else "UTC"

    def on_mount(self) -> None:
        # Terminal, signals and kiosk: see station.terminal and station.tui.kiosk.
        traits = terminal.detect_terminal(ascii_borders=self.settings.ascii_borders)
        self.set_class(traits.ascii_borders, "-ascii")
        self.set_class(traits.no_color, "-no-color")
        self._check_size()
        if self.handle_hangup:
            self.exit_signals = terminal.install_exit_signals(
                self, grace_s=_exit_grace_s(self.settings)
            )
        if self.settings.kiosk:
            kiosk.lock_down(self)
        self.flow.pending.load(self.clock())
        self._run_scans()
        self.push_screen(SignInScreen(preset=self.settings.operator), self._signed_in)
        self._load_station_info()
        if self.settings.clock is not None:
            self._announce_clock()
        if len(self.flow.pending):
            self._jobs.put(self._confirm_pending)
        offline = self.services.offline
        if offline is not None:
            offline.start()
            self._read_link()
            self.set_interval(LINK_EVERY_S, self._read_link)
        self.set_interval(self.settings.heartbeat_s, self._heartbeat)

    def _announce_clock(self) -> None:
        """A demo clock is set: say so on start, where nobody can miss it."""
        clock = self.settings.clock
        assert clock is not None
        zone = "" if clock.tzinfo else " (the conference's time)"
        self.notify(
            f"Demo clock: this station runs as if it were {clock:%Y-%m-%d %H:%M}{zone}, "
            "not the real time. Scans are recorded at that time.",
            title="DEMO CLOCK SET",
            severity="warning",
            timeout=10,
            markup=False,
        )

    def on_unmount(self) -> None:
        self._jobs.put(None)
        self._last_heartbeat()

    def scan_screen_mounted(self) -> None:
        self._show_header()
        self.scan_screen.counters.show(None, mode=self.settings.mode)
        self.scan_screen.verdict_seconds = self.settings.badge_seconds
        if self.demo_codes:
            self.scan_screen.history.placeholder = demo_placeholder(self.demo_codes)
            self.scan_screen.history.redraw()

    def _signed_in(self, member: StaffMember | None) -> None:
        if self.closing_down:
            return
        self.operator = member
        self.ctx = replace(self.ctx, staff_id=member.id if member else None)
        self._show_header()
        self._refresh_counts()
        self._heartbeat()
        self.ready = True
        heap.settle()  # start-up is over: the collector need not look at it again

    def _show_header(self) -> None:
        if self.closing_down:
            return
        info = self.info
        self.scan_screen.header.show(
            conference=info.conference_name if info else self.settings.conference,
            station=self.settings.station,
            mode=self.settings.mode,
            product=info.product_name if info else self.settings.product,
            operator=self.operator.name if self.operator else None,
            direction=self.direction,
        )

    # ------------------------------------------------------------ key routing

    def _scan_keys(self) -> ScanKeys:
        kind: ScanKeys = getattr(self.screen, "SCAN_KEYS", "off")
        return kind

    async def on_event(self, event: events.Event) -> None:
        # Scanner bursts are recognised here, before any widget or binding sees a key.
        if not event.is_forwarded:
            if isinstance(event, events.Key) and await self._route_key(event):
                return
            # A paste is a scan (scanners and bridges send them), except where a person
            # searches: pasted into the search box, it is what they look for.
            if (
                isinstance(event, events.Paste)
                and self._scan_keys() != "off"
                and not getattr(self.screen, "PASTE_IS_TEXT", False)
            ):
                self._pasted(event)
                return
        await super().on_event(event)

    async def _route_key(self, key: events.Key) -> bool:
        """True when the router took the key (held it, or it ended a scan)."""
        kind = self._scan_keys()
        if kind == "off":
            if self.router.held:
                await self._replay(self.router.take())
            return False
        # Looking up the screen's bindings costs; only a held first key needs it. On a
        # screen that sends a person's typing to the scan field, any lone key waits as a
        # bound one does: a burst is a scan, a key alone is typing.
        bound = (
            kind == "bindings"
            and not self.router.held
            and (self._is_bound(key) or self._lone_keys_wait(key))
        )
        decisive = bound and key.key in getattr(self.screen, "DECISIVE_KEYS", ())
        decision = self.router.feed(key, kind, bound=bound, decisive=decisive, now=time.monotonic())
        await self._replay(decision.release)
        self._arm_burst_timer()
        if decision.submit is not None:
            self._burst_submitted(decision.submit, spilled=decision.spilled)
        return not decision.forward

    def _pasted(self, paste: events.Paste) -> None:
        """A bracketed paste (some scanners and bridges send one) is a scan, never typing."""
        held = self.router.text()
        self.router.take()
        self.router.note_submitted(paste.time)
        self._burst_submitted(held + paste.text)

    def _burst_submitted(self, text: str, *, spilled: str = "") -> None:
        """A burst or paste ended: on the scan screen, what already reached the field
        belongs in front of it (a burst split by SSH jitter, a quick hand-typed code).
        On the lookup, only the keys the router saw go out just before the burst."""
        screen = self.screen
        if isinstance(screen, LookupScreen) and spilled:
            screen.search_input.call_later(self._submit_behind_spill, screen, spilled, text)
            return
        if isinstance(screen, ScanScreen):
            # Keys released to the field reach it through its own queue; they may not be
            # in it yet (the app handled both pieces of a split burst in one go). Read it
            # behind them.
            screen.scan_input.call_later(self._submit_behind_typed, screen, text)
            return
        self.handle_scan_text(text)

    def _submit_behind_typed(self, screen: ScanScreen, text: str) -> None:
        if not self.closing_down:
            self.handle_scan_text(screen.take_typed() + text)

    def _submit_behind_spill(self, screen: LookupScreen, spilled: str, text: str) -> None:
        if not self.closing_down:
            screen.take_back(spilled)
            self.handle_scan_text(spilled + text)

    def _is_bound(self, key: events.Key) -> bool:
        return key.key in self.screen.active_bindings

    def _lone_keys_wait(self, key: events.Key) -> bool:
        return key.is_printable and bool(getattr(self.screen, "LONE_KEYS_WAIT", False))

    async def _replay(self, keys: list[events.Key]) -> None:
        """Hand held keys on as if never held. Several at once were typed fast into a
        text field: their characters go straight to it, never to a binding (the scan
        screen's "/" would open the lookup before the field saw the text before it)."""
        field = self.focused if len(keys) > 1 and isinstance(self.focused, Input) else None
        for key in keys:
            if field is not None and key.is_printable:
                field._forward_event(key)
            elif key.character and self._types_into_scan_field(key):
                self.type_into_scan_field(key.character)
            else:
                await super().on_event(key)

    def _types_into_scan_field(self, key: events.Key) -> bool:
        """A person's key on a screen that sends typing to the scan field (the badge
        preview, help) goes there now, as the screen's ``on_key`` would: after the trip
        through the screen's queue, keys already behind it would still be routed for the
        old screen, and scanned without it ("y" + "a01" became badge A01)."""
        return (
            key.is_printable
            and bool(getattr(self.screen, "LONE_KEYS_WAIT", False))
            and not self._is_bound(key)
        )

    def _arm_burst_timer(self) -> None:
        if self._burst_timer is None and self.router.held:
            due = self.router.due(time.monotonic()) or 0.0
            self._burst_timer = self.set_timer(max(due, 0.001), self._burst_pause)

    def _burst_pause(self) -> None:
        """One timer per held run of keys; its end is decided behind the queued keys."""
        self._burst_timer = None
        self.post_message(BurstPauseDue())

    async def on_burst_pause_due(self, _message: BurstPauseDue) -> None:
        now = time.monotonic()
        due = self.router.due(now)
        if due is None:
            return
        if due > 0:
            self._arm_burst_timer()
            return
        decision = self.router.timeout(now)
        await self._replay(decision.release)
        self._arm_burst_timer()
        if decision.submit is not None:
            self._burst_submitted(decision.submit, spilled=decision.spilled)

    # -------------------------------------------------------------- scan flow

    def on_scan_submitted(self, message: ScanSubmitted) -> None:
        self.handle_scan_text(message.text)

    def handle_scan_text(self, text: str) -> None:
        """Everything a scanner typed ends here, whichever screen was showing."""
        if not self.ready:
            # A badge scanned at the sign-in screen must not pick an operator.
            if isinstance(self.screen, SignInScreen):
                self.screen.say("Sign in first, then scan.")
            return
        profile = self.settings.scanner
        try:
            decoded = decode_scan(text, profile, conference_slug=self.settings.conference)
        except ScanRejected as rejected:
            self._leave_overlays()
            shown = display_safe(text.rstrip("\r\n\t"), limit=60)
            error = InvalidInput(rejected.message, reason=Reason(rejected.reason))
            scan = self.flow.reject(shown, at=self.clock(), started=time.monotonic())
            self._show_ended(scan, verdicts.for_error(error, code=shown), shown)
            self._jobs.put(partial(self._log_unreadable, scan, error))
            return
        code = decoded.code
        if isinstance(self.screen, SupervisorVoidScreen):
            self.screen.badge_scanned(code)  # the badge to void from, never a scan here
            return
        previous = self.recent.previous(code, self.clock())
        if previous is not None:
            scan = self.flow.repeat(code, at=self.clock(), started=time.monotonic())
            self._jobs.put(partial(self._repeat, scan, previous))
            return
        self._leave_overlays()
        self.start_code(code)

    def on_scan_repeated(self, message: ScanRepeated) -> None:
        """The same code within the double-scan window, in its turn: repeat the earlier
        verdict as JUST SCANNED; no service call, nothing written, and a badge preview or
        picker for this very code stays up. The window starts again: a badge lying under
        a presentation scanner is read over and over, and must not redeem every 3 s."""
        if self.closing_down:
            return
        scan, previous = message.scan, message.previous
        self.flow.answered(scan)
        self.recent.remember(scan.code, previous, self.clock())
        verdict = verdicts.just_scanned(previous)
        screen = self.screen
        if isinstance(screen, BadgeScreen | PickerScreen) and screen_code(screen) == scan.code:
            screen.flash(verdict)
        elif scan.seq == self.flow.last_seq:
            self._return_to_scan_screen()
        self._show_ended(scan, verdict, previous.subject, record=False, keep_badge=True)

    def start_code(self, code: str, *, line_item_id: int | None = None) -> None:
        """Act on a badge code the way this station's mode says (the service decides)."""
        scans = self.services.scans
        direction = self.direction
        scan = self.flow.start(
            code,
            scans.action(line_item_id),
            at=self.clock(),
            started=time.monotonic(),
            target=scans.target(line_item_id, direction=direction),
            line_item_id=line_item_id,
        )
        if scan.stage is Stage.WAITING:
            self._jobs.put(partial(self._send, scan, self.ctx, direction))
        else:  # the same code is waiting: this one's turn comes after that answer
            self._jobs.put(partial(self._follow, scan))
        if self._working_timer is None:
            self._working_timer = self.set_timer(WORKING_AFTER_S, self._show_working)

    def _show_working(self) -> None:
        if self.closing_down:
            return
        self._working_timer = None
        if self.flow.busy:
            self.scan_screen.set_working(True)

    def _return_to_scan_screen(self) -> None:
        while isinstance(self.screen, BadgeScreen | PickerScreen | LookupScreen | HelpScreen):
            self.pop_screen()

    def _leave_overlays(self) -> None:
        """A scan arrived: close the picker or lookup; a badge preview waits, emptied,
        for the next badge (switching screens twice per scan would double its latency)."""
        while isinstance(self.screen, PickerScreen | LookupScreen | HelpScreen):
            self.pop_screen()
        if isinstance(self.screen, BadgeScreen):
            if self.settings.mode is not Mode.CHECKIN:
                self.pop_screen()
            elif self._badge_wait is None:
                # Empty it unless the answer beats a blink; the old badge never
                # stays up for the new person, and a fast scan paints only once.
                self._badge_wait = self.set_timer(BADGE_WAIT_S, self._badge_waiting)

    def _badge_waiting(self) -> None:
        if self.closing_down:
            return
        self._badge_wait = None
        if self.flow.busy and isinstance(self.screen, BadgeScreen):
            self.screen.waiting(verdicts.checking(""))

    def on_scan_answered(self, message: ScanAnswered) -> None:
        """The one place a scan's answer becomes its verdict."""
        if self.closing_down:
            return
        scan, answer, error = message.scan, message.answer, message.error
        if answer is not None:
            self._set_online(True)
            self.flow.answered(scan)
            if isinstance(answer, ProductChoice):
                self._choices(scan, answer)
                return
            verdict, who = _verdict_for_answer(answer)
            self._show_answer(scan, verdict, who, answer)
            self._refresh_counts_soon()
            return
        if error is None or isinstance(error, DatabaseUnavailable):
            self._set_online(isinstance(error, DatabaseBusy))
            self.flow.not_recorded(scan, kept=message.kept)
            verdict = verdicts.not_recorded(
                error, code=scan.code, retry=scan.writes, kept=message.kept
            )
            self._show_answer(scan, verdict, f"Badge {scan.code}", None)
            return
        self._set_online(True)
        self.flow.answered(scan)
        verdict = verdicts.for_error(error, code=scan.code, timezone=self.timezone)
        self._show_answer(scan, verdict, error.attendee_name or f"Badge {scan.code}", None)

    def on_scan_followed(self, message: ScanFollowed) -> None:
        """A scan of a code that was already waiting: its turn came, after that scan's
        answer; it shows that answer again as JUST SCANNED, writing nothing."""
        if self.closing_down:
            return
        follower = message.scan
        leader = self.flow.followed(follower)
        shown = self._answers.pop(leader.seq, None)
        if shown is None:  # the app was not told (it shut a screen down): say nothing new
            shown = (self.verdict, f"Badge {follower.code}")
        verdict, who = shown
        self._show_ended(follower, verdicts.just_scanned(verdict), who, record=False)

    def _show_answer(
        self, scan: Scan, verdict: Verdict, who: str, answer: ScanAnswer | None
    ) -> None:
        latest = scan.seq == self.flow.last_seq
        badge = isinstance(answer, CheckInResult) and latest
        self._remember_answer(scan, verdict, who)
        self._show_ended(scan, verdict, who, keep_badge=badge)
        if isinstance(answer, CheckInResult) and badge:
            self.badge_screen.show(answer.badge, verdict, seconds=self.settings.badge_seconds)
            if isinstance(self.screen, ScanScreen):
                self.push_screen(self.badge_screen)

    def _remember_answer(self, scan: Scan, verdict: Verdict, who: str) -> None:
        """What a scan following this one will repeat (only scans someone follows)."""
        if any(s.follows == scan.seq for s in self.flow.waiting()):
            self._answers[scan.seq] = (verdict, who)

    def _choices(self, scan: Scan, choice: ProductChoice) -> None:
        name = choice.badge.name
        if not choice.products:
            verdict = verdicts.nothing_to_redeem(name)
            self._remember_answer(scan, verdict, name)
            self._show_ended(scan, verdict, name)
            return
        verdict = verdicts.choosing(name)
        self._remember_answer(scan, verdict, name)
        self._show_ended(scan, verdict, name, record=False, keep_badge=True)
        latest = scan.seq == self.flow.last_seq
        if latest and isinstance(self.screen, ScanScreen):
            self.push_screen(PickerScreen(code=scan.code, name=name, products=choice.products))

    def on_redeem_requested(self, message: RedeemRequested) -> None:
        if self.closing_down:
            return
        self._return_to_scan_screen()
        self.start_code(message.code, line_item_id=message.line_item_id)

    def _show_ended(
        self,
        scan: Scan,
        verdict: Verdict,
        who: str,
        *,
        record: bool = True,
        keep_badge: bool = False,
    ) -> None:
        """The one place a scan's outcome reaches the screen."""
        if scan.action not in ("rejected", "repeat"):
            self.recent.remember(scan.code, verdict, self.clock())
        busy = self.flow.busy
        if self._badge_wait is not None and not busy:
            self._badge_wait.stop()
            self._badge_wait = None
        latest = scan.seq == self.flow.last_seq
        if latest and not keep_badge and isinstance(self.screen, BadgeScreen):
            self.pop_screen()  # the emptied badge preview gives way to the verdict
        screen = self.scan_screen
        entry: tuple[str, str] | None = None
        if record:
            when = verdicts.local_time(scan.at, self.timezone, seconds=True)
            entry = (when, display_safe(who, limit=40))
        refused = verdict.tone is verdicts.Tone.REFUSED
        if self.flow.show(scan):
            self.verdict = verdict
            screen.show_outcome(verdict, entry)
            self.call_after_refresh(self._painted, scan, refused if record else None)
        elif entry is not None:
            screen.show_outcome(screen.verdict, entry)
            self._count_scan(scan, refused, time.monotonic())
        if verdict.rings_bell:
            self.bell()
        if not busy:
            if self._working_timer is not None:
                self._working_timer.stop()
                self._working_timer = None
            screen.set_working(False)

    def _painted(self, scan: Scan, refused: bool | None) -> None:
        painted = self.verdict_times[scan.seq] = time.monotonic()
        if len(self.verdict_times) > 1000:
            del self.verdict_times[min(self.verdict_times)]
        if refused is not None:
            self._count_scan(scan, refused, painted)

    def _count_scan(self, scan: Scan, refused: bool, ended: float) -> None:
        """A scan's verdict reached the screen: the heartbeat's minute counts it."""
        self.scan_window.add(
            at=ended, latency_s=ended - scan.started, refused=refused, wall=datetime.now(UTC)
        )

    def on_pending_confirmed(self, message: PendingConfirmed) -> None:
        """A scan shown as not recorded was recorded after all: say so in the history."""
        self.flow.confirmed(message.entry.id, self.clock())
        if self.closing_down:
            return
        verdict, who = _verdict_for_answer(message.answer)
        when = verdicts.local_time(message.entry.started(), self.timezone, seconds=True)
        self.scan_screen.show_outcome(
            self.scan_screen.verdict, (when, display_safe(f"{who} ({verdict.word})", limit=40))
        )
        self.notify(
            f"Recorded after all: {who} — {verdict.headline}",
            title="Earlier scan confirmed",
            timeout=8,
            markup=False,
        )

    @property
    def shown_seq(self) -> int:
        """The newest scan whose verdict is on the banner (tests and benchmarks wait on it)."""
        return self.flow.shown_seq

    @property
    def scanning(self) -> bool:
        """Some scan is still waiting for its answer."""
        return self.flow.busy

    # ----------------------------------------------------------- navigation

    def action_open_lookup(self) -> None:
        if isinstance(self.screen, ScanScreen) and self.ready:
            self.push_screen(LookupScreen(), self._looked_up)

    def _looked_up(self, code: str | None) -> None:
        if code:
            self.start_code(code)

    def action_open_picker_for_badge(self) -> None:
        screen = self.screen
        if not isinstance(screen, BadgeScreen):
            return
        badge = screen.badge
        if badge is None:
            return
        products = tuple(p for p in badge.products if p.remaining > 0)
        self.push_screen(PickerScreen(code=badge.access_code, name=badge.name, products=products))

    def type_into_scan_field(self, text: str) -> None:
        """A person typed on a screen without a field (badge preview, help): that screen
        closes and the key goes to the scan field, where it shows; Enter scans it."""
        if not self.ready:
            return
        self._return_to_scan_screen()
        field = self.scan_screen.scan_input
        field.insert_text_at_cursor(text)
        field.focus()

    def action_help(self) -> None:
        """F1: the keys of the screen showing now (F1 again or Esc closes it)."""
        screen = self.screen
        if isinstance(screen, HelpScreen):
            screen.dismiss()
            return
        title, about = screen_help(screen)
        keys = (*getattr(screen, "HELP_KEYS", ()), *APP_HELP_KEYS)
        self.push_screen(
            HelpScreen(title=title, about=about, keys=keys, demo_codes=self.demo_codes)
        )

    def action_hand_over(self) -> None:
        """F3: the operator signs out; the next one signs in (with their PIN, if they have
        one). Until then nothing is scanned, so a kiosk stays locked."""
        if not self.ready or isinstance(self.screen, SignInScreen):
            return
        if isinstance(self.screen, ConfirmScreen | kiosk.SupervisorPinScreen):
            return
        self._return_to_scan_screen()
        self.ready = False
        self.operator = None
        self.ctx = replace(self.ctx, staff_id=None)
        self._show_header()
        self.push_screen(SignInScreen(preset=None, handing_over=True), self._signed_in)

    # ----------------------------------------------------------------- doors

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_direction", "everyone_out"):
            return self.settings.mode is Mode.DOOR  # hidden elsewhere
        return True

    def action_toggle_direction(self) -> None:
        """F6 at a door: IN (admit) <-> OUT (record exits); the header says which."""
        if self.settings.mode is not Mode.DOOR or not isinstance(self.screen, ScanScreen):
            return
        self.direction = "out" if self.direction == "in" else "in"
        # A code just scanned the other way was another action: scanning it again now is
        # the new direction's scan, not a double scan.
        self.recent = RecentScans(self.settings.scanner.double_scan_window_s)
        self._show_header()
        word = "OUT — scans record exits" if self.direction == "out" else "IN — scans admit"
        self.notify(f"Door switched to {word}.", timeout=4, markup=False)

    def action_everyone_out(self) -> None:
        """F7 at a door: a supervisor clears the room (name, PIN, a yes)."""
        if self.settings.mode is not Mode.DOOR:
            return
        if self.ready and isinstance(self.screen, ScanScreen):
            door = self.info.product_name if self.info else self.settings.product
            self.push_screen(DoorClearScreen(door=door or ""), self._door_cleared)

    def _door_cleared(self, result: DoorClearResult | None) -> None:
        if result is None or self.closing_down:
            return
        verdict = verdicts.for_door_clear(result, self.timezone)
        when = verdicts.local_time(result.cleared_at, self.timezone, seconds=True)
        self.verdict = verdict
        self.scan_screen.show_outcome(
            verdict, (when, display_safe(f"Everyone out ({result.by})", limit=40))
        )
        self._refresh_counts_soon()

    @work(thread=True, exclusive=True, group="doors-read", exit_on_error=False)
    def door_room(self, reply_to: MessagePump) -> None:
        try:
            room = self.services.doors.room(self.ctx, self.settings.product or "")
        except StationError as error:
            reply_to.post_message(RoomLoaded(None, error))
        except Exception as crash:
            self.post_message(WorkCrashed("doors", crash))
        else:
            reply_to.post_message(RoomLoaded(room))

    @work(thread=True, group="doors", exit_on_error=False)
    def clear_door(self, supervisor: str, pin: str, reply_to: MessagePump) -> None:
        try:
            result = self.services.doors.clear_door(
                self.ctx,
                product=self.settings.product or "",
                supervisor=supervisor,
                pin=pin,
                client_id=uuid.uuid4(),
            )
        except StationError as error:
            reply_to.post_message(DoorCleared(None, error))
        except Exception as crash:
            self.post_message(WorkCrashed("doors", crash))
        else:
            reply_to.post_message(DoorCleared(result))

    # ----------------------------------------------------------------- voids

    def action_void_last(self) -> None:
        """F4: void this station's last scan, after a yes (within the void window)."""
        if self.ready and isinstance(self.screen, ScanScreen):
            self._load_last_scan()

    def on_void_candidate_loaded(self, message: VoidCandidateLoaded) -> None:
        if message.error is not None or message.last is None:
            from station.rulebook import words

            error = message.error or words.nothing_to_void()
            self._show_void(verdicts.for_error(error, timezone=self.timezone), None)
            return
        last = message.last
        if last.already_voided:
            from station.rulebook import words

            error = words.already_voided(last.kind)
            self._show_void(verdicts.for_error(error, timezone=self.timezone), None)
            return
        when = verdicts.local_time(last.scanned_at, self.timezone, seconds=True)
        question = f"Void the last scan? {last.what} — {last.attendee_name}, {when}"
        self.push_screen(ConfirmScreen(question), partial(self._void_answered, last))

    def _void_answered(self, last: VoidResult, yes: bool | None) -> None:
        if yes:
            self._void_last(last)

    def action_supervisor_void(self) -> None:
        """F5: a supervisor voids any scan: PIN, badge, the scan, a reason."""
        if self.ready and isinstance(self.screen, ScanScreen):
            self.push_screen(SupervisorVoidScreen(timezone=self.timezone), self._supervisor_voided)

    def _supervisor_voided(self, result: VoidResult | None) -> None:
        if result is not None:
            self._show_void(verdicts.for_void(result, self.timezone), result)

    def on_void_finished(self, message: VoidFinished) -> None:
        """The operator's void (a supervisor's goes to its screen)."""
        if message.result is not None:
            self._show_void(verdicts.for_void(message.result, self.timezone), message.result)
        elif message.error is not None:
            self._show_void(verdicts.for_error(message.error, timezone=self.timezone), None)

    def _show_void(self, verdict: Verdict, result: VoidResult | None) -> None:
        """A void's outcome in the banner (and, when recorded, in the history)."""
        entry = None
        if result is not None and result.voided_at is not None:
            when = verdicts.local_time(result.voided_at, self.timezone, seconds=True)
            entry = (when, display_safe(result.attendee_name, limit=40))
        self.verdict = verdict
        self.scan_screen.show_outcome(verdict, entry)
        if verdict.rings_bell:
            self.bell()
        self._refresh_counts_soon()

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int | None = None, height: int | None = None) -> None:
        """A terminal smaller than the screens need gets one message instead of a screen
        that silently drops lines (``TooSmall``, drawn over whatever screen is up)."""
        if width is None or height is None:
            width, height = self.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.set_class(small, "-too-small")
        self.too_small_text = (
            f"Terminal too small ({width}×{height}) — need at least {MIN_WIDTH}×{MIN_HEIGHT}."
            if small
            else ""
        )
        for screen in self.screen_stack:
            for notice in screen.query(TooSmall):
                notice.update(Content(self.too_small_text))

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if self.settings.kiosk:
            kiosk.quiet_cursor(event.widget)

    def action_request_quit(self) -> None:
        if self.settings.kiosk:
            kiosk.request_quit(self, self.settings.supervisor_pin_hash)
            return
        if isinstance(self.screen, ConfirmScreen):
            return
        self.push_screen(ConfirmScreen("Quit the station?"), self._quit_answered)

    def _quit_answered(self, yes: bool | None) -> None:
        if yes:
            self.exit(0)

    # -------------------------------------------------------- database state

    def _set_online(self, online: bool) -> None:
        if online == self.online:
            return
        self.online = online
        light = self.scan_screen.header.query_one("#db-light", DatabaseLight)
        light.set_online(online and self.link_online)
        if online:
            if self._probe_timer is not None:
                self._probe_timer.stop()
                self._probe_timer = None
            if self.info is None:
                self._load_station_info()
            if len(self.flow.pending):
                self._jobs.put(self._confirm_pending)
        elif self._probe_timer is None:
            self._probe_timer = self.set_interval(self.probe_every, self._check_database)

    def _refresh_counts_soon(self) -> None:
        if self._counts_timer is not None:
            self._counts_timer.stop()
        self._counts_timer = self.set_timer(COUNTS_AFTER_S, self._refresh_counts)

    def _refresh_counts(self) -> None:
        self._counts_timer = None
        self._check_database()

    def on_database_checked(self, message: DatabaseChecked) -> None:
        if self.closing_down:
            return
        if message.counts is not None:
            self._set_online(True)
            self.scan_screen.counters.show(message.counts, mode=self.settings.mode)
        elif isinstance(message.error, DatabaseUnavailable):
            self._set_online(False)

    def on_station_info_loaded(self, message: StationInfoLoaded) -> None:
        if self.closing_down:
            return
        if message.info is not None:
            self.info = message.info
            self._show_header()
            return
        error = message.error
        if isinstance(error, DatabaseUnavailable):
            self._set_online(False)
        elif error is not None:
            self.verdict = verdicts.for_error(error)
            self.scan_screen.show_outcome(self.verdict, None)

    # ---------------------------------------------------- failures, one place

    def on_work_crashed(self, message: WorkCrashed) -> None:
        oplog.log_worker_error(message.group, message.error)
        self._show_failure(message.error)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # The worker bodies catch everything; this is the net under the net.
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            oplog.log_worker_error(event.worker.name or "worker", event.worker.error)
            self._show_failure(event.worker.error)

    def _show_failure(self, error: BaseException) -> None:
        if self.closing_down:
            return
        verdict = verdicts.for_worker_failure(error)
        self.flow.note_shown()
        self.verdict = verdict
        self.scan_screen.show_outcome(verdict, None)
        self.bell()

    # ---------------------------------------------------------------- workers

    @work(thread=True, group="scans", exit_on_error=False)
    def _run_scans(self) -> None:
        """The one scan worker: jobs run one at a time, in the order they arrived, so
        every scan is answered and verdicts come in arrival order."""
        worker = get_current_worker()
        while not worker.is_cancelled:
            try:
                job = self._jobs.get(timeout=0.25)
            except queue.Empty:
                continue
            if job is None:
                return
            try:
                job()
            except Exception as crash:  # a job reports its own errors; this is the net
                oplog.log_worker_error("scan job", crash)

    def _send(self, scan: Scan, ctx: StationContext, direction: Direction = "in") -> None:
        """Run one scan's service call and post what happened; never raises."""
        error: StationError | None = None
        answer: ScanAnswer | None = None
        kept = True
        self.flow.begin(scan)
        try:
            answer = self.services.scans.scan(
                ctx,
                scan.code,
                client_id=scan.client_id,
                line_item_id=scan.line_item_id,
                direction=direction,
            )
        except DatabaseUnavailable as unavailable:
            error = unavailable
            kept = self.flow.keep_pending(scan)  # on disk before the verdict shows
            oplog.log_database(isinstance(unavailable, DatabaseBusy), unavailable.message)
        except StationError as refusal:
            error = refusal
            self.flow.settle(scan)
        except Exception as crash:
            oplog.log_worker_error(f"scan {scan.seq}", crash)
            kept = self.flow.keep_pending(scan)
        else:
            self.flow.settle(scan)
            oplog.log_database(True)
        _log_outcome(scan, answer, error)
        self.post_message(ScanAnswered(scan, answer, error, kept=kept))

    def _repeat(self, scan: Scan, previous: Verdict) -> None:
        """A repeat's turn in the queue: everything before it has been answered."""
        self.post_message(ScanRepeated(scan, previous))

    def _follow(self, scan: Scan) -> None:
        """A follower's turn in the queue: everything before it has been answered."""
        self.post_message(ScanFollowed(scan))

    def _log_unreadable(self, scan: Scan, error: StationError) -> None:
        _log_outcome(scan, None, error)
        try:
            self.services.scans.log_unreadable(self.ctx, scan.code, error)
        except Exception as crash:
            oplog.log_worker_error("log an unreadable scan", crash)

    def _confirm_pending(self) -> None:
        """Ask, without writing, whether scans shown as not recorded reached the database.

        Never writes them: the volunteer was told it was not recorded, and the person
        may have left without their lunch. A rescan of the same code sends the
        same client id, so it replays the original if there was one.
        """
        scans = self.services.scans
        for entry in self.flow.pending.entries():
            if entry.conference != self.ctx.conference or entry.recorded_at is not None:
                continue
            try:
                answer = scans.recorded(
                    self.ctx, action=entry.action, target=entry.target, client_id=entry.id
                )
            except StationError:
                return  # still away: the next recovery asks again
            except Exception as crash:
                oplog.log_worker_error("confirm pending scans", crash)
                return
            if answer is not None:
                self.post_message(PendingConfirmed(entry, answer))

    def heartbeat(self, *, closing: bool = False) -> Heartbeat:
        """What this station says of itself now (read on the UI thread)."""
        settings, info = self.settings, self.info
        bar = None if self.services.offline is None else self.scan_screen.offline_bar.state
        return Heartbeat(
            station=settings.station,
            mode=str(settings.mode),  # a Mode, or its plain value (a StrEnum either way)
            product=info.product_name if info and info.product_name else settings.product,
            operator=self.operator.name if self.operator else None,
            version=__version__,
            online=self.online and self.link_online,
            backlog=None if self.services.offline is None else (bar.waiting if bar else 0),
            window=self.scan_window.summary(time.monotonic()),
            every_s=settings.heartbeat_s,
            started_at=self.started_at,
            closing=closing,
        )

    def _heartbeat(self) -> None:
        if not self.closing_down:
            self._send_heartbeat(self.heartbeat())

    @work(thread=True, exclusive=True, group="health", exit_on_error=False)
    def _send_heartbeat(self, beat: Heartbeat) -> None:
        self._write_heartbeat(beat)

    def _write_heartbeat(self, beat: Heartbeat) -> None:
        """One statement; a failure is logged once per outage and otherwise ignored: the
        dashboard shows a station that cannot beat as lost, which is the truth."""
        try:
            self.services.health.beat(self.settings.conference, beat)
        except Exception as error:
            if not self._beat_failed:
                oplog.log_worker_error("heartbeat", error)
            self._beat_failed = True
        else:
            self._beat_failed = False

    def _last_heartbeat(self) -> None:
        """On the way out: say "closed", so the dashboard does not call it lost. Waits at
        most a second: a station whose database is away still quits at once. Not after a
        hangup: a terminal whose link died is lost to the organisers, not closed."""
        if not self.ready:
            return
        if self.exit_signals is not None and self.exit_signals.received == signal.SIGHUP:
            return
        try:
            beat = self.heartbeat(closing=True)
        except Exception:  # the screens are gone already: no figures, no goodbye
            return
        done = threading.Thread(target=self._write_heartbeat, args=(beat,), daemon=True)
        done.start()
        done.join(timeout=1.0)

    @work(thread=True, exclusive=True, group="status", exit_on_error=False)
    def _check_database(self) -> None:
        """The counters of this station's mode; also how the app knows the database is back."""
        settings = self.settings
        try:
            counts = self.services.counters.tally(self.ctx, settings.mode, settings.product)
        except StationError as error:
            self.post_message(DatabaseChecked(None, error))
        except Exception as crash:
            self.post_message(WorkCrashed("status", crash))
        else:
            self.post_message(DatabaseChecked(counts))

    @work(thread=True, exclusive=True, group="link", exit_on_error=False)
    def _read_link(self) -> None:
        """Offline mode's state, read off the UI thread (it counts the journal)."""
        offline = self.services.offline
        if offline is None or self.closing_down:
            return
        try:
            self.post_message(LinkChecked(offline.link.state()))
        except Exception as crash:
            self.post_message(WorkCrashed("offline state", crash))

    def on_link_checked(self, message: LinkChecked) -> None:
        if self.closing_down:
            return
        state = message.state
        before = self.scan_screen.offline_bar.state
        self.link_online = state.online
        self.scan_screen.offline_bar.show(state, self.timezone)
        if before is not None and before.waiting and not state.waiting and state.online:
            self._refresh_counts()  # the replayed scans count now
        if state.online and not self.online:
            self._set_online(True)  # the keeper's probe found the database: trust it
        light = self.scan_screen.header.query_one("#db-light", DatabaseLight)
        light.set_online(state.online and self.online)
        for notice in state.notices:
            self.notify(notice, title="Offline scan refused on replay", severity="warning",
                        timeout=30, markup=False)  # fmt: skip

    @work(thread=True, exclusive=True, group="info", exit_on_error=False)
    def _load_station_info(self) -> None:
        try:
            info = self.services.scans.station_info(self.ctx)
        except StationError as error:
            self.post_message(StationInfoLoaded(None, error))
        except Exception as crash:
            self.post_message(WorkCrashed("info", crash))
        else:
            self.post_message(StationInfoLoaded(info))

    @work(thread=True, exclusive=True, group="staff", exit_on_error=False)
    def list_staff(self, reply_to: MessagePump) -> None:
        try:
            staff = self.services.operators.list_staff()
        except StationError as error:
            reply_to.post_message(StaffListed((), error))
        except Exception as crash:
            self.post_message(WorkCrashed("staff", crash))
        else:
            reply_to.post_message(StaffListed(staff))

    @work(thread=True, exclusive=True, group="staff", exit_on_error=False)
    def sign_in(self, name: str, pin: str | None, reply_to: MessagePump) -> None:
        try:
            member = self.services.operators.sign_in(name, pin)
        except StationError as error:
            reply_to.post_message(SignInChecked(None, error))
        except Exception as crash:
            self.post_message(WorkCrashed("staff", crash))
        else:
            reply_to.post_message(SignInChecked(member))

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def search_attendees(self, query: str, reply_to: MessagePump) -> None:
        try:
            found = self.services.checkin.search_attendees(self.ctx, query, limit=SEARCH_SHOWN + 1)
        except StationError as error:
            reply_to.post_message(SearchFinished(query, (), error))
        except Exception as crash:
            self.post_message(WorkCrashed("search", crash))
        else:
            more = len(found) > SEARCH_SHOWN
            reply_to.post_message(SearchFinished(query, found[:SEARCH_SHOWN], more=more))

    def _void_ctx(self) -> StationContext:
        return self.ctx

    @work(thread=True, exclusive=True, group="voids-read", exit_on_error=False)
    def _load_last_scan(self) -> None:
        try:
            last = self.services.voids.last_scan(self._void_ctx())
        except StationError as error:
            self.post_message(VoidCandidateLoaded(None, error))
        except Exception as crash:
            self.post_message(WorkCrashed("voids", crash))
        else:
            self.post_message(VoidCandidateLoaded(last))

    @work(thread=True, group="voids", exit_on_error=False)
    def _void_last(self, last: VoidResult) -> None:
        try:
            result = self.services.voids.void_last(
                self._void_ctx(),
                client_id=uuid.uuid4(),
                window_seconds=self.settings.void_window_seconds,
                expected=(last.kind, last.record_id),  # type: ignore[arg-type]
            )
        except StationError as error:
            self.post_message(VoidFinished(None, error))
        except Exception as crash:
            self.post_message(WorkCrashed("voids", crash))
        else:
            self.post_message(VoidFinished(result))

    @work(thread=True, exclusive=True, group="voids-read", exit_on_error=False)
    def void_records(self, code: str, reply_to: MessagePump) -> None:
        try:
            records = self.services.voids.records(self._void_ctx(), code)
        except StationError as error:
            reply_to.post_message(VoidRecordsLoaded(code, (), error))
        except Exception as crash:
            self.post_message(WorkCrashed("voids", crash))
        else:
            reply_to.post_message(VoidRecordsLoaded(code, records))

    @work(thread=True, group="voids", exit_on_error=False)
    def supervisor_void(
        self, supervisor: str, pin: str, record: VoidResult, reason: str, reply_to: MessagePump
    ) -> None:
        try:
            result = self.services.voids.void_by_supervisor(
                self._void_ctx(),
                supervisor=supervisor,
                pin=pin,
                kind=record.kind,  # type: ignore[arg-type]
                record_id=record.record_id,
                reason=reason,
                client_id=uuid.uuid4(),
            )
        except StationError as error:
            reply_to.post_message(VoidFinished(None, error))
        except Exception as crash:
            self.post_message(WorkCrashed("voids", crash))
        else:
            reply_to.post_message(VoidFinished(result))


APP_HELP_KEYS: tuple[tuple[str, str], ...] = (
    ("F1", "This help (F1 or Esc closes it)"),
    ("F3", "Hand over: sign out; the next operator signs in"),
    ("Ctrl+Q", "Quit (asks first; in kiosk mode needs the supervisor PIN)"),
)


def screen_help(screen: Screen[object]) -> tuple[str, str]:
    """A screen's name and what to do on it, for the help screen."""
    title = str(getattr(screen, "HELP_TITLE", type(screen).__name__))
    return title, str(getattr(screen, "HELP_ABOUT", ""))


def demo_placeholder(codes: tuple[tuple[str, str], ...]) -> Content:
    """What the history shows in the demo until the first scan: the sample codes."""
    heading = "Demo badge codes — type one and press Enter (F1 shows them again):"
    return Content("\n").join([Content.styled(heading, "bold"), *demo_code_lines(codes)])


def screen_code(screen: BadgeScreen | PickerScreen) -> str | None:
    """The badge code a badge preview or picker is showing."""
    if isinstance(screen, PickerScreen):
        return screen.code
    return screen.badge.access_code if screen.badge else None


def _verdict_for_answer(answer: ScanAnswer) -> tuple[Verdict, str]:
    if isinstance(answer, CheckInResult):
        verdict, who = verdicts.for_check_in(answer), answer.badge.name
    elif isinstance(answer, RedemptionResult):
        verdict, who = verdicts.for_redemption(answer), answer.attendee_name
    elif isinstance(answer, DoorCheckResult):
        verdict, who = verdicts.for_door(answer), answer.attendee_name
    else:
        raise TypeError(f"no verdict for {type(answer).__name__}")
    if answer.replayed:
        verdict = verdicts.recorded_earlier(verdict)
    return verdict, who


def _log_outcome(scan: Scan, answer: ScanAnswer | None, error: StationError | None) -> None:
    """The scan's line in the operational log: its code and outcome, never a name."""
    if answer is not None:
        outcome = "choosing" if isinstance(answer, ProductChoice) else "accepted"
        reason = str(getattr(answer, "reason", Reason.OK))
    elif error is None:
        outcome, reason = "not_recorded", "crashed"
    elif isinstance(error, DatabaseUnavailable):
        busy = isinstance(error, DatabaseBusy)
        outcome, reason = "not_recorded", "database_busy" if busy else str(error.reason)
    else:
        outcome = "rejected" if scan.action == "rejected" else "refused"
        reason = str(error.reason)
    oplog.log_scan(
        seq=scan.seq,
        mode=scan.action,
        code=scan.code,
        client_id=str(scan.client_id),
        outcome=outcome,
        reason=reason,
        ms=(time.monotonic() - scan.started) * 1000,
        replayed=bool(getattr(answer, "replayed", False)),
    )


def make_app(
    services: Services,
    *,
    settings: Settings,
    clock: Clock | None = None,
    pending_path: Path | None = None,
    demo_codes: tuple[tuple[str, str], ...] = (),
) -> StationApp:
    """The one way to build the app: the CLI and the tests both come through here."""
    return StationApp(
        services, settings, clock=clock, pending_path=pending_path, demo_codes=demo_codes
    )


def run_station(settings: Settings, *, demo_codes: tuple[tuple[str, str], ...] = ()) -> int:
    """Run the station on this terminal; 2 without a terminal or with bad settings."""
    refused = terminal.refuse_without_terminal()
    if refused is not None:
        return refused
    if settings.kiosk:
        kiosk.harden_environment(os.environ)
    from station.bootstrap import build_services

    try:
        services = build_services(settings)
    except StationError as error:
        print(f"station: {error.message}", file=sys.stderr)
        return 2
    try:
        app = make_app(
            services, settings=services.settings, clock=services.clock, demo_codes=demo_codes
        )
        app.handle_hangup = True
        app.run(mouse=False)
        code = app.return_code or 0
    finally:
        services.dispose()
    terminal.end_after_signal(app.exit_signals, code)  # hung up: skip the interpreter teardown
    return code


def _exit_grace_s(settings: Settings) -> float:
    """How long a hung-up station may finish its database call before it is ended anyway."""
    database = settings.database
    return database.connect_timeout_s + database.statement_timeout_ms / 1000 + 2.0
