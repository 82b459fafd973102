"""The target a case times: esperf's workload (or the evosax peer) on the case's placement."""
from __future__ import annotations

from dataclasses import replace

import jax

from bench.case import Case, Settings, Target
from bench.measure.flops import scan_flops_fn, xla_bytes_accessed, xla_flops
from bench.measure.placement import Placement, abstract_args


def esperf_target(case: Case, settings: Settings, placement: Placement, abstract: bool = False) -> Target:
    """The esperf workload for ``case`` with device-resident inputs.

    With ``abstract`` the inputs are ``jax.ShapeDtypeStruct``s (shape, dtype, sharding)
    of those same inputs: enough to trace, lower and compile the same program, and
    nothing to execute it with.
    """
    from bench.measure.chunking import resolve_pop_chunk
    from bench.workload import Workload

    wl = Workload(
        strategy=case.strategy,
        env=case.env,
        popsize=case.popsize,
        evals=case.evals,
        hidden=case.hidden,
        episode_length=case.episode_length,
        unroll=case.unroll,
    )
    pop_chunk, chunk_source = resolve_pop_chunk(
        case.pop_chunk_setting, placement.devices[0].platform, case.popsize, case.evals, case.hidden, wl.num_params,
        wl.policy.obs_size, shards=len(placement.devices),
    )
    wl = replace(wl, pop_chunk=pop_chunk, shards=len(placement.devices))
    if case.part in ("ask", "tell"):
        flops_fn, bytes_fn = xla_flops, xla_bytes_accessed  # no scan inside
    else:
        flops_fn, bytes_fn = (scan_flops_fn(wl.episode_length, case.unroll, wl.scan_step_fn, placement.devices[0],
                                            blocks=wl.pop_blocks[0], shards=wl.shards, measure=measure)
                              for measure in (xla_flops, xla_bytes_accessed))
    env_steps = wl.env_steps if case.part in ("generation", "eval") else None
    facts = {"pop_chunk": pop_chunk, "pop_blocks": wl.pop_blocks[0], "pop_chunk_source": chunk_source}
    common = dict(env_steps=env_steps, flops_fn=flops_fn, num_params=wl.num_params, episode_length=wl.episode_length,
                  facts=facts, bytes_fn=bytes_fn)
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
    from bench.measure import peers

    if placement.mesh is not None:
        raise ValueError(f"the evosax peer runs on one device, not on {case.device}")
    return peers.evosax_target(case, settings, placement.state)


def sources(case: Case) -> dict:
    """Where the case's strategy and env come from (``strategy_source``, ``env_source``): ``builtin``
    for esperf's own, else the package and its version; the evosax peer's are evosax's and gymnax's."""
    if case.impl == "evosax":
        from importlib.metadata import version

        return {"strategy_source": f"evosax {version('evosax')}", "env_source": f"gymnax {version('gymnax')}"}
    from bench.plugins.resolve import env_source, strategy_source

    return {"strategy_source": strategy_source(case.strategy), "env_source": env_source(case.env)}


def target_info(case: Case, target: Target, devices) -> dict:
    """The case's identity and the facts of its target, as ``extra_info`` names them."""
    return {
        **case.fields(),
        **sources(case),
        "episode_length": target.episode_length,
        "num_params": target.num_params,
        "device_kind": devices[0].device_kind,
        "platform": devices[0].platform,
        "num_processes": len({getattr(d, "process_index", 0) for d in devices}),
        "env_steps": target.env_steps,
        **target.facts,
    }
