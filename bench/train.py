"""Train an MLP policy with an evolution strategy: ``python -m bench.train``.

Runs the esperf workload (:mod:`bench.workload`) generation after generation, prints a
progress line every few generations, and prints as its LAST line one JSON object with
the run's figures (``final_return`` is the final mean parameters evaluated on 1000
fresh episodes).

``--devices`` picks where it runs: one device (default: the first visible one) or a
set such as ``cpu:all`` or ``gpu:0+1``, over which each generation's population is
sharded (``bench.multi.sharding``; popsize must be a multiple of the set's size).

Timing: every function is compiled ahead of time (``jax.jit(f).lower(...).compile()``)
before the run starts; ``compile_s`` is that, ``run_s`` the execution time of the
generations alone (what ``env_steps_per_s`` divides by), ``wall_s`` the whole command
from start to final evaluation. ``run_compile_events`` counts jax's compile events inside
the timed generations (0: nothing compiled there).

Example (the blog's run)::

    python -m bench.train --strategy cma_es --env Pendulum-v1 --popsize 100 --evals 50 \
        --generations 200 --hidden 48 --sigma-init 0.5 --seed 0
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace

from bench.cli import Parser, command
from bench.validate import pop_chunk_setting, positive_int

PROG = "python -m bench.train"


def _option_value(text: str):
    """Parse a strategy option value: int, float, bool or string."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def parse_args(argv=None) -> argparse.Namespace:
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--strategy", default="cma_es",
                   help="one of strategies.names(), evosax:<Name>, an esperf.strategies entry point or module:attr "
                   "(docs/plugins.md) (default cma_es)")
    p.add_argument("--env", default="Pendulum-v1",
                   help="one of envs.names(), gymnax:<env-id>, an esperf.envs entry point or module:attr "
                   "(default Pendulum-v1)")
    p.add_argument("--popsize", type=int, default=100)
    p.add_argument("--evals", type=int, default=50, help="episodes per member per generation (shared)")
    p.add_argument("--generations", type=int, default=200)
    p.add_argument("--hidden", type=int, default=48, help="hidden units of the MLP policy")
    p.add_argument("--episode-length", type=int, default=None, help="default: the env's max_steps")
    p.add_argument("--sigma-init", type=float, default=None, help="default: the strategy's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--devices",
        default=None,
        metavar="SPEC",
        help="device set: PLATFORM:ID, PLATFORM:ID+ID+... or PLATFORM:all (e.g. cpu:all); the population "
        "is sharded over it (default: the first visible device)",
    )
    p.add_argument(
        "--pop-chunk",
        default="auto",
        metavar="N|auto|off",
        help="members per block of the rollout: N, auto (on cpu from the L2 cache's size; the whole population "
        "on gpu, tpu and device sets) or off (default: auto; see docs/options.md)",
    )
    p.add_argument("--log-every", type=int, default=10, help="generations between progress lines")
    p.add_argument("--final-episodes", type=int, default=1000, help="fresh episodes for final_return")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra strategy option, e.g. --option learning_rate=0.05 (see strategies.make)",
    )
    return p.parse_args(argv)


def check_plugins(args: argparse.Namespace, options: dict) -> None:
    """Check a plugin strategy or env against its protocol before anything is compiled
    (:mod:`bench.plugins.checks`); ValueError in one line naming the plugin and what is wrong."""
    from bench.plugins.checks import check_env, check_strategy
    from bench.plugins.resolve import BUILTIN, ENV, STRATEGY, make_env, resolve
    from envs.policy import MLPPolicy

    try:
        env = make_env(args.env) if resolve(ENV, args.env).source == BUILTIN else check_env(args.env)
    except ValueError as err:
        raise ValueError(f"--env: {err}") from None
    try:
        if resolve(STRATEGY, args.strategy).source != BUILTIN:
            check_strategy(args.strategy, MLPPolicy.for_env(env, args.hidden).num_params, args.popsize,
                           args.sigma_init, **options)
    except ValueError as err:
        raise ValueError(f"--strategy: {err}") from None


