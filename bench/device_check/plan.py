"""The plan of a ``.ci/device-check`` run: each part's grid and deadline, sized by the probe.

Standard library only (no jax): ``.ci/device-check`` asks for the plan of the next part before
it starts it (``python -m bench.device_check plan --part NAME --left SECONDS ...``).

The parts run in :data:`ORDER`, most important first: step 2's fork-server grid, the large
populations (on an accelerator: its memory worker and energy), the path real users take
(``JAX_PLATFORMS`` unset), then the comparisons. Each part has candidate grids, largest first.
Its cost is estimated from the probe (:mod:`bench.device_check.probe`), the processes the grid
starts and the generations it runs (:func:`estimate_s`); its deadline is
``ceil(MARGIN * estimate + SLACK_S)``. :func:`allocate` fits the parts still to run into the
seconds left: every part that fits gets its smallest grid (in order; one that does not fit is
skipped, with a line saying what it needed), then, in order, each part takes the largest grid
the rest allows, and what is still left widens the deadlines in proportion.
``ESPERF_DEVICE_CHECK_TIMEOUT_<PART>`` fixes a part's deadline (its grid is then the largest
candidate); the budget still counts it.
"""
from __future__ import annotations

import math
import os
import shlex
from dataclasses import dataclass, field

BUDGET_ENV = "ESPERF_DEVICE_CHECK_BUDGET_S"
DEFAULT_BUDGET_S = 420  # 7 minutes: one 10-minute command with room for the kill grace and the archive
TIMEOUT_ENV = "ESPERF_DEVICE_CHECK_TIMEOUT_"
MARGIN = 1.5  # the estimate is a model (see estimate_s): half as much again, ...
SLACK_S = 10  # ... and 10 s for what it leaves out (pytest's collection, writing the JSON)
KILL_GRACE_S = 15  # .ci/device-check: SIGINT at the deadline, SIGKILL this much later
PROBE_DEADLINE_S = 120  # the probe's deadline, at most a third of the budget (ESPERF_DEVICE_CHECK_TIMEOUT_PROBE)
SUMMARY_DEADLINE_S = 30  # python -m reports device-check; reserved from the budget with the report
REPORT_S = 15  # python -m reports on a few JSON files (pandas, seaborn, matplotlib imports and plots)
MEMORY_WORKER_ROUNDS = 4  # the memory worker's warm-up and 3 generations (bench.measure.rounds)
# The harness tests of step 6 start pytest bench runs of their own (test_isolation) besides their
# in-process cases: their cost in pytest starts with a compile each, measured on a 2-core CPU
# (a probe's 11 s per start; the short selection took 8 s, the full forms' 47 s).
TESTS_STARTS = {"short": 1, "full": 4}

# Without a probe (it failed or ran past its deadline): the upper end of what a GPU process pays
# before its first figure (CUDA init, the preallocation, a warm-up and cold compiles: 2.5-6 s, read
# from jax's GPU paths, not measured here).
FALLBACK_PROBE = {"server_start_s": 6.0, "worker_start_s": 1.0, "backend_init_s": 5.0, "compile_s": 6.0,
                  "first_run_s": 1.0, "generation_s": 0.05, "probe_work": 16 * 2 * 20 * 48}


