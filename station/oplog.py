"""The operational log: one rotating file per station, for whoever has to find out what happened.

A station runs unattended at a desk; when a volunteer says "it froze at ten past nine",
this file is what is left: every scan's outcome and timing, every worker error with its
traceback, every database outage and recovery.

It never writes to the terminal. The Textual UI draws on stderr, and one log line there
would corrupt the screen, so once :func:`setup_logging` has run, records of the
``station`` loggers go to the file only and nothing reaches Python's last-resort stderr
handler. If the file cannot be written, the station still runs: one line on stderr before
the UI starts, then logging off.

No personal data: a scan is logged by its badge code, never by name. Untrusted text (a
code is whatever a scanner typed) is escaped so each record stays one line; only
tracebacks span several.

No Textual and no SQLAlchemy here: the UI and the CLI both import this module.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

import platformdirs

__all__ = [
    "BACKUP_COUNT",
    "LEVELS",
    "LOG_DIR_ENV",
    "MAX_BYTES",
    "default_log_dir",
    "log_database",
    "log_file_name",
    "log_file_path",
    "log_scan",
    "log_worker_error",
    "safe_for_log",
    "setup_logging",
    "shutdown_logging",
]

LOG_DIR_ENV = "STATION_LOG_DIR"
LEVELS: Mapping[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
MAX_BYTES = 5 * 1024 * 1024
BACKUP_COUNT = 5

_ROOT_NAME = "station"
_scan_log = logging.getLogger("station.scan")
_worker_log = logging.getLogger("station.worker")
_database_log = logging.getLogger("station.database")

# Longest piece of untrusted text written to one line; a scanner can type kilobytes.
_TEXT_LIMIT = 300
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)}
)


# --- where the file goes -----------------------------------------------------------------


def default_log_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$STATION_LOG_DIR`` if set in ``env``, else the user log directory (platformdirs)."""
    override = (env or {}).get(LOG_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_log_dir("station", appauthor=False))


def log_file_name(station: str) -> str:
    """``<station>.log`` with the name made safe for any file system ("Door A" -> "Door_A.log").

    Each station gets its own file, so two stations on one machine never rotate
    each other's log.
    """
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in station.strip())
    safe = safe.lstrip(".")[:100] or "station"
    if safe.split(".")[0].upper() in _WINDOWS_RESERVED:
        safe = f"station-{safe}"
    return f"{safe}.log"


def log_file_path(station: str, log_dir: Path | None = None) -> Path:
    """The file :func:`setup_logging` writes for ``station`` (``log_dir`` None: the default)."""
    return (log_dir if log_dir is not None else default_log_dir()) / log_file_name(station)


# --- setting it up -----------------------------------------------------------------------


@dataclass(slots=True)
class _Installed:
    """What setup changed, so that shutdown (and tests) can put it back."""

    handler: logging.Handler
    station_level: int
    station_propagate: bool


_installed: _Installed | None = None
_setup_lock = threading.Lock()


def setup_logging(
    *,
    station: str,
    level: str = "info",
    log_dir: Path | None = None,
    max_bytes: int = MAX_BYTES,
    backup_count: int = BACKUP_COUNT,
    stderr: TextIO | None = None,
) -> Path | None:
    """Send the ``station`` loggers to ``<log_dir>/<station>.log``; return its path.

    Rotates at ``max_bytes`` keeping ``backup_count`` old files. Records of other
    libraries at WARNING or above (a SQLAlchemy pool error, an asyncio task that
    failed) go to the same file, so none of them falls through to stderr either.
    If the file cannot be opened, writes one ``station: cannot write the log file``
    line to ``stderr`` (default ``sys.stderr``) and returns None: logging is off but
    every log call still works. Calling it again replaces the earlier set-up.
    """
    if level not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    global _installed
    with _setup_lock:
        _uninstall()
        path = log_file_path(station, log_dir)
        handler: logging.Handler
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = _FileHandler(path, max_bytes=max_bytes, backup_count=backup_count)
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            print(
                f"station: cannot write the log file {path}: {reason}; logging off",
                file=stderr if stderr is not None else sys.stderr,
                flush=True,
            )
            handler = logging.NullHandler()
            shown: Path | None = None
        else:
            handler.setFormatter(_Formatter())
            shown = path
        station_logger = logging.getLogger(_ROOT_NAME)
        _installed = _Installed(
            handler=handler,
            station_level=station_logger.level,
            station_propagate=station_logger.propagate,
        )
        station_logger.setLevel(LEVELS[level])
        station_logger.propagate = False  # the root's handlers may write to stderr
        station_logger.addHandler(handler)
        # A handler on the root keeps other libraries' warnings off the last-resort
        # stderr handler; the root's own level (WARNING by default) filters them.
        logging.getLogger().addHandler(handler)
        _reset_database_state()
        return shown


def shutdown_logging() -> None:
    """Close the file and put the loggers back as they were (for tests and a clean exit)."""
    with _setup_lock:
        _uninstall()


def _uninstall() -> None:
    global _installed
    if _installed is None:
        return
    station_logger = logging.getLogger(_ROOT_NAME)
    station_logger.removeHandler(_installed.handler)
    logging.getLogger().removeHandler(_installed.handler)
    station_logger.setLevel(_installed.station_level)
    station_logger.propagate = _installed.station_propagate
    _installed.handler.close()
    _installed = None


