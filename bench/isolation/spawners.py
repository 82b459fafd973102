"""Parent side of per-case process isolation: start a worker, give it a deadline, end it.

:class:`Workers` runs one request per worker process and returns its result or raises
:class:`WorkerFailed`. It starts workers with one of two spawners, each behind one
``run(request, timeout)`` (like asv's ``Spawner`` / ``ForkServer``):

* :class:`ForkServer` (Linux, the default): one ``python -m bench.isolation.worker --serve`` process
  imports jax and esperf once, without starting a backend or a thread, and forks a child
  per request. A child has never started a backend nor compiled anything -- the same
  cold start as a new interpreter, minus ~1.5 s of imports per worker;
* :class:`Interpreter`: a new ``python -m bench.isolation.worker`` per request (other platforms, or
  where a fork server would not be safe: it reports a thread or a started backend after
  its imports, or ``--es-blas-threads 0`` asks for the BLAS pools as the user's
  environment sizes them at import).

Whatever happens -- a result, an error, a signal, the deadline, or an interrupt of this
process (Ctrl-C, SIGTERM) -- the worker's whole process group is ended before a call
returns or raises, so no worker outlives the measurement that started it.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.processes import describe_exit, end_group, signal_group
from bench.isolation.worker import PRELOAD_ENV  # a light import: the worker imports jax only when it runs

ROOT = Path(__file__).resolve().parents[2]
GRACE_S = 5.0  # SIGTERM, then SIGKILL after this long
WORKER = [sys.executable, "-m", "bench.isolation.worker"]


class WorkerFailed(RuntimeError):
    """The worker produced no result: it failed, died from a signal, or ran past its deadline.

    ``bad_request``: the worker refused the request itself (it names something this machine
    does not have, e.g. a device that is not visible): the caller's usage error, not a failure.
    """

    def __init__(self, message: str, bad_request: bool = False):
        super().__init__(message)
        self.bad_request = bad_request


def _worker_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env



def _tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:] if line.strip())[-1500:]



def _deadline_error(pid: int, timeout: float) -> WorkerFailed:
    return WorkerFailed(f"worker (pid {pid}) ran past the {timeout:g} s deadline (--es-case-timeout) and was ended")


def _result(result_path: Path, log_path: Path, pid: int, returncode: int) -> dict:
    """The worker's result object, or WorkerFailed naming how it ended and its last output."""
    try:
        result = json.loads(result_path.read_text())
    except (OSError, ValueError):
        output = _tail(log_path)
        raise WorkerFailed(
            f"worker (pid {pid}) {describe_exit(returncode)} without a result"
            + (f"; its last output: {output}" if output else "")
        ) from None
    if not result.get("ok"):
        raise WorkerFailed(result.get("error") or f"worker {describe_exit(returncode)}",
                           bad_request=bool(result.get("bad_request")))
    return result


class Interpreter:
    """A new ``python -m bench.isolation.worker`` interpreter per :meth:`run`."""

    def run(self, request: dict, timeout: float) -> dict:
        """Run one request in a new interpreter; its result (with ``pid``) or :class:`WorkerFailed`."""
        with tempfile.TemporaryDirectory(prefix="esperf-worker-") as tmp:
            result_path = Path(tmp) / "result.json"
            log_path = Path(tmp) / "output.log"
            payload = json.dumps({**request, "result_path": str(result_path), "parent_pid": os.getpid()})
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    WORKER, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                    cwd=ROOT, env=_worker_env(), start_new_session=True,
                )
                try:
                    proc.communicate(payload.encode(), timeout=timeout)
                except subprocess.TimeoutExpired:
                    end_group(proc, GRACE_S)
                    raise _deadline_error(proc.pid, timeout) from None
                finally:
                    end_group(proc, GRACE_S)  # also on KeyboardInterrupt / SIGTERM of this process
            return _result(result_path, log_path, proc.pid, proc.returncode)


class _ServerGone(Exception):
    """The fork server stopped answering (it exited, or did not reply in time)."""


