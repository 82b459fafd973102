"""Measure one benchmark case: build its target on its devices, then time cold compiles or runtime rounds.

The functions here run wherever the case runs: in a fresh worker process
(:mod:`bench.isolation.worker`, ``--es-isolate process``) or in the pytest process
(``--es-isolate none``). They return plain, JSON-able results; the pytest plugin
(:mod:`bench.plugin.policy`) records them. All timing goes through :mod:`bench.measure.timing`.
"""
from __future__ import annotations

import math
import os
import statistics
import time

import jax

from bench.case import Case, CaseFailed, Settings
from bench.measure import energy, targets, timing
from bench.measure.memory import GenerationMemory, memory_analysis
from bench.measure.placement import Placement, jax_devices


def check_placement(out, devices) -> None:
    """Every output array must live on the devices under test, and only there."""
    expected = set(devices)
    for leaf in jax.tree.leaves(out):
        found = leaf.sharding.device_set if hasattr(leaf, "sharding") else set()
        if found != expected:
            raise CaseFailed(f"output on {sorted(map(str, found))}, expected only {sorted(map(str, expected))}")


def state_checksum(tree) -> float | None:
    """The sum, in float64 on the host, of every floating-point leaf of ``tree`` (a runtime
    case's carried state after its last round), or None where this process does not hold a
    leaf whole or the sum is not finite.

    The same case run for the same number of generations gives the same checksum on any
    device layout -- one device, a mesh, several processes -- up to float rounding: a cheap
    proof that a sharded or multi-process generation computed what a single device does.
    Read outside the timed rounds (a device-to-host copy of the state, no compile).
    """
    import numpy as np

    total = 0.0
    for leaf in jax.tree.leaves(tree):
        if not jax.numpy.issubdtype(leaf.dtype, jax.numpy.floating):
            continue  # typed PRNG keys, counters
        if leaf.is_fully_replicated:
            local = leaf.addressable_data(0)  # this process's whole copy
        elif leaf.is_fully_addressable:
            local = leaf
        else:
            return None
        total += float(np.sum(np.asarray(local, dtype=np.float64)))
    return total if math.isfinite(total) else None


def build(case: Case, settings: Settings, sync=None, abstract: bool = False):
    """(target, devices, info) for ``case`` in this process (compiles the state's init, untimed;
    with ``abstract``, esperf's inputs are ShapeDtypeStructs and nothing compiles: see
    :func:`bench.measure.targets.esperf_target`).

    With ``sync`` (a multi-process run) the processes agree that every one of them built
    the case before anything runs a collective: a failure on one fails the case on all.
    """
    error = None
    try:
        devices = jax_devices(case.devices)
        target = targets.make_target(case, settings, Placement.on(devices, case.popsize), abstract=abstract)
    except Exception as err:  # noqa: BLE001 -- re-raised below, after the processes agreed
        if sync is None:
            raise
        error = f"{type(err).__name__}: {' '.join(str(err).split())}"[:1000]
    if sync is not None:
        sync.agree(error)
    return target, devices, targets.target_info(case, target, devices)


def measure_compile_round(case: Case, settings: Settings, built=None) -> dict:
    """One cold compile of the case: stage times, jax's compile events, XLA's planned memory.

    The round starts from ``jax.clear_caches()`` and a fresh function; ``events`` counts
    the traces, lowerings and backend compiles jax itself reported during it. Without
    ``built`` the target's inputs are abstract (a compile needs their shapes, dtypes and
    shardings, not their values): an esperf round compiles nothing but the case itself.
    The process's one-off compiler set-up is paid before, by the worker's backend warm-up
    (:func:`bench.isolation.worker._warm_up`: an elementwise op, a matmul and an eigh, jitted and
    run on the case's devices).
    """
    if built is None:
        built = build(case, settings, abstract=True)
    target, devices, info = built
    stages, events = timing.cold_compile(target.make_fn, target.args, target.in_shardings, target.out_shardings)
    return {
        "info": info,
        "trace_s": stages.trace_s,
        "lower_s": stages.lower_s,
        "compile_s": stages.compile_s,
        "total_s": stages.total_s,
        "events": events,
        **memory_analysis(stages.compiled),
    }


PROFILE_ROUNDS = 3


