"""Start N processes of one command on this machine as one jax distributed system.

    python -m bench.launch -n N [--local-devices K] [--gpus-per-process G] [--timeout SECONDS]
                           [--port PORT] [--grace SECONDS] -- COMMAND...

Process i gets ``ESPERF_DISTRIBUTED=127.0.0.1:PORT,N,i`` (read by :mod:`bench.multi.distributed`, e.g.
``pytest bench``) and ``ESPERF_PROCESS_ID=i``; the coordinator is process 0 on 127.0.0.1 at a
free port (or ``--port``), bound to 127.0.0.1 only (``JAX_COORDINATOR_BIND_ADDRESS``, unless
already set).

Devices per process:

- CPU: ``--local-devices K`` gives each process K host devices (appends
  ``--xla_force_host_platform_device_count=K`` to XLA_FLAGS), so ``-n 2 --local-devices 2`` is a
  4-device system of 2 processes.
- GPU host, one process per GPU: ``--gpus-per-process 1`` sets ``CUDA_VISIBLE_DEVICES`` of
  process i to the i-th GPU (the i-th group of G GPUs for G > 1), counted in the launcher's own
  CUDA_VISIBLE_DEVICES list if set, else 0..N*G-1. CUDA_VISIBLE_DEVICES rather than jax's
  ``local_device_ids`` because every jax version honours it and each process then allocates
  memory on its own GPU only. Several hosts: run one launcher-free process per GPU through the
  cluster's own launcher (Slurm, mpirun) with ``ESPERF_DISTRIBUTED=auto``, or set
  ``ESPERF_DISTRIBUTED=HOST0:PORT,N,i`` on each.

Output: every line of process i, stdout and stderr alike, is written to the launcher's stdout or
stderr with the prefix ``[p{i}] ``, line by line (children run with PYTHONUNBUFFERED=1).

Ending: every process runs in its own session/process group, and no process outlives the
launcher. If one exits non-zero or dies by a signal, the launcher ends the other process groups
(SIGTERM, then SIGKILL after ``--grace`` seconds) and prints one line naming it, e.g.
``launch: process 1 (pid 1234) was killed by SIGKILL; ended the other 1 process(es)``. Past the
``--timeout`` deadline (default 3600 s), or on SIGINT/SIGTERM/SIGHUP to the launcher, it ends
every group the same way. On Linux each process also gets SIGKILL if the launcher itself dies
(prctl PR_SET_PDEATHSIG), so even ``kill -9`` of the launcher leaves no direct child behind.

Exit status: 0 when every process exits 0; else the first failure's exit code, or 128+signal
for a process killed by a signal; 124 past the deadline; 128+signal when the launcher is
interrupted; 2 for bad arguments (one line on stderr); 127 when COMMAND cannot be started;
3 for an unexpected error of the launcher itself (one line naming the traceback's file). The
launcher passes its processes' codes on, so 1 or 3 may also be a process's own code: the
``launch:`` line says which process ended how (docs/commands.md).
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from bench.cli import EXIT_USAGE, command as run_command
from bench.processes import die_with_parent, end_groups, signal_name

DEADLINE_EXIT_CODE = 124
USAGE_EXIT_CODE = EXIT_USAGE
NOT_FOUND_EXIT_CODE = 127
POLL_S = 0.02  # how often the launcher looks at its processes


class UsageError(Exception):
    """A bad command line: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage and exits; we want one line
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m bench.launch", add_help=True, description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--num-processes", dest="n", type=int, required=True, help="number of processes")
    p.add_argument("--local-devices", type=int, default=None, help="forced CPU host devices per process")
    p.add_argument("--gpus-per-process", type=int, default=None, help="GPUs per process via CUDA_VISIBLE_DEVICES")
    p.add_argument("--timeout", type=float, default=3600.0, help="hard deadline in seconds (default 3600)")
    p.add_argument("--port", type=int, default=None, help="coordinator port on 127.0.0.1 (default: a free one)")
    p.add_argument(
        "--grace", type=float, default=5.0, help="seconds between SIGTERM and SIGKILL when ending (default 5)"
    )
    return p


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """The options before ``--`` and the command after it; UsageError (one line) if bad."""
    argv = list(argv)
    if "--" not in argv:
        if any(a in ("-h", "--help") for a in argv):
            _parser().print_help()
            raise SystemExit(0)
        raise UsageError("give the command after --, e.g. python -m bench.launch -n 2 -- pytest bench")
    cut = argv.index("--")
    args = _parser().parse_args(argv[:cut])
    command = argv[cut + 1 :]
    if not command:
        raise UsageError("no command after --")
    if args.n < 1:
        raise UsageError(f"-n {args.n} is not allowed; give at least 1 process")
    if args.local_devices is not None and args.local_devices < 1:
        raise UsageError(f"--local-devices {args.local_devices} is not allowed; give at least 1")
    if args.gpus_per_process is not None and args.gpus_per_process < 1:
        raise UsageError(f"--gpus-per-process {args.gpus_per_process} is not allowed; give at least 1")
    if not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout:g} is not allowed; give seconds > 0")
    if not args.grace >= 0:
        raise UsageError(f"--grace {args.grace:g} is not allowed; give seconds >= 0")
    if args.port is not None and not 1 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not allowed; give 1..65535")
    return args, command


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS's pick for a bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gpu_groups(n: int, per_process: int, visible: str | None) -> list[str]:
    """CUDA_VISIBLE_DEVICES of each of ``n`` processes: consecutive groups of ``per_process`` GPUs.

    The GPUs are the launcher's own CUDA_VISIBLE_DEVICES list (``visible``) if set, else 0..n*G-1.
    """
    pool = [g.strip() for g in visible.split(",") if g.strip()] if visible else None
    need = n * per_process
    if pool is None:
        pool = [str(g) for g in range(need)]
    if len(pool) < need:
        raise UsageError(
            f"-n {n} --gpus-per-process {per_process} needs {need} GPUs; "
            f"CUDA_VISIBLE_DEVICES={visible!r} has {len(pool)}"
        )
    return [",".join(pool[i * per_process : (i + 1) * per_process]) for i in range(n)]


