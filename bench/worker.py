"""A fresh process that measures one thing: ``python -m bench.worker`` (started by :mod:`bench.isolation`).

It reads one JSON request on stdin, writes one JSON result to the file the request
names (atomically), and exits. Modes:

* ``devices``: the jax devices and versions of this machine (the pytest process never
  starts an accelerator backend itself, so it asks a worker);
* ``runtime``: one runtime case (:func:`bench.cases.measure_runtime`);
* ``compile``: one cold compile round (:func:`bench.cases.measure_compile_round`).

Before a case builds anything, the worker starts the backend on the case's devices and
runs a tiny unrelated jitted function there, so the measurement excludes one-off backend
start-up (``backend_init_s``); ``baseline_memory_bytes`` is taken then, and
``peak_memory_bytes`` at the end: peak - baseline is what the case itself needed.

The worker dies with its parent (Linux ``PR_SET_PDEATHSIG``), so no worker outlives a
pytest process killed without warning. ``ESPERF_WORKER_HOOK=module`` imports a module
and calls its ``install_worker()`` first (the test suite's fault injection).
"""
from __future__ import annotations

import json
import os
import sys
import time


def _die_with_parent(parent_pid: int | None) -> None:
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if parent_pid is not None and os.getppid() != parent_pid:
        raise SystemExit("bench.worker: the parent process is gone")


def _write(path: str, result: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh)
    os.replace(tmp, path)


def _start_backend(device_ids) -> tuple[list, float]:
    """Start jax's backend on the devices and run a tiny function there: (devices, seconds)."""
    t0 = time.perf_counter()
    import jax
    import jax.numpy as jnp

    from bench.cases import jax_devices

    devices = jax_devices(device_ids)
    for d in devices:
        jax.jit(lambda x: x * 2 + 1)(jax.device_put(jnp.ones(8), d)).block_until_ready()
    return devices, time.perf_counter() - t0


def run(request: dict) -> dict:
    """Carry out ``request`` in this process and return the result object."""
    from bench import timing
    from bench.machine import jax_info, memory_now, memory_peak

    settings_dict = request.get("settings") or {}
    timing.disable_persistent_cache()
    blas = timing.limit_blas_threads(settings_dict.get("blas_threads", 1))
    if request["mode"] == "devices":
        from bench.devices import visible_devices

        return {"jax": jax_info(list(visible_devices().values())), "blas_threads": blas}

    from bench.cases import measure_compile_round, measure_runtime
    from bench.grid import Case
    from bench.target import Settings

    case = Case.from_json(request["case"])
    settings = Settings(**settings_dict)
    devices, backend_init_s = _start_backend(case.devices)
    baseline, _ = memory_now(devices)
    if request["mode"] == "compile":
        result = measure_compile_round(case, settings)
    elif request["mode"] == "runtime":
        samples, info = measure_runtime(case, settings)
        result = {"samples": samples, "info": info}
    else:
        raise ValueError(f"unknown worker mode {request['mode']!r}; choose devices, compile or runtime")
    peak, source = memory_peak(devices)
    return {**result, "backend_init_s": backend_init_s, "baseline_memory_bytes": baseline,
            "peak_memory_bytes": peak, "memory_source": source}


def main() -> int:
    request = json.loads(sys.stdin.read())
    _die_with_parent(request.get("parent_pid"))
    hook = os.environ.get("ESPERF_WORKER_HOOK")
    if hook:
        import importlib

        importlib.import_module(hook).install_worker()
    try:
        result = {"ok": True, **run(request)}
    except Exception as err:  # noqa: BLE001 -- any error is the case's failure, reported to the parent
        result = {"ok": False, "error": f"{type(err).__name__}: {' '.join(str(err).split())}"[:4000]}
    result["pid"] = os.getpid()
    _write(request["result_path"], result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
