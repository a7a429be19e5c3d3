"""Helpers of the end-to-end tests: real ``flunq serve`` processes, a private
``redis-server``, a local HTTP server that counts the effects it receives, and a small
client of Flunq's HTTP API.

Every wait here polls against a deadline; nothing relies on a fixed sleep being long enough.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]

# Variables that would make a child process read settings we did not choose.
_FOREIGN_ENV = ("FLUNQ_", "DB_TYPE", "EVENT_STREAM_TYPE", "REDIS_URL", "REDIS_HOST", "REDIS_PORT")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], T | None], timeout: float, interval: float = 0.05) -> T:
    """Poll ``check`` until it returns something other than None/False; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def require_services() -> bool:
    """CI sets FLUNQ_REQUIRE_SERVICES=1: a missing service is then a failure, not a skip."""
    return os.environ.get("FLUNQ_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    if require_services():
        pytest.fail(f"{reason} (FLUNQ_REQUIRE_SERVICES=1 makes this an error)")
    pytest.skip(reason)


# -- the effect server --------------------------------------------------------------------


class EffectServer:
    """A local HTTP server standing in for the services workflows call.

    - ``GET /ok/{key}/{step}[?ms=N]``: 200 ``{"key", "step"}`` (after N ms);
    - ``GET /flaky/{key}/{fails}``: 503 for the first ``fails`` requests of ``key``, then
      200 ``{"key", "ok": true}``;
    - ``GET /slow/{key}/{ms}``: the first request of ``key`` takes ``ms`` milliseconds, later
      ones answer at once: 200 ``{"key", "slow": true}``.

    ``hits`` counts requests by ``(route, key, step)`` (``step`` is ``""`` for flaky), so a
    test can check that each effect happened at least once and see how often it repeated.
    """

    def __init__(self) -> None:
        self.hits: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the executor reuses connections
            disable_nagle_algorithm = True  # headers and body are two writes

            def do_GET(self) -> None:
                server._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024  # the executor opens hundreds of connections at once

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self.port = int(self._httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="effect-server", daemon=True)

    def __enter__(self) -> EffectServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _count(self, key: tuple[str, str, str]) -> int:
        with self._lock:
            self.hits[key] += 1
            return self.hits[key]

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        path = [p for p in parts.path.split("/") if p]
        query = parse_qs(parts.query)
        if len(path) == 3 and path[0] == "ok":
            self._count(("ok", path[1], path[2]))
            delay = int(query.get("ms", ["0"])[0])
            if delay:
                time.sleep(delay / 1000)
            step = int(path[2]) if path[2].isdigit() else path[2]
            self._reply(request, 200, {"key": path[1], "step": step})
        elif len(path) == 3 and path[0] == "flaky":
            seen = self._count(("flaky", path[1], ""))
            if seen <= int(path[2]):
                self._reply(request, 503, {"error": "try again", "attempt": seen})
            else:
                self._reply(request, 200, {"key": path[1], "ok": True})
        elif len(path) == 3 and path[0] == "slow":
            if self._count(("slow", path[1], "")) == 1:
                time.sleep(int(path[2]) / 1000)
            self._reply(request, 200, {"key": path[1], "slow": True})
        else:
            self._reply(request, 404, {"error": "no such route"})

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
        except OSError:
            request.close_connection = True  # the caller went away (a killed process)

    def count(self, route: str, key: str, step: str | int = "") -> int:
        with self._lock:
            return self.hits[(route, key, str(step))]

    def total(self) -> int:
        with self._lock:
            return sum(self.hits.values())


# -- processes -----------------------------------------------------------------------------


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child process: ours without Flunq settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENV)}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


