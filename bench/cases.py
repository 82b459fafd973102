"""Measure one benchmark case: build its target on its devices, then time cold compiles or runtime rounds.

The functions here run wherever the case runs: in a fresh worker process
(:mod:`bench.worker`, ``--es-isolate process``) or in the pytest process
(``--es-isolate none``). They return plain, JSON-able results; the pytest plugin
(``bench/conftest.py``) records them. All timing goes through :mod:`bench.timing`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
import jax

from bench import timing
from bench.grid import Case
from bench.target import Settings, Target, scan_flops_fn, xla_flops

__all__ = ["CaseFailed", "Settings", "Target", "make_target", "measure_compile_round", "measure_runtime"]


class CaseFailed(RuntimeError):
    """The case could not produce an honest figure."""


def jax_devices(ids) -> list:
    """The jax devices named ``platform:id``; CaseFailed for one this process cannot see."""
    found = {}
    for platform in {i.split(":", 1)[0] for i in ids}:
        try:
            found.update({f"{platform}:{d.id}": d for d in jax.devices(platform)})
        except RuntimeError:
            pass
    missing = [i for i in ids if i not in found]
    if missing:
        raise CaseFailed(f"device(s) {', '.join(missing)} not visible in this process (visible: {', '.join(found)})")
    return [found[i] for i in ids]


@dataclass(frozen=True)
class Placement:
    """Where a case's arrays live: ``state`` for the carried state; ``args``/``out`` pin a
    generation's inputs and outputs; ``mesh`` is the population's mesh of a sharded case."""

    devices: tuple
    state: object
    args: object
    out: object
    mesh: object = None

    @classmethod
    def on(cls, devices) -> "Placement":
        if len(devices) == 1:
            one = jax.sharding.SingleDeviceSharding(devices[0])
            return cls(tuple(devices), one, one, one)
        from bench import sharding

        mesh = sharding.pop_mesh(list(devices))
        args, out = sharding.generation_shardings(mesh)
        return cls(tuple(devices), sharding.replicated(mesh), args, out, mesh)


def abstract_args(tree, sharding):
    """``tree`` with every leaf (an array or a ``jax.ShapeDtypeStruct``) as a
    ``jax.ShapeDtypeStruct`` of its shape, dtype and weak type, placed with ``sharding``."""
    return jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding, weak_type=getattr(a, "weak_type", False)),
        tree,
    )


def esperf_target(case: Case, settings: Settings, placement: Placement, abstract: bool = False) -> Target:
    """The esperf workload for ``case`` with device-resident inputs.

    With ``abstract`` the inputs are ``jax.ShapeDtypeStruct``s (shape, dtype, sharding)
    of those same inputs: enough to trace, lower and compile the same program, and
    nothing to execute it with.
    """
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
    if case.part in ("ask", "tell"):
        flops_fn = xla_flops  # no scan inside
    else:
        flops_fn = scan_flops_fn(wl.episode_length, settings.unroll, wl.scan_step_fn)
    env_steps = wl.env_steps if case.part in ("generation", "eval") else None
    common = dict(env_steps=env_steps, flops_fn=flops_fn, num_params=wl.num_params, episode_length=wl.episode_length)
    generation = case.part == "generation"
    if not generation and placement.mesh is not None:
        raise ValueError(f"the {case.part!r} breakdown part runs on one device, not on {case.device}")
    if abstract:
        # A compile round needs only the arguments' shapes, dtypes and shardings:
        # jax.eval_shape traces the init (and ask, for the parts' arguments) without
        # compiling or running anything, set-up that a worker would otherwise pay untimed.
        state = jax.eval_shape(lambda: wl.init(jax.random.key(settings.seed)))
        args = abstract_args((state,) if generation else jax.eval_shape(wl.part_args, state)[case.part],
                             placement.state)
    else:
        state = jax.jit(wl.init, out_shardings=placement.state)(jax.random.key(settings.seed))
        args = (state,) if generation else jax.device_put(wl.part_args(state)[case.part], placement.state)
    if generation:
        return Target(lambda: wl.generation_fn(placement.mesh), args, True, in_shardings=placement.args,
                      out_shardings=placement.out, **common)
    return Target(lambda: wl.part_fns()[case.part], args, False, in_shardings=placement.state,
                  out_shardings=placement.state, **common)


def make_target(case: Case, settings: Settings, placement: Placement, abstract: bool = False) -> Target:
    """The case's target on ``placement``; ``abstract``: esperf's inputs as ShapeDtypeStructs
    (for compile rounds; the evosax peer always builds concrete inputs)."""
    if case.impl == "esperf":
        return esperf_target(case, settings, placement, abstract)
    from bench import peers

    if placement.mesh is not None:
        raise ValueError(f"the evosax peer runs on one device, not on {case.device}")
    return peers.evosax_target(case, settings, placement.state)


def target_info(case: Case, target: Target, devices) -> dict:
    """The case's identity and the facts of its target, as ``extra_info`` names them."""
    return {
        **case.fields(),
        "episode_length": target.episode_length,
        "num_params": target.num_params,
        "device_kind": devices[0].device_kind,
        "platform": devices[0].platform,
        "num_processes": len({getattr(d, "process_index", 0) for d in devices}),
        "env_steps": target.env_steps,
    }