@dataclass(frozen=True)
class Grid:
    """The cases of one ``pytest bench`` part: strategies x envs x pops x evals x phases."""

    strategies: tuple[str, ...]
    pops: tuple[int, ...]
    evals: int
    hidden: int
    episode_length: int
    # runtime first: pytest bench runs the cases phase by phase, and the runtime figures are what
    # step 2 compares; a part cut at its deadline has them before the compile rounds
    phases: tuple[str, ...] = ("runtime", "compile")
    runtime_rounds: int = 5
    compile_rounds: int = 3
    workers: int | None = None  # --es-runtime-workers (None: 1 on cpu, 3 on gpu and tpu)
    envs: tuple[str, ...] = ("Pendulum-v1",)

    def cases(self) -> int:
        """How many cases (test items) ``pytest bench`` collects for this grid."""
        return len(self.strategies) * len(self.envs) * len(self.pops) * len(self.phases)

    def args(self) -> list[str]:
        """The grid as ``pytest bench`` options."""
        out = ["--es-strategies", ",".join(self.strategies), "--es-envs", ",".join(self.envs),
               "--es-pops", ",".join(map(str, self.pops)), "--es-evals", str(self.evals),
               "--es-hidden", str(self.hidden), "--es-episode-length", str(self.episode_length),
               "--es-phases", ",".join(self.phases)]
        if "runtime" in self.phases:
            out += ["--es-runtime-rounds", str(self.runtime_rounds)]
        if "compile" in self.phases:
            out += ["--es-compile-rounds", str(self.compile_rounds)]
        if self.workers is not None:
            out += ["--es-runtime-workers", str(self.workers)]
        return out

    def describe(self) -> str:
        """``cma_es,openai_es x Pendulum-v1 x pop 100,1000 x 50 evals, compile+runtime: 8 cases``."""
        return (f"{','.join(self.strategies)} x {','.join(self.envs)} x pop {','.join(map(str, self.pops))} "
                f"x {self.evals} evals, {'+'.join(self.phases)}: {self.cases()} case{'s' * (self.cases() != 1)}")


@dataclass(frozen=True)
class Part:
    """One part of the check: what it runs (``kind``), its step, its candidate grids (largest first)."""

    name: str
    step: int
    kind: str  # bench, doctor, doctor-json, tests or report
    grids: tuple[Grid, ...] = ()
    start: str = "fork server"  # how pytest bench starts its workers: fork server, interpreter or none
    env: tuple[tuple[str, str], ...] = ()  # extra environment (XLA_FLAGS is appended to the user's)
    unset: tuple[str, ...] = ()  # environment variables the part runs without
    args: tuple[str, ...] = ()  # more pytest bench options
    tests: tuple[str, ...] = ()  # step 6: test files and their -k expression

    @property
    def knob(self) -> str:
        return TIMEOUT_ENV + self.name.upper().replace("-", "_")


ORDER = ("doctor", "doctor-json", "fork", "large", "platforms-unset", "interpreter", "compile-process",
         "compile-none", "tests", "unroll1", "unroll4", "command-buffer", "report")
RESERVED = ("report",)  # always kept: the archive needs the report and the summary

_SHORT = dict(evals=2, hidden=8, episode_length=20)
_QUICK_TESTS = ("tests/test_workload.py", "tests/test_sharding.py", "-k", "one_device_mesh or scaling_sets")
_FULL_TESTS = ("tests/test_workload.py", "tests/test_isolation.py", "tests/test_sharding.py", "-k",
               "one_device_mesh or tell_gets_negated or shapes_and_state or killed_by_sigkill or "
               "fork_server_is_optional or resolve_device_set or scaling_sets")