def child_envs(args: argparse.Namespace, port: int, base: dict[str, str]) -> list[dict[str, str]]:
    """The environment of each process: the distributed spec, its index and its devices."""
    gpus = None
    if args.gpus_per_process is not None:
        gpus = gpu_groups(args.n, args.gpus_per_process, base.get("CUDA_VISIBLE_DEVICES"))
    envs = []
    for i in range(args.n):
        env = dict(base)
        env["ESPERF_DISTRIBUTED"] = f"127.0.0.1:{port},{args.n},{i}"
        env["ESPERF_PROCESS_ID"] = str(i)
        env.setdefault("JAX_COORDINATOR_BIND_ADDRESS", f"127.0.0.1:{port}")
        env["PYTHONUNBUFFERED"] = "1"  # line by line through the pipes, not in 8 KiB blocks
        if args.local_devices is not None:
            flag = f"--xla_force_host_platform_device_count={args.local_devices}"
            env["XLA_FLAGS"] = f"{env['XLA_FLAGS']} {flag}" if env.get("XLA_FLAGS") else flag
        if gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpus[i]
        envs.append(env)
    return envs


_ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _child_setup() -> None:
    # Runs in the child between fork and exec. The launcher blocks its ending signals while it
    # starts children (so that none is started but not yet tracked); the child must not inherit that.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _ENDING_SIGNALS)
    # SIGKILL the child if the launcher dies (Linux only): the one case the launcher's own
    # cleanup cannot cover, the launcher being SIGKILLed.
    die_with_parent()


