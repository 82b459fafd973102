"""A fresh process that measures one thing, started by :mod:`bench.isolation.spawners`.

Two ways to start one (both Linux-safe, see :mod:`bench.isolation.spawners` for which is used):

* ``python -m bench.isolation.worker``: a new interpreter reads one JSON request on stdin;
* ``python -m bench.isolation.worker --serve``: a **fork server**. It imports jax, numpy, scipy and
  esperf once -- without starting any jax backend, compiling anything or starting a
  thread -- then forks one child per request it reads (a JSON line on stdin). Every
  child is a process that has never started a backend nor compiled anything, like a
  fresh interpreter, minus the ~1.5 s of imports.

Either way the worker writes one JSON result to the file the request names
(atomically), and exits. Modes:

* ``devices``: the jax devices and versions of this machine, the accelerators jax does not
  use and the quick system checks (:func:`bench.system.survey.machine_survey`; the pytest
  process never starts an accelerator backend itself, so it asks a worker);
* ``runtime``: one runtime case (:func:`bench.measure.rounds.measure_runtime`);
* ``compile``: one cold compile round (:func:`bench.measure.rounds.measure_compile_round`);
* ``memory``: the device memory of a case's generations, from the executable another worker
  compiled and saved at ``executable`` (:func:`bench.measure.rounds.measure_generation_memory`;
  the memory worker of a GPU/TPU runtime case);
* ``peak``: the measured matmul FLOP/s and copy bandwidth of each device in ``devices``
  (:func:`bench.measure.peak.measure_peaks`; ``--es-peak-flops auto``, ``python -m bench.peak``).

A request the worker refuses (:class:`BadRequest`: it names a device this machine does not
have) is marked ``"bad_request": true`` in the result: the caller's usage error, not a failure.

Before a case builds anything, the worker has jax start only the backends of the case's
platforms (``jax_platforms``: a CPU case on a GPU host never starts CUDA), starts them on the
case's devices and runs a tiny unrelated jitted function there, so the measurement excludes
one-off backend start-up (``backend_init_s``); ``baseline_memory_bytes`` is taken then, and
``peak_memory_bytes`` at the end: peak - baseline is what the case itself needed.

A worker dies with its parent (Linux ``PR_SET_PDEATHSIG``: a fork server with pytest, a
forked child with its fork server), so none outlives a pytest process killed without
warning. ``ESPERF_WORKER_HOOK=module`` imports a module and calls its
``install_worker()`` first (the test suite's fault injection).
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time

from bench.processes import die_with_parent, signal_group


class BadRequest(ValueError):
    """The request names something this machine does not have (a device set that is not visible)."""


def _die_with_parent(parent_pid: int | None) -> None:
    """Die with the parent, and exit now if it is already gone (re-parented before the prctl)."""
    die_with_parent()
    if parent_pid is not None and os.getppid() != parent_pid:
        raise SystemExit("bench.isolation.worker: the parent process is gone")


def _write(path: str, result: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh)
    os.replace(tmp, path)


def _start_only(device_ids) -> str:
    """Have jax start only the backends of the case's platforms (and the CPU's); the value set.

    Else ``jax.devices("cpu")`` starts every backend: on a GPU host each CPU case's worker
    would pay CUDA's start-up and preallocate most of the GPU. The user's own
    ``JAX_PLATFORMS`` wins.
    """
    import jax

    from bench.system.accelerators import jax_platforms_for

    user = os.environ.get("JAX_PLATFORMS", "")
    value = user or jax_platforms_for({i.split(":", 1)[0] for i in device_ids})
    if value and not user:
        jax.config.update("jax_platforms", value)
    return value


# The warm-up's matmul: far above XLA:GPU's GEMM rewrite threshold
# (--xla_gpu_gemm_rewrite_size_threshold, 100 elements of the two operands), so the dot goes to
# the GEMM library (cuBLAS/cuBLASLt, or a Triton GEMM after autotuning) as a case's MLP does:
# a 4 x 4 one stayed an XLA loop, and the first library GEMM of each fresh process -- its
# handle, workspace and autotuning -- was paid inside the case's compile_s.
WARM_UP_N = 128


def _warm_up(x):
    """What a generation's kernels need set up once per process: an elementwise op, a
    :data:`WARM_UP_N` x :data:`WARM_UP_N` float32 matmul (a library GEMM on a GPU: cuBLAS
    handles and their autotuner) and ``eigh`` (CMA-ES's; cuSOLVER's Jacobi kernel for small
    matrices and its divide and conquer above 32, or LAPACK). Untimed: a compile round must not
    pay this one-off set-up in ``compile_s``. ``x``: :data:`WARM_UP_N` ** 2 float32 values."""
    import jax.numpy as jnp

    m = x.reshape(WARM_UP_N, WARM_UP_N)
    small = m[:4, :4]
    gram = m @ m.T  # the library GEMM
    return ((x * 2 + 1).sum() + gram.sum() + jnp.linalg.eigh(gram + jnp.eye(WARM_UP_N))[0].sum()
            + jnp.linalg.eigh(small @ small.T + jnp.eye(4))[0].sum())


def _start_backend(device_ids) -> tuple[list, float]:
    """Start jax's backend on the devices and run :func:`_warm_up` there: (devices, seconds)."""
    t0 = time.perf_counter()
    import jax
    import numpy as np

    from bench.measure.placement import jax_devices

    devices = jax_devices(device_ids)
    x = np.linspace(0, 1, WARM_UP_N * WARM_UP_N, dtype=np.float32)
    for d in devices:  # the input straight from the host to ``d``: nothing lands on another device first
        jax.jit(_warm_up)(jax.device_put(x, d)).block_until_ready()
    return devices, time.perf_counter() - t0