def _grids(form: str) -> dict[str, tuple[Grid, ...]]:
    """The candidate grids of each bench part in ``form`` (short, cpu or gpu), largest first."""
    if form == "short":
        rt = Grid(("cma_es",), (16,), phases=("runtime",), **_SHORT)
        cp = Grid(("cma_es",), (16,), phases=("compile",), **_SHORT)
        large = Grid(("openai_es",), (64,), phases=("runtime",), workers=1, **_SHORT)
        small = Grid(("openai_es",), (16,), phases=("runtime",), workers=1, **_SHORT)
        return {"fork": (rt,), "interpreter": (rt,), "platforms-unset": (rt,), "compile-process": (cp,),
                "compile-none": (cp,), "large": (large,), "unroll1": (small,), "unroll4": (small,),
                "command-buffer": (small,)}
    both = ("cma_es", "openai_es")
    if form == "cpu":  # 2 CPU cores: shorter episodes, fewer evals and rounds than on a GPU
        q = dict(evals=10, hidden=48, episode_length=50, runtime_rounds=10)
        fork = (Grid(both, (100, 1000), **q), Grid(both, (100,), **q), Grid(("cma_es",), (100,), **q))
        rt = tuple(Grid(g.strategies, g.pops, phases=("runtime",), **q) for g in fork)
        cp = dict(evals=10, hidden=48, episode_length=50, phases=("compile",))
        compile_ = (Grid(("cma_es",), (100,), compile_rounds=4, **cp), Grid(("cma_es",), (100,), **cp))
        lq = dict(evals=50, hidden=48, episode_length=20, phases=("runtime",), runtime_rounds=5, workers=1)
        large = (Grid(both, (1000, 10000), **lq), Grid(both, (1000,), **lq), Grid(("openai_es",), (1000,), **lq))
        sq = dict(evals=10, hidden=48, episode_length=200, phases=("runtime",), runtime_rounds=10, workers=1)
        small = (Grid(("openai_es",), (16, 64, 256), **sq), Grid(("openai_es",), (16, 256), **sq),
                 Grid(("openai_es",), (16,), **sq))
    else:
        q = dict(evals=50, hidden=48, episode_length=200, runtime_rounds=20)
        fork = (Grid(both, (100, 1000), **q), Grid(both, (1000,), **q), Grid(("cma_es",), (1000,), **q),
                Grid(("cma_es",), (1000,), phases=("runtime",), **q))
        rt = tuple(Grid(g.strategies, g.pops, phases=("runtime",), **q) for g in fork[:3])
        cp = dict(evals=50, hidden=48, episode_length=200, phases=("compile",))
        compile_ = (Grid(("cma_es",), (1000,), compile_rounds=5, **cp), Grid(("cma_es",), (1000,), **cp))
        lq = dict(evals=50, hidden=48, episode_length=200, phases=("runtime",), runtime_rounds=5)
        large = (Grid(both, (10_000, 100_000), **lq), Grid(both, (100_000,), **lq),
                 Grid(("openai_es",), (100_000,), **lq))
        sq = dict(evals=50, hidden=48, episode_length=200, phases=("runtime",), runtime_rounds=20, workers=1)
        small = (Grid(("openai_es",), (16, 64, 256, 1000), **sq), Grid(("openai_es",), (16, 256), **sq),
                 Grid(("openai_es",), (16,), **sq))
    return {"fork": fork, "interpreter": rt, "platforms-unset": rt[-1:], "compile-process": compile_,
            "compile-none": compile_, "large": large, "unroll1": small, "unroll4": small, "command-buffer": small}


def parts(form: str) -> dict[str, Part]:
    """Every part of ``form`` (short, cpu or gpu) by name, in :data:`ORDER`."""
    if form not in ("short", "cpu", "gpu"):
        raise ValueError(f"form {form!r} is not allowed; choose short, cpu or gpu")
    g = _grids(form)
    found = {
        "doctor": Part("doctor", 1, "doctor"),
        "doctor-json": Part("doctor-json", 1, "doctor-json"),
        "fork": Part("fork", 2, "bench", g["fork"]),
        "interpreter": Part("interpreter", 2, "bench", g["interpreter"], start="interpreter",
                            env=(("ESPERF_WORKER_START", "interpreter"),)),
        # the worker's own platform choice (bench.isolation.worker._start_only), as a user's run makes it
        "platforms-unset": Part("platforms-unset", 2, "bench", g["platforms-unset"], unset=("JAX_PLATFORMS",)),
        "compile-process": Part("compile-process", 3, "bench", g["compile-process"]),
        "compile-none": Part("compile-none", 3, "bench", g["compile-none"], start="none", args=("--es-isolate", "none")),
        "large": Part("large", 4, "bench", g["large"]),
        "unroll1": Part("unroll1", 5, "bench", g["unroll1"], args=("--es-unroll", "1")),
        "unroll4": Part("unroll4", 5, "bench", g["unroll4"], args=("--es-unroll", "4")),
        # XLA's CPU client ignores the GPU-only flag (measured: it runs): on cpu the figures are unroll 1's
        "command-buffer": Part("command-buffer", 5, "bench", g["command-buffer"], args=("--es-unroll", "1"),
                               env=(("XLA_FLAGS", "--xla_gpu_enable_command_buffer=+WHILE"),)),
        "tests": Part("tests", 6, "tests", tests=_QUICK_TESTS if form == "short" else _FULL_TESTS),
        "report": Part("report", 7, "report"),
    }
    return {name: found[name] for name in ORDER}


