"""The benchmark's TCP proxy stops cleanly, with or without connections left."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from station.bench.tcp_proxy import running_proxy


@pytest.fixture
def thread_errors() -> Iterator[list[BaseException | None]]:
    """Exceptions that ended any thread during the test (they are only printed otherwise)."""
    seen: list[BaseException | None] = []
    before = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.exc_value)
    yield seen
    threading.excepthook = before


def _listener() -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server


def test_a_proxy_whose_connections_all_closed_stops_without_an_error(
    thread_errors: list[BaseException | None],
) -> None:
    upstream = _listener()
    with running_proxy("127.0.0.1", upstream.getsockname()[1]) as proxy:
        pass
    assert proxy._thread is not None and not proxy._thread.is_alive()
    upstream.close()
    assert thread_errors == []


def test_a_proxy_stops_with_a_connection_still_open(
    thread_errors: list[BaseException | None],
) -> None:
    upstream = _listener()
    with running_proxy("127.0.0.1", upstream.getsockname()[1]) as proxy:
        client = socket.create_connection(("127.0.0.1", proxy.port))
        accepted, _ = upstream.accept()
        client.sendall(b"ping")
        assert accepted.recv(4) == b"ping"
    assert proxy._thread is not None and not proxy._thread.is_alive()
    for sock in (client, accepted, upstream):
        sock.close()
    assert thread_errors == []