class Process:
    """A child process whose output goes to a log file (read back for diagnostics)."""

    def __init__(self, name: str, argv: Sequence[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self._starts = 0

    def start(self) -> Self:
        assert not self.alive, f"{self.name} is running already"
        self._starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n==== start #{self._starts}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, cwd=self.log_path.parent,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def log(self, tail: int = 4000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-tail:]

    def signal(self, sig: int) -> None:
        if self.alive:
            assert self.popen is not None
            self.popen.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def wait(self, timeout: float) -> int:
        assert self.popen is not None
        return self.popen.wait(timeout=timeout)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time (cleanup, not a test)."""
        if not self.alive:
            return
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def assert_alive(self) -> bool:
        """True, or fail the test with the end of the process's log."""
        assert self.alive, f"{self.name} exited with {self.returncode}; its log ends with:\n{self.log()}"
        return True


class FlunqProcess(Process):
    """``python -m flunq.cli serve ...``; ``port`` is set when it runs the api role."""

    def __init__(
        self, name: str, log_dir: Path, *, port: int | None = None, roles: str | None = None,
        store: str | None = None, bus: str | None = None, data_dir: Path | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        argv = [sys.executable, "-m", "flunq.cli", "serve"]
        for flag, value in (("--port", port), ("--roles", roles), ("--store", store), ("--bus", bus),
                            ("--data-dir", data_dir)):
            if value is not None:
                argv += [flag, str(value)]
        env = {f"FLUNQ_{k.upper()}": v for k, v in (settings or {}).items()}
        super().__init__(name, argv, log_dir, child_env(env))
        self.port = port
        self.url = f"http://127.0.0.1:{port}" if port is not None else None

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Until /healthz answers (api role) or the runtime logged that it started."""
        def ready() -> bool:
            self.assert_alive()
            if self.url is None:
                return "flunq started" in self.log(tail=1 << 20).rpartition("==== start #")[2]
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(f"{self.name} to be ready", ready, timeout)


class RedisServer(Process):
    """A private ``redis-server`` that keeps nothing on disk (a restart comes back empty)."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            skip_or_fail("redis-server is not installed")
        self.port = port or free_port()
        argv = [str(binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(log_dir)]
        super().__init__("redis", argv, log_dir)

    def url(self, prefix: str = "flunqe2e") -> str:
        return f"redis://127.0.0.1:{self.port}/0?prefix={prefix}"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def wait_ready(self, timeout: float = 10.0) -> None:
        def ready() -> bool:
            self.assert_alive()
            return self.ping()

        wait_for("redis-server to answer PING", ready, timeout)


@contextlib.contextmanager
def running(processes: Iterable[Process]) -> Any:
    """Make sure every process is gone when the test ends, whatever happened."""
    procs = list(processes)
    try:
        yield procs
    finally:
        for proc in procs:
            proc.stop(timeout=5.0)


# -- the API client ------------------------------------------------------------------------


class Api:
    """Just enough of Flunq's HTTP API for the tests (one tenant)."""

    def __init__(self, url: str, tenant: str = "e2e") -> None:
        self.base = f"{url}/api/v1/{tenant}"
        self.http = httpx.Client(timeout=30.0)

    def close(self) -> None:
        self.http.close()

    def register(self, source: str) -> dict[str, Any]:
        response = self.http.post(f"{self.base}/workflows", content=source.encode(),
                                  headers={"Content-Type": "application/yaml"})
        assert response.status_code == 201, response.text
        return response.json()

    def start(self, namespace: str, name: str, data: Any = None, wait: float | None = None) -> dict[str, Any]:
        params = {"wait": str(wait)} if wait else None
        response = self.http.post(f"{self.base}/workflows/{namespace}/{name}/executions",
                                  json={"input": data}, params=params)
        assert response.status_code == 201, response.text
        return response.json()

    def get(self, execution_id: str) -> dict[str, Any]:
        response = self.http.get(f"{self.base}/executions/{execution_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def events(self, execution_id: str) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.base}/executions/{execution_id}/events")
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def wait_all_ended(self, ids: Sequence[str], timeout: float, *, alive: Callable[[], object] | None = None) -> dict[str, dict[str, Any]]:
        """Poll until every execution is terminal; returns the final records by id."""
        pending = list(ids)
        done: dict[str, dict[str, Any]] = {}

        def check() -> bool:
            if alive is not None:
                alive()
            for execution_id in list(pending):
                record = self.get(execution_id)
                if record["status"] in ("completed", "faulted", "cancelled"):
                    done[execution_id] = record
                    pending.remove(execution_id)
            return not pending

        try:
            wait_for(f"{len(ids)} executions to end", check, timeout, interval=0.25)
        except AssertionError:
            sample = {i: self.get(i)["status"] for i in pending[:5]}
            raise AssertionError(f"{len(pending)} of {len(ids)} executions did not end in {timeout:.0f}s; "
                                 f"e.g. {sample}") from None
        return done


# -- journal checks -------------------------------------------------------------------------

_ONCE = {
    "io.flunq.fact.effect.completed.v1": "effect_id",
    "io.flunq.fact.effect.failed.v1": "effect_id",
    "io.flunq.fact.timer.fired.v1": "timer_id",
}


def applied_twice(items: list[dict[str, Any]]) -> list[str]:
    """Facts of one journal that were applied more than once (by effect or timer id)."""
    seen: Counter[tuple[str, str]] = Counter()
    for item in items:
        key = _ONCE.get(item.get("type", ""))
        if key is not None:
            seen[(item["type"], item["data"][key])] += 1
    return [f"{kind} {ident} x{n}" for (kind, ident), n in seen.items() if n > 1]


def journal_problems(items: list[dict[str, Any]]) -> list[str]:
    """Duplicated facts, and gaps or repeats in the journal's sequence numbers."""
    problems = applied_twice(items)
    seqs = [item["flunqseq"] for item in items]
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append(f"journal sequence is not 1..n: {seqs}")
    return problems


def facts(items: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    """The ``data`` of the journal's facts of one kind (``effect.completed``...)."""
    kind = f"io.flunq.fact.{tag}.v1"
    return [item["data"] for item in items if item.get("type") == kind]
