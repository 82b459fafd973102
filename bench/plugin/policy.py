"""The measurement policy of ``pytest bench``: how one case is measured and what its figures are marked with.

:func:`run` measures a case -- in fresh worker processes under ``--es-isolate process``
(:func:`in_workers`: the runtime workers, one per share of the rounds, the memory worker of
a GPU/TPU case, one fresh process per cold compile round) or in this process
(:func:`here`) -- gives pytest-benchmark its rounds (:mod:`bench.plugin.pytest_benchmark_api`)
and marks the row: its rates, a smoke run, the stability verdict of a runtime case.
"""
from __future__ import annotations

import os
import statistics
import tempfile
from dataclasses import asdict, replace

import pytest

from bench.case import Case, CaseFailed
from bench.plugin import benchmark_options
from bench.plugin import pytest_benchmark_api as api
from bench.plugin.options import RunOptions


def run(case: Case, benchmark, options: RunOptions, workers, distributed: bool,
        measured_peaks: list | None) -> tuple[dict, str | None]:
    """Measure ``case``, give ``benchmark`` its rounds, fill its ``extra_info``: (that extra_info,
    the reasons with figures where its runtime figures are unstable, else None). A known way
    for a case to fail (:class:`CaseFailed`, a failed worker) fails its test in one line."""
    from bench.isolation.spawners import WorkerFailed
    from bench.measure.rounds import rates

    try:
        samples, info = measure(case, options, workers, distributed)
    except (CaseFailed, WorkerFailed) as err:
        # a known way for a case to fail: one line, no traceback of the harness
        pytest.fail(f"{type(err).__name__}: {err}", pytrace=False)
    finally:
        api.mark_used(benchmark)
    api.record_rounds(benchmark, case.group, benchmark_options.recorded(case, options.settings, options.smoke),
                      samples)
    info.update(rates(info, statistics.median(samples), options.settings, measured_peaks))
    unstable = None
    if options.smoke:
        info["smoke"] = True  # one round: no figure, no stability verdict
    elif case.phase == "runtime":
        from bench.measure import stability

        throttled = info.get("throttle_reasons") or []
        info["unstable"] = stability.unstable(samples, info.get("worker_medians"), throttled)
        if info["unstable"]:
            unstable = stability.describe(samples, info.get("worker_medians"), info["unstable"], throttled)
    benchmark.extra_info.update(info)
    return info, unstable


def measure(case: Case, options: RunOptions, workers, distributed: bool) -> tuple[list[float], dict]:
    """(samples, extra_info) of ``case``, per the isolation mode."""
    if options.isolation == "process":
        return in_workers(case, options, workers)
    return here(case, options, distributed)


def in_workers(case: Case, options: RunOptions, workers) -> tuple[list[float], dict]:
    """``case`` measured in fresh worker processes (``workers``: :class:`bench.isolation.spawners.Workers`)."""
    from bench.measure import memory
    from bench.measure.rounds import compile_figures, runtime_figures, worker_shares

    settings, timeout = options.settings, options.case_timeout
    request = {"case": case.to_json(), "settings": asdict(settings)}
    if case.phase == "runtime":
        shares = worker_shares(settings, options.workers_for(case.platform))
        with tempfile.TemporaryDirectory(prefix="esperf-exe-") as folder:
            saved = None
            if memory.loads_saved_executable(case.platform):
                # the device's peak counter cannot be reset: the first worker saves its executable,
                # and a worker that only loads it measures the generation's own memory
                saved = os.path.join(folder, "generation.exe")
                shares = [replace(shares[0], save_executable=saved)] + shares[1:]
            done = [workers.run({**request, "settings": asdict(share), "mode": "runtime"}, timeout)
                    for share in shares]
            samples, info = runtime_figures([(w["samples"], w["info"]) for w in done])
            if saved:
                generation_memory(workers, request, info, saved, timeout)
    else:
        done = [workers.run({**request, "mode": "compile"}, timeout) for _ in range(settings.compile_rounds)]
        samples, info = compile_figures(done)
        info["compile_warm_autotune"] = False  # every round a fresh process: autotuned from cold
    # the round whose case needed the most memory speaks for the case
    top = max(done, key=lambda w: w["peak_memory_bytes"] - w["baseline_memory_bytes"])
    info.update(
        **workers.start_of(done),  # per row: a fork-server fallback shows where it happened
        worker_pids=[w["pid"] for w in done],
        backend_init_s=[w["backend_init_s"] for w in done],
        jax_platforms=top.get("jax_platforms"),
        cpu_affinity=top.get("cpu_affinity"),  # the CPUs the workers could run on (a CPU case: its cores)
        baseline_memory_bytes=top["baseline_memory_bytes"],
        peak_memory_bytes=top["peak_memory_bytes"],
        memory_source=top["memory_source"],
    )
    return samples, info


def generation_memory(workers, request: dict, info: dict, saved: str, timeout: float) -> None:
    """The memory worker of a GPU/TPU runtime case: it loads the executable the first runtime
    worker saved at ``saved`` and measures a generation's own memory into ``info``
    (:func:`bench.measure.memory.merge_generation_memory`). Its failure, or an executable
    that could not be saved, is named in the row and never fails the case: the runtime
    workers' figures stand."""
    from bench.isolation.spawners import WorkerFailed
    from bench.measure.memory import merge_generation_memory

    not_saved = info.get("executable_not_saved")
    if not_saved or not os.path.exists(saved):
        merge_generation_memory(info, error="no memory worker: the runtime worker could not save its executable"
                                            f" ({not_saved or 'no file was written'})")
        return
    try:
        found = workers.run({**request, "mode": "memory", "executable": saved}, timeout)
    except WorkerFailed as err:
        merge_generation_memory(info, error=f"the memory worker failed: {err}")
        return
    merge_generation_memory(info, found["info"], pid=found["pid"])


def here(case: Case, options: RunOptions, distributed: bool) -> tuple[list[float], dict]:
    """``case`` measured in this process (``--es-isolate none``; every process of a distributed run)."""
    import jax

    from bench.measure import rounds as measure
    from bench.measure.memory import memory_peak
    from bench.measure.placement import jax_devices

    settings = options.settings
    sync = None
    if distributed:
        from bench.multi.sync import ProcessSync

        sync = ProcessSync()
    if case.phase == "runtime":
        samples, info = measure.runtime_figures([measure.measure_runtime(case, settings, sync)])
    else:
        built = measure.build(case, settings, sync)
        compile_rounds = []
        for _ in range(settings.compile_rounds):
            if sync:
                sync.before_round()
            compile_rounds.append(measure.measure_compile_round(case, settings, built))
        samples, info = measure.compile_figures(compile_rounds)
        # XLA:GPU keeps its autotuning results for the process: in one process the rounds after
        # the first still compile but skip autotuning, so they understate a cold compile.
        info["compile_warm_autotune"] = case.platform == "gpu" and len(compile_rounds) > 1
    if sync:
        samples = sync.slowest(samples)
    local = [d for d in jax_devices(case.devices) if d.process_index == jax.process_index()]
    peak, source = memory_peak(local)
    info.update(worker_pids=[os.getpid()], jax_platforms=jax.config.jax_platforms or None,
                cpu_affinity=sorted(os.sched_getaffinity(0)),  # in-process: not pinned per case
                baseline_memory_bytes=None,
                peak_memory_bytes=peak, memory_source=source)
    return samples, info
