"""The benchmark grid: presets, the grid options' parsing and validation, device resolution.

Every bad value raises ``ValueError`` naming the value and what is allowed; the pytest
plugin turns it into a usage error (exit 4).
"""
from __future__ import annotations

from dataclasses import replace

import envs
import strategies
from bench.case import Case
from bench.measure.peers import PEER_STRATEGIES
from bench.plugins.checks import check_env, check_strategy
from bench.plugins.resolve import ENV, STRATEGY, choices, resolve
from bench.multi.devices import PLATFORMS, resolve_device_set, scaling_sets, visible_devices
from bench.validate import choice_list, parse_positive_int, positive_ints, split_list

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


def resolve_devices(text: str, visible, scaling: str | None = None,
                    absent: dict[str, str] | None = None) -> list[tuple[str, tuple[str, ...]]]:
    """``--es-devices`` as (spec, device ids) pairs, one per case device (set).

    Tokens: ``all`` / ``cpu`` / ``gpu`` / ``tpu`` (every such device, each alone), a device id
    ``cpu:0``, or a set ``cpu:0+1+2+3`` / ``gpu:all`` that one case is sharded over. With
    ``scaling``, each platform's chosen devices become the sets of a scaling series.
    ``absent`` ({platform: why jax shows none of its devices}) completes the error for a
    platform the machine has but jax does not see (present hardware, a failed backend).
    """
    tokens = split_list(text)
    allowed = (f"cpu, gpu, tpu, all, a visible device ({', '.join(visible)}), "
               "or a set such as cpu:0+1 or cpu:all")
    if not tokens:
        raise ValueError(f"--es-devices is empty; choose {allowed}")
    absent = absent or {}

    def why(platform: str) -> str:
        seen = any(d.startswith(platform + ":") for d in visible)
        return f" ({absent[platform]})" if platform in absent and not seen else ""

    sets: list[tuple[str, ...]] = []
    for tok in tokens:
        if tok == "all":
            sets.extend((d,) for d in visible)
        elif tok in PLATFORMS:
            ids = [d for d in visible if d.startswith(tok + ":")]
            if not ids:
                raise ValueError(f"--es-devices: no {tok} device is visible{why(tok)}; choose {allowed}")
            sets.extend((d,) for d in ids)
        else:
            try:
                sets.append(resolve_device_set(tok, visible))
            except ValueError as err:
                raise ValueError(f"--es-devices: {err}{why(tok.partition(':')[0])}; choose {allowed}") from None
    if scaling is not None:
        chosen = dict.fromkeys(d for s in sets for d in s)
        by_platform: dict[str, list[str]] = {}
        for d in chosen:
            by_platform.setdefault(d.split(":", 1)[0], []).append(d)
        sets = [s for ids in by_platform.values() for s in _scaling_sets(tuple(ids), visible)]
    unique = list(dict.fromkeys(sets))
    return [(_set_spec(s, visible), s) for s in unique]


def plugin_names(option: str, text, kind) -> tuple[str, ...]:
    """A comma list of strategy or env names (``kind``: :data:`bench.plugins.resolve.STRATEGY` /
    ``ENV``), each resolved (:func:`bench.plugins.resolve.resolve`): built-in names, ``evosax:<Name>``
    / ``gymnax:<env-id>``, entry-point names, ``module:attr``. ValueError naming a bad one."""
    values = split_list(text)
    if not values:
        raise ValueError(f"{option} is empty; choose one of {choices(kind)}")
    for v in values:
        try:
            resolve(kind, v)
        except ValueError as err:
            raise ValueError(f"{option}: {err}") from None
    return tuple(dict.fromkeys(values))


def check_envs(names, hidden: int) -> dict[str, int]:
    """{env name: the policy's parameter count on it}; a plugin env is checked against
    ``envs.base.Env`` (:func:`bench.plugins.checks.check_env`), ValueError naming a bad one."""
    from envs.policy import MLPPolicy

    dims = {}
    for name in names:
        try:
            env = envs.make(name) if name in envs.names() else check_env(name)
        except ValueError as err:
            raise ValueError(f"--es-envs: {err}") from None
        dims[name] = MLPPolicy.for_env(env, hidden).num_params
    return dims


