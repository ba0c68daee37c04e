"""`cession serve --workers N`: N uvicorn worker processes, each listening on a socket of its own
bound to the same address with ``SO_REUSEPORT``, so the kernel spreads new connections over the
workers (by a hash of each connection's addresses and ports) instead of letting them race for one
shared socket. uvicorn's own ``--workers`` shares one socket, and a worker woken by a burst of new
connections accepts them all: an agency's few keep-alive connections then often ended in one
worker, where a page of 1000 or a batch of payments holds the GIL and a balance waits behind it.
The hash is still chance: a few connections may share a worker, or all land in one (BENCHMARKS.md).

The parent only supervises: it checks the port is free, starts the workers (each builds the app
with ``api.http.app:from_settings``), and on SIGINT or SIGTERM stops them all (SIGTERM: uvicorn's
graceful shutdown; ``STOP_SECONDS`` later, SIGKILL). If a worker dies on its own, the parent
stops the others and exits non-zero (a process manager restarts the whole server, as when a
worker cannot start). A worker whose parent is killed outright gets SIGTERM from the
kernel (``PR_SET_PDEATHSIG``): nothing is left behind. Linux only; elsewhere, and with one
worker, uvicorn serves as it always did.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys

APP = "api.http.app:from_settings"
#: how long stopping workers may take (requests under way finish) before they are killed
STOP_SECONDS = 30.0
#: uvicorn's default backlog of not yet accepted connections, per worker here
BACKLOG = 2048
#: a worker that died before or while serving: the parent exits with this
WORKER_DIED = 3

logger = logging.getLogger("uvicorn.error")


def reuse_port_supported() -> bool:
    """Whether connections to sockets sharing a port are spread by the kernel (Linux's SO_REUSEPORT;
    BSD and macOS accept the option but give every connection to one socket)."""
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def serve(*, host: str, port: int, workers: int, app: str = APP) -> int:
    """Serve ``app`` (an app factory's import path) on ``host:port``; the exit status to end with."""
    import uvicorn

    if workers == 1 or not reuse_port_supported():
        uvicorn.run(app, factory=True, host=host, port=port, workers=workers)
        return 0
    return Supervisor(app=app, host=host, port=port, workers=workers).run()


def family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn's Config.bind_socket


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` with SO_REUSEPORT (not yet listening)."""
    sock = socket.socket(family_of(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def free_port(host: str, port: int) -> int:
    """``port`` (0: one the system picks) once checked free: a plain bind, which fails when anything
    listens there, even a server of ours (SO_REUSEPORT alone would join it and share its traffic)."""
    with socket.socket(family_of(host), socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        return probe.getsockname()[1]


class Supervisor:
    def __init__(self, *, app: str, host: str, port: int, workers: int) -> None:
        self.app, self.host, self.port, self.workers = app, host, port, workers
        self.signals: list[int] = []

    def run(self) -> int:
        import multiprocessing
        from multiprocessing.connection import wait

        import uvicorn

        uvicorn.Config(self.app, host=self.host, port=self.port)  # uvicorn's logging, as in the workers
        try:
            self.port = free_port(self.host, self.port)
            # held (bound, never listening: it gets no connections) so that the port stays ours
            # while the workers bind theirs
            holder = reuse_port_socket(self.host, self.port)
        except OSError as exc:
            logger.error("cannot listen on %s:%d: %s", self.host, self.port, exc)
            return WORKER_DIED
        woken_r, woken_w = socket.socketpair()
        woken_r.setblocking(False)
        woken_w.setblocking(False)
        previous_wakeup = signal.set_wakeup_fd(woken_w.fileno())
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {s: signal.signal(s, self._on_signal) for s in handled}
        context = multiprocessing.get_context("spawn")
        processes = []
        status = 0
        try:
            for _ in range(self.workers):
                process = context.Process(
                    target=worker, args=(self.app, self.host, self.port, os.getpid()), name="cession-worker"
                )
                process.start()
                processes.append(process)
            scheme = "http://[%s]:%d" if ":" in self.host else "http://%s:%d"
            logger.info(
                f"Cession serving on {scheme} with %d workers (one socket each, SO_REUSEPORT; press CTRL+C to quit)",
                self.host,
                self.port,
                self.workers,
            )
            while not self.signals:
                wait([p.sentinel for p in processes] + [woken_r], timeout=5)
                dead = [p for p in processes if p.exitcode is not None]
                if dead and not self.signals:
                    for p in dead:
                        logger.error("worker [%d] ended (exit code %s): stopping the server", p.pid, p.exitcode)
                    status = WORKER_DIED
                    break
        finally:
            self._stop(processes)
            for s, handler in previous.items():
                signal.signal(s, handler)
            signal.set_wakeup_fd(previous_wakeup)
            woken_r.close()
            woken_w.close()
            holder.close()
        return status

    def _on_signal(self, signum: int, _frame) -> None:
        self.signals.append(signum)

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


def worker(app: str, host: str, port: int, parent: int) -> None:
    """One worker: its own socket in the port's SO_REUSEPORT group, uvicorn serving ``app`` on it."""
    import uvicorn

    _end_with_parent(parent)
    try:
        sock = reuse_port_socket(host, port)
    except OSError as exc:
        logger.error("worker [%d]: cannot bind %s:%d: %s", os.getpid(), host, port, exc)
        sys.exit(WORKER_DIED)
    config = uvicorn.Config(app, factory=True, host=host, port=port, backlog=BACKLOG)
    uvicorn.Server(config).run(sockets=[sock])  # listens with the backlog; SIGINT/SIGTERM: graceful stop


def _end_with_parent(parent: int) -> None:
    """SIGTERM to this process when the parent dies (even of SIGKILL), on Linux."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's _stop is all there is
        return
    if os.getppid() != parent:  # the parent died before prctl: nobody else will stop this one
        os.kill(os.getpid(), signal.SIGTERM)