def _check_placement(out, devices) -> None:
    """Every output array must live on the devices under test, and only there."""
    expected = set(devices)
    for leaf in jax.tree.leaves(out):
        found = leaf.sharding.device_set if hasattr(leaf, "sharding") else set()
        if found != expected:
            raise CaseFailed(f"output on {sorted(map(str, found))}, expected only {sorted(map(str, expected))}")


def memory_analysis(compiled) -> dict:
    """Bytes XLA plans for the executable (arguments, outputs, temporaries), or why there are none."""
    try:
        m = compiled.memory_analysis()
    except Exception as err:  # noqa: BLE001 -- some backends do not implement it; record why
        return {"xla_memory_error": f"memory_analysis() raised {type(err).__name__}: {err}"[:300]}
    if m is None:
        return {"xla_memory_error": "memory_analysis() returned None on this backend"}
    return {
        "xla_argument_bytes": int(m.argument_size_in_bytes),
        "xla_output_bytes": int(m.output_size_in_bytes),
        "xla_temp_bytes": int(m.temp_size_in_bytes),
    }


def build(case: Case, settings: Settings, sync=None, abstract: bool = False):
    """(target, devices, info) for ``case`` in this process (compiles the state's init, untimed;
    with ``abstract``, esperf's inputs are ShapeDtypeStructs and nothing compiles: see
    :func:`esperf_target`).

    With ``sync`` (a multi-process run) the processes agree that every one of them built
    the case before anything runs a collective: a failure on one fails the case on all.
    """
    error = None
    try:
        devices = jax_devices(case.devices)
        target = make_target(case, settings, Placement.on(devices), abstract=abstract)
    except Exception as err:  # noqa: BLE001 -- re-raised below, after the processes agreed
        if sync is None:
            raise
        error = f"{type(err).__name__}: {' '.join(str(err).split())}"[:1000]
    if sync is not None:
        sync.agree(error)
    return target, devices, target_info(case, target, devices)


def measure_compile_round(case: Case, settings: Settings, built=None) -> dict:
    """One cold compile of the case: stage times, jax's compile events, XLA's planned memory.

    The round starts from ``jax.clear_caches()`` and a fresh function; ``events`` counts
    the traces, lowerings and backend compiles jax itself reported during it. Without
    ``built`` the target's inputs are abstract (a compile needs their shapes, dtypes and
    shardings, not their values): an esperf round compiles nothing but the case itself.
    The process's one-off compiler set-up is paid before, by the worker's backend warm-up
    (``bench.worker``: a tiny function jitted and run on the case's devices).
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


def measure_runtime(case: Case, settings: Settings, sync=None) -> tuple[list[float], dict]:
    """Compile and warm up the case, then time guarded rounds that only execute.

    Returns (seconds per round, extra_info). Every round blocks until ready and, for a
    whole generation, carries the state to the next; a ``jax.monitoring`` listener fails
    the case if anything is traced or compiled during the rounds. With ``sync`` (a
    multi-process run: ``agree``, ``rounds``, ``before_round``) every process builds the
    case, uses process 0's round count, and starts each round at an untimed barrier.
    """
    target, devices, info = build(case, settings, sync)
    before_round = sync.before_round if sync is not None else None
    stages = timing.compile_stages(target.make_fn(), target.args, target.in_shardings, target.out_shardings)
    compiled = stages.compiled
    if target.chain:
        runner = timing.ChainedRunner(compiled, target.args[0])
    else:
        runner = timing.RepeatRunner(compiled, target.args)
    # Warm-up: first executions pay one-off allocation and thunk set-up costs.
    runner()
    (per_round,) = timing.time_rounds(runner, 1, before_round)
    rounds = settings.runtime_rounds or timing.rounds_for(per_round, settings.max_time, settings.min_runtime_rounds)
    if sync is not None:
        rounds = sync.rounds(rounds)
    samples, events = timing.guarded_rounds(lambda: timing.time_rounds(runner, rounds, before_round))
    _check_placement(runner.last, devices)
    flops, flops_error = target.flops_fn(compiled)
    info.update(
        compile_events=events,
        first_compile_s=stages.total_s,
        flops=flops if flops is None or math.isfinite(flops) else None,
        **({"flops_error": flops_error} if flops_error else {}),
        **memory_analysis(compiled),
    )
    return samples, info


def rates(info: dict, median: float, settings: Settings) -> dict:
    """Throughput figures of a runtime case from its median seconds per round."""
    out = {"env_steps_per_s": None}
    if info["phase"] != "runtime" or not median > 0:
        return out  # env steps per second of a compile figure would mean nothing
    if info.get("env_steps"):
        out["env_steps_per_s"] = info["env_steps"] / median
    if info.get("flops") is not None:
        out["flops_per_s"] = info["flops"] / median
        peaks = settings.peak_flops or {}
        peak = peaks.get(info.get("device_kind")) or peaks.get(info.get("platform"))
        if peak and info.get("num_devices", 1) > 1:
            peak *= info["num_devices"]  # a sharded case can use every device's peak
        out["peak_flops"] = peak
        out["pct_of_peak"] = 100.0 * out["flops_per_s"] / peak if peak else None
    return out
