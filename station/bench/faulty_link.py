"""A TCP link between a station and PostgreSQL that can fail the ways venue networks do.

``cut()``: every connection is reset and new ones are refused (a cable pulled
next to the server: the station learns at once). ``blackhole()``: nothing
arrives any more in either direction and nothing is refused either (Wi-Fi gone
or a VPN stalled: packets vanish, the station learns only by waiting).
``restore()``: new connections go through again; connections that lived
through a blackhole are reset, as a NAT or firewall that forgot them would.

Used by the offline tests, the ``station bench offline`` measurements and the
tmux demo (``python -m station.bench.faulty_link --help``).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

State = Literal["up", "cut", "blackhole"]


class FaultyLink:
    """Forwards 127.0.0.1:``port`` (0: any free port) to ``upstream``."""

    def __init__(self, upstream_host: str, upstream_port: int, *, port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = port
        self.state: State = "up"
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()

    def start(self) -> FaultyLink:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, name="faulty-link", daemon=True).start()
        return self

    def close(self) -> None:
        self._stopped.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.close()
        self._reset_all()

    # -- faults -------------------------------------------------------------------

    def cut(self) -> None:
        """Reset every connection; refuse new ones until ``restore``."""
        self.state = "cut"
        self._reset_all()

    def blackhole(self) -> None:
        """Stop delivering anything, in both directions, without telling anyone."""
        self.state = "blackhole"

    def restore(self) -> None:
        """Deliver again; connections that lost data in a blackhole are reset."""
        if self.state == "blackhole":
            self._reset_all()
        self.state = "up"

    # -- plumbing -----------------------------------------------------------------

    def _reset_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            for sock in pair:
                _reset(sock)

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopped.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.state == "cut":
                _reset(client)
                continue
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        # A blackholed link swallows the start-up packet too: the client waits.
        while self.state == "blackhole" and not self._stopped.is_set():
            if self._stopped.wait(0.05):
                break
        if self.state != "up":
            _reset(client)
            return
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _reset(client)
            return
        server.settimeout(None)
        pair = (client, server)
        with self._lock:
            self._pairs.add(pair)
        for source, target in ((client, server), (server, client)):
            threading.Thread(target=self._pipe, args=(source, target, pair), daemon=True).start()

    def _pipe(
        self,
        source: socket.socket,
        target: socket.socket,
        pair: tuple[socket.socket, socket.socket],
    ) -> None:
        try:
            while data := source.recv(65536):
                if self.state == "blackhole":
                    continue  # vanished
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._pairs.discard(pair)
            for sock in pair:
                _reset(sock)


def _reset(sock: socket.socket) -> None:
    """Drop a connection so its peer notices now (SO_LINGER 0: a reset); shut down
    first, as a bare close leaves a recv blocked in another thread holding it open."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@contextmanager
def faulty_link(host: str, port: int) -> Iterator[FaultyLink]:
    link = FaultyLink(host, port).start()
    try:
        yield link
    finally:
        link.close()


def main(argv: list[str] | None = None) -> int:
    """Run a link by hand: type up / cut / blackhole / quit on its standard input."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--listen", type=int, default=6543, help="local port (default 6543)")
    parser.add_argument("--to", default="127.0.0.1:5432", help="PostgreSQL host:port")
    args = parser.parse_args(argv)
    host, _, port = args.to.rpartition(":")
    link = FaultyLink(host or "127.0.0.1", int(port), port=args.listen).start()
    print(
        f"link 127.0.0.1:{link.port} -> {args.to}; commands: up, cut, blackhole, quit", flush=True
    )
    for line in sys.stdin:
        command = line.strip()
        if command == "cut":
            link.cut()
        elif command == "blackhole":
            link.blackhole()
        elif command == "up":
            link.restore()
        elif command == "quit":
            break
        print(f"link is {link.state}", flush=True)
    link.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