def profile(runner, folder: str) -> str:
    """Run ``runner`` :data:`PROFILE_ROUNDS` more times under ``jax.profiler.trace(folder,
    create_perfetto_trace=True)``, after the timed rounds (tracing slows what it traces);
    returns ``folder``."""
    with jax.profiler.trace(folder, create_perfetto_trace=True):
        timing.time_rounds(runner, PROFILE_ROUNDS)
    return folder


def save_executable(compiled, path: str) -> None:
    """Write ``compiled`` (serialized by XLA, with its argument and result trees) to ``path``.

    Serialized first, then written under another name and renamed: an executable XLA cannot
    serialize leaves no file behind (an empty one would send the memory worker to load it)."""
    import pickle

    from jax.experimental.serialize_executable import serialize

    data = pickle.dumps(serialize(compiled))
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def runner_for(target, executable):
    """The runner of ``target``'s rounds: a chain of generations, or the same inputs again."""
    if target.chain:
        return timing.ChainedRunner(executable, target.args[0])
    return timing.RepeatRunner(executable, target.args)


def measure_generation_memory(case: Case, settings: Settings, path: str, rounds: int = 3) -> dict:
    """The memory of ``rounds`` generations of an executable another worker compiled and
    saved at ``path`` (:func:`save_executable`): loaded, not compiled, so no autotuning or
    compiler peak precedes the rounds; the inputs are built first, then
    :class:`bench.measure.memory.GenerationMemory` brackets a warm-up and the rounds."""
    import pickle

    from jax.experimental.serialize_executable import deserialize_and_load

    target, devices, _ = build(case, settings)
    with open(path, "rb") as f:
        serialized, in_tree, out_tree = pickle.load(f)
    runner = runner_for(target, deserialize_and_load(serialized, in_tree, out_tree))
    memory = GenerationMemory(devices)
    timing.time_rounds(runner, 1 + rounds)  # the first execution allocates what every round reuses
    found = memory.figures()
    if found["generation_memory_bytes"] is not None:
        found["generation_memory_source"] = f"loaded_executable, {found['generation_memory_source']}"
    return found


def fill_energy_window(runner, started: float, samples: list[float], before_round=None, sync=None,
                       wanted: bool = True) -> int:
    """Run ``runner`` untimed after the timed rounds until :data:`bench.measure.energy.WINDOW_S`
    seconds have passed since ``started`` (the first energy reading); returns how many more
    generations ran.

    The timed rounds of a small case last a few ms while an energy counter moves in steps of
    tens of ms: the readings must span many steps. Without ``wanted`` (no counter to read)
    nothing runs. With ``sync`` (a multi-process run) process 0's count is every process's,
    agreed once (a generation may run collectives: every process must run as many), so the
    window is filled in one go from the median round.
    """
    extra = 0
    while True:
        left = energy.WINDOW_S - (time.perf_counter() - started)
        per_round = statistics.median(samples) if samples else 0.0
        n = 0
        if wanted and left > 0:
            n = max(1, math.ceil(left / per_round)) if per_round > 0 else 1
        if sync is not None:
            n = sync.rounds(n)
        if n <= 0:
            return extra
        timing.time_rounds(runner, n, before_round)
        extra += n
        if sync is not None:
            return extra


