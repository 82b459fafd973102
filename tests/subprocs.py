"""Subprocesses for the tests: a deadline, their own process group, ended with them."""
from __future__ import annotations

import os
import signal
import subprocess
import time


def run(cmd, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True)`` in a new session whose whole process
    group is killed on timeout, error or interrupt, and swept after a normal exit (so no child
    outlives the test). A timeout raises ``subprocess.TimeoutExpired`` after the kill."""
    proc = subprocess.Popen(cmd, stdout=kwargs.pop("stdout", subprocess.PIPE), stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        kill_group(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group of ``proc`` (started with start_new_session=True) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def gone(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` is no process at all (or a zombie nobody reaped yet: dead), within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False