# -- the cost model ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Costs:
    """Seconds of the probe (:mod:`bench.device_check.probe`) that the estimates are built of."""

    server_start_s: float  # a fork server's imports (a pytest process imports as much)
    worker_start_s: float  # a forked worker from its request to its backend start
    backend_init_s: float  # the backend's start and warm-up on the device
    compile_s: float  # one cold compile of the probe's tiny generation
    first_run_s: float  # its first execution
    generation_s: float  # one timed generation of it
    probe_work: float  # its pop x evals x episode length x hidden
    platform: str = "cpu"
    source: str = "probe"  # probe, or why the fallback figures are used

    @classmethod
    def of(cls, probe: dict | None, platform: str, why: str = "") -> "Costs":
        """From the probe's JSON; the fallback figures (:data:`FALLBACK_PROBE`) when there is none."""
        if not probe:
            return cls(**FALLBACK_PROBE, platform=platform, source=f"fallback ({why or 'no probe'})")
        keys = [k for k in FALLBACK_PROBE]
        missing = [k for k in keys if not isinstance(probe.get(k), (int, float)) or probe[k] < 0]
        if missing:
            raise ValueError(f"probe JSON lacks {', '.join(missing)} (seconds >= 0); rerun the probe")
        return cls(**{k: float(probe[k]) for k in keys}, platform=platform)

    @property
    def worker_s(self) -> float:
        """A fresh worker of the fork server up to its first compile: start, backend init."""
        return self.worker_start_s + self.backend_init_s

    def pytest_start_s(self) -> float:
        """A ``pytest bench`` run before its first case: its imports, the fork server's, the
        device-listing worker."""
        return 2 * self.server_start_s + self.worker_s

    def generation(self, grid: Grid, pop: int) -> float:
        """One generation of ``pop``: on a CPU the probe's time per unit of work times the work
        (its throughput hardly grows with the population); on an accelerator the probe's
        (launch-bound) time: a small population leaves most of the device idle, and a part whose
        large populations run longer keeps the rows it finished (its ``PATH.partial``)."""
        if self.platform != "cpu":
            return self.generation_s
        work = pop * grid.evals * grid.episode_length * grid.hidden
        return self.generation_s * max(1.0, work / self.probe_work)


def estimate_s(part: Part, grid: Grid | None, costs: Costs, form: str) -> float:
    """Seconds ``part`` with ``grid`` is expected to take: a pytest bench start (its imports, the
    fork server's, the device-listing worker), then per case the workers it starts (each a start,
    the backend's start, a cold compile; a runtime worker its first run and its share of the
    rounds; on an accelerator the memory worker too), from the probe's figures."""
    if part.kind in ("doctor", "doctor-json"):
        return costs.server_start_s + costs.worker_s  # its imports, then a backend start
    if part.kind == "report":
        return REPORT_S
    if part.kind == "tests":
        # test_isolation's pytest bench runs use CPU devices (no backend_init_s of the device), the
        # in-process tests start the device's backend once
        starts = TESTS_STARTS["short" if form == "short" else "full"]
        return starts * (2 * costs.server_start_s + costs.worker_start_s + costs.compile_s) + costs.backend_init_s
    worker = costs.worker_s + (costs.server_start_s if part.start == "interpreter" else 0.0)
    workers = grid.workers or (1 if costs.platform == "cpu" else 3)
    total = costs.pytest_start_s()
    per_pop = len(grid.strategies) * len(grid.envs)
    for pop in grid.pops:
        gen = costs.generation(grid, pop)
        if "compile" in grid.phases:
            # a round under --es-isolate none costs about as much as one in a fresh worker (measured on
            # 2 CPU cores: 37 s against 21 s for 3 rounds): the same worker cost for both
            total += per_pop * grid.compile_rounds * (worker + costs.compile_s)
        if "runtime" in grid.phases:
            rounds = 1 + math.ceil(grid.runtime_rounds / workers)  # the first run, then its share of rounds
            runtime = workers * (worker + costs.compile_s + costs.first_run_s + rounds * gen)
            if costs.platform != "cpu":  # the memory worker loads the executable and runs it
                runtime += worker + MEMORY_WORKER_ROUNDS * gen
            total += per_pop * runtime
    return total


