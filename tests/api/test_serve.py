"""`cession serve --workers N` (api/http/serve.py): the parent listens and hands each new connection
to the worker with the fewest open, the server stops whole on SIGINT or SIGTERM (a request under
way answered), a worker that dies stops the server with a non-zero status, and workers do not
outlive a parent killed outright. Real processes on a SQLite store; Linux (the supervisor is
Linux's)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.http.serve import handoff_supported
from tests.store.conftest import migrated_sqlite  # noqa: F401 (fixture)

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.skipif(not handoff_supported(), reason="the supervisor hands connections on Linux only")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else int(fields[1])  # a zombie is as good as gone


def _descendants(pid: int) -> set[int]:
    parents = {int(p.name): _parent_of(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    found, todo = set(), [pid]
    while todo:
        this = todo.pop()
        children = {child for child, parent in parents.items() if parent == this}
        found |= children
        todo += children
    return found


def _alive(pids: set[int]) -> set[int]:
    return {p for p in pids if _parent_of(p) is not None}


def _listening(port: int) -> int:
    """How many sockets listen on ``port`` (IPv4)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A")


@pytest.fixture
def server(tmp_path, migrated_sqlite):  # noqa: F811 (the fixture)
    """Start `cession serve --workers 2` on a free port: (process, port, its worker processes)."""
    shutil.copyfile(migrated_sqlite, tmp_path / "store.db")
    port = _free_port()
    started: list[tuple[subprocess.Popen, set[int]]] = []

    def start(workers: int = 2) -> tuple[subprocess.Popen, int, set[int]]:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=dict(os.environ, CESSION_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}"),
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "serve.log").open("w"),  # read by _log (a pipe no one reads could fill)
            start_new_session=True,  # the test's signals go to the parent only
        )
        started.append((process, set()))
        deadline = time.monotonic() + 120
        while "Cession serving on" not in _log(tmp_path):  # every worker started
            assert process.poll() is None and time.monotonic() < deadline, _log(tmp_path)
            time.sleep(0.1)
        for _ in range(20):  # the workers answer, whichever a connection is handed to
            assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=60).status_code == 200
        pids = _descendants(process.pid)
        started[-1][1].update(pids)
        return process, port, pids

    yield start
    for process, pids in started:  # a failed test leaves nothing behind either
        pids |= _descendants(process.pid)
        for pid in _alive(pids):
            os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
        process.wait()


def _log(tmp_path: Path) -> str:
    return (tmp_path / "serve.log").read_text()


def _ended(process: subprocess.Popen, pids: set[int], seconds: float = 60) -> int:
    """The server's exit status once it and every process it started have ended."""
    code = process.wait(timeout=seconds)
    deadline = time.monotonic() + seconds
    while _alive(pids):
        assert time.monotonic() < deadline, f"left running: {_alive(pids)}"
        time.sleep(0.1)
    return code


def _workers(pids: set[int]) -> list[int]:
    """The worker processes among ``pids`` (multiprocessing's spawned children)."""
    found = []
    for pid in sorted(pids):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"multiprocessing.spawn" in command:
            found.append(pid)
    return found


def _connections(workers: list[int], port: int) -> list[int]:
    """How many connections to ``port`` each worker holds."""
    return [sum(local == f"0100007F:{port:04X}" for local, _ in _sockets_of(pid)) for pid in workers]


def _settled(workers: list[int], port: int, expected: int) -> list[int]:
    """The workers' connections once they hold ``expected`` in all: a worker drops a connection's
    socket only after it has told the parent the connection closed."""
    deadline = time.monotonic() + 30
    while sum(found := _connections(workers, port)) != expected:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_parent_listens_and_stops_with_its_workers(server, sig, tmp_path):
    process, port, pids = server()
    assert _listening(port) == 1  # the parent's socket: the workers listen on nothing
    assert len(_workers(pids)) == 2
    process.send_signal(sig)
    assert _ended(process, pids) == 0
    assert _listening(port) == 0
    assert "Cession server stopped" in _log(tmp_path)


def test_each_new_connection_goes_to_the_worker_with_the_fewest(server):
    process, port, pids = server()
    workers = _workers(pids)
    _settled(workers, port, 0)  # the start's requests' connections closed, and counted closed
    clients = []
    for _ in range(4):  # keep-alive connections, each opened while the others stay open
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        assert client.get("/health").status_code == 200
        clients.append(client)
    assert _settled(workers, port, 4) == [2, 2]
    # the two connections of one worker close: the next two both go to it (round robin: one each)
    first = workers[0]
    for client in clients:
        sockname = client.get("/health").extensions["network_stream"].get_extra_info("client_addr")
        if (f"0100007F:{port:04X}", f"0100007F:{sockname[1]:04X}") in _sockets_of(first):
            client.close()
    assert _settled(workers, port, 2) == [0, 2]
    for _ in range(2):
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        assert client.get("/health").status_code == 200
        clients.append(client)
    assert _settled(workers, port, 4) == [2, 2]
    for client in clients:
        client.close()


def test_a_request_under_way_is_answered_when_the_server_stops(server, tmp_path):
    process, port, pids = server()
    body = b'{"events": []}'
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(
            b"POST /v1/agency/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body[:5]
        )
        time.sleep(0.5)  # the request's head read: the request is under way
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _log(tmp_path).count("Shutting down") < 2:  # both workers stopping
            assert time.monotonic() < deadline, _log(tmp_path)
            time.sleep(0.05)
        assert _listening(port) == 0  # no new connections
        connection.sendall(body[5:])
        answer = b""
        while chunk := connection.recv(65536):  # to the end: the worker closes the connection after
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 401")  # answered (no key: refused), not cut
    assert answer.endswith(b"}")
    assert _ended(process, pids) == 0


def test_a_worker_that_dies_stops_the_server_with_an_error(server, tmp_path):
    process, port, pids = server()
    worker = _workers(pids)[0]
    os.kill(worker, signal.SIGKILL)
    assert _ended(process, pids) != 0
    assert f"worker [{worker}] ended" in _log(tmp_path)


def test_the_workers_end_when_the_server_is_killed_outright(server):
    process, _, pids = server()
    process.kill()  # SIGKILL: the parent stops nothing; the kernel tells the workers (PR_SET_PDEATHSIG)
    _ended(process, pids)


def test_a_port_in_use_is_refused_before_any_worker_starts(tmp_path, migrated_sqlite):  # noqa: F811
    shutil.copyfile(migrated_sqlite, tmp_path / "store.db")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=dict(os.environ, CESSION_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}"),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def _sockets_of(pid: int) -> list[tuple[str, str]]:
    """The local and remote addresses (hex, as /proc/net/tcp writes them) of the TCP sockets ``pid`` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    lines = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return [(fields[1], fields[2]) for fields in lines if fields[9] in inodes]
