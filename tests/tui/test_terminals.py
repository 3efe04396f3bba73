"""The real station in a real terminal emulator (tmux) at 80×24, for each kind of terminal.

Each TERM value (and NO_COLOR) gets its own ``station run`` process in one tmux
server, started together so the whole set costs one start-up. The tests read
the screen as a person would: the header, the scan field, the key labels, a
verdict, and nothing that is not text (escape debris, replacement characters).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from station.db import DatabaseSettings, make_engine, make_session_factory
from tests.builders import ConferenceBuilder
from tests.ssh.harness import Tmux, station_argv, station_env, tmux_server

TERMINALS = {
    # session name: (TERM, NO_COLOR)
    "xterm-256color": ("xterm-256color", False),
    "xterm": ("xterm", False),
    "vt100": ("vt100", False),
    "linux": ("linux", False),
    "no-color": ("xterm-256color", True),
}
ASCII_BORDERS = {"vt100", "linux"}
# Box drawing and block elements: the Linux console font lacks most of them.
LINE_DRAWING = re.compile("[\u2500-\u259f]")
# The verdict symbols a console font lacks.
VERDICT_GLYPHS = re.compile("[✔✖⚠]")
# Left over from an escape sequence the terminal did not understand.
DEBRIS = re.compile(r"\x1b|\ufffd|\^\[|\[\?[0-9]|\[[0-9;]+m")
COLOUR = re.compile(r"\x1b\[([0-9;]*)m")
# A name that would retitle the window, clear the screen and read backwards if it reached
# the terminal as it is stored.
HOSTILE_FIRST = "\x1b]2;PWNED\x07Eve\x1b[2J"
HOSTILE_LAST = "\u202eredaeR\x9b31m"


@dataclass
class Terminals:
    tmux: Tmux
    codes: dict[str, tuple[str, str]]  # session -> (badge code, attendee name)


@pytest.fixture(scope="module")
def terminals(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Terminals]:
    path = tmp_path_factory.mktemp("terminals") / "station.sqlite3"
    shutil.copyfile(sqlite_template, path)
    settings = DatabaseSettings(url=f"sqlite:///{path}")
    engine = make_engine(settings)
    conf = ConferenceBuilder(make_session_factory(engine))
    conf.staff("Ana")
    codes: dict[str, tuple[str, str]] = {}
    for n, session in enumerate(TERMINALS, start=1):
        built = conf.attendee(f"TERM{n:04d}", first_name="Attendee", last_name=f"Number{n}")
        codes[session] = (built.access_code, f"Attendee Number{n}")
    hostile = conf.attendee("HOSTILE01", first_name=HOSTILE_FIRST, last_name=HOSTILE_LAST)
    codes["hostile"] = (hostile.access_code, "")
    engine.dispose()
    with tmux_server() as tmux:
        for session, (term, no_color) in TERMINALS.items():
            extra = {"TERM": term, **({"NO_COLOR": "1"} if no_color else {})}
            env = station_env(
                settings, conference=conf.slug, station=f"Desk {session}", extra=extra
            )
            tmux.start(station_argv(), env=env, name=session)
        yield Terminals(tmux, codes)


def _ready(screen: str) -> bool:
    """Signed in and scanning (the very first frame shows the scan screen before sign-in)."""
    return "READY" in screen and "Scan a badge" in screen and "op: Ana" in screen


@pytest.mark.parametrize("session", list(TERMINALS))
def test_scan_screen_is_readable_at_80x24(terminals: Terminals, session: str) -> None:
    tmux = terminals.tmux
    # The header names the conference once the station's info is read (its own worker).
    screen = tmux.wait_for(
        lambda s: _ready(s) and "PyCon Test" in s, f"the scan screen in {session}", name=session
    )
    lines = screen.splitlines()
    assert len(lines) <= 24
    assert all(len(line) <= 80 for line in lines)
    assert "PyCon Test" in lines[0]
    assert f"Desk {session}" in lines[0]
    assert "CHECK-IN" in lines[0]
    assert "DB OK" in lines[0]
    assert "/ Find" in screen
    assert "Quit" in screen
    assert not DEBRIS.search(screen), screen
    if session in ASCII_BORDERS:
        assert not LINE_DRAWING.search(screen), screen
        assert "+----" in screen  # the scan field's ASCII frame
    else:
        assert LINE_DRAWING.search(screen)  # so the check above can fail

    code, name = terminals.codes[session]
    tmux.send_text(code, name=session)
    tmux.send_keys("Enter", name=session)
    screen = tmux.wait_for(
        lambda s: "CHECKED IN" in s and name in s, f"the verdict in {session}", name=session
    )
    assert not DEBRIS.search(screen), screen
    if session in ASCII_BORDERS:
        assert not LINE_DRAWING.search(screen), screen
        assert not VERDICT_GLYPHS.search(screen), screen  # not in a console font
        assert "+ OK - CHECKED IN" in screen
    else:
        assert "✔ OK — CHECKED IN" in screen


def test_no_color_means_no_hue(terminals: Terminals) -> None:
    tmux = terminals.tmux
    tmux.wait_for(lambda s: "Scan a badge" in s or "CHECKED IN" in s, "a screen", name="no-color")
    monochrome = tmux.run("capture-pane", "-p", "-e", "-t", "no-color").stdout
    coloured = tmux.run("capture-pane", "-p", "-e", "-t", "xterm-256color").stdout
    assert _hues(monochrome) == set()
    assert _hues(coloured)  # so the check above can fail


def _hues(screen: str) -> set[str]:
    """Every colour on screen that is not a grey, as tmux writes it back."""
    found: set[str] = set()
    for params in COLOUR.findall(screen):
        numbers = [int(p) for p in params.split(";") if p]
        i = 0
        while i < len(numbers):
            n = numbers[i]
            if n in (38, 48) and i + 2 < len(numbers) and numbers[i + 1] == 5:
                if not _grey_256(numbers[i + 2]):
                    found.add(f"{n};5;{numbers[i + 2]}")
                i += 3
            elif n in (38, 48) and i + 4 < len(numbers) and numbers[i + 1] == 2:
                r, g, b = numbers[i + 2 : i + 5]
                if not (r == g == b):
                    found.add(f"{n};2;{r};{g};{b}")
                i += 5
            else:
                if 31 <= n <= 36 or 41 <= n <= 46 or 91 <= n <= 96 or 101 <= n <= 106:
                    found.add(str(n))
                i += 1
    return found


def _grey_256(index: int) -> bool:
    if index in (0, 7, 8, 15) or index >= 232:
        return True
    if 16 <= index <= 231:
        cube = index - 16
        return cube // 36 == (cube // 6) % 6 == cube % 6
    return False


def test_resizing_keeps_the_screen_whole(terminals: Terminals) -> None:
    tmux = terminals.tmux
    session = "xterm"
    tmux.wait_for(lambda s: "Scan a badge" in s or "CHECKED IN" in s, "a screen", name=session)
    tmux.send_keys("Escape", name=session)  # back from a badge preview, if one is up
    tmux.wait_for(lambda s: "Scan a badge" in s, "the scan screen", name=session)
    for cols, rows in ((120, 40), (80, 24)):
        tmux.resize(cols, rows, name=session)
        screen = tmux.wait_for(
            lambda s, c=cols: (
                "Scan a badge" in s
                and "DB OK" in s.splitlines()[0]
                and s.splitlines()[0].rstrip().endswith("DB OK")
                and len(s.splitlines()[0]) >= c - 1
            ),
            f"the scan screen at {cols}x{rows}",
            name=session,
        )
        lines = screen.splitlines()
        assert len(lines) <= rows
        assert "Desk xterm" in lines[0]
        assert "/ Find" in screen
        assert not DEBRIS.search(screen), screen


def test_names_with_control_sequences_reach_the_terminal_as_plain_text(
    terminals: Terminals,
) -> None:
    tmux = terminals.tmux
    session = "xterm-256color"
    tmux.wait_for(lambda s: "Scan a badge" in s or "CHECKED IN" in s, "a screen", name=session)
    title_before = tmux.run("display-message", "-p", "-t", session, "#{pane_title}").stdout
    tmux.send_keys("Escape", name=session)  # back from a badge preview, if one is up
    tmux.wait_for(lambda s: "Scan a badge" in s, "the scan screen", name=session)
    time.sleep(0.2)  # an Escape right before a scan would be part of its burst
    tmux.send_text(terminals.codes["hostile"][0], name=session)
    tmux.send_keys("Enter", name=session)
    screen = tmux.wait_for(
        lambda s: "CHECKED IN" in s and "Eve" in s, "the hostile name's verdict", name=session
    )
    title_after = tmux.run("display-message", "-p", "-t", session, "#{pane_title}").stdout
    assert "PWNED" not in title_after
    assert title_after == title_before
    assert "redaeR" in screen  # shown as stored, not turned around by the bidi override
    assert "]2;PWNEDEve[2J redaeR31m" in screen  # every control character dropped, no more
    assert "Products:" in screen  # nothing was cleared or moved
    assert not DEBRIS.search(screen.replace("]2;PWNED", "")), screen
