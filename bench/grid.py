"""The benchmark grid: presets, option parsing and validation, device resolution.

Every bad value raises ``ValueError`` naming the value and what is allowed; the pytest
plugin turns it into a usage error (exit 4).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import envs
import strategies
from bench.devices import PLATFORMS, resolve_device_set, scaling_sets, visible_devices
from bench.validate import parse_positive_int, positive_ints
from reports import schema

PHASES = ("compile", "runtime")
PARTS = ("ask", "eval", "tell")
IMPLS = ("esperf", "evosax")
SCALING = ("strong", "weak")

# popsize 10 ... 100 000, one point per decade.
GRIDS = {
    "quick": dict(strategies=("cma_es", "openai_es"), envs=("Pendulum-v1",), pops=(100, 1000), evals=(50,)),
    "seed": dict(strategies=("cma_es",), envs=("Pendulum-v1",), pops=(100, 200, 500, 1000), evals=(50,)),
    "full": dict(
        strategies=strategies.names(),
        envs=envs.names(),
        pops=(10, 100, 1000, 10_000, 100_000),
        evals=(1, 10, 50, 100),
    ),
}


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

    def __post_init__(self):
        if not self.devices:
            object.__setattr__(self, "devices", (self.device,))

    def fields(self) -> dict:
        """The case's identity as the JSON names it (``extra_info`` keys)."""
        return {
            "impl": self.impl,
            "part": self.part,
            "phase": self.phase,
            "strategy": self.strategy,
            "env": self.env,
            "popsize": self.popsize,
            "num_evals": self.evals,
            "hidden": self.hidden,
            "episode_length": self.episode_length,
            "device": self.device,
            "devices": list(self.devices),
            "num_devices": len(self.devices),
            "popsize_per_device": self.popsize // len(self.devices),
            "scaling": self.scaling,
        }

    def to_json(self) -> dict:
        """Everything needed to rebuild the case (a worker gets it as JSON)."""
        return {
            "phase": self.phase, "strategy": self.strategy, "env": self.env, "popsize": self.popsize,
            "evals": self.evals, "hidden": self.hidden, "episode_length": self.episode_length,
            "device": self.device, "part": self.part, "impl": self.impl, "devices": list(self.devices),
            "scaling": self.scaling,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Case":
        return cls(**{**data, "devices": tuple(data.get("devices") or ())})

    @property
    def id(self) -> str:
        parts = [self.phase, self.strategy, self.env, f"pop{self.popsize}", f"evals{self.evals}", self.device]
        if self.part != "generation":
            parts.append(self.part)
        if self.impl != "esperf":
            parts.append(self.impl)
        return "-".join(parts)


def _split(text: str) -> list[str]:
    return [t.strip() for t in str(text).split(",") if t.strip()]


def _choice_list(option: str, text, allowed) -> tuple[str, ...]:
    values = _split(text)
    if not values:
        raise ValueError(f"{option} is empty; choose from {', '.join(allowed)}")
    for v in values:
        if v not in allowed:
            raise ValueError(f"{option}: unknown value {v!r}; choose from {', '.join(allowed)}")
    return tuple(dict.fromkeys(values))


def _set_spec(ids: tuple[str, ...], visible) -> str:
    """The name of a device set: ``cpu:0``, ``cpu:0+1`` or ``cpu:all`` (every device of the platform)."""
    platform = ids[0].split(":", 1)[0]
    if len(ids) == 1:
        return ids[0]
    if len(ids) > 1 and set(ids) == {d for d in visible if d.startswith(platform + ":")}:
        return f"{platform}:all"
    return f"{platform}:" + "+".join(i.split(":", 1)[1] for i in ids)


def _process_of(visible, device_id: str) -> int:
    desc = visible[device_id]
    index = desc.get("process_index") if isinstance(desc, dict) else getattr(desc, "process_index", 0)
    return int(index or 0)


def _scaling_sets(ids: tuple[str, ...], visible) -> list[tuple[str, ...]]:
    """1, 2, 4, ... devices and all of them; with several processes, that many of EACH process's
    devices (every process takes part in every case of a multi-process run)."""
    per_process: dict[int, list[str]] = {}
    for i in ids:
        per_process.setdefault(_process_of(visible, i), []).append(i)
    if len(per_process) == 1:
        return scaling_sets(list(ids))
    local = min(len(v) for v in per_process.values())
    return [tuple(d for v in per_process.values() for d in v[:k]) for k in map(len, scaling_sets(list(range(local))))]


def resolve_devices(text: str, visible, scaling: str | None = None) -> list[tuple[str, tuple[str, ...]]]:
    """``--es-devices`` as (spec, device ids) pairs, one per case device (set).

    Tokens: ``all`` / ``cpu`` / ``gpu`` / ``tpu`` (every such device, each alone), a device id
    ``cpu:0``, or a set ``cpu:0+1+2+3`` / ``gpu:all`` that one case is sharded over. With
    ``scaling``, each platform's chosen devices become the sets of a scaling series.
    """
    tokens = _split(text)
    allowed = (f"cpu, gpu, tpu, all, a visible device ({', '.join(visible)}), "
               "or a set such as cpu:0+1 or cpu:all")
    if not tokens:
        raise ValueError(f"--es-devices is empty; choose {allowed}")
    sets: list[tuple[str, ...]] = []
    for tok in tokens:
        if tok == "all":
            sets.extend((d,) for d in visible)
        elif tok in PLATFORMS:
            ids = [d for d in visible if d.startswith(tok + ":")]
            if not ids:
                raise ValueError(f"--es-devices: no {tok} device is visible; choose {allowed}")
            sets.extend((d,) for d in ids)
        else:
            try:
                sets.append(resolve_device_set(tok, visible))
            except ValueError as err:
                raise ValueError(f"--es-devices: {err}; choose {allowed}") from None
    if scaling is not None:
        chosen = dict.fromkeys(d for s in sets for d in s)
        by_platform: dict[str, list[str]] = {}
        for d in chosen:
            by_platform.setdefault(d.split(":", 1)[0], []).append(d)
        sets = [s for ids in by_platform.values() for s in _scaling_sets(tuple(ids), visible)]
    unique = list(dict.fromkeys(sets))
    return [(_set_spec(s, visible), s) for s in unique]


def build_cases(getoption, visible=None) -> list[Case]:
    """All cases for the ``--es-*`` options; ``getoption(name)`` reads one option's raw value.

    ``visible`` is {device id: device or its description}, a function returning it (called
    only once every other option is valid), or None for this process's jax devices.
    """
    grid_name = getoption("es_grid")
    if grid_name not in GRIDS:
        raise ValueError(f"--es-grid: unknown grid {grid_name!r}; choose from {', '.join(GRIDS)}")
    grid = GRIDS[grid_name]

    def pick(option, key, parse):
        raw = getoption(option)
        return grid[key] if raw is None else parse(raw)

    strat = pick("es_strategies", "strategies", lambda t: _choice_list("--es-strategies", t, strategies.names()))
    env_names = pick("es_envs", "envs", lambda t: _choice_list("--es-envs", t, envs.names()))
    pops = pick("es_pops", "pops", lambda t: positive_ints("--es-pops", t))
    evals = pick("es_evals", "evals", lambda t: positive_ints("--es-evals", t))
    hidden = parse_positive_int("--es-hidden", getoption("es_hidden"))
    length_raw = getoption("es_episode_length")
    length = None if length_raw is None else parse_positive_int("--es-episode-length", length_raw)
    phases = _choice_list("--es-phases", getoption("es_phases"), PHASES)
    impls = _choice_list("--es-impls", getoption("es_impls"), IMPLS)
    scaling = getoption("es_scaling")
    if scaling is not None and scaling not in SCALING:
        raise ValueError(f"--es-scaling: unknown value {scaling!r}; choose from {', '.join(SCALING)}")
    # the devices last: every other option is checked before a (slow) device discovery
    visible = visible_devices() if visible is None else visible() if callable(visible) else visible
    device_sets = resolve_devices(getoption("es_devices"), visible, scaling)

    cases = []
    for phase in phases:
        for s in strat:
            for e in env_names:
                for pop in pops:
                    for ev in evals:
                        for spec, ids in device_sets:
                            # weak scaling: --es-pops are per-device population sizes
                            total = pop * len(ids) if scaling == "weak" else pop
                            if total % len(ids):
                                raise ValueError(
                                    f"--es-pops: popsize {total} is not divisible by the {len(ids)} devices of "
                                    f"{spec}; choose a multiple of {len(ids)}")
                            for impl in impls:
                                if impl != "esperf" and len(ids) > 1:
                                    continue  # the peers run on one device
                                cases.append(Case(phase, s, e, total, ev, hidden, length, spec, impl=impl,
                                                  devices=ids, scaling=scaling))
    # A strategy must accept every population size asked for (e.g. OpenAI-ES needs even ones).
    for s, pop in dict.fromkeys((c.strategy, c.popsize) for c in cases):
        strategies.make(s, num_dims=1, popsize=pop)
    if getoption("es_breakdown"):
        cases += [replace(c, part=p) for c in cases if c.impl == "esperf" and len(c.devices) == 1 for p in PARTS]
    return cases


def parse_peak_flops(text: str | None) -> dict[str, float]:
    """``--es-peak-flops`` as {device kind or platform: FLOP/s} (the JSON contract's parser)."""
    try:
        return schema.parse_peak_flops(text)
    except ValueError as err:
        raise ValueError(f"--es-peak-flops: {err}") from None