def _pump(stream, out, prefix: bytes, lock: threading.Lock) -> None:
    """Copy ``stream`` to ``out`` line by line, each line prefixed (a last line without \\n gets one)."""
    for line in iter(stream.readline, b""):
        if not line.endswith(b"\n"):
            line += b"\n"
        with lock:
            try:
                out.write(prefix + line)
                out.flush()
            except (BrokenPipeError, ValueError):  # our reader went away: keep draining the child
                pass
    stream.close()



def _describe(i: int, pid: int, code: int) -> str:
    if code < 0:
        return f"process {i} (pid {pid}) was killed by {signal_name(-code)}"
    return f"process {i} (pid {pid}) exited with code {code}"


class _Interrupted(Exception):
    def __init__(self, sig: int):
        self.sig = sig



def _say(message: str) -> None:
    sys.stderr.write(f"launch: {message}\n")
    sys.stderr.flush()


def launch(args: argparse.Namespace, command: list[str]) -> int:
    """Run the N processes to the end; the launcher's exit status (see the module docstring)."""
    port = args.port if args.port is not None else free_port()
    envs = child_envs(args, port, dict(os.environ))

    def on_signal(sig, _frame):
        raise _Interrupted(sig)

    old = {s: signal.signal(s, on_signal) for s in _ENDING_SIGNALS}
    procs: list[subprocess.Popen] = []
    threads: list[threading.Thread] = []
    lock = threading.Lock()
    try:
        # All children start before any reader thread (preexec_fn is only safe without threads),
        # with the ending signals held back until every child is in `procs`.
        signal.pthread_sigmask(signal.SIG_BLOCK, _ENDING_SIGNALS)
        try:
            for env in envs:
                procs.append(
                    subprocess.Popen(
                        command,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        start_new_session=True,
                        preexec_fn=_child_setup,
                    )
                )
        except OSError as err:
            end_groups(procs, args.grace)
            _say(f"cannot start {command[0]!r}: {err.strerror or err}")
            return NOT_FOUND_EXIT_CODE
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _ENDING_SIGNALS)  # a held signal raises here
        for i, p in enumerate(procs):
            prefix = f"[p{i}] ".encode()
            for stream, out in ((p.stdout, sys.stdout.buffer), (p.stderr, sys.stderr.buffer)):
                t = threading.Thread(target=_pump, args=(stream, out, prefix, lock), daemon=True)
                t.start()
                threads.append(t)

        deadline = time.monotonic() + args.timeout
        while True:
            codes = [p.poll() for p in procs]
            failed = [i for i, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                i = failed[0]
                others = sum(c is None for c in codes)
                end_groups(procs, args.grace)
                _drain(threads)
                _say(f"{_describe(i, procs[i].pid, codes[i])}; ended the other {others} process(es)")
                return codes[i] if codes[i] > 0 else 128 - codes[i]
            if all(c == 0 for c in codes):
                end_groups(procs, args.grace)  # leftovers in the groups of processes that exited 0
                _drain(threads)
                return 0
            if time.monotonic() > deadline:
                running = sum(c is None for c in codes)
                end_groups(procs, args.grace)
                _drain(threads)
                _say(f"deadline of {args.timeout:g} s passed; ended {running} running process(es)")
                return DEADLINE_EXIT_CODE
            time.sleep(POLL_S)
    except _Interrupted as stop:
        for s in old:  # a second Ctrl-C must not interrupt the cleanup
            signal.signal(s, signal.SIG_IGN)
        running = sum(p.poll() is None for p in procs)
        end_groups(procs, args.grace)
        _drain(threads)
        _say(f"got {signal_name(stop.sig)}; ended {running} running process(es)")
        return 128 + stop.sig
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _drain(threads: Sequence[threading.Thread]) -> None:
    # The pipes close once every process of the groups is gone; wait briefly for the last lines.
    for t in threads:
        t.join(timeout=2)


def _main(argv: Sequence[str]) -> int:
    try:
        return launch(*parse_args(argv))
    except UsageError as err:
        _say(str(err))
        return USAGE_EXIT_CODE


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("launch", _main, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
