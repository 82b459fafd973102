"""The ``--es-*`` pytest options of ``pytest bench``.

Registered from the repository's root ``conftest.py`` (so ``pytest --help`` lists them
from anywhere in the checkout) and parsed/validated by :mod:`bench.grid`. Importing
this module is cheap: no jax.
"""
from __future__ import annotations


def add_options(parser) -> None:
    group = parser.getgroup("esperf", "esperf benchmark grid (pytest bench)")
    group.addoption("--es-grid", default="quick", help="grid preset: quick, seed or full (default: quick)")
    group.addoption("--es-strategies", default=None, help="comma list of strategies.names() (default: the grid's)")
    group.addoption("--es-envs", default=None, help="comma list of envs.names() (default: the grid's)")
    group.addoption("--es-pops", default=None, help="comma list of population sizes (default: the grid's)")
    group.addoption("--es-evals", default=None, help="comma list of episodes per member (default: the grid's)")
    group.addoption("--es-hidden", default="48", help="hidden units of the MLP policy (default: 48)")
    group.addoption(
        "--es-episode-length", default=None, help="steps per episode (default: the env's max_steps)"
    )
    group.addoption(
        "--es-devices",
        default="all",
        help="comma list of cpu, gpu, tpu, all (every such device, each alone), JAX device ids platform:id "
        "such as cpu:0,gpu:1, or device sets one case is sharded over: cpu:0+1+2+3, gpu:all (default: all)",
    )
    group.addoption(
        "--es-scaling",
        default=None,
        help="strong or weak: expand each platform's chosen devices into sets of 1, 2, 4, ... devices and all "
        "of them; strong keeps each popsize, weak treats --es-pops as per-device popsizes (default: off)",
    )
    group.addoption("--es-phases", default="compile,runtime", help="compile, runtime or both (default: both)")
    group.addoption("--es-breakdown", action="store_true", help="also time ask, eval and tell alone")
    group.addoption(
        "--es-impls",
        default="esperf",
        help="implementations to time: esperf and/or evosax (needs the peers extra) (default: esperf)",
    )
    group.addoption("--es-compile-rounds", default="3", help="cold compiles per compile case (default: 3, min 3)")
    group.addoption(
        "--es-runtime-rounds",
        default=None,
        help="timed generations per runtime case (default: enough for --benchmark-max-time, at least 20)",
    )
    group.addoption(
        "--es-unroll", default="1", help="lax.scan unroll of the episode loop (default: 1; choose by measurement)"
    )
    group.addoption(
        "--es-blas-threads",
        default="1",
        help="threads of the BLAS/LAPACK pools behind XLA's CPU custom calls such as eigh; 0 leaves them "
        "as they are (default: 1, see bench/timing.py)",
    )
    group.addoption(
        "--es-isolate",
        default=None,
        help="process: every runtime case and every compile round in a fresh worker process (true per-case "
        "memory, cold compiles, crashes contained); none: everything in the pytest process (default: process; "
        "none under --es-distributed)",
    )
    group.addoption(
        "--es-distributed",
        default=None,
        help="join a jax.distributed system: auto (Slurm, Open MPI, TPU pods, Kubernetes) or "
        "HOST:PORT,NUM_PROCESSES,PROCESS_ID (default: $ESPERF_DISTRIBUTED, else a single process)",
    )
    group.addoption(
        "--es-distributed-timeouts",
        default="60,20,60",
        help="seconds for jax.distributed: INIT (every process connected), HEARTBEAT (a silent process is "
        "declared dead), SHUTDOWN (default: 60,20,60)",
    )
    group.addoption(
        "--es-case-timeout",
        default="3600",
        help="seconds a worker may take (one runtime case or one compile round) before it is ended and the "
        "case fails (default: 3600)",
    )
    group.addoption(
        "--es-resume",
        action="store_true",
        help="run only the cases that PATH.partial (beside --benchmark-json=PATH) does not hold yet, then "
        "write the complete PATH",
    )
    group.addoption(
        "--es-peak-flops",
        default=None,
        help="peak FLOP/s per device kind for %% of peak, e.g. cpu=1.2e11 or 'NVIDIA H100 80GB HBM3=6.7e13'",
    )
