"""A tiny TCP proxy to pull the network out from under a station, and put it back."""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream; ``stop()`` drops every connection."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._marker: bytes | None = None
        self._skip = 0
        self._lost = threading.Event()
        self._servers: set[socket.socket] = set()
        self._doomed: set[socket.socket] = set()
        """Server sockets whose answer is being swallowed: their reader stays out."""
        self._watched: dict[bytes, int] = {}

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._sockets.update((client, server))
                self._servers.add(server)
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def lose_answer_to(self, marker: bytes, *, skip: int = 0) -> threading.Event:
        """The next request carrying ``marker`` (a badge code in the query's parameters),
        after ``skip`` such requests went through untouched, reaches the server; its
        complete answer, up to ReadyForQuery, is read and thrown away, then the
        connection is cut. The write committed; the station never hears. The event is
        set once an answer was lost."""
        self._skip = skip
        self._marker = marker
        self._lost = threading.Event()
        return self._lost

    def watch(self, marker: bytes) -> None:
        """Count from now on the requests that carry ``marker`` (see ``requests_with``)."""
        with self._lock:
            self._watched[marker] = 0

    def requests_with(self, marker: bytes) -> int:
        """How many reads from a station carried a watched ``marker``: one per round trip
        that sent it, since a station waits for each answer before its next request."""
        with self._lock:
            return self._watched[marker]

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        buffered = b""
        try:
            while data := source.recv(65536):
                if self._watched and target in self._servers:
                    with self._lock:
                        for watched in self._watched:
                            if watched in data:
                                self._watched[watched] += 1
                marker = self._marker
                if marker is not None and marker in data and target in self._servers:
                    if self._skip > 0:
                        self._skip -= 1
                        target.sendall(data)
                        continue
                    self._marker = None
                    with self._lock:
                        self._doomed.add(target)  # mark the server before it can answer
                with self._lock:
                    doomed = source in self._doomed
                if not doomed:
                    target.sendall(data)
                    continue
                buffered += data
                if _ends_with_ready_for_query(buffered):
                    self._lost.set()
                    return
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _ends_with_ready_for_query(stream: bytes) -> bool:
    """Whether a server's byte stream holds a complete ReadyForQuery ('Z') message."""
    while len(stream) >= 5:
        kind, length = stream[:1], int.from_bytes(stream[1:5], "big")
        if len(stream) < 1 + length:
            return False
        if kind == b"Z":
            return True
        stream = stream[1 + length :]
    return False