class _FileHandler(logging.handlers.RotatingFileHandler):
    """A rotating UTF-8 file whose own failures (disk full) never print to stderr."""

    def __init__(self, path: Path, *, max_bytes: int, backup_count: int) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8")

    def handleError(self, record: logging.LogRecord) -> None:
        # The default prints "--- Logging error ---" and a traceback on stderr, over
        # the UI. A record that cannot be written is dropped instead.
        return


class _Formatter(logging.Formatter):
    """``<ISO time with UTC offset> <LEVEL> <logger> <message>``, the message on one line."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created).astimezone()
        return moment.isoformat(timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        # A safety net for messages that did not go through safe_for_log: no
        # control character (a newline, an escape sequence) reaches the file raw.
        record.message = _printable(record.getMessage())
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.message}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + _printable_lines(record.exc_text)
        if record.stack_info:
            line += "\n" + _printable_lines(self.formatStack(record.stack_info))
        return line


# --- untrusted text ----------------------------------------------------------------------


def safe_for_log(text: str, limit: int = _TEXT_LIMIT) -> str:
    r"""``text`` as one printable line: ``\n``, ``\x1b``, ``\u202e``, ``\\`` as in a repr.

    Backslashes are doubled, so an escaped newline and a typed ``\n`` stay
    distinguishable. Text longer than ``limit`` is cut, saying how much was left out.
    """
    cut = text[:limit]
    if cut.isprintable() and "\\" not in cut:
        shown = cut
    else:
        shown = "".join(_ESCAPES.get(ch) or (ch if ch.isprintable() else _hex(ch)) for ch in cut)
    if len(text) > limit:
        shown += f"…(+{len(text) - limit} characters)"
    return shown


def _hex(ch: str) -> str:
    point = ord(ch)
    if point <= 0xFF:
        return f"\\x{point:02x}"
    if point <= 0xFFFF:
        return f"\\u{point:04x}"
    return f"\\U{point:08x}"


def _printable(text: str) -> str:
    """Every non-printable character escaped; backslashes kept (the text may be escaped)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _ESCAPES.get(ch) or _hex(ch) for ch in text)


def _printable_lines(text: str) -> str:
    """A traceback keeps its lines, but no escape sequence from an error message."""
    return "\n".join(_printable(line) for line in text.split("\n"))


def _quoted(text: str) -> str:
    """Untrusted text as a double-quoted field that no content can break out of."""
    return '"' + safe_for_log(text).replace('"', '\\"') + '"'


# --- what the UI logs --------------------------------------------------------------------


def log_scan(
    *,
    seq: int,
    mode: str,
    code: str,
    client_id: str,
    outcome: str,
    reason: str,
    ms: float,
    replayed: bool = False,
) -> None:
    """One INFO line per scan verdict on ``station.scan``: the code, never a name.

    ``outcome`` is what the volunteer saw ("accepted", "refused", "not_recorded",
    "rejected"), ``reason`` the reason code, ``ms`` the time from scan to verdict,
    ``replayed`` whether the answer was an earlier one sent again.
    """
    if not _scan_log.isEnabledFor(logging.INFO):
        return
    _scan_log.info(
        "scan seq=%d mode=%s outcome=%s reason=%s ms=%.1f replayed=%s code=%s client_id=%s",
        seq,
        safe_for_log(mode, 40),
        safe_for_log(outcome, 40),
        safe_for_log(reason, 80),
        ms,
        "yes" if replayed else "no",
        _quoted(code),
        safe_for_log(client_id, 80),
    )


def log_worker_error(what: str, error: BaseException) -> None:
    """An ERROR on ``station.worker`` with the full traceback: crashes must not vanish."""
    try:
        message = str(error)
    except Exception:  # an exception whose __str__ fails must still be logged
        message = "<unprintable>"
    _worker_log.error(
        "worker failed: %s: %s: %s",
        safe_for_log(what, 120),
        type(error).__qualname__,
        safe_for_log(message),
        exc_info=(type(error), error, error.__traceback__),
    )


_database_lock = threading.Lock()
_database_online: bool | None = None  # None: nothing known yet
_outage_since: float | None = None


def log_database(online: bool, detail: str = "") -> None:
    """Outages and recoveries on ``station.database``: WARNING when it goes, INFO when back.

    Only changes make a WARNING or INFO line (later failures of the same outage
    are DEBUG), so it is safe to call after every database call, not only on
    changes. The recovery line says how long the outage lasted.
    """
    global _database_online, _outage_since
    now = time.monotonic()
    with _database_lock:
        previous = _database_online
        _database_online = online
        started = _outage_since
        _outage_since = (started if previous is False else now) if not online else None
    suffix = f": {safe_for_log(detail)}" if detail else ""
    if not online:
        if previous is False:
            _database_log.debug("database still unreachable%s", suffix)
        else:
            _database_log.warning("database unreachable%s", suffix or ": no detail")
    elif previous is False:
        lasted = f" after {now - started:.1f} s" if started is not None else ""
        _database_log.info("database back%s%s", lasted, suffix)
    elif previous is None:
        _database_log.debug("database reachable%s", suffix)


def _reset_database_state() -> None:
    global _database_online, _outage_since
    with _database_lock:
        _database_online = None
        _outage_since = None
