"""The nouns of the benchmark, in one home: a :class:`Case` (what to time, where), the run's
:class:`Settings`, the :class:`Target` a case times, and :class:`CaseFailed`.

A leaf module: everything in ``bench`` imports these from here, and this module imports
nothing of ``bench`` (a case's settings are the results format's record,
:class:`results_format.rows.CaseSettings`). esperf's own target (:mod:`bench.measure.targets`) and the evosax +
gymnax peer (:mod:`bench.measure.peers`) both build a :class:`Target`, and the harness times
any Target the same way.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

from results_format.rows import CaseSettings


# The pytest parameters of a case (Case.params): the grid's dimensions, then the settings of the
# workload that change its figure (every one of them, so that ``params`` identifies the case).
PARAMS = ("phase", "strategy", "env", "popsize", "evals", "device", "part", "impl",
          "hidden", "episode_length", "unroll", "pop_chunk", "isolation")


class CaseFailed(RuntimeError):
    """The case could not produce an honest figure."""


@dataclass(frozen=True)
class Case:
    """One benchmark case: what to time, where, and how (``part`` 'generation' or a breakdown part)."""

    phase: str
    strategy: str
    env: str
    popsize: int
    evals: int
    hidden: int
    episode_length: int | None
    device: str  # a device id (cpu:0) or a device-set spec (cpu:all, cpu:0+1)
    part: str = "generation"
    impl: str = "esperf"
    devices: tuple[str, ...] = field(default=())  # the ids ``device`` names; () = (device,)
    scaling: str | None = None  # "strong" / "weak" for cases of an --es-scaling series
    unroll: int = 1  # --es-unroll: lax.scan unroll of the episode loop
    pop_chunk: str = "auto"  # --es-pop-chunk as given: "auto", "off" or members per block ("16")
    isolation: str = "process"  # --es-isolate: "process" (fresh workers) or "none" (the pytest process)

    def __post_init__(self):
        if not self.devices:
            object.__setattr__(self, "devices", (self.device,))
        object.__setattr__(self, "pop_chunk", str(self.pop_chunk))

    @property
    def pop_chunk_setting(self) -> str | int:
        """``pop_chunk`` as :func:`bench.measure.chunking.resolve_pop_chunk` takes it: "auto",
        "off" or an int."""
        return int(self.pop_chunk) if self.pop_chunk.isdigit() else self.pop_chunk

    @property
    def platform(self) -> str:
        """The platform of the case's devices (``cpu`` of ``cpu:0`` or ``cpu:0+1``)."""
        return self.device.split(":")[0]

    def fields(self) -> CaseSettings:
        """The case's settings as the JSON names them (``extra_info`` keys; the record
        :class:`results_format.rows.CaseSettings`)."""
        return CaseSettings(
            impl=self.impl,
            part=self.part,
            phase=self.phase,
            strategy=self.strategy,
            env=self.env,
            popsize=self.popsize,
            num_evals=self.evals,
            hidden=self.hidden,
            episode_length=self.episode_length,
            device=self.device,
            devices=list(self.devices),
            num_devices=len(self.devices),
            # one CPU device is one core (XLA:CPU runs a program's episode loop on one thread)
            cores_used=len(self.devices) if self.platform == "cpu" else None,
            popsize_per_device=-(-self.popsize // len(self.devices)),  # a padded population: the rows a device evaluates
            scaling=self.scaling,
            unroll=self.unroll,
            pop_chunk_setting=self.pop_chunk,  # as given; extra_info.pop_chunk is what it resolved to
            isolation=self.isolation,
        )

    def to_json(self) -> dict:
        """Everything needed to rebuild the case (a worker gets it as JSON): its fields, as declared."""
        return {**asdict(self), "devices": list(self.devices)}

    @classmethod
    def from_json(cls, data: dict) -> "Case":
        return cls(**{**data, "devices": tuple(data.get("devices") or ())})

    @property
    def group(self) -> str:
        """The pytest-benchmark group of the case's row: cases a person compares side by side
        (one phase, strategy, env, device set and part; popsizes, evals and impls within it), so
        the end-of-run table never sets a compile beside a generation."""
        name = f"{self.phase}: {self.strategy} on {self.env}, {self.device}"
        return name if self.part == "generation" else f"{name} ({self.part})"

    def params(self) -> dict:
        """The grid's dimensions and the workload's settings as pytest parameters (``params`` in the
        JSON; what ``--benchmark-group-by=param:popsize`` reads), in :data:`PARAMS` order."""
        return {name: getattr(self, name) for name in PARAMS}

    @property
    def id(self) -> str:
        parts = [self.phase, self.strategy, self.env, f"pop{self.popsize}", f"evals{self.evals}", self.device]
        if self.part != "generation":
            parts.append(self.part)
        if self.impl != "esperf":
            parts.append(self.impl)
        return "-".join(parts)


@dataclass(frozen=True)
class Settings:
    """Run-wide settings from the command line (JSON-able: workers get them as a dict)."""

    compile_rounds: int = 3
    runtime_rounds: int | None = None  # None: fill max_time, at least min_runtime_rounds
    min_runtime_rounds: int = 20
    max_time: float = 1.0
    peak_flops: dict | None = None
    seed: int = 0
    blas_threads: int | None = 1
    profile_dir: str | None = None  # --es-profile: traces of extra rounds after the timed ones go here
    save_executable: str | None = None  # a runtime worker writes its compiled executable here (for memory)


@dataclass
class Target:
    """A function to time: ``make_fn()`` builds a fresh copy; ``chain`` feeds output[0] back.

    ``in_shardings``/``out_shardings`` pin the executable's inputs and outputs (one device,
    or a mesh for a sharded case); ``flops_fn(compiled)`` returns ``(flops, why_none)``;
    ``facts`` are more of the target's facts for ``extra_info`` (esperf's ``pop_chunk``).
    """

    make_fn: Callable[[], Callable]
    args: tuple
    chain: bool
    env_steps: int | None
    flops_fn: Callable[[object], tuple[float | None, str | None]]
    num_params: int
    episode_length: int
    in_shardings: object = None
    out_shardings: object = None
    facts: dict = field(default_factory=dict)
    bytes_fn: Callable[[object], tuple[float | None, str | None]] | None = None  # bytes accessed, as flops_fn