def deadline_for(estimate: float) -> int:
    """Whole seconds a part with this estimate may take."""
    return math.ceil(MARGIN * estimate + SLACK_S)


# -- fitting the parts into the budget ----------------------------------------------------------

@dataclass
class Decision:
    """What one part does: run ``grid`` under ``deadline`` seconds, or skip (``why`` says which and why)."""

    part: Part
    run: bool
    deadline: int = 0
    grid: Grid | None = None
    grid_index: int = 0  # 0: the largest candidate
    estimate: float = 0.0
    why: str = ""
    override: bool = False
    cases: int = 0
    notes: list = field(default_factory=list)


def override_of(part: Part, environ) -> int | None:
    """``ESPERF_DEVICE_CHECK_TIMEOUT_<PART>`` as whole seconds > 0; None when unset."""
    value = environ.get(part.knob)
    if value is None or value == "":
        return None
    if not value.isdigit() or int(value) <= 0:
        raise ValueError(f"{part.knob}={value} is not allowed; give whole seconds > 0")
    return int(value)


def allocate(names: list[str], form: str, costs: Costs, left: float, environ=None) -> list[Decision]:
    """Decisions for the parts ``names`` (in :data:`ORDER`) within ``left`` seconds.

    The reserved parts (:data:`RESERVED`) and the summary come off ``left`` first. Then every
    part that fits with its smallest grid is kept, in order (a part that does not fit is skipped,
    its line saying what it needed and what was left); then, in order, each kept part takes its
    largest grid that the rest of the budget allows; what is still left widens the kept parts'
    deadlines in proportion to them. An overridden deadline is taken as given.
    """
    environ = os.environ if environ is None else environ
    every = parts(form)
    chosen = [every[n] for n in names]
    decisions = []
    for part in chosen:
        fixed = override_of(part, environ)
        options = []
        for i, grid in enumerate(part.grids or (None,)):
            est = estimate_s(part, grid, costs, form)
            options.append((fixed if fixed is not None else deadline_for(est), i, grid, est))
        decisions.append((part, fixed is not None, options))
    reserve = SUMMARY_DEADLINE_S + KILL_GRACE_S + sum(
        o[-1][0] for p, _, o in decisions if p.name in RESERVED)
    room = left - reserve
    kept: dict[str, int] = {}  # part -> index into its options (the smallest first)
    out = {}
    for part, fixed, options in decisions:
        if part.name in RESERVED:
            continue
        smallest = options[-1] if not fixed else options[0]
        if smallest[0] <= room:
            kept[part.name] = len(options) - 1 if not fixed else 0
            room -= smallest[0]
        else:
            need = f"its {smallest[0]} s ({part.knob})" if fixed else f"{smallest[0]} s at its smallest grid"
            out[part.name] = Decision(part, False, why=f"skipped: needs {need}, {max(0, math.floor(room))} s "
                                      f"of the budget left after the parts before it and the report")
    for part, fixed, options in decisions:
        if part.name not in kept:
            continue
        now = options[kept[part.name]][0]
        for i, option in enumerate(options):  # largest first
            if option[0] - now <= room:
                room -= option[0] - now
                kept[part.name] = i
                break
    # what is still left widens the deadlines it can (not the overridden ones), in proportion: a
    # busy machine runs slower than its probe, and a part cut half-way loses its last cases
    widen = {p.name: options[kept[p.name]][0] for p, fixed, options in decisions if p.name in kept and not fixed}
    total = sum(widen.values())
    extra = {n: math.floor(max(room, 0) * d / total) for n, d in widen.items()} if total else {}
    for part, fixed, options in decisions:
        if part.name in RESERVED:
            deadline, i, grid, est = options[-1]
        elif part.name in kept:
            deadline, i, grid, est = options[kept[part.name]]
        else:
            continue
        more = extra.get(part.name, 0)
        deadline += more
        size = f"grid {i + 1} of {len(options)}: {grid.describe()}; " if grid is not None else ""
        how = (f"{part.knob}" if fixed else f"{MARGIN} x {est:.0f} s + {SLACK_S} s"
               + (f" + {more} s of the budget to spare" if more else ""))
        out[part.name] = Decision(part, True, deadline=deadline, grid=grid, grid_index=i, estimate=est,
                                  override=fixed, cases=grid.cases() if grid else 0,
                                  why=f"{size}estimate {est:.0f} s, deadline {deadline} s ({how})")
    return [out[p.name] for p in chosen]


