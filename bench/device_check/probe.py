"""The probe of ``.ci/device-check``: what one worker costs on the checked device.

One runtime request of a tiny case (CMA-ES on Pendulum-v1, popsize 16, 2 evals, 48 hidden
units, 20 steps, 3 rounds) goes to a worker started the way ``pytest bench`` starts them
(:class:`bench.isolation.spawners.Workers`: the fork server, or fresh interpreters where it
falls back). From the parent's wall clock and the worker's own figures:

* ``server_start_s``: the fork server's imports (a pytest process imports as much);
* ``backend_init_s``: the backend's start and warm-up on the device (the worker's figure);
* ``compile_s``, ``first_run_s``, ``generation_s``: the tiny case's cold compile, first
  execution and median timed generation;
* ``worker_start_s``: the rest of the worker's wall time (fork, its own imports, building
  the case, FLOPs and memory analyses, writing its result).

:mod:`bench.device_check.plan` sizes every later part from these.
"""
from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import asdict
from pathlib import Path

# the tiny case, and its work for bench.device_check.plan's extrapolation (pop x evals x steps x hidden);
# the default policy (48 hidden units, as in the full forms' grids): only the population, evals and
# steps are extrapolated
TINY = dict(phase="runtime", strategy="cma_es", env="Pendulum-v1", popsize=16, evals=2, hidden=48, episode_length=20)
TINY_ROUNDS = 3


def probe(device: str, timeout: float) -> dict:
    """Time one worker of the tiny case on ``device`` (``cpu:0``, ``gpu:0``); the figures above.

    Raises :class:`bench.isolation.spawners.WorkerFailed` when the worker fails or runs past
    ``timeout`` seconds (its process group is ended first).
    """
    from bench.case import Case, Settings
    from bench.isolation.spawners import Workers

    case = Case(**TINY, device=device)
    settings = Settings(runtime_rounds=TINY_ROUNDS)
    workers = Workers(settings.blas_threads, start_timeout=timeout)
    try:
        t0 = time.perf_counter()
        result = workers.run({"case": case.to_json(), "settings": asdict(settings), "mode": "runtime"}, timeout)
        wall = time.perf_counter() - t0
        server = workers.server.ready.get("import_s", 0.0) if workers.server is not None else 0.0
        start = workers.describe()
    finally:
        workers.close()
    info, samples = result["info"], result["samples"]
    compile_s, first_run_s = info["first_compile_s"], info["first_run_s"]
    generation_s = statistics.median(samples)
    backend_init_s = result["backend_init_s"]
    worker_start_s = wall - server - backend_init_s - compile_s - first_run_s - sum(samples)
    if server == 0.0:
        # fresh interpreters: each worker imports everything itself; a pytest process imports as much
        server = max(worker_start_s, 0.0)
    return {
        "device": device,
        "jax_platforms": result.get("jax_platforms") or os.environ.get("JAX_PLATFORMS") or None,
        "workers": start,
        "wall_s": wall,
        "server_start_s": server,
        "worker_start_s": max(worker_start_s, 0.0),
        "backend_init_s": backend_init_s,
        "compile_s": compile_s,
        "first_run_s": first_run_s,
        "generation_s": generation_s,
        "probe_work": TINY["popsize"] * TINY["evals"] * TINY["episode_length"] * TINY["hidden"],
        "case": case.id,
    }


def write(path: Path, found: dict) -> None:
    """``found`` as JSON at ``path`` (a temporary file, then a rename: never half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(found, indent=1) + "\n")
    os.replace(tmp, path)
