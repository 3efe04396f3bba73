"""The station app: screens, the scan flow, and the workers that call the services.

Every service call runs in a thread worker and reports back by message, so a
slow or dead database never freezes the screen. The worker bodies catch
everything: a StationError becomes a verdict, anything else a "not recorded —
unexpected error" verdict, handled in one place (``_show_failure``). A scan is
shown as done only when its service call returned a result.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import App
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from station import heap, terminal
from station.domain import Mode
from station.scanner import ScanRejected, decode_scan
from station.services.errors import (
    DatabaseUnavailable,
    InvalidInput,
    Reason,
    StationError,
)
from station.services.results import (
    CheckInResult,
    DoorCheckResult,
    RedemptionResult,
    StaffMember,
    StationContext,
    StationInfo,
)
from station.text import display_safe
from station.tui import keymap, kiosk, verdicts
from station.tui.burst import BurstRouter, ScanKeys
from station.tui.components.header import DatabaseLight
from station.tui.double_scan import RecentScans
from station.tui.messages import (
    BurstPauseDue,
    DatabaseChecked,
    ProductsLoaded,
    RedeemRequested,
    ScanFailed,
    ScanResult,
    ScanSubmitted,
    ScanSucceeded,
    ScanTicket,
    SearchFinished,
    SignInChecked,
    StaffListed,
    StationInfoLoaded,
    WorkCrashed,
)
from station.tui.screens.badge import BadgeScreen
from station.tui.screens.confirm import ConfirmScreen
from station.tui.screens.lookup import LookupScreen
from station.tui.screens.picker import PickerScreen
from station.tui.screens.scan import ScanScreen
from station.tui.screens.sign_in import SignInScreen
from station.tui.verdicts import Verdict

if TYPE_CHECKING:
    from station.bootstrap import Services
    from station.config import Settings

Clock = Callable[[], datetime]

WORKING_AFTER_S = 0.2
PROBE_EVERY_S = 2.0
COUNTS_AFTER_S = 0.3
BADGE_WAIT_S = 0.05


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StationApp(App[int], inherit_bindings=False):
    CSS_PATH = "station.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = keymap.APP
    TITLE = "station"

    def __init__(self, services: Services, settings: Settings, *, clock: Clock | None = None):
        super().__init__()
        self.services = services
        self.settings = settings
        self.clock: Clock = clock or _utcnow
        self.ctx = StationContext(conference=settings.conference, station=settings.station)
        self.operator: StaffMember | None = None
        self.info: StationInfo | None = None
        self.online = True
        self.ready = False
        """Signed in, scan screen up: what the start-up benchmark waits for."""
        self.handle_hangup = False
        self.exit_signals: terminal.ExitOnSignal | None = None
        self.probe_every = PROBE_EVERY_S
        """While the database is away, how often to knock (tests shorten it)."""
        self.verdict_times: dict[int, float] = {}
        """seq -> monotonic time the verdict was painted (read by the latency benchmark)."""
        self._seq = 0
        self._shown_seq = 0
        self._in_flight: dict[int, ScanTicket] = {}
        self._working_timer: Timer | None = None
        self._probe_timer: Timer | None = None
        self._counts_timer: Timer | None = None
        self._burst_timer: Timer | None = None
        self._badge_screen: BadgeScreen | None = None
        self._badge_wait: Timer | None = None
        self.verdict: Verdict = verdicts.idle()
        """The verdict of the latest scan (what the banner on top shows)."""
        profile = settings.scanner
        self.recent = RecentScans(profile.double_scan_window_s)
        """The double-scan guard: each code's last verdict at this station."""
        self.router = BurstRouter(
            gap=profile.burst_gap_ms / 1000,
            submit_on_pause=profile.terminator == "none",
            tab_ends=profile.terminator == "tab",
        )

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
        """Results can still arrive while the app shuts down; then there is no screen."""
        return not self.screen_stack or not isinstance(self.screen_stack[0], ScanScreen)

    @property
    def timezone(self) -> str:
        return self.info.timezone if self.info else "UTC"

    def on_mount(self) -> None:
        # Terminal, signals and kiosk: see station.terminal and station.tui.kiosk.
        traits = terminal.detect_terminal(ascii_borders=self.settings.ascii_borders)
        self.set_class(traits.ascii_borders, "-ascii")
        if self.handle_hangup:
            self.exit_signals = terminal.install_exit_signals(
                self, grace_s=_exit_grace_s(self.settings)
            )
        if self.settings.kiosk:
            kiosk.lock_down(self)
        self.push_screen(SignInScreen(preset=self.settings.operator), self._signed_in)
        self._load_station_info()

    def scan_screen_mounted(self) -> None:
        self._show_header()
        self.scan_screen.counters.show(None)

    def _signed_in(self, member: StaffMember | None) -> None:
        self.operator = member
        self.ctx = replace(self.ctx, staff_id=member.id if member else None)
        self._show_header()
        self._refresh_counts()
        self.ready = True
        heap.settle()  # start-up is over: the collector need not look at it again

    def _show_header(self) -> None:
        info = self.info
        self.scan_screen.header.show(
            conference=info.conference_name if info else self.settings.conference,
            station=self.settings.station,
            mode=self.settings.mode,
            product=info.product_name if info else self.settings.product,
            operator=self.operator.name if self.operator else None,
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
            if isinstance(event, events.Paste) and self._scan_keys() != "off":
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
        # Looking up the screen's bindings costs; only a held first key needs it.
        bound = kind == "bindings" and not self.router.held and self._is_bound(key)
        decision = self.router.feed(key, kind, bound=bound)
        await self._replay(decision.release)
        self._arm_burst_timer()
        if decision.submit is not None:
            self._burst_submitted(decision.submit)
        return not decision.forward

    def _pasted(self, paste: events.Paste) -> None:
        """A bracketed paste (some scanners and bridges send one) is a scan, never typing."""
        held = self.router.text()
        self.router.take()
        self.router.note_submitted(paste.time)
        self._burst_submitted(held + paste.text)

    def _burst_submitted(self, text: str) -> None:
        """A burst or paste ended: on the scan screen, what already reached the field
        belongs in front of it (a burst split by SSH jitter, a quick hand-typed code)."""
        screen = self.screen
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

    def _is_bound(self, key: events.Key) -> bool:
        return key.key in self.screen.active_bindings

    async def _replay(self, keys: list[events.Key]) -> None:
        """Hand held keys on as if never held. Several at once were typed fast into a
        text field: their characters go straight to it, never to a binding (the scan
        screen's "/" would open the lookup before the field saw the text before it)."""
        field = self.focused if len(keys) > 1 and isinstance(self.focused, Input) else None
        for key in keys:
            if field is not None and key.is_printable:
                field._forward_event(key)
            else:
                await super().on_event(key)

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
            self._burst_submitted(decision.submit)

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
            ticket = self._new_ticket(shown, "rejected")
            self._finish(ticket, verdicts.for_error(error, code=shown), shown)
            self._log_refusal(ticket, error)
            return
        code = decoded.code
        if any(t.code == code and t.action != "rejected" for t in self._in_flight.values()):
            return  # scanned twice before the first answer came: that answer is for both
        previous = self.recent.previous(code, self.clock())
        if previous is not None:
            self._just_scanned(code, previous)
            return
        self._leave_overlays()
        self.start_code(code)

    def _just_scanned(self, code: str, previous: Verdict) -> None:
        """The same code within the double-scan window: repeat the earlier verdict as
        JUST SCANNED; no service call, nothing written, and a badge preview or picker
        for this very code stays up. The window starts again: a badge lying under a
        presentation scanner is read over and over, and must not redeem every 3 s."""
        self.recent.remember(code, previous, self.clock())
        verdict = verdicts.just_scanned(previous)
        screen = self.screen
        if isinstance(screen, BadgeScreen | PickerScreen) and screen_code(screen) == code:
            screen.flash(verdict)
        else:
            self._return_to_scan_screen()
        self._seq += 1
        self._shown_seq = self._seq
        self.verdict = verdict
        self.scan_screen.show_outcome(verdict, None)

    def start_code(self, code: str, *, line_item_id: int | None = None) -> None:
        """Act on a badge code the way this station's mode says."""
        mode = self.settings.mode
        if line_item_id is not None:
            self._redeem(self._new_ticket(code, "redeem", line_item_id=line_item_id))
        elif mode is Mode.CHECKIN:
            self._check_in(self._new_ticket(code, "checkin"))
        elif mode is Mode.DOOR:
            self._door_check(self._new_ticket(code, "door"))
        elif self.settings.product:
            self._redeem(self._new_ticket(code, "redeem"))
        else:
            self._load_products(self._new_ticket(code, "products"))

    def _new_ticket(self, code: str, action: str, *, line_item_id: int | None = None) -> ScanTicket:
        self._seq += 1
        ticket = ScanTicket(
            seq=self._seq,
            client_id=uuid.uuid4(),
            code=code,
            action=action,
            ctx=self.ctx,
            at=self.clock(),
            started=time.monotonic(),
            line_item_id=line_item_id,
        )
        self._in_flight[ticket.seq] = ticket
        if self._working_timer is None:
            self._working_timer = self.set_timer(WORKING_AFTER_S, self._show_working)
        return ticket

    def _show_working(self) -> None:
        if self.closing_down:
            return
        self._working_timer = None
        if self._in_flight:
            self.scan_screen.set_working(True)

    def _return_to_scan_screen(self) -> None:
        while isinstance(self.screen, BadgeScreen | PickerScreen | LookupScreen):
            self.pop_screen()

    def _leave_overlays(self) -> None:
        """A scan arrived: close the picker or lookup; a badge preview waits, emptied,
        for the next badge (switching screens twice per scan would double its latency)."""
        while isinstance(self.screen, PickerScreen | LookupScreen):
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
        if self._in_flight and isinstance(self.screen, BadgeScreen):
            self.screen.waiting(verdicts.checking(""))

    def on_scan_succeeded(self, message: ScanSucceeded) -> None:
        if self.closing_down:
            return
        self._set_online(True)
        result = message.result
        verdict, who = _verdict_for_result(result)
        badge = isinstance(result, CheckInResult) and message.ticket.seq == self._seq
        self._finish(message.ticket, verdict, who, keep_badge=badge)
        if isinstance(result, CheckInResult) and badge:
            self.badge_screen.show(result.badge, verdict, seconds=self.settings.badge_seconds)
            if isinstance(self.screen, ScanScreen):
                self.push_screen(self.badge_screen)
        self._refresh_counts_soon()

    def on_scan_failed(self, message: ScanFailed) -> None:
        if self.closing_down:
            return
        error = message.error
        self._set_online(not isinstance(error, DatabaseUnavailable))
        verdict = verdicts.for_error(error, code=message.ticket.code, timezone=self.timezone)
        who = error.attendee_name or f"Badge {message.ticket.code}"
        self._finish(message.ticket, verdict, who)

    def on_products_loaded(self, message: ProductsLoaded) -> None:
        if self.closing_down:
            return
        self._set_online(True)
        ticket = message.ticket
        name = message.badge.name if message.badge else ticket.code
        if not message.products:
            verdict = verdicts.nothing_to_redeem(name)
            self._finish(ticket, verdict, name)
            return
        self._finish(ticket, verdicts.choosing(name), name, record=False, keep_badge=True)
        if ticket.seq == self._seq and isinstance(self.screen, ScanScreen):
            self.push_screen(PickerScreen(code=ticket.code, name=name, products=message.products))

    def on_redeem_requested(self, message: RedeemRequested) -> None:
        if self.closing_down:
            return
        self._return_to_scan_screen()
        self.start_code(message.code, line_item_id=message.line_item_id)

    def _finish(
        self,
        ticket: ScanTicket,
        verdict: Verdict,
        who: str,
        *,
        record: bool = True,
        keep_badge: bool = False,
    ) -> None:
        """The one place a scan's outcome reaches the screen."""
        self._in_flight.pop(ticket.seq, None)
        if ticket.action != "rejected":
            self.recent.remember(ticket.code, verdict, self.clock())
        if self._badge_wait is not None and not self._in_flight:
            self._badge_wait.stop()
            self._badge_wait = None
        if ticket.seq == self._seq and not keep_badge and isinstance(self.screen, BadgeScreen):
            self.pop_screen()  # the emptied badge preview gives way to the verdict
        screen = self.scan_screen
        entry: tuple[str, str] | None = None
        if record:
            when = verdicts.local_time(ticket.at, self.timezone, seconds=True)
            entry = (when, display_safe(who, limit=40))
        if ticket.seq >= self._shown_seq:
            self._shown_seq = ticket.seq
            self.verdict = verdict
            screen.show_outcome(verdict, entry)
            self.call_after_refresh(self._painted, ticket.seq)
        elif entry is not None:
            screen.show_outcome(screen.verdict, entry)
        if verdict.rings_bell:
            self.bell()
        if not self._in_flight:
            if self._working_timer is not None:
                self._working_timer.stop()
                self._working_timer = None
            screen.set_working(False)

    def _painted(self, seq: int) -> None:
        self.verdict_times[seq] = time.monotonic()
        if len(self.verdict_times) > 1000:
            del self.verdict_times[min(self.verdict_times)]

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
        self.scan_screen.header.query_one("#db-light", DatabaseLight).set_online(online)
        if online:
            if self._probe_timer is not None:
                self._probe_timer.stop()
                self._probe_timer = None
            if self.info is None:
                self._load_station_info()
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
            self.scan_screen.counters.show(message.counts)
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
        self._show_failure(message.error, message.ticket)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # The worker bodies catch everything; this is the net under the net.
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self._show_failure(event.worker.error, None)

    def _show_failure(self, error: BaseException, ticket: ScanTicket | None) -> None:
        if self.closing_down:
            return
        verdict = verdicts.for_worker_failure(error)
        self.log.error("worker failed", repr(error))
        if ticket is not None:
            self._finish(ticket, verdict, f"Badge {ticket.code}")
        else:
            self.verdict = verdict
            self.scan_screen.show_outcome(verdict, None)
            self.bell()

    # ---------------------------------------------------------------- workers

    def _report(self, ticket: ScanTicket, call: Callable[[], ScanResult]) -> None:
        """Run one scan's service call and post what happened; never raises."""
        try:
            result = call()
        except StationError as error:
            self.post_message(ScanFailed(ticket, error))
        except Exception as error:
            self.post_message(WorkCrashed("scan", error, ticket))
        else:
            self.post_message(ScanSucceeded(ticket, result))

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def _check_in(self, ticket: ScanTicket) -> None:
        checkin = self.services.checkin
        self._report(
            ticket, lambda: checkin.check_in(ticket.ctx, ticket.code, client_id=ticket.client_id)
        )

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def _redeem(self, ticket: ScanTicket) -> None:
        redemption = self.services.redemption
        if ticket.line_item_id is not None:
            line_item_id = ticket.line_item_id
            self._report(
                ticket,
                lambda: redemption.redeem_product(
                    ticket.ctx, ticket.code, line_item_id=line_item_id, client_id=ticket.client_id
                ),
            )
            return
        product = self.settings.product
        self._report(
            ticket,
            lambda: redemption.redeem_product(
                ticket.ctx, ticket.code, product=product, client_id=ticket.client_id
            ),
        )

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def _door_check(self, ticket: ScanTicket) -> None:
        checkin = self.services.checkin
        product = self.settings.product or ""
        self._report(
            ticket,
            lambda: checkin.record_door_check(
                ticket.ctx, ticket.code, product=product, client_id=ticket.client_id
            ),
        )

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def _load_products(self, ticket: ScanTicket) -> None:
        """Meal line without a fixed product: what can this attendee still redeem?"""
        checkin = self.services.checkin
        try:
            badge = checkin.lookup_attendee(ticket.ctx, ticket.code)
            refusal = checkin.validate_order_status(badge.order_status, action="redemption")
            if refusal is not None:
                refusal.attendee_id = badge.attendee_id
                checkin.log_refusal(ticket.ctx, action="redeem", code=ticket.code, error=refusal)
                raise refusal
        except StationError as error:
            self.post_message(ScanFailed(ticket, error))
            return
        except Exception as error:
            self.post_message(WorkCrashed("scan", error, ticket))
            return
        products = tuple(p for p in badge.products if p.remaining > 0)
        self.post_message(ProductsLoaded(ticket, products, badge))

    @work(thread=True, group="log", exit_on_error=False)
    def _log_refusal(self, ticket: ScanTicket, error: StationError) -> None:
        try:
            self.services.checkin.log_refusal(
                ticket.ctx, action=_action_for(self.settings.mode), code=ticket.code, error=error
            )
        except Exception as crash:
            self.post_message(WorkCrashed("log", crash, None))

    @work(thread=True, exclusive=True, group="status", exit_on_error=False)
    def _check_database(self) -> None:
        try:
            counts = self.services.checkin.counts(self.ctx)
        except StationError as error:
            self.post_message(DatabaseChecked(None, error))
        except Exception as crash:
            self.post_message(WorkCrashed("status", crash, None))
        else:
            self.post_message(DatabaseChecked(counts))

    @work(thread=True, exclusive=True, group="info", exit_on_error=False)
    def _load_station_info(self) -> None:
        settings = self.settings
        try:
            info = self.services.checkin.station_info(self.ctx, settings.mode, settings.product)
        except StationError as error:
            self.post_message(StationInfoLoaded(None, error))
        except Exception as crash:
            self.post_message(WorkCrashed("info", crash, None))
        else:
            self.post_message(StationInfoLoaded(info))

    @work(thread=True, exclusive=True, group="staff", exit_on_error=False)
    def list_staff(self, reply_to: MessagePump) -> None:
        try:
            staff = self.services.staff.list_staff()
        except StationError as error:
            reply_to.post_message(StaffListed((), error))
        except Exception as crash:
            self.post_message(WorkCrashed("staff", crash, None))
        else:
            reply_to.post_message(StaffListed(staff))

    @work(thread=True, exclusive=True, group="staff", exit_on_error=False)
    def sign_in(self, name: str, pin: str | None, reply_to: MessagePump) -> None:
        try:
            member = self.services.staff.sign_in(name, pin)
        except StationError as error:
            reply_to.post_message(SignInChecked(None, error))
        except Exception as crash:
            self.post_message(WorkCrashed("staff", crash, None))
        else:
            reply_to.post_message(SignInChecked(member))

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def search_attendees(self, query: str, reply_to: MessagePump) -> None:
        try:
            matches = self.services.checkin.search_attendees(self.ctx, query)
        except StationError as error:
            reply_to.post_message(SearchFinished(query, (), error))
        except Exception as crash:
            self.post_message(WorkCrashed("search", crash, None))
        else:
            reply_to.post_message(SearchFinished(query, matches))


def screen_code(screen: BadgeScreen | PickerScreen) -> str | None:
    """The badge code a badge preview or picker is showing."""
    if isinstance(screen, PickerScreen):
        return screen.code
    return screen.badge.access_code if screen.badge else None


def _action_for(mode: Mode) -> str:
    return {Mode.CHECKIN: "checkin", Mode.MEAL: "redeem", Mode.DOOR: "door"}[mode]


def _verdict_for_result(result: ScanResult) -> tuple[Verdict, str]:
    if isinstance(result, CheckInResult):
        return verdicts.for_check_in(result), result.badge.name
    if isinstance(result, RedemptionResult):
        return verdicts.for_redemption(result), result.attendee_name
    if isinstance(result, DoorCheckResult):
        return verdicts.for_door(result), result.attendee_name
    raise TypeError(f"unknown result {type(result).__name__}")


def make_app(services: Services, *, settings: Settings, clock: Clock | None = None) -> StationApp:
    """The one way to build the app: the CLI and the tests both come through here."""
    return StationApp(services, settings, clock=clock)


def run_station(settings: Settings) -> int:
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
        app = make_app(services, settings=settings)
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