def measure_runtime(case: Case, settings: Settings, sync=None) -> tuple[list[float], dict]:
    """Compile and warm up the case, then time guarded rounds that only execute.

    Returns (seconds per round, extra_info; ``first_run_s`` is the first execution after the
    compile, the warm-up, timed apart). Every round blocks until ready and, for a
    whole generation, carries the state to the next; a ``jax.monitoring`` listener fails
    the case if anything is traced or compiled during the rounds. With ``sync`` (a
    multi-process run: ``agree``, ``rounds``, ``before_round``) every process builds the
    case, uses process 0's round count, and starts each round at an untimed barrier. The
    energy readings bracket the timed rounds and, where there is a counter, untimed repeats
    of the generation until they are :data:`bench.measure.energy.WINDOW_S` apart
    (:func:`fill_energy_window`; ``energy_window_s``, ``energy_window_rounds``).
    """
    target, devices, info = build(case, settings, sync)
    before_round = sync.before_round if sync is not None else None
    stages = timing.compile_stages(target.make_fn(), target.args, target.in_shardings, target.out_shardings)
    compiled = stages.compiled
    if settings.save_executable:
        # before the first execution: XLA:CPU cannot serialize an executable that has run
        # ("`LessThan` is not serializable"), and the file must not depend on the rounds
        try:
            save_executable(compiled, settings.save_executable)
        except Exception as err:  # noqa: BLE001 -- XLA cannot serialize every executable; the row says why
            info["executable_not_saved"] = f"{type(err).__name__}: {' '.join(str(err).split())}"[:300]
    runner = runner_for(target, compiled)
    # Warm-up: the first execution pays one-off allocation, loading and thunk set-up costs;
    # timed (blocked until ready) as first_run_s, the figure a user pays once, apart from the rounds.
    (first_run_s,) = timing.time_rounds(runner, 1, before_round)
    (per_round,) = timing.time_rounds(runner, 1, before_round)
    rounds = settings.runtime_rounds or timing.rounds_for(per_round, settings.max_time, settings.min_runtime_rounds)
    if sync is not None:
        rounds = sync.rounds(rounds)
    meter = energy.Meter(devices)
    memory = GenerationMemory(devices)  # after the compile: the rounds' own memory, apart from its peak
    started = time.perf_counter()
    before = meter.read()  # outside the guarded rounds: NVML or sysfs reads, never during a round
    samples, events = timing.guarded_rounds(lambda: timing.time_rounds(runner, rounds, before_round))
    generation_memory = memory.figures()
    carry, last = runner.carry if target.chain else None, runner.last  # the timed rounds' own results
    # untimed generations until the energy window is long enough for the counter
    extra = fill_energy_window(runner, started, samples, before_round, sync,
                               wanted=meter.counts and before["energy_j"] is not None)
    after = meter.read()
    window_s = time.perf_counter() - started
    check_placement(last, devices)
    flops, flops_error = target.flops_fn(compiled)
    bytes_accessed = target.bytes_fn(compiled)[0] if target.bytes_fn is not None else None
    # of the timed rounds' state (not the energy window's): the same rounds give the same checksum
    checksum = state_checksum(carry) if target.chain else None
    if settings.profile_dir:
        info["profile_dir"] = profile(runner, os.path.join(settings.profile_dir, case.id))
        info["profile_rounds"] = PROFILE_ROUNDS
    info.update(
        compile_events=events,
        # the warm-up and the calibration round (untimed) + the timed rounds: the state_checksum's
        # generations; not the energy window's repeats (energy_window_rounds) nor profiled ones
        executions=rounds + 2,
        state_checksum=checksum,
        first_compile_s=stages.total_s,
        first_run_s=first_run_s,
        flops=flops if flops is None or math.isfinite(flops) else None,
        **({"flops_error": flops_error} if flops_error else {}),
        # the bytes its operations read and write (XLA's cost analysis): flops / bytes_accessed
        # is the arithmetic intensity of the report's roofline
        bytes_accessed=bytes_accessed if bytes_accessed is None or math.isfinite(bytes_accessed) else None,
        **memory_analysis(compiled),
        **meter.figures(before, after, rounds + extra, window_s),
        **generation_memory,
    )
    if "energy_window_s" in info:
        info["energy_window_rounds"] = rounds + extra
    return samples, info


