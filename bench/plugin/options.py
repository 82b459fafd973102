"""The ``--es-*`` pytest options of ``pytest bench``: their registration and the run options' parsing.

Registered from the repository's root ``conftest.py`` (so ``pytest --help`` lists them
from anywhere in the checkout). The grid's options (what to time) are parsed by
:mod:`bench.plugin.grid`; the run's options (how to time it: isolation, rounds, deadlines)
by :func:`parse_run_options` here. Every bad value is a ValueError naming the value and
what is allowed. Importing this module is cheap: no jax.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from bench.case import Settings
from bench.validate import parse_positive_int, parse_seconds, pop_chunk_setting
from results_format.peaks import parse_peak_flops as parse_kind_flops

ISOLATION = ("process", "none")
# Worker processes per runtime case by default: one on a CPU; on an accelerator each worker is
# one draw of XLA's autotuner and of the executable's loading, so three.
RUNTIME_WORKERS = {"cpu": 1, "gpu": 3, "tpu": 3}


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
        help="comma list of all (the whole CPU and each accelerator alone), cpu (the whole CPU: cpu:all), gpu, "
        "tpu (each such device alone), JAX device ids platform:id such as cpu:0 (one core), gpu:1, or device "
        "sets one case is sharded over: cpu:all (one CPU device per core), cpu:0+1, gpu:all (default: all)",
    )
    group.addoption(
        "--es-cpu-cores",
        default=None,
        help="cores of the whole CPU (cpu:all: one CPU device per core) (default: the physical cores of this "
        "process's affinity, capped by its cgroup quota)",
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
        "--es-runtime-workers",
        default=None,
        help="fresh worker processes per runtime case; its rounds are split across them, each compiles and "
        "warms up on its own (default: 1 on cpu, 3 on gpu and tpu; only with --es-isolate process)",
    )
    group.addoption(
        "--es-profile",
        default=None,
        metavar="DIR",
        help="after each runtime case's timed rounds, 3 more rounds under jax.profiler.trace into DIR/<case id> "
        "(Perfetto and TensorBoard/xprof traces; never inside the timed rounds) (default: off)",
    )
    group.addoption(
        "--es-unroll", default="1", help="lax.scan unroll of the episode loop (default: 1; choose by measurement)"
    )
    group.addoption(
        "--es-pop-chunk",
        default="auto",
        help="members per block of the rollout (the population is evaluated a block at a time, so a step's "
        "working set stays in cache): N, auto (on cpu from the L2 cache's size, the whole population on gpu "
        "and tpu) or off (default: auto)",
    )
    group.addoption(
        "--es-blas-threads",
        default="1",
        help="threads of the BLAS/LAPACK pools behind XLA's CPU custom calls such as eigh; 0 leaves them "
        "as they are (default: 1, see bench/measure/timing.py)",
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
        help="peak FLOP/s per device kind for %% of peak, e.g. cpu=1.2e11 or 'NVIDIA H100 80GB HBM3=6.7e13'; "
        "auto: measure each device's float32 matmul FLOP/s (and copy bandwidth) in a worker first, the given "
        "values still winning (auto,cpu=1.2e11)",
    )


@dataclass(frozen=True)
class RunOptions:
    """How the run measures its cases (from the ``--es-*`` run options)."""

    isolation: str  # one of ISOLATION
    distributed_timeouts: tuple[float, float, float]  # INIT, HEARTBEAT, SHUTDOWN seconds
    case_timeout: float  # seconds a worker may take
    settings: Settings
    runtime_workers: int | None = None  # None: RUNTIME_WORKERS by the case's platform
    smoke: bool = False  # --benchmark-disable: each case once (one compile round, one runtime round)
    measure_peaks: bool = False  # --es-peak-flops auto: each device's peak measured at the run's start

    def workers_for(self, platform: str) -> int:
        """Fresh worker processes for one runtime case on ``platform`` (1 in-process or in a smoke run)."""
        if self.isolation != "process" or self.smoke:
            return 1
        return self.runtime_workers or RUNTIME_WORKERS.get(platform, 1)


def parse_timeouts(text) -> tuple[float, float, float]:
    """``--es-distributed-timeouts INIT,HEARTBEAT,SHUTDOWN`` in seconds, each > 0."""
    parts = str(text).split(",")
    if len(parts) != 3:
        raise ValueError(f"--es-distributed-timeouts: {text!r} is not allowed; give INIT,HEARTBEAT,SHUTDOWN "
                         "seconds, each > 0 (e.g. 60,20,60)")
    return tuple(parse_seconds("--es-distributed-timeouts", p) for p in parts)


PEAK_AUTO = "auto"


def parse_peak_flops(text: str | None) -> tuple[dict[str, float], bool]:
    """``--es-peak-flops`` as ({device kind or platform: FLOP/s}, whether to measure the peaks):
    ``KIND=FLOPS`` items (the JSON contract's parser) and the item ``auto``."""
    items = [t.strip() for t in str(text or "").split(",")]
    auto = any(t.lower() == PEAK_AUTO for t in items)
    try:
        return parse_kind_flops(",".join(t for t in items if t.lower() != PEAK_AUTO)), auto
    except ValueError as err:
        raise ValueError(f"--es-peak-flops: {err}; or auto (measured)") from None


def parse_profile_dir(text) -> str | None:
    """``--es-profile DIR`` as an absolute path (workers write there), None when off; a DIR that
    exists as a file is a ValueError."""
    import os

    if text is None:
        return None
    path = os.path.abspath(os.path.expanduser(str(text)))
    if not str(text).strip() or (os.path.exists(path) and not os.path.isdir(path)):
        raise ValueError(f"--es-profile: {text!r} is not allowed; give a folder to write the traces in")
    return path


def parse_isolation(getoption, distributed: bool) -> str:
    """``--es-isolate`` (default: process, none under ``--es-distributed``); ValueError on a bad value."""
    isolation = getoption("es_isolate") or ("none" if distributed else "process")
    if isolation not in ISOLATION:
        raise ValueError(f"--es-isolate: unknown value {isolation!r}; choose from {', '.join(ISOLATION)}")
    if distributed and isolation == "process":
        raise ValueError("--es-isolate process cannot be combined with --es-distributed: the processes of a "
                         "distributed run measure their cases in-process (--es-isolate none)")
    return isolation


def parse_case_settings(getoption, distributed: bool) -> dict:
    """The run-wide settings every case carries (:class:`bench.case.Case`'s ``unroll``,
    ``pop_chunk``, ``isolation``): they change a case's figure, so they are part of its identity.
    ValueError on a bad value."""
    unroll, chunk = getoption("es_unroll"), getoption("es_pop_chunk")
    return {
        "unroll": parse_positive_int("--es-unroll", "1" if unroll is None else unroll),
        "pop_chunk": str(pop_chunk_setting("--es-pop-chunk", "auto" if chunk is None else chunk)),
        "isolation": parse_isolation(getoption, distributed),
    }


def parse_run_options(getoption, distributed: bool) -> RunOptions:
    """The run options; ``getoption(name)`` reads one option's raw value; ``distributed``: the
    run joins a jax.distributed system. ValueError on a bad value."""
    isolation = parse_isolation(getoption, distributed)
    peak_flops, measure_peaks = parse_peak_flops(getoption("es_peak_flops"))
    settings = Settings(
        compile_rounds=parse_positive_int("--es-compile-rounds", getoption("es_compile_rounds"), 3),
        runtime_rounds=None if getoption("es_runtime_rounds") is None
        else parse_positive_int("--es-runtime-rounds", getoption("es_runtime_rounds")),
        min_runtime_rounds=max(20, getoption("benchmark_min_rounds") or 0),
        max_time=float(getoption("benchmark_max_time") or 1.0),
        peak_flops=peak_flops,
        blas_threads=parse_positive_int("--es-blas-threads", getoption("es_blas_threads"), 0) or None,
        profile_dir=parse_profile_dir(getoption("es_profile")),
    )
    smoke = bool(getoption("benchmark_disable"))
    if smoke:  # a smoke test of every case, as pytest-benchmark users expect of --benchmark-disable
        settings = replace(settings, compile_rounds=1, runtime_rounds=1, min_runtime_rounds=1)
    timeouts = parse_timeouts(getoption("es_distributed_timeouts"))
    workers = getoption("es_runtime_workers")
    workers = None if workers is None else parse_positive_int("--es-runtime-workers", workers)
    if workers is not None and workers > 1 and isolation != "process":
        why = "--es-distributed measures in-process" if distributed else "--es-isolate none measures in-process"
        raise ValueError(f"--es-runtime-workers: {workers} is not allowed here: {why}, in one process by design; "
                         "give 1 or use --es-isolate process")
    return RunOptions(isolation, timeouts, parse_seconds("--es-case-timeout", getoption("es_case_timeout")), settings,
                      workers, smoke, measure_peaks)