def remaining(after: str | None) -> list[str]:
    """The parts from ``after`` on (all when None)."""
    if after is None:
        return list(ORDER)
    if after not in ORDER:
        raise ValueError(f"part {after!r} is not allowed; choose one of {', '.join(ORDER)}")
    return list(ORDER[ORDER.index(after):])


# -- the command of a part -----------------------------------------------------------------------

def command(decision: Decision, py: str, device: str, out: str, environ=None) -> list[str]:
    """The argv of a part that runs (``env`` sets or unsets its environment)."""
    environ = os.environ if environ is None else environ
    part = decision.part
    if part.kind == "doctor":
        return [py, "-m", "bench.doctor"]
    if part.kind == "doctor-json":
        return ["bash", "-c", '"$0" -m bench.doctor --json >"$1"', py, f"{out}/doctor.json"]
    if part.kind == "report":
        # every finished JSON (a part cut at its deadline left only PATH.partial: the summary reads it)
        return ["bash", "-c", 'out=$1; set -- "$out"/json/*.json; [ -e "$1" ] || { echo "no finished JSON to report"; '
                'exit 1; }; "$0" -m reports "$@" --out "$out/report"', py, out]
    if part.kind == "tests":
        return [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *part.tests, f"--junitxml={out}/json/tests.xml"]
    prefix = []
    if part.env or part.unset:
        prefix = ["env"] + [f"-u{name}" for name in part.unset]
        for name, value in part.env:
            user = environ.get(name, "") if name == "XLA_FLAGS" else ""
            prefix.append(f"{name}={user + ' ' if user else ''}{value}")
    return [*prefix, py, "-m", "pytest", "bench", "-q", "-p", "no:cacheprovider", f"--es-devices={device}",
            *decision.grid.args(), *part.args, f"--benchmark-json={out}/json/{part.name}.json"]


def shell(decision: Decision, argv: list[str]) -> str:
    """The decision as bash assignments (``eval``-ed by .ci/device-check)."""
    lines = [f"plan_run={1 if decision.run else 0}", f"plan_step={decision.part.step}",
             f"plan_deadline={decision.deadline}", f"plan_cases={decision.cases}",
             f"plan_start={shlex.quote(decision.part.start if decision.part.kind == 'bench' else '')}",
             f"plan_why={shlex.quote(decision.why)}",
             f"plan_grid={shlex.quote(decision.grid.describe() if decision.grid else '')}",
             "plan_cmd=(" + " ".join(shlex.quote(a) for a in argv) + ")"]
    return "\n".join(lines) + "\n"
