"""Parent side of per-case process isolation: start a worker, give it a deadline, end it.

``run_worker(request, timeout)`` starts ``python -m bench.worker`` in its own process
group, sends it the request, and waits at most ``timeout`` seconds. Whatever happens --
a result, an error, a signal, the deadline, or an interrupt of this process (Ctrl-C,
SIGTERM) -- the worker's whole process group is ended before it returns or raises, so
no worker outlives the measurement that started it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRACE_S = 5.0  # SIGTERM, then SIGKILL after this long


class WorkerFailed(RuntimeError):
    """The worker produced no result: it failed, died from a signal, or ran past its deadline."""


def _end_group(proc: subprocess.Popen) -> None:
    """End the worker's whole process group: SIGTERM, SIGKILL after a grace period, then reap."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break  # nothing of the group is left
        if sig == signal.SIGTERM:
            try:
                proc.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                pass
    proc.wait()


def _tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:] if line.strip())[-1500:]


def describe_exit(returncode: int) -> str:
    """``killed by SIGKILL (out of memory?)`` or ``exited with code 3``."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (out of memory?)" if -returncode == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exited with code {returncode}"


def run_worker(request: dict, timeout: float) -> dict:
    """Run one worker request; return its result (with ``pid``) or raise :class:`WorkerFailed`."""
    with tempfile.TemporaryDirectory(prefix="esperf-worker-") as tmp:
        result_path = Path(tmp) / "result.json"
        log_path = Path(tmp) / "output.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        payload = json.dumps({**request, "result_path": str(result_path), "parent_pid": os.getpid()})
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.worker"], stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                cwd=ROOT, env=env, start_new_session=True,
            )
            try:
                proc.communicate(payload.encode(), timeout=timeout)
            except subprocess.TimeoutExpired:
                _end_group(proc)
                raise WorkerFailed(
                    f"worker (pid {proc.pid}) ran past the {timeout:g} s deadline (--es-case-timeout) and was ended"
                ) from None
            finally:
                _end_group(proc)  # also on KeyboardInterrupt / SIGTERM of this process
        try:
            result = json.loads(result_path.read_text())
        except (OSError, ValueError):
            output = _tail(log_path)
            raise WorkerFailed(
                f"worker (pid {proc.pid}) {describe_exit(proc.returncode)} without a result"
                + (f"; its last output: {output}" if output else "")
            ) from None
    if not result.get("ok"):
        raise WorkerFailed(result.get("error") or f"worker {describe_exit(proc.returncode)}")
    return result