def _peaks(request: dict) -> dict:
    """The ``peak`` mode: :func:`bench.measure.peak.measure_peaks` of the request's device sets.

    ``sets``: ``[name, ids]`` pairs (``["cpu:all", ["cpu:0", "cpu:1"]]``); or ``devices``: ids or
    set tokens (``gpu:all``) resolved here (None: every visible device, each alone).
    ``skip_cpu``: leave the CPU's devices out of ``devices``. ``one_core``: this worker first
    pins itself to one CPU, before the backend sizes its thread pools, so that a CPU device's
    figure is one core's (the ``cpu:0`` peak).
    """
    from bench.measure.peak import measure_peaks
    from bench.multi.devices import ensure_cpu_devices, resolve_device_set, visible_devices

    cores = None
    if request.get("one_core"):
        from bench.multi.cpu_cores import pin_to_cores

        pin_to_cores(1)
        cores = 1
    sets = [(name, list(ids)) for name, ids in request.get("sets") or []]
    tokens = request.get("devices")
    ids = [i for _, s in sets for i in s]
    platforms = _start_only(ids or tokens) if (ids or tokens) else os.environ.get("JAX_PLATFORMS", "")
    ensure_cpu_devices(ids)
    if not sets:
        visible = visible_devices()
        try:
            found = list(dict.fromkeys(i for t in tokens for i in resolve_device_set(t, visible))) if tokens else list(visible)
        except ValueError as err:
            raise BadRequest(str(err)) from None
        if request.get("skip_cpu"):  # the CPU's peaks come from their own requests (one core, whole CPU)
            found = [i for i in found if not i.startswith("cpu:")]
        sets = [(i, [i]) for i in found]
        ids = found
    _, backend_init_s = _start_backend(list(dict.fromkeys(ids)))
    return {"peaks": measure_peaks(sets, request.get("rounds") or 5, cores=cores), "jax_platforms": platforms,
            "backend_init_s": backend_init_s}


def run(request: dict) -> dict:
    """Carry out ``request`` in this process and return the result object."""
    from bench.measure import timing
    from bench.measure.memory import memory_now, memory_peak

    from bench.system.caches import cold_caches

    settings_dict = request.get("settings") or {}
    cold = cold_caches()  # before the backend starts: it reads both at start-up
    timing.disable_persistent_cache()
    blas = timing.limit_blas_threads(settings_dict.get("blas_threads", 1))
    if request["mode"] == "devices":
        from bench.system.survey import machine_survey

        return {**machine_survey(), "blas_threads": blas, "cold_caches": cold}
    if request["mode"] == "peak":
        return _peaks(request)

    from bench.measure.rounds import measure_compile_round, measure_generation_memory, measure_runtime
    from bench.case import Case
    from bench.case import Settings
    from bench.multi.cpu_cores import pin_to_cores
    from bench.multi.devices import ensure_cpu_devices

    case = Case.from_json(request["case"])
    settings = Settings(**settings_dict)
    platforms = _start_only(case.devices)
    ensure_cpu_devices(case.devices)  # cpu:all: one CPU device per core, whatever jax's default
    # a CPU case of k devices is k cores (cpu:0: one), before the backend sizes its thread pools
    pinned = pin_to_cores(len(case.devices)) if case.platform == "cpu" else None
    devices, backend_init_s = _start_backend(case.devices)
    baseline, _ = memory_now(devices)
    if request["mode"] == "compile":
        result = measure_compile_round(case, settings)
    elif request["mode"] == "runtime":
        samples, info = measure_runtime(case, settings)
        result = {"samples": samples, "info": info}
    elif request["mode"] == "memory":
        result = {"info": measure_generation_memory(case, settings, request["executable"])}
    else:
        raise ValueError(f"unknown worker mode {request['mode']!r}; choose devices, peak, compile, runtime or memory")
    peak, source = memory_peak(devices)
    return {**result, "jax_platforms": platforms, "backend_init_s": backend_init_s, "baseline_memory_bytes": baseline,
            "cpu_affinity": pinned if pinned is not None else sorted(os.sched_getaffinity(0)),
            "peak_memory_bytes": peak, "memory_source": source}