def build_cases(getoption, visible=None, absent=None) -> list[Case]:
    """All cases for the ``--es-*`` options; ``getoption(name)`` reads one option's raw value.

    ``visible`` is {device id: device or its description}, a function returning it (called
    only once every other option is valid), or None for this process's jax devices;
    ``absent`` a function returning {platform: why jax shows none of its devices}
    (:func:`resolve_devices`), called after ``visible``.
    """
    grid_name = getoption("es_grid")
    if grid_name not in GRIDS:
        raise ValueError(f"--es-grid: unknown grid {grid_name!r}; choose from {', '.join(GRIDS)}")
    grid = GRIDS[grid_name]

    def pick(option, key, parse):
        raw = getoption(option)
        return grid[key] if raw is None else parse(raw)

    strat = pick("es_strategies", "strategies", lambda t: plugin_names("--es-strategies", t, STRATEGY))
    env_names = pick("es_envs", "envs", lambda t: plugin_names("--es-envs", t, ENV))
    pops = pick("es_pops", "pops", lambda t: positive_ints("--es-pops", t))
    evals = pick("es_evals", "evals", lambda t: positive_ints("--es-evals", t))
    hidden = parse_positive_int("--es-hidden", getoption("es_hidden"))
    num_dims = check_envs(env_names, hidden)
    length_raw = getoption("es_episode_length")
    length = None if length_raw is None else parse_positive_int("--es-episode-length", length_raw)
    phases = choice_list("--es-phases", getoption("es_phases"), PHASES)
    impls = choice_list("--es-impls", getoption("es_impls"), IMPLS)
    scaling = getoption("es_scaling")
    if scaling is not None and scaling not in SCALING:
        raise ValueError(f"--es-scaling: unknown value {scaling!r}; choose from {', '.join(SCALING)}")
    # the devices last: every other option is checked before a (slow) device discovery
    visible = visible_devices() if visible is None else visible() if callable(visible) else visible
    device_sets = resolve_devices(getoption("es_devices"), visible, scaling, absent() if absent else None)

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
                                if impl != "esperf" and not (s in PEER_STRATEGIES and e in envs.names()):
                                    continue  # the peer is esperf's own strategies and envs, written in evosax + gymnax
                                cases.append(Case(phase, s, e, total, ev, hidden, length, spec, impl=impl,
                                                  devices=ids, scaling=scaling))
    # A strategy must accept every population size asked for (e.g. OpenAI-ES needs even ones);
    # a plugin must keep the Strategy protocol at the sizes it will run with.
    for s, e, pop in dict.fromkeys((c.strategy, c.env, c.popsize) for c in cases):
        if s in strategies.names():
            strategies.make(s, num_dims=1, popsize=pop)
        else:
            try:
                check_strategy(s, num_dims[e], pop)
            except ValueError as err:
                raise ValueError(f"--es-strategies: {err}") from None
    if getoption("es_breakdown"):
        cases += [replace(c, part=p) for c in cases if c.impl == "esperf" and len(c.devices) == 1 for p in PARTS]
    return cases


def distributed_defaults(getoption, devices):
    """Under jax.distributed the default devices are every device of the fastest platform, as one set."""
    if getoption("es_devices") != "all":
        return getoption
    platforms = {d.split(":", 1)[0] for d in devices}
    best = next(p for p in ("tpu", "gpu", "cpu") if p in platforms)
    return lambda name: f"{best}:all" if name == "es_devices" else getoption(name)


def check_spans_every_process(cases, devices, processes: int) -> None:
    """Every case of a distributed run takes every process's devices: each process then executes
    only its own shards, and no row times a device that its process does not own."""
    for c in cases:
        owners = {devices[d].get("process_index", 0) for d in c.devices}
        if len(owners) != processes:
            raise ValueError(
                f"--es-devices: {c.device!r} uses the devices of {len(owners)} of the {processes} processes; under "
                "--es-distributed every case spans every process: use a set such as gpu:all or cpu:all (or "
                "--es-scaling), and time single devices without --es-distributed")