def worker_shares(settings: Settings, workers: int) -> list[Settings]:
    """The settings of each of ``workers`` fresh workers that share one runtime case's rounds.

    A fixed ``runtime_rounds`` R is split as evenly as it goes (R // N, one more for the first
    R % N workers, at least one each: N > R gives N rounds); otherwise each worker fills
    ``max_time / N`` with at least ``ceil(min_runtime_rounds / N)`` rounds, so that the case
    takes about as long as with one worker.
    """
    from dataclasses import replace

    if workers == 1:
        return [settings]
    if settings.runtime_rounds is not None:
        r = settings.runtime_rounds
        shares = [replace(settings, runtime_rounds=max(1, r // workers + (i < r % workers))) for i in range(workers)]
    else:
        shares = [replace(settings, max_time=settings.max_time / workers,
                          min_runtime_rounds=math.ceil(settings.min_runtime_rounds / workers))] * workers
    # one trace per case (--es-profile): the first worker's
    return [shares[0]] + [replace(s, profile_dir=None) for s in shares[1:]]


def runtime_figures(results: list[tuple[list[float], dict]]) -> tuple[list[float], dict]:
    """Samples and extra_info of a runtime case from its workers' (samples, info), in start
    order: every round of every worker, and per worker its median, round count and first run.
    The first worker's info speaks for the rest (its state_checksum, FLOPs, XLA's plan), with
    ``executions`` summed over the workers."""
    samples = [t for worker_samples, _ in results for t in worker_samples]
    info = dict(results[0][1])
    info.update(
        runtime_workers=len(results),
        worker_medians=[statistics.median(w) for w, _ in results],
        worker_rounds=[len(w) for w, _ in results],
        first_run_s=[i["first_run_s"] for _, i in results],
        executions=sum(i["executions"] for _, i in results),
    )
    if any("energy_window_s" in i for _, i in results):  # per worker, like first_run_s
        info["energy_window_s"] = [i.get("energy_window_s") for _, i in results]
        info["energy_window_rounds"] = [i.get("energy_window_rounds") for _, i in results]
    if len(results) > 1:
        # per generation, over every generation between each worker's two readings
        joules = [(i.get("energy_j"), i.get("energy_window_rounds") or len(w)) for w, i in results]
        if all(j is not None for j, _ in joules):  # per generation, over every worker's rounds
            info["energy_j"] = sum(j * n for j, n in joules) / sum(n for _, n in joules)
        else:
            info.update(energy_j=None, energy_source=None,
                        energy_unavailable=next(i.get("energy_unavailable") for _, i in results
                                                if i.get("energy_j") is None) or "a worker had no energy reading")
        if "device_state" in info:
            info["device_state"] = [i.get("device_state") for _, i in results]
            seen = {r for _, i in results for r in i.get("throttle_reasons", [])}
            info["throttle_reasons"] = [r for r in energy.THROTTLE if r in seen]
    return samples, info


def compile_figures(rounds: list[dict]) -> tuple[list[float], dict]:
    """Samples and extra_info of a compile case from its cold rounds (results of
    :func:`measure_compile_round`, from workers or this process); each must have compiled."""
    events = [r["events"] for r in rounds]
    for i, e in enumerate(events):
        missing = [stage for stage, n in e.items() if n < 1]
        if missing:
            raise CaseFailed(f"compile round {i + 1} ran no {', '.join(missing)} ({events}): it hit a cache")
    last = rounds[-1]
    info = {**last["info"], **{k: v for k, v in last.items() if k.startswith("xla_")}}
    info.update(
        trace_s=[r["trace_s"] for r in rounds],
        lower_s=[r["lower_s"] for r in rounds],
        compile_s=[r["compile_s"] for r in rounds],
        compile_events=events,
        backend_compiles=[e["backend_compile"] for e in events],
    )
    return [r["total_s"] for r in rounds], info


def rates(info: dict, median: float, settings: Settings, measured: list[dict] | None = None) -> dict:
    """Throughput figures of a runtime case from its median seconds per round.

    ``pct_of_peak`` divides by the user's ``--es-peak-flops`` for the case's device kind or
    platform (times the devices of a set) where given, else by the measured peak of the
    case's own device set (``measured``: ``machine_info.measured_peaks``, ``--es-peak-flops
    auto``; :func:`bench.measure.peak.peak_for`: the whole CPU's for ``cpu:all``, one core's
    for ``cpu:0``). ``peak_source`` says which (``given`` / ``measured``), ``peak_of`` which
    measured peak.
    """
    from bench.measure.peak import peak_for

    out = {"env_steps_per_s": None}
    if info["phase"] != "runtime" or not median > 0:
        return out  # env steps per second of a compile figure would mean nothing
    if info.get("env_steps"):
        out["env_steps_per_s"] = info["env_steps"] / median
        if info.get("energy_j") is not None:
            if info["energy_j"] > 0:
                out["env_steps_per_joule"] = info["env_steps"] / info["energy_j"]
            else:  # never a silent gap: a counter that did not move is no free generation
                out["env_steps_per_joule"] = None
                out["energy_unavailable"] = (f"energy_j is {info['energy_j']!r}: the counter did not move, "
                                             "so there is no steps/J")
    if info.get("flops") is not None:
        out["flops_per_s"] = info["flops"] / median
        peaks = settings.peak_flops or {}
        peak = peaks.get(info.get("device_kind")) or peaks.get(info.get("platform"))
        if peak and info.get("num_devices", 1) > 1:
            peak *= info["num_devices"]  # a sharded case can use every device's peak
        if peak:
            out["peak_source"] = "given"
        else:
            peak, which = peak_for(info, measured)
            if peak:
                out["peak_source"], out["peak_of"] = "measured", which
        out["peak_flops"] = peak
        out["pct_of_peak"] = 100.0 * out["flops_per_s"] / peak if peak else None
    return out
