"""A TCP proxy between a station and PostgreSQL that counts round trips and adds delay.

A round trip is counted each time the client sends after having received
something (or sends first): that is each time the client had to wait for the
server before it could go on. Connection set-up is counted too, so callers
read ``round_trips`` before and after the operations they measure.

``delay_ms`` is added to every chunk in each direction (a chunk is forwarded
``delay_ms`` after it arrived, in order), so a round trip through the proxy
costs at least ``2 * delay_ms`` — a venue Wi-Fi or VPN on the loopback.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field


@dataclass
class _Stats:
    round_trips: int = 0
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class TcpProxy:
    """Forward 127.0.0.1:<port> to ``target``; start() and stop() from any thread."""

    def __init__(self, target_host: str, target_port: int, *, delay_ms: float = 0.0) -> None:
        self.target = (target_host, target_port)
        self.delay_s = delay_ms / 1000
        self.port = 0
        self._stats = _Stats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def round_trips(self) -> int:
        with self._stats.lock:
            return self._stats.round_trips

    @property
    def connections(self) -> int:
        with self._stats.lock:
            return self._stats.connections

    def start(self) -> TcpProxy:
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._server = loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            tasks = list(asyncio.all_tasks(loop))
            for task in tasks:
                task.cancel()
            if tasks:  # gather() of nothing asks for this thread's loop, which is not set
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        with self._stats.lock:
            self._stats.connections += 1
        # Who sent last on this connection: a client send after a server send is a new trip.
        last = ["server"]

        async def pump(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, side: str
        ) -> None:
            queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

            async def deliver() -> None:
                while True:
                    due, chunk = await queue.get()
                    if not chunk:
                        break
                    wait = due - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    writer.write(chunk)
                    await writer.drain()
                writer.close()

            sender = asyncio.ensure_future(deliver())
            try:
                while True:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    if side == "client" and last[0] == "server":
                        with self._stats.lock:
                            self._stats.round_trips += 1
                    last[0] = side
                    queue.put_nowait((time.monotonic() + self.delay_s, chunk))
            except (ConnectionError, OSError):
                pass
            finally:
                queue.put_nowait((0.0, b""))
                with suppress(ConnectionError, OSError):
                    await sender

        pumps = asyncio.gather(
            pump(client_r, server_w, "client"),
            pump(server_r, client_w, "server"),
            return_exceptions=True,
        )
        try:
            await pumps
        except asyncio.CancelledError:
            pumps.cancel()
            await asyncio.gather(pumps, return_exceptions=True)


@contextmanager
def running_proxy(host: str, port: int, *, delay_ms: float = 0.0) -> Iterator[TcpProxy]:
    proxy = TcpProxy(host, port, delay_ms=delay_ms).start()
    try:
        yield proxy
    finally:
        proxy.stop()
