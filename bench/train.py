"""Train an MLP policy with an evolution strategy: ``python -m bench.train``.

Runs the esperf workload (:mod:`bench.workload`) generation after generation, prints a
progress line every few generations, and prints as its LAST line one JSON object with
the run's figures (``final_return`` is the final mean parameters evaluated on 1000
fresh episodes).

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

from bench.cli import fail

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
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--strategy", default="cma_es", help="one of strategies.names() (default cma_es)")
    p.add_argument("--env", default="Pendulum-v1", help="one of envs.names() (default Pendulum-v1)")
    p.add_argument("--popsize", type=int, default=100)
    p.add_argument("--evals", type=int, default=50, help="episodes per member per generation (shared)")
    p.add_argument("--generations", type=int, default=200)
    p.add_argument("--hidden", type=int, default=48, help="hidden units of the MLP policy")
    p.add_argument("--episode-length", type=int, default=None, help="default: the env's max_steps")
    p.add_argument("--sigma-init", type=float, default=None, help="default: the strategy's")
    p.add_argument("--seed", type=int, default=0)
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


def train(args: argparse.Namespace) -> dict:
    import jax
    import jax.numpy as jnp

    from bench.timing import limit_blas_threads
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
        if value <= 0:
            raise ValueError(f"--{name.replace('_', '-')}={value} is not allowed; it must be a positive int")
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

    def run_chunk(state, n):
        """``n`` generations in one scan; per generation the mean and best member return."""

        def body(state, _):
            state, returns = wl.generation(state)
            return state, (returns.mean(), returns.max())

        return jax.lax.scan(body, state, None, length=n)

    run_chunk = jax.jit(run_chunk, static_argnums=1)
    final_eval = jax.jit(lambda mean, key: wl.evaluate(mean[None, :], key, evals=args.final_episodes)[0])

    start = time.perf_counter()
    state = wl.init(jax.random.key(args.seed))
    best_return = -math.inf
    done = 0
    while done < args.generations:
        n = min(args.log_every, args.generations - done)
        state, (mean_r, best_r) = run_chunk(state, n)
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
    wall_s = time.perf_counter() - start
    final_key = jax.random.fold_in(jax.random.key(args.seed), 2**31 - 1)
    final_return = float(final_eval(state.es_state.mean, final_key))
    return {
        "strategy": wl.strategy,
        "env": wl.env,
        "popsize": wl.popsize,
        "evals": wl.evals,
        "generations": args.generations,
        "hidden": wl.hidden,
        "episode_length": wl.episode_length,
        "num_params": wl.num_params,
        "sigma_init": args.sigma_init,
        "seed": args.seed,
        "options": dict(options),
        "final_return": final_return,
        "final_episodes": args.final_episodes,
        "best_return": best_return,
        "wall_s": wall_s,
        "env_steps": wl.env_steps * args.generations,
        "env_steps_per_s": wl.env_steps * args.generations / wall_s,
        "device": str(jax.devices()[0]),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        result = train(args)
    except ValueError as err:
        fail(PROG, err)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
