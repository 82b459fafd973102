"""Process groups, written once: end them, die with a parent, name how a process ended.

Every process esperf starts (a worker, the fork server, a launcher's child, a test's
subprocess) runs in its own process group (``start_new_session=True`` or ``setpgid``), so
that ending the group also ends whatever the process started. The group id is the
leader's pid, so a group is signalled even after its leader has exited.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

POLL_S = 0.02


def signal_name(sig: int) -> str:
    """``SIGKILL`` for 9; ``signal 99`` for a number no signal has."""
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def describe_exit(returncode: int) -> str:
    """How a process ended, from its return code: ``killed by SIGKILL (out of memory?)`` or
    ``exited with code 3`` (negative return codes are signals, as ``subprocess`` reports them)."""
    if returncode < 0:
        hint = " (out of memory?)" if -returncode == signal.SIGKILL else ""
        return f"killed by {signal_name(-returncode)}{hint}"
    return f"exited with code {returncode}"


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the process group ``pgid``; False when nothing of the group is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal (or a recycled id): leave it
        return True
    return True


def group_alive(pgid: int) -> bool:
    """Whether any process of the group ``pgid`` is left (zombies included)."""
    return signal_group(pgid, 0)


def end_groups(procs: Sequence[subprocess.Popen], grace_s: float) -> None:
    """End the process group of every ``proc``: SIGTERM, then SIGKILL to the groups still there
    after ``grace_s`` seconds, then reap the leaders.

    A group outlives its leader when the leader left children behind: the whole group gets
    the signals, not only the leader.
    """
    pgids = [p.pid for p in procs]
    for pgid in pgids:
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        for p in procs:
            p.poll()  # reap an exited leader, or its zombie would keep the group alive
        if not any(group_alive(pgid) for pgid in pgids):
            break
        time.sleep(POLL_S)
    for pgid in pgids:
        signal_group(pgid, signal.SIGKILL)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:  # unkillable (D state): nothing more can be done from here
            pass


def end_group(proc: subprocess.Popen, grace_s: float) -> None:
    """:func:`end_groups` for one process."""
    end_groups([proc], grace_s)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group of ``proc`` at once (no SIGTERM first) and reap its leader."""
    signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def run_command(cmd: Sequence[str], timeout_s: float) -> tuple[int, str] | None:
    """(exit code, stdout) of a short external command (``nvidia-smi -L``) run in its own process
    group under a deadline; None when it cannot start or runs past ``timeout_s`` (its group is
    killed either way, so nothing it started outlives the call)."""
    try:
        proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    except OSError:
        return None
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None
    finally:
        kill_group(proc)
    return proc.returncode, out


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux ``PR_SET_PDEATHSIG``;
    a no-op elsewhere). Safe between fork and exec (``preexec_fn``): ctypes is imported
    with this module, not in the child."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