def train(args: argparse.Namespace) -> dict:
    import jax
    import jax.numpy as jnp

    from bench.multi.devices import devices_of, owned, resolve_device_set, visible_devices
    from bench.multi.sharding import check_divisible, place, pop_mesh, replicated
    from bench.measure.timing import CompileCounter, limit_blas_threads
    from bench.measure.chunking import resolve_pop_chunk
    from bench.workload import Workload

    limit_blas_threads(1)

    options = []
    for item in args.option:
        if "=" not in item:
            raise ValueError(f"--option {item!r} is not allowed; use NAME=VALUE")
        name, value = item.split("=", 1)
        options.append((name.strip(), _option_value(value.strip())))
    for name in ("generations", "log_every", "final_episodes"):
        value = getattr(args, name)
        positive_int(f"--{name.replace('_', '-')}", value)
    chunk_setting = pop_chunk_setting("--pop-chunk", args.pop_chunk)
    for name in ("popsize", "evals", "hidden"):  # before a plugin is built with them
        positive_int(name, getattr(args, name))
    check_plugins(args, dict(options))
    wl = Workload(
        strategy=args.strategy,
        env=args.env,
        popsize=args.popsize,
        evals=args.evals,
        hidden=args.hidden,
        episode_length=args.episode_length,
        sigma_init=args.sigma_init,
        strategy_options=tuple(options),
    )

    if args.devices is not None and args.devices.startswith("cpu:"):
        # the whole CPU (cpu:all) is one CPU device per core; cpu:0+1 needs two devices
        from bench.multi.cpu_cores import usable_cores
        from bench.multi.devices import ensure_cpu_devices

        rest, cores = args.devices.split(":", 1)[1], usable_cores().count
        wanted = range(cores) if rest == "all" else [int(p) for p in rest.split("+") if p.isdigit()]
        ensure_cpu_devices([f"cpu:{i}" for i in wanted if i < cores])  # no more devices than cores
    visible = visible_devices()
    if args.devices is None:
        default = jax.devices()[0]
        names = (next(name for name, d in visible.items() if d == default),)
    else:
        names = resolve_device_set(args.devices, visible)
    devices = devices_of(names, visible)
    mesh = None
    if len(devices) > 1:
        if args.devices != "cpu:all":  # the whole CPU pads an uneven population (its cores are no choice)
            check_divisible(wl.popsize, len(devices), args.devices)
        mesh = pop_mesh(devices)
    pop_chunk, chunk_source = resolve_pop_chunk(chunk_setting, devices[0].platform, wl.popsize, wl.evals, wl.hidden,
                                                wl.num_params, wl.policy.obs_size, shards=len(devices))
    wl = replace(wl, pop_chunk=pop_chunk, shards=len(devices))
    generation = wl.generation_fn(mesh)

    def run_chunk(state, n):
        """``n`` generations in one scan; per generation the mean and best member return."""

        def body(state, _):
            state, returns = generation(state)
            return state, (returns.mean(), returns.max())

        return jax.lax.scan(body, state, None, length=n)

    if mesh is None:
        # One device: plain jit, placed by the committed inputs (today's single-device code).
        place_state = lambda state: jax.device_put(state, devices[0])  # noqa: E731
        jit_chunk = jax.jit(run_chunk, static_argnums=1)
    else:
        place_state = lambda state: place(state, mesh)  # noqa: E731
        rep = replicated(mesh)
        jit_chunk = jax.jit(run_chunk, static_argnums=1, in_shardings=(rep,), out_shardings=(rep, (rep, rep)))
    final_device = next(d for d in devices if owned(d))

    start = time.perf_counter()
    key = jax.device_put(jax.random.key(args.seed), final_device)
    # Everything is compiled before the first generation runs (issue 10): the chunk
    # lengths are log_every and, when it does not divide generations, the remainder.
    init = jax.jit(wl.init).lower(key).compile()
    state = place_state(init(key))
    sizes = sorted({min(args.log_every, args.generations), args.generations % args.log_every} - {0})
    chunks = {n: jit_chunk.lower(state, n).compile() for n in sizes}
    final_eval = (
        jax.jit(lambda mean, key: wl.evaluate(mean[None, :], key, evals=args.final_episodes)[0])
        .lower(jax.device_put(state.es_state.mean, final_device), key)
        .compile()
    )
    compile_s = time.perf_counter() - start

    best_return = -math.inf
    done = 0
    run_s = 0.0
    run_compiles = 0  # jax's compile events inside the timed chunks: 0 when compile_s holds them all
    while done < args.generations:
        n = min(args.log_every, args.generations - done)
        with CompileCounter() as counter:
            t0 = time.perf_counter()
            state, (mean_r, best_r) = chunks[n](state)
            jax.block_until_ready((state, mean_r, best_r))
            run_s += time.perf_counter() - t0
        run_compiles += counter.count
        mean_r, best_r = jax.device_get((mean_r, best_r))
        done += n
        best_return = max(best_return, float(best_r.max()))
        es_state = state.es_state
        sigma = getattr(es_state, "sigma", wl.es.sigma_init if hasattr(wl.es, "sigma_init") else float("nan"))
        print(
            f"gen {done:5d}  mean {float(mean_r[-1]):9.2f}  best {float(best_r[-1]):9.2f}  "
            f"best-ever {best_return:9.2f}  sigma {float(jnp.mean(sigma)):.4g}  "
            f"elapsed {time.perf_counter() - start:7.2f} s",
            flush=True,
        )
    final_key = jax.device_put(jax.random.fold_in(jax.random.key(args.seed), 2**31 - 1), final_device)
    final_return = float(final_eval(jax.device_put(state.es_state.mean, final_device), final_key))
    wall_s = time.perf_counter() - start
    from bench.plugins.resolve import env_source, strategy_source

    return {
        "strategy": wl.strategy,
        "strategy_source": strategy_source(wl.strategy),
        "env": wl.env,
        "env_source": env_source(wl.env),
        "popsize": wl.popsize,
        "evals": wl.evals,
        "generations": args.generations,
        "hidden": wl.hidden,
        "episode_length": wl.episode_length,
        "num_params": wl.num_params,
        "pop_chunk": pop_chunk,
        "pop_chunk_source": chunk_source,
        "sigma_init": args.sigma_init,
        "seed": args.seed,
        "options": dict(options),
        "final_return": final_return,
        "final_episodes": args.final_episodes,
        "best_return": best_return,
        "compile_s": compile_s,
        "run_s": run_s,
        "run_compile_events": run_compiles,
        "wall_s": wall_s,
        "env_steps": wl.env_steps * args.generations,
        "env_steps_per_s": wl.env_steps * args.generations / run_s,
        "device": str(devices[0]),
        "devices": list(names),
    }


def _main(argv) -> int:
    result = train(parse_args(argv))
    print(json.dumps(result), flush=True)
    return 0


def main(argv=None) -> int:
    """Exit status (docs/commands.md): 0 trained, 2 bad input (one line), 3 internal error."""
    return command(PROG, _main, argv, usage=(ValueError,))


if __name__ == "__main__":
    sys.exit(main())