class ForkServer:
    """A running ``python -m bench.isolation.worker --serve``: one forked worker per :meth:`run`.

    The server is in its own session; each child in its own process group, which this
    side ends on a deadline or an interrupt. The server dies with this process
    (``PR_SET_PDEATHSIG``) and its children with it.
    """

    def __init__(self, start_timeout: float):
        self._tmp = tempfile.TemporaryDirectory(prefix="esperf-forkserver-")
        self.log_path = Path(self._tmp.name) / "server.log"
        # OpenBLAS sizes its thread pool when it loads: one thread means none started,
        # so the server has nothing a fork could not copy. The children get the user's
        # value back (bench.isolation.worker.serve) and size their pools themselves.
        original = {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS")}
        env = _worker_env({"OPENBLAS_NUM_THREADS": "1", PRELOAD_ENV: json.dumps(original)})
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*WORKER, "--serve", "--parent-pid", str(os.getpid())],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=ROOT, env=env,
                start_new_session=True,
            )
        self._buffer = b""
        self._closed = False
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            self.ready = self._read(time.monotonic() + start_timeout)
        except _ServerGone as err:
            self.close()
            raise WorkerFailed(f"the worker fork server did not start: {err}") from None
        except BaseException:
            self.close()
            raise

    def _read(self, deadline: float) -> dict:
        """The server's next reply line, or _ServerGone at its exit or at the deadline."""
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not self._selector.select(left):
                raise _ServerGone(f"no reply within the deadline{self._log_tail()}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                code = self.proc.wait()
                raise _ServerGone(f"server (pid {self.proc.pid}) {describe_exit(code)}{self._log_tail()}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _log_tail(self) -> str:
        tail = _tail(self.log_path)
        return f"; its last output: {tail}" if tail else ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, request: dict, timeout: float) -> dict:
        """Run one request in a forked child; its result (with ``pid``) or WorkerFailed.

        After a deadline or an interrupt the child's group is ended; on an interrupt, or
        when the server no longer answers, the server is closed too (a later run starts
        a new one).
        """
        with tempfile.TemporaryDirectory(prefix="esperf-worker-") as tmp:
            result_path, log_path = Path(tmp) / "result.json", Path(tmp) / "output.log"
            deadline = time.monotonic() + timeout
            pid = None
            try:
                line = json.dumps({**request, "result_path": str(result_path), "log_path": str(log_path)})
                self.proc.stdin.write(line.encode() + b"\n")
                self.proc.stdin.flush()
                pid = self._read(time.monotonic() + GRACE_S + 60)["pid"]
                try:
                    code = self._read(deadline)["exit"]
                except _ServerGone:
                    if not self.alive():
                        raise
                    self._end_child(pid)
                    raise _deadline_error(pid, timeout) from None
            except WorkerFailed:
                raise  # the deadline: the child is ended, the server goes on
            except (_ServerGone, BrokenPipeError) as err:
                if pid is not None:
                    signal_group(pid, signal.SIGKILL)
                self.close()
                raise WorkerFailed(f"worker{f' (pid {pid})' if pid else ''}: the fork server stopped: {err}") from None
            except BaseException:  # KeyboardInterrupt, SIGTERM (bench.conftest), anything: no child stays
                if pid is not None:
                    signal_group(pid, signal.SIGKILL)
                self.close()
                raise
            return _result(result_path, log_path, pid, code)

    def _end_child(self, pid: int) -> None:
        """SIGTERM the child's group, SIGKILL after the grace period; wait for the server to reap it."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            signal_group(pid, sig)
            try:
                self._read(time.monotonic() + GRACE_S)  # {"exit": ...}
                return
            except _ServerGone:
                if not self.alive():
                    return
        self.close()  # a child that survives SIGKILL: end the server (and with it the child)

    def close(self) -> None:
        """End the server: close its input (it exits at the end of it), SIGKILL its group after the grace period."""
        proc = self.proc
        if self._closed:
            return
        self._closed = True
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        self._selector.close()
        self._tmp.cleanup()


class Workers:
    """How a run starts its workers (see the module's docstring); ``run(request, timeout)``.

    ``start`` is "fork server" or "interpreter"; ``why`` says why a run does not use the
    fork server. Call :meth:`close` at the end of the run.
    """

    def __init__(self, blas_threads: int | None, start_timeout: float = 600.0, fork: bool | None = None):
        self.start_timeout = start_timeout
        self.server: ForkServer | None = None
        self.why = None
        if fork is None:
            fork = os.environ.get("ESPERF_WORKER_START", "fork") != "interpreter"
            if not fork:
                self.why = "ESPERF_WORKER_START=interpreter"
        if fork and not sys.platform.startswith("linux"):
            fork, self.why = False, f"fork server only on Linux, not on {sys.platform}"
        if fork and blas_threads is None:
            fork, self.why = False, "--es-blas-threads 0 keeps the BLAS pools the environment sizes at import"
        self.start = "fork server" if fork else "interpreter"

    def _spawner(self) -> ForkServer | Interpreter:
        """The running fork server (a new one if the last one stopped), or an Interpreter."""
        if self.start != "fork server":
            return Interpreter()
        if self.server is None or not self.server.alive():
            server = ForkServer(self.start_timeout)
            unsafe = []
            if server.ready.get("threads", 1) > 1:
                unsafe.append(f"{server.ready['threads']} threads")
            if server.ready.get("backends"):
                unsafe.append(f"jax backends {server.ready['backends']} started")
            if unsafe:
                server.close()
                self.start, self.why = "interpreter", f"the fork server had {' and '.join(unsafe)} after its imports"
                return Interpreter()
            self.server = server
        return self.server

    def run(self, request: dict, timeout: float) -> dict:
        """Run one request in a fresh worker; its result (with ``pid``, and ``worker_start``: "fork
        server" or "interpreter", how this worker started) or :class:`WorkerFailed`."""
        spawner = self._spawner()
        result = spawner.run(request, timeout)
        result["worker_start"] = "fork server" if isinstance(spawner, ForkServer) else "interpreter"
        return result

    def start_of(self, results: list[dict]) -> dict:
        """For a row: ``worker_start``, how its workers started (the distinct ways in order, joined
        by ", then ": a fork server that fell back to interpreters mid-run shows in the rows it
        touched, not only in machine_info.workers), and ``worker_start_why`` where an interpreter
        started because the fork server could not be used."""
        starts = list(dict.fromkeys(r.get("worker_start", self.start) for r in results))
        out = {"worker_start": ", then ".join(starts) or self.start}
        if "interpreter" in starts and self.why:
            out["worker_start_why"] = self.why
        return out

    def describe(self) -> dict:
        """For machine_info: how the workers started, and why not by the fork server."""
        return {"start": self.start, **({"why": self.why} if self.why else {})}

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