def handle(request: dict) -> int:
    """Run the fault hook (if any) and ``request``; write its result file; the exit code."""
    hook = os.environ.get("ESPERF_WORKER_HOOK")
    if hook:
        import importlib

        importlib.import_module(hook).install_worker()
    try:
        result = {"ok": True, **run(request)}
    except Exception as err:  # noqa: BLE001 -- any error is the case's failure, reported to the parent
        result = {"ok": False, "error": f"{type(err).__name__}: {' '.join(str(err).split())}"[:4000],
                  "bad_request": isinstance(err, BadRequest)}
    result["pid"] = os.getpid()
    _write(request["result_path"], result)
    return 0 if result["ok"] else 1


# The parent's environment variables that only the fork server's imports see: a JSON
# object {name: the user's value, or None}, restored after the imports.
PRELOAD_ENV = "ESPERF_PRELOAD_ENV"

# What a fork server imports before it forks: everything a worker needs up to the
# backend start. Importing these starts no jax backend (checked: ``_backends()``).
PRELOAD = (
    "jax", "jax.numpy", "numpy", "optax", "scipy.linalg", "threadpoolctl", "psutil",
    "strategies", "envs", "bench.case", "bench.plugins.resolve", "bench.plugins.checks", "bench.workload", "bench.measure.rounds", "bench.measure.targets",
    "bench.measure.placement", "bench.measure.flops", "bench.measure.memory", "bench.measure.machine",
    "bench.measure.timing", "bench.measure.chunking", "bench.measure.peak", "bench.multi.sharding",
    "bench.multi.devices",
)


def _backends() -> list[str]:
    """The jax backends this process has started (none, in a fork server)."""
    from jax._src import xla_bridge

    return sorted(getattr(xla_bridge, "_backends", {}) or {})


def _threads() -> int:
    """Threads of this process (the OS's count: native pools included)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


def _child(request: dict, channels: tuple[int, int]) -> None:
    """In a freshly forked child: detach from the server's pipes, run the request, exit."""
    code = 70
    try:
        for fd in channels:
            os.close(fd)
        with open(os.devnull, "rb") as null:
            os.dup2(null.fileno(), 0)
        with open(request["log_path"], "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        _die_with_parent(request.get("server_pid"))
        code = handle(request)
    except BaseException:  # noqa: BLE001 -- a child must never return into the server's loop
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _send(fd: int, message: dict) -> None:
    os.write(fd, (json.dumps(message) + "\n").encode())


def _wait_child(pid: int) -> int:
    """Wait for ``pid`` to exit, end what is left of its process group, reap it; its exit code.

    The group is ended while the child is still a zombie (``WNOWAIT``), so its id cannot
    have been reused by an unrelated group.
    """
    while True:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            break
        except ChildProcessError:
            break
        except InterruptedError:
            continue
    signal_group(pid, signal.SIGKILL)  # whatever the child started
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def serve(parent_pid: int | None) -> int:
    """The fork server's loop: preload, report ready, then fork one child per request line.

    Protocol (JSON lines; requests on stdin, replies on the original stdout):
    ``{"ready": true, "pid", "threads", "backends", "import_s"}`` once; then per request
    ``{"pid": child}`` as soon as it is forked and ``{"exit": code}`` (negative: killed by
    that signal) when it has ended. The server handles one request at a time and exits at
    the end of its input. Each child runs in its own process group (id = its pid), which
    the parent ends on a deadline or an interrupt.
    """
    import importlib

    _die_with_parent(parent_pid)
    # The protocol gets private descriptors; stray prints of imported modules go to stderr.
    requests, replies = os.dup(0), os.dup(1)
    with open(os.devnull, "rb") as null:
        os.dup2(null.fileno(), 0)
    os.dup2(2, 1)
    t0 = time.perf_counter()
    for name in PRELOAD:
        importlib.import_module(name)
    # The parent set OPENBLAS_NUM_THREADS=1 so that OpenBLAS started no thread pool at
    # import (a fork copies no threads); each child sizes its pools (--es-blas-threads).
    # The children see the user's own environment again.
    for var, value in json.loads(os.environ.pop(PRELOAD_ENV, "{}")).items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    _send(replies, {"ready": True, "pid": os.getpid(), "threads": _threads(), "backends": _backends(),
                    "import_s": time.perf_counter() - t0})
    with os.fdopen(requests, "rb", buffering=0) as stream:
        buffer = b""
        while True:
            chunk = stream.read(65536)
            if not chunk:
                return 0  # the parent closed the pipe: the run is over
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = {**json.loads(line), "server_pid": os.getpid()}
                sys.stdout.flush()  # or a child would print what the server buffered
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    os.setpgid(0, 0)
                    _child(request, (stream.fileno(), replies))
                try:
                    os.setpgid(pid, pid)  # also here: the parent may end the group before the child ran
                except (PermissionError, ProcessLookupError):
                    pass
                _send(replies, {"pid": pid})
                _send(replies, {"exit": _wait_child(pid)})


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve"]:
        return serve(int(argv[2]) if argv[1:2] == ["--parent-pid"] else None)
    request = json.loads(sys.stdin.read())
    _die_with_parent(request.get("parent_pid"))
    return handle(request)


if __name__ == "__main__":
    sys.exit(main())
