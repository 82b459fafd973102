"""Run one benchmark case with pytest-benchmark and describe it for the JSON.

``run_case`` is what ``bench/test_generation.py`` calls: it builds the workload's
function for the case (a whole generation or one breakdown part), places it on the
requested device, and times either cold compiles or guarded runtime rounds through
:mod:`bench.timing`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import jax

from bench import timing
from bench.grid import Case
from bench.machine import memory_in_use


@dataclass(frozen=True)
class Settings:
    """Run-wide settings from the command line."""

    compile_rounds: int = 3
    runtime_rounds: int | None = None  # None: fill max_time, at least min_runtime_rounds
    min_runtime_rounds: int = 20
    max_time: float = 1.0
    unroll: int = 1
    peak_flops: dict | None = None
    seed: int = 0


@dataclass
class Target:
    """A function to time: ``make_fn()`` builds a fresh copy; ``chain`` feeds output[0] back."""

    make_fn: Callable[[], Callable]
    args: tuple
    chain: bool
    env_steps: int | None
    flops_fn: Callable[[object], float | None]
    num_params: int
    episode_length: int


class CaseFailed(RuntimeError):
    """The case could not produce an honest figure."""


def _flops(compiled) -> float | None:
    """FLOPs XLA's cost analysis counts for one execution (None where unsupported)."""
    try:
        cost = compiled.cost_analysis()
    except Exception:  # noqa: BLE001 -- some backends do not implement it
        return None
    if isinstance(cost, (list, tuple)):  # older jax returns one dict per computation
        cost = cost[0] if cost else None
    flops = (cost or {}).get("flops")
    return float(flops) if flops is not None and flops >= 0 else None


def scan_flops_fn(length: int, unroll: int, scan_step) -> Callable[[object], float | None]:
    """A ``flops_fn`` for a program whose episodes are one ``lax.scan`` of ``length`` steps.

    XLA's cost analysis counts a while loop's body once, whatever its trip count: the
    returned function adds the (length - unroll) scanned steps it left out, each costed
    on its own. ``scan_step()`` gives (fn, args): one step of every episode of every
    member, with its carry as an argument; it is compiled once, on first use.
    """
    step_cost = []

    def flops_fn(compiled):
        total = _flops(compiled)
        if total is None:
            return None
        if not step_cost:
            fn, args = scan_step()
            step_cost.append(_flops(jax.jit(fn).lower(*args).compile()))
        if step_cost[0] is None:
            return None
        return total + max(0, length - unroll) * step_cost[0]

    return flops_fn


def esperf_target(case: Case, settings: Settings, sharding) -> Target:
    """The esperf workload for ``case`` with device-resident inputs."""
    from bench.workload import Workload

    wl = Workload(
        strategy=case.strategy,
        env=case.env,
        popsize=case.popsize,
        evals=case.evals,
        hidden=case.hidden,
        episode_length=case.episode_length,
        unroll=settings.unroll,
    )
    state = jax.jit(wl.init, out_shardings=sharding)(jax.random.key(settings.seed))
    if case.part in ("ask", "tell"):
        flops_fn = _flops  # no scan inside
    else:
        flops_fn = scan_flops_fn(wl.episode_length, settings.unroll, wl.scan_step_fn)

    if case.part == "generation":
        make_fn, args, chain = wl.generation_fn, (state,), True
    else:
        parts = wl.part_args(state)
        args = jax.device_put(parts[case.part], sharding)
        make_fn, chain = (lambda: wl.part_fns()[case.part]), False
    env_steps = wl.env_steps if case.part in ("generation", "eval") else None
    return Target(make_fn, args, chain, env_steps, flops_fn, wl.num_params, wl.episode_length)


def make_target(case: Case, settings: Settings, sharding) -> Target:
    if case.impl == "esperf":
        return esperf_target(case, settings, sharding)
    from bench import peers

    return peers.evosax_target(case, settings, sharding)


def _check_placement(out, device) -> None:
    """Every output array must live on the device under test, and only there."""
    for leaf in jax.tree.leaves(out):
        devices = leaf.sharding.device_set if hasattr(leaf, "sharding") else set()
        if devices != {device}:
            raise CaseFailed(f"output on {sorted(map(str, devices))}, expected only {device}")


