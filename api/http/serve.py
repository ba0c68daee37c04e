"""`cession serve --workers N`: N uvicorn worker processes behind a parent that accepts every
connection itself and hands it to the worker holding the fewest open connections (the accepted
socket passed over a Unix socket pair, ``SCM_RIGHTS``). A worker serves a connection with uvicorn's
own protocol, as if it had accepted it, and tells the parent when the connection closes.

Why: uvicorn's own ``--workers`` shares one listening socket, and a worker woken by a burst of new
connections accepts them all; one socket per worker with ``SO_REUSEPORT`` (this module before)
spreads connections by a hash of their addresses and ports, so an agency's few keep-alive
connections still often met in one worker (a page of 1000, a batch of payments and a balance waiting
behind both for one GIL) while another idled (BENCHMARKS.md). Counting connections evens them out:
with 2 workers and 4 connections, 2 each. (A connection carries no kind: a balance may still share
its worker with a post.)

The parent: listens (the backlog of not yet accepted connections is its), starts the workers (each
builds the app with ``api.http.app:from_settings``) and accepts once all have started; on SIGINT or
SIGTERM it stops listening and stops them all (SIGTERM: uvicorn's graceful shutdown, requests under
way finish; ``STOP_SECONDS`` later, SIGKILL). If a worker dies on its own, the parent stops the
others and exits non-zero (a process manager restarts the whole server, as when a worker cannot
start). A worker whose parent is killed outright gets SIGTERM from the kernel
(``PR_SET_PDEATHSIG``), and stops too when its socket pair reaches its end: nothing is left behind.
Linux only; elsewhere, and with one worker, uvicorn serves as it always did.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import selectors
import signal
import socket
import sys
from dataclasses import dataclass
from typing import Any

import uvicorn

APP = "api.http.app:from_settings"
#: how long stopping workers may take (requests under way finish) before they are killed
STOP_SECONDS = 30.0
#: uvicorn's default backlog of not yet accepted connections
BACKLOG = 2048
#: a worker that died before or while serving: the parent exits with this
WORKER_DIED = 3

# What goes over a worker's socket pair (SOCK_SEQPACKET: one message at a time, never merged).
#: parent -> worker, with one accepted socket: serve it
HANDED = b"A"
#: worker -> parent: started, ready for connections
READY = b"R"
#: worker -> parent: b"C<n>", n of the connections handed to it have closed
CLOSED = b"C"

logger = logging.getLogger("uvicorn.error")


def handoff_supported() -> bool:
    """Whether the parent can hand accepted sockets to its workers (fd passing over Unix sockets,
    ``socket.send_fds``) and the workers end with it (``PR_SET_PDEATHSIG``): Linux."""
    return sys.platform == "linux" and hasattr(socket, "send_fds") and hasattr(socket, "SOCK_SEQPACKET")


def serve(*, host: str, port: int, workers: int, app: str = APP) -> int:
    """Serve ``app`` (an app factory's import path) on ``host:port``; the exit status to end with."""
    if workers == 1 or not handoff_supported():
        uvicorn.run(app, factory=True, host=host, port=port, workers=workers)
        return 0
    return Supervisor(app=app, host=host, port=port, workers=workers).run()


def family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn's Config.bind_socket


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (0: a port the system picks); a port anything
    listens on already, a server of ours too, is refused (OSError)."""
    sock = socket.socket(family_of(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass(eq=False)
class Worker:
    """The parent's view of one worker: its process, its end of the socket pair, how many of the
    connections handed to it are still open."""

    index: int
    process: Any  # multiprocessing's Process
    channel: socket.socket
    ready: bool = False
    open: int = 0


class Supervisor:
    def __init__(self, *, app: str, host: str, port: int, workers: int) -> None:
        self.app, self.host, self.port, self.workers = app, host, port, workers
        self.signals: list[int] = []
        self.next = 0  # among workers with as few connections, the first to try (round robin)

    def run(self) -> int:
        import multiprocessing

        uvicorn.Config(self.app, host=self.host, port=self.port)  # uvicorn's logging, as in the workers
        try:
            listener = listening_socket(self.host, self.port)
        except OSError as exc:
            logger.error("cannot listen on %s:%d: %s", self.host, self.port, exc)
            return WORKER_DIED
        self.port = listener.getsockname()[1]
        listener.setblocking(False)
        woken_r, woken_w = socket.socketpair()
        woken_r.setblocking(False)
        woken_w.setblocking(False)
        previous_wakeup = signal.set_wakeup_fd(woken_w.fileno())
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {s: signal.signal(s, self._on_signal) for s in handled}
        context = multiprocessing.get_context("spawn")
        selector = selectors.DefaultSelector()
        workers: list[Worker] = []
        status = 0
        accepting = False  # once every worker has started
        try:
            selector.register(woken_r, selectors.EVENT_READ, "signal")
            for index in range(self.workers):
                mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                process = context.Process(
                    target=worker, args=(self.app, theirs, os.getpid()), name=f"cession-worker-{index}"
                )
                try:
                    process.start()  # the socket reaches the child as a file descriptor passed on
                finally:
                    theirs.close()
                mine.setblocking(False)
                one = Worker(index, process, mine)
                workers.append(one)
                selector.register(mine, selectors.EVENT_READ, one)
                selector.register(process.sentinel, selectors.EVENT_READ, ("ended", one))
            while not self.signals:
                events = selector.select(timeout=5)
                # what the workers say first: a connection closed just before a new one arrived is
                # counted before the new one is handed out
                events.sort(key=lambda e: (e[0].data == "listener", isinstance(e[0].data, tuple)))
                for key, _ in events:
                    if isinstance(key.data, Worker):
                        self._hear(key.data, selector)
                    elif key.data == "listener":
                        self._accept(listener, workers)
                    elif isinstance(key.data, tuple) and not self.signals:
                        ended = key.data[1].process
                        ended.join()
                        logger.error("worker [%d] ended (exit code %s): stopping the server", ended.pid, ended.exitcode)
                        status = WORKER_DIED
                if status:
                    break
                if not accepting and all(w.ready for w in workers):
                    accepting = True
                    selector.register(listener, selectors.EVENT_READ, "listener")
                    scheme = "http://[%s]:%d" if ":" in self.host else "http://%s:%d"
                    logger.info(
                        f"Cession serving on {scheme} with %d workers (each new connection to the one with "
                        "the fewest; press CTRL+C to quit)",
                        self.host,
                        self.port,
                        self.workers,
                    )
        finally:
            listener.close()  # new connections are refused from now on; those not yet accepted are reset
            self._stop([w.process for w in workers])
            selector.close()
            for w in workers:
                w.channel.close()
            for s, handler in previous.items():
                signal.signal(s, handler)
            signal.set_wakeup_fd(previous_wakeup)
            woken_r.close()
            woken_w.close()
        return status

    def _on_signal(self, signum: int, _frame) -> None:
        self.signals.append(signum)

    def _hear(self, one: Worker, selector: selectors.BaseSelector) -> None:
        """Read what ``one`` said: that it is ready, that connections closed."""
        while True:
            try:
                message = one.channel.recv(64)
            except BlockingIOError:
                return
            except OSError:
                message = b""
            if not message:  # the worker is gone (its process's end is seen through its sentinel)
                selector.unregister(one.channel)
                one.ready = False
                return
            if message == READY:
                one.ready = True
            elif message.startswith(CLOSED):
                one.open = max(0, one.open - int(message[1:]))

    def _accept(self, listener: socket.socket, workers: list[Worker]) -> None:
        """Accept every connection waiting, each handed to the ready worker with the fewest open."""
        while True:
            try:
                connection, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: the connection waits in the backlog
                logger.error("accepting a connection: %s", exc)
                return
            try:
                self._hand(connection, workers)
            finally:
                connection.close()  # the worker's copy is the connection now

    def _hand(self, connection: socket.socket, workers: list[Worker]) -> None:
        count = len(workers)
        order = sorted((w for w in workers if w.ready), key=lambda w: (w.open, (w.index - self.next) % count))
        for one in order:
            try:
                socket.send_fds(one.channel, [HANDED], [connection.fileno()])
            except OSError:  # its queue is full (a worker that stopped reading) or it is gone: the next
                continue
            one.open += 1
            self.next = (one.index + 1) % count
            return
        logger.warning("no worker could take a connection: closed")

    def _stop(self, processes) -> None:
        """SIGTERM to every worker alive, then wait for them; SIGKILL to those still alive after
        STOP_SECONDS. (A second CTRL+C in a terminal reaches the workers too: uvicorn then stops
        at once without waiting for the requests under way.)"""
        import time

        for p in processes:
            if p.exitcode is None and p.pid is not None:
                os.kill(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for p in processes:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
            if p.exitcode is None and p.pid is not None:
                logger.warning("worker [%d] still running after %.0f s: killed", p.pid, STOP_SECONDS)
                p.kill()
                p.join()
        logger.info("Cession server stopped")


def worker(app: str, channel: socket.socket, parent: int) -> None:
    """One worker: uvicorn serving ``app`` on the connections the parent hands it over ``channel``."""
    _end_with_parent(parent)
    config = uvicorn.Config(app, factory=True)
    HandedServer(config, channel).run()  # SIGINT/SIGTERM: uvicorn's graceful stop


class HandedServer(uvicorn.Server):
    """uvicorn's server, its lifecycle whole (the app's lifespan, the ticks, the graceful shutdown),
    listening on nothing: its connections are sockets the parent accepted, served with uvicorn's
    protocol and server state through ``loop.connect_accepted_socket``."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel
        self.unsent = 0  # closed connections not yet told to the parent (its queue was full)
        self.connecting: set[asyncio.Task] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        from uvicorn.config import STARTUP_FAILURE

        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        self.loop = asyncio.get_running_loop()
        self.protocol_class = counted(self.config.http_protocol_class)
        self.servers = []  # uvicorn's shutdown closes its listening servers: there are none
        self.channel.setblocking(False)
        self.loop.add_reader(self.channel.fileno(), self._receive)
        self._tell(READY)
        self.started = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # the parent stopped listening before it sent the signal; a connection handed just before
        # and not yet read is closed unserved, as one in a closed listener's backlog would be
        self.loop.remove_reader(self.channel.fileno())
        for connection in self._handed():
            connection.close()
            self._closed()
        await super().shutdown(sockets)

    def _handed(self) -> list[socket.socket]:
        """The connections waiting on the socket pair; none and ``should_exit`` once the parent is gone."""
        found = []
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(self.channel, 16, 8)
            except BlockingIOError:
                return found
            except OSError:
                message, fds = b"", []
            if not message and not fds:  # the parent is gone
                self.loop.remove_reader(self.channel.fileno())
                self.should_exit = True
                return found
            found += [socket.socket(fileno=fd) for fd in fds]

    def _receive(self) -> None:
        for connection in self._handed():
            self._take(connection)

    def _take(self, connection: socket.socket) -> None:
        closed = once(self._closed)

        def protocol() -> asyncio.Protocol:
            made = self.protocol_class(
                config=self.config, server_state=self.server_state, app_state=self.lifespan.state, _loop=self.loop
            )
            made.on_close = closed
            return made

        def connected(task: asyncio.Task) -> None:
            self.connecting.discard(task)
            if task.cancelled() or task.exception() is not None:
                connection.close()
                closed()

        task = self.loop.create_task(self.loop.connect_accepted_socket(protocol, connection))
        self.connecting.add(task)
        task.add_done_callback(connected)

    def _closed(self) -> None:
        self.unsent += 1
        self._flush()

    def _flush(self) -> None:
        if not self.unsent:
            return
        try:
            self.channel.send(CLOSED + str(self.unsent).encode())
        except BlockingIOError:  # the parent's queue is full: when it is read
            self.loop.add_writer(self.channel.fileno(), self._flushed)
            return
        except OSError:  # the parent is gone
            pass
        self.unsent = 0

    def _flushed(self) -> None:
        self.loop.remove_writer(self.channel.fileno())
        self._flush()

    def _tell(self, message: bytes) -> None:
        with contextlib.suppress(OSError):  # the parent is gone: the worker stops when it sees so
            self.channel.send(message)


def once(call):
    """``call`` made to run at most once, however often it is called."""
    done = False

    def at_most_once() -> None:
        nonlocal done
        if not done:
            done = True
            call()

    return at_most_once


@functools.cache
def counted(base: type) -> type:
    """uvicorn's protocol ``base``, telling ``on_close`` when its connection is lost."""

    class Counted(base):  # type: ignore[misc, valid-type]
        on_close = None

        def connection_lost(self, exc: Exception | None) -> None:
            try:
                super().connection_lost(exc)
            finally:
                if self.on_close is not None:
                    self.on_close()

    return Counted


def _end_with_parent(parent: int) -> None:
    """SIGTERM to this process when the parent dies (even of SIGKILL), on Linux."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the socket pair's end is all there is
        return
    if os.getppid() != parent:  # the parent died before prctl: nobody else will stop this one
        os.kill(os.getpid(), signal.SIGTERM)
