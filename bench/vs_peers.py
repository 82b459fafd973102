"""esperf vs evosax + gymnax on the same case, timed interleaved in one process.

``python -m bench.vs_peers --strategies cma_es,openai_es --pops 100,1000`` compiles
both implementations of each case (cold, fastest of ``--compile-rounds``), then times
their runtime rounds alternately (A, B, A, B, ...) so that machine load hits both
alike, and prints one JSON line per case with both medians, the speedup (ratio of
medians) and its bootstrap 95% confidence interval.

Like for like: both implementations run on ONE jax device, the same one (``device`` in each
line; on a CPU one XLA:CPU device, in this one process, neither on the whole CPU's per-core
devices: ``pytest bench``'s ``cpu:all`` rows are no peer's figures). ``compared_on`` says so.
"""
from __future__ import annotations

import json
import statistics
import sys
import time

from bench.cli import Parser, command

PROG = "python -m bench.vs_peers"


def parse_args(argv=None):
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--strategies", default="cma_es,openai_es")
    p.add_argument("--envs", default="Pendulum-v1")
    p.add_argument("--pops", default="100,1000")
    p.add_argument("--evals", type=int, default=50)
    p.add_argument("--hidden", type=int, default=48)
    p.add_argument("--rounds", type=int, default=20, help="runtime rounds per implementation")
    p.add_argument("--compile-rounds", type=int, default=3)
    p.add_argument("--unroll", type=int, default=1)
    return p.parse_args(argv)


def _speedup_ci(a: list[float], b: list[float]) -> tuple[float, float]:
    """Bootstrap 95% CI of median(b) / median(a) (scipy.stats.bootstrap, independent samples)."""
    import numpy as np
    from scipy import stats

    res = stats.bootstrap(
        (np.asarray(b), np.asarray(a)),
        lambda x, y, axis=-1: np.median(x, axis=axis) / np.median(y, axis=axis),
        n_resamples=2000,
        confidence_level=0.95,
        random_state=0,
        vectorized=True,
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def compare_case(case, settings, device, rounds: int, compile_rounds: int) -> dict:
    from dataclasses import replace

    from bench.measure import timing
    from bench.measure.placement import Placement
    from bench.measure.targets import make_target

    placement = Placement.on([device])
    targets, runners, compile_s = {}, {}, {}
    for impl in ("esperf", "evosax"):
        t = make_target(replace(case, impl=impl), settings, placement)
        compiles = [timing.cold_compile(t.make_fn, t.args, t.in_shardings, t.out_shardings)[0]
                    for _ in range(compile_rounds)]
        best = min(c.total_s for c in compiles)
        # the last cold compile's executable is the one that runs: no extra compile
        runner = timing.ChainedRunner(compiles[-1].compiled, t.args[0])
        runner()
        runner()
        targets[impl], runners[impl], compile_s[impl] = t, runner, best
    samples = {"esperf": [], "evosax": []}

    def interleaved():
        for _ in range(rounds):
            for impl in ("esperf", "evosax"):
                t0 = time.perf_counter()
                runners[impl]()
                samples[impl].append(time.perf_counter() - t0)

    timing.guarded_rounds(interleaved)
    med = {k: statistics.median(v) for k, v in samples.items()}
    lo, hi = _speedup_ci(samples["esperf"], samples["evosax"])
    steps = targets["esperf"].env_steps
    return {
        "strategy": case.strategy,
        "env": case.env,
        "popsize": case.popsize,
        "num_evals": case.evals,
        "hidden": case.hidden,
        "device": f"{device.platform}:{device.id}",
        "compared_on": f"one device ({device.platform}:{device.id}) for both implementations, in one process",
        "esperf_median_s": med["esperf"],
        "evosax_median_s": med["evosax"],
        "esperf_env_steps_per_s": steps / med["esperf"],
        "evosax_env_steps_per_s": steps / med["evosax"],
        "speedup": med["evosax"] / med["esperf"],
        "speedup_ci95": [lo, hi],
        "esperf_compile_s": compile_s["esperf"],
        "evosax_compile_s": compile_s["evosax"],
        "rounds": rounds,
    }


def _main(argv) -> int:
    args = parse_args(argv)
    import jax

    import envs
    from bench.case import Case, Settings
    from bench.measure.peers import PEER_STRATEGIES, peers_available
    from bench.validate import choice_list, positive_int, positive_ints

    strats = choice_list("--strategies", args.strategies, tuple(PEER_STRATEGIES))
    env_names = choice_list("--envs", args.envs, envs.names())
    pops = positive_ints("--pops", args.pops)
    for name in ("evals", "hidden", "rounds", "compile_rounds", "unroll"):
        positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
    if not peers_available():
        raise ValueError('evosax and gymnax are not installed; pip install -e ".[peers]"')
    from bench.measure import timing

    timing.disable_persistent_cache()
    timing.limit_blas_threads(1)
    settings = Settings()
    device = jax.devices()[0]
    for s in strats:
        for e in env_names:
            for pop in pops:
                case = Case("runtime", s, e, pop, args.evals, args.hidden, None, "", unroll=args.unroll)
                print(json.dumps(compare_case(case, settings, device, args.rounds, args.compile_rounds)), flush=True)
    return 0


def main(argv=None) -> int:
    """Exit status (docs/commands.md): 0 compared, 2 bad input (one line), 3 internal error."""
    return command(PROG, _main, argv, usage=(ValueError,))


if __name__ == "__main__":
    sys.exit(main())