def run_case(benchmark, case: Case, device, settings: Settings) -> dict:
    """Time ``case`` on ``device`` with ``benchmark`` (pedantic mode); return its extra_info."""
    timing.disable_persistent_cache()
    sharding = jax.sharding.SingleDeviceSharding(device)
    target = make_target(case, settings, sharding)
    info = {
        **case.fields(),
        "episode_length": target.episode_length,
        "num_params": target.num_params,
        "device_kind": device.device_kind,
        "platform": device.platform,
        "env_steps": target.env_steps,
        "unroll": settings.unroll,
    }
    if case.phase == "compile":
        info.update(_time_compile(benchmark, target, sharding, settings))
    else:
        info.update(_time_runtime(benchmark, target, sharding, device, settings))
    # --benchmark-disable runs each target once and keeps no statistics.
    median = benchmark.stats.stats.median if getattr(benchmark, "stats", None) else 0.0
    # env steps per second of executing the generation: meaningless for a compile figure.
    rate = case.phase == "runtime" and target.env_steps and median > 0
    info["env_steps_per_s"] = target.env_steps / median if rate else None
    if case.phase == "runtime" and info.get("flops") is not None and median > 0:
        info["flops_per_s"] = info["flops"] / median
        peak = (settings.peak_flops or {}).get(device.device_kind) or (settings.peak_flops or {}).get(
            device.platform
        )
        info["peak_flops"] = peak
        info["pct_of_peak"] = 100.0 * info["flops_per_s"] / peak if peak else None
    benchmark.extra_info.update(info)
    return info


def _time_compile(benchmark, target: Target, sharding, settings: Settings) -> dict:
    """``compile_rounds`` cold compiles; the timed value is trace + lower + compile."""
    rounds: list[timing.CompileStages] = []
    backend_compiles: list[int] = []

    def setup():
        jax.clear_caches()  # not timed: each round starts cold
        return (target.make_fn(),), {}

    def one_round(fn):
        with timing.CompileCounter() as counter:
            rounds.append(timing.compile_stages(fn, target.args, sharding))
        backend_compiles.append(
            sum(1 for e, _ in counter.events if e == timing.BACKEND_COMPILE_EVENT)
        )

    benchmark.pedantic(one_round, setup=setup, rounds=settings.compile_rounds, iterations=1, warmup_rounds=0)
    if any(n == 0 for n in backend_compiles):
        raise CaseFailed(f"a compile round ran no backend compile ({backend_compiles}): it hit a cache")
    return {
        "trace_s": [r.trace_s for r in rounds],
        "lower_s": [r.lower_s for r in rounds],
        "compile_s": [r.compile_s for r in rounds],
        "backend_compiles": backend_compiles,
        **_memory_analysis(rounds[-1].compiled),
    }


def _memory_analysis(compiled) -> dict:
    """Bytes XLA plans for the executable: arguments, outputs and temporaries."""
    try:
        m = compiled.memory_analysis()
    except Exception:  # noqa: BLE001
        m = None
    if m is None:
        return {}
    return {
        "xla_argument_bytes": int(m.argument_size_in_bytes),
        "xla_output_bytes": int(m.output_size_in_bytes),
        "xla_temp_bytes": int(m.temp_size_in_bytes),
    }


def _time_runtime(benchmark, target: Target, sharding, device, settings: Settings) -> dict:
    """Compile, warm up, then time guarded rounds that only execute."""
    stages = timing.compile_stages(target.make_fn(), target.args, sharding)
    compiled = stages.compiled
    if target.chain:
        runner = timing.ChainedRunner(compiled, target.args[0])
    else:
        runner = timing.RepeatRunner(compiled, target.args)
    # Warm-up: first executions pay one-off allocation and thunk set-up costs.
    import time

    runner()
    t0 = time.perf_counter()
    runner()
    per_round = time.perf_counter() - t0
    rounds = settings.runtime_rounds or timing.rounds_for(
        per_round, settings.max_time, settings.min_runtime_rounds
    )
    _, events = timing.guarded_rounds(
        lambda: benchmark.pedantic(runner, rounds=rounds, iterations=1, warmup_rounds=0)
    )
    _check_placement(runner.last, device)
    peak, source = memory_in_use(device)
    flops = target.flops_fn(compiled)
    return {
        "compile_events": events,
        "first_compile_s": stages.total_s,
        "peak_memory_bytes": peak,
        "memory_source": source,
        "flops": flops if flops is None or math.isfinite(flops) else None,
        **_memory_analysis(compiled),
    }
