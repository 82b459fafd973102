"""The benchmark grid: presets, option parsing and validation, device resolution.

Every bad value raises ``ValueError`` naming the value and what is allowed; the pytest
plugin turns it into a usage error (exit 4).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import envs
import strategies
from bench.validate import positive_int, positive_ints
from reports import schema

PHASES = ("compile", "runtime")
PARTS = ("ask", "eval", "tell")
IMPLS = ("esperf", "evosax")
PLATFORMS = ("cpu", "gpu", "tpu")

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


def visible_devices() -> dict[str, object]:
    """JAX devices of every platform present, keyed ``platform:id`` (e.g. ``cpu:0``, ``gpu:1``)."""
    import jax

    found = {}
    for platform in PLATFORMS:
        try:
            devices = jax.devices(platform)
        except RuntimeError:
            continue
        for d in devices:
            found[f"{platform}:{d.id}"] = d
    return found


def resolve_devices(text: str, visible: dict[str, object]) -> tuple[str, ...]:
    """Expand ``--es-devices`` (cpu, gpu, tpu, all, or platform:id ids) into visible device ids."""
    tokens = _split(text)
    allowed = f"cpu, gpu, tpu, all, or one of the visible devices {', '.join(visible)}"
    if not tokens:
        raise ValueError(f"--es-devices is empty; choose {allowed}")
    out = []
    for tok in tokens:
        if tok == "all":
            out.extend(visible)
        elif tok in PLATFORMS:
            ids = [d for d in visible if d.startswith(tok + ":")]
            if not ids:
                raise ValueError(f"--es-devices: no {tok} device is visible; choose {allowed}")
            out.extend(ids)
        elif tok in visible:
            out.append(tok)
        else:
            raise ValueError(f"--es-devices: {tok!r} is not a visible device; choose {allowed}")
    return tuple(dict.fromkeys(out))


def build_cases(getoption, visible: dict[str, object] | None = None) -> list[Case]:
    """All cases for the ``--es-*`` options; ``getoption(name)`` reads one option's raw value."""
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
    hidden = positive_int("--es-hidden", getoption("es_hidden"))
    length_raw = getoption("es_episode_length")
    length = None if length_raw is None else positive_int("--es-episode-length", length_raw)
    phases = _choice_list("--es-phases", getoption("es_phases"), PHASES)
    impls = _choice_list("--es-impls", getoption("es_impls"), IMPLS)
    visible = visible_devices() if visible is None else visible
    devices = resolve_devices(getoption("es_devices"), visible)

    # A strategy must accept every population size asked for (e.g. OpenAI-ES needs even ones).
    for s in strat:
        for pop in pops:
            strategies.make(s, num_dims=1, popsize=pop)

    cases = []
    for phase in phases:
        for s in strat:
            for e in env_names:
                for pop in pops:
                    for ev in evals:
                        for dev in devices:
                            for impl in impls:
                                cases.append(Case(phase, s, e, pop, ev, hidden, length, dev, impl=impl))
    if getoption("es_breakdown"):
        cases += [replace(c, part=p) for c in cases if c.impl == "esperf" for p in PARTS]
    return cases


def parse_peak_flops(text: str | None) -> dict[str, float]:
    """``--es-peak-flops`` as {device kind or platform: FLOP/s} (the JSON contract's parser)."""
    try:
        return schema.parse_peak_flops(text)
    except ValueError as err:
        raise ValueError(f"--es-peak-flops: {err}") from None
