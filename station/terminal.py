"""What the station needs from the terminal it runs on, and how it lets go of it.

A station is often a thin terminal at the end of an SSH link. Three things go
wrong there unless they are handled on purpose:

- Started without a terminal (``ssh host`` without ``-t``), Textual spins at
  100 % CPU forever; so we refuse at once with one line.
- When the link drops, sshd closes the pty and the kernel sends SIGHUP. By
  default that kills the process mid-write; ignored, it spins. We turn SIGHUP
  and SIGTERM into an orderly ``app.exit()``: the worker running a database
  call finishes it (commit or rollback, bounded by the database timeouts), the
  engine is disposed, and the process ends. A watchdog ends the process anyway
  if that somehow takes longer than the timeouts allow.
- The Linux console's font lacks most of Textual's border glyphs, so it gets
  ASCII borders (so do DEC VT and ``dumb`` terminals, which may have no line
  drawing at all); ``NO_COLOR`` gets a monochrome screen.

Nothing here imports Textual or SQLAlchemy: the checks run before either loads.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any, NoReturn, Protocol

__all__ = [
    "EXIT_NO_TERMINAL",
    "EXIT_SIGNALS",
    "NO_TERMINAL_MESSAGE",
    "ExitOnSignal",
    "TerminalTraits",
    "detect_terminal",
    "end_after_signal",
    "has_terminal",
    "install_exit_signals",
    "is_linux_console",
    "quiet_dead_terminal",
    "refuse_without_terminal",
]

NO_TERMINAL_MESSAGE = "station: needs a terminal — connect with ssh -t"
EXIT_NO_TERMINAL = 2
EXIT_SIGNALS = (signal.SIGHUP, signal.SIGTERM)

# TERM values of the Linux virtual console (``linux``, ``linux-16color``, ...).
_LINUX_TERM = re.compile(r"^linux(-|$)")
# Terminals that may have no Unicode line drawing at all: DEC VTs (and serial
# consoles claiming to be one) and ``dumb``.
_ASCII_ONLY_TERM = re.compile(r"^(vt[0-9]+|dumb)(-|$)")
# Device names of the Linux virtual consoles: /dev/tty1 ... /dev/tty63 and /dev/console.
_LINUX_CONSOLE_DEVICE = re.compile(r"^/dev/(tty[0-9]+|console|vc/[0-9]+)$")


# --- is there a terminal at all? -------------------------------------------------------


def has_terminal(streams: Iterable[IO[Any] | None] | None = None) -> bool:
    """True when stdin, stdout and stderr all are terminals (Textual reads one, draws on one)."""
    chosen = (sys.stdin, sys.stdout, sys.stderr) if streams is None else streams
    for stream in chosen:
        if stream is None:
            return False
        try:
            if not stream.isatty():
                return False
        except (ValueError, OSError):  # closed or detached
            return False
    return True


def refuse_without_terminal(streams: Iterable[IO[Any] | None] | None = None) -> int | None:
    """Print the one-line refusal and return the exit code, or None when all is well."""
    if has_terminal(streams):
        return None
    with contextlib.suppress(OSError, ValueError):  # nowhere to say it: the exit code tells
        print(NO_TERMINAL_MESSAGE, file=sys.stderr, flush=True)
    return EXIT_NO_TERMINAL


# --- which terminal? -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TerminalTraits:
    term: str
    linux_console: bool
    no_color: bool
    ascii_borders: bool


def is_linux_console(term: str, tty_path: str | None = None) -> bool:
    """The Linux virtual console, told by TERM or by the device the station draws on."""
    if _LINUX_TERM.match(term.strip()):
        return True
    return bool(tty_path and _LINUX_CONSOLE_DEVICE.match(tty_path))


def detect_terminal(
    env: Mapping[str, str] | None = None,
    *,
    tty_path: str | None = None,
    ascii_borders: bool | None = None,
) -> TerminalTraits:
    """Decide how to draw: ``ascii_borders`` (from settings) wins over detection.

    ``tty_path`` defaults to the terminal on stderr, where Textual draws.
    """
    environ = os.environ if env is None else env
    term = environ.get("TERM", "")
    if tty_path is None:
        tty_path = _tty_path(sys.__stderr__)
    linux = is_linux_console(term, tty_path)
    if ascii_borders is None:
        ascii_borders = linux or bool(_ASCII_ONLY_TERM.match(term.strip()))
    return TerminalTraits(
        term=term,
        linux_console=linux,
        # Textual switches to monochrome whenever NO_COLOR is present, even empty.
        no_color="NO_COLOR" in environ,
        ascii_borders=ascii_borders,
    )


def _tty_path(stream: IO[Any] | None) -> str | None:
    try:
        return os.ttyname(stream.fileno()) if stream is not None else None
    except (OSError, ValueError):
        return None


# --- letting go on SIGHUP / SIGTERM ----------------------------------------------------


class _Exitable(Protocol):
    def exit(self, result: Any = None, return_code: int = 0, message: Any = None) -> None: ...


@dataclass(slots=True)
class ExitOnSignal:
    """Turns the first SIGHUP/SIGTERM into ``app.exit()``; ends the process if that stalls.

    ``grace_s`` should cover the longest a database call may take (connect plus
    statement timeout): the worker's transaction gets that long to commit or
    roll back before the process is ended without it, which the database
    treats as a rollback.
    """

    app: _Exitable
    grace_s: float
    hard_exit: Callable[[int], None] = os._exit
    received: int | None = None
    watchdog: threading.Timer | None = None

    def __call__(self, signum: int) -> None:
        if self.received is not None:
            return  # already on the way out
        self.received = signum
        self.watchdog = threading.Timer(self.grace_s, self.hard_exit, args=(128 + signum,))
        self.watchdog.daemon = True
        self.watchdog.start()
        self.app.exit(return_code=0)

    def cancel(self) -> None:
        """Stop the watchdog (a daemon thread: left alone, it never delays the process's end)."""
        if self.watchdog is not None:
            self.watchdog.cancel()


def install_exit_signals(
    app: _Exitable,
    *,
    grace_s: float,
    loop: asyncio.AbstractEventLoop | None = None,
) -> ExitOnSignal:
    """Call from inside the running app (``on_mount``); handlers go when the loop closes."""
    handler = ExitOnSignal(app, grace_s)
    running = loop or asyncio.get_running_loop()
    for signum in EXIT_SIGNALS:
        running.add_signal_handler(signum, handler, signum)
    atexit.unregister(quiet_dead_terminal)
    atexit.register(quiet_dead_terminal)
    return handler


def quiet_dead_terminal() -> None:
    """Let the process end with its own status when the terminal has gone away.

    After a hangup, writing to the terminal fails; Python's last flush of
    stdout/stderr would then turn a clean exit into status 120. Runs at exit,
    before that flush: a stream that cannot be flushed is pointed at /dev/null.
    """
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        try:
            stream.flush()
        except (OSError, ValueError):
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
                os.close(devnull)


def end_after_signal(handler: ExitOnSignal | None, code: int) -> None:
    """After a SIGHUP/SIGTERM exit, end the process at once; otherwise return.

    Call once everything that matters is done: the worker's database call
    returned, the engine is disposed, the terminal restored. What is left is
    the interpreter's own teardown, which takes as long again as the app's
    shutdown (0.25 s of 0.45 s measured), so a hung-up station skips it.
    """
    if handler is None or handler.received is None:
        return
    _end_process(code)


def _end_process(code: int) -> NoReturn:
    quiet_dead_terminal()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(code)
