"""The benchmark grid: presets, the grid options' parsing and validation, device resolution.

Every bad value raises ``ValueError`` naming the value and what is allowed; the pytest
plugin turns it into a usage error (exit 4).
"""
from __future__ import annotations

from dataclasses import replace

import envs
import strategies
from bench.case import Case
from bench.plugin.options import parse_case_settings
from bench.measure.peers import PEER_STRATEGIES
from bench.multi.cpu_cores import CpuCores, usable_cores
from bench.multi.devices import PLATFORMS, ids_of, resolve_device_set, scaling_sets, visible_devices
from bench.plugins.checks import check_env, check_strategy
from bench.plugins.resolve import ENV, STRATEGY, choices, resolve
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


def _set_spec(ids: tuple[str, ...], whole: dict[str, tuple[str, ...]]) -> str:
    """The name of a device set: ``cpu:0``, ``cpu:0+1`` or ``cpu:all`` (the platform's whole set,
    ``whole``: for the CPU one device per core, for an accelerator every visible device)."""
    platform = ids[0].split(":", 1)[0]
    if len(ids) > 1 and ids == whole.get(platform):
        return f"{platform}:all"
    if len(ids) == 1:
        return ids[0]
    return f"{platform}:" + "+".join(i.split(":", 1)[1] for i in ids)


def whole_cpu(visible, cores: int | None) -> tuple[str, ...]:
    """The device ids of the whole CPU (``cpu:all``): ``cpu:0`` .. ``cpu:{cores-1}``, one CPU device
    per core whatever number jax shows by default (the case's worker starts that many,
    :func:`bench.isolation.worker.cpu_device_count`); with ``cores`` None (a distributed run,
    whose processes have their devices already) every visible CPU device of every process."""
    if cores is None:
        return ids_of("cpu", visible)
    return tuple(f"cpu:{i}" for i in range(cores))


def with_cpu_devices(visible: dict, ids: tuple[str, ...]) -> dict:
    """``visible`` plus the CPU devices ``ids`` that the workers will start (described as ``cpu:0``)."""
    base = visible.get("cpu:0")
    if base is None:
        return visible
    out = dict(visible)
    for i in ids:
        if i not in out:
            out[i] = {**base, "id": i} if isinstance(base, dict) else base
    return out


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
                    absent: dict[str, str] | None = None,
                    cpu_all: tuple[str, ...] | None = None) -> list[tuple[str, tuple[str, ...]]]:
    """``--es-devices`` as (spec, device ids) pairs, one per case device (set).

    Tokens: ``all`` (the whole CPU as one case and each accelerator alone), ``cpu`` (the whole
    CPU), ``gpu`` / ``tpu`` (every such device, each alone), a device id ``cpu:0``, or a set
    ``cpu:0+1`` / ``cpu:all`` / ``gpu:all`` that one case is sharded over. ``cpu_all`` are the
    whole CPU's device ids (:func:`whole_cpu`; default every visible CPU device): per-core CPU
    devices never become separate cases of their own. With ``scaling``, each platform's chosen
    devices become the sets of a scaling series. ``absent`` ({platform: why jax shows none of
    its devices}) completes the error for a platform the machine has but jax does not see
    (present hardware, a failed backend).
    """
    cpu_all = whole_cpu(visible, None) if cpu_all is None else cpu_all
    visible = with_cpu_devices(visible, cpu_all)
    whole = {p: ids_of(p, visible) for p in PLATFORMS if p != "cpu"}
    whole["cpu"] = cpu_all
    tokens = split_list(text)
    allowed = (f"cpu, gpu, tpu, all, a visible device ({', '.join(visible)}), "
               "or a set such as cpu:0+1 or cpu:all")
    if not tokens:
        raise ValueError(f"--es-devices is empty; choose {allowed}")
    absent = absent or {}

    def why(platform: str) -> str:
        seen = any(d.startswith(platform + ":") for d in visible)
        return f" ({absent[platform]})" if platform in absent and not seen else ""

    pairs: list[tuple[str, tuple[str, ...]]] = []
    for tok in tokens:
        if tok in ("all", "cpu", "cpu:all") and cpu_all:
            pairs.append(("cpu:all", cpu_all))
        if tok == "all":
            pairs.extend((d, (d,)) for d in visible if not d.startswith("cpu:"))
        elif tok in PLATFORMS:
            ids = [d for d in visible if d.startswith(tok + ":")]
            if not ids:
                raise ValueError(f"--es-devices: no {tok} device is visible{why(tok)}; choose {allowed}")
            if tok != "cpu":
                pairs.extend((d, (d,)) for d in ids)
        elif tok != "cpu:all" or not cpu_all:
            try:
                ids = resolve_device_set(tok, visible)
            except ValueError as err:
                raise ValueError(f"--es-devices: {err}{why(tok.partition(':')[0])}; choose {allowed}") from None
            pairs.append((tok.strip() if tok.strip().endswith(":all") else _set_spec(ids, whole), ids))
    if scaling is not None:
        chosen = dict.fromkeys(d for _, s in pairs for d in s)
        by_platform: dict[str, list[str]] = {}
        for d in chosen:
            by_platform.setdefault(d.split(":", 1)[0], []).append(d)
        sets = [s for ids in by_platform.values() for s in _scaling_sets(tuple(ids), visible)]
        pairs = [(_set_spec(s, whole), s) for s in sets]
    return list(dict.fromkeys(pairs))


def cpu_cores(getoption) -> CpuCores:
    """The whole CPU's cores: ``--es-cpu-cores`` or :func:`bench.multi.cpu_cores.usable_cores`."""
    raw = getoption("es_cpu_cores")
    return usable_cores(None if raw is None else parse_positive_int("--es-cpu-cores", raw))


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


def build_cases(getoption, visible=None, absent=None, distributed: bool = False) -> list[Case]:
    """All cases for the ``--es-*`` options; ``getoption(name)`` reads one option's raw value.

    ``visible`` is {device id: device or its description}, a function returning it (called
    only once every other option is valid), or None for this process's jax devices;
    ``absent`` a function returning {platform: why jax shows none of its devices}
    (:func:`resolve_devices`), called after ``visible``. ``distributed``: the processes of a
    jax.distributed run have their CPU devices already, and ``cpu:all`` is all of them
    (else it is one CPU device per core of :func:`cpu_cores`).
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
    settings = parse_case_settings(getoption, distributed)  # unroll, pop_chunk, isolation: every case's
    scaling = getoption("es_scaling")
    if scaling is not None and scaling not in SCALING:
        raise ValueError(f"--es-scaling: unknown value {scaling!r}; choose from {', '.join(SCALING)}")
    cores = None if distributed else cpu_cores(getoption).count
    # the devices last: every other option is checked before a (slow) device discovery
    visible = visible_devices() if visible is None else visible() if callable(visible) else visible
    device_sets = resolve_devices(getoption("es_devices"), visible, scaling, absent() if absent else None,
                                  cpu_all=whole_cpu(visible, cores))

    cases = []
    for phase in phases:
        for s in strat:
            for e in env_names:
                for pop in pops:
                    for ev in evals:
                        for spec, ids in device_sets:
                            # weak scaling: --es-pops are per-device population sizes
                            total = pop * len(ids) if scaling == "weak" else pop
                            # the whole CPU pads an uneven population: its cores are the machine's, not a choice
                            if total % len(ids) and spec != "cpu:all":
                                raise ValueError(
                                    f"--es-pops: popsize {total} is not divisible by the {len(ids)} devices of "
                                    f"{spec}; choose a multiple of {len(ids)}")
                            for impl in impls:
                                if impl == "esperf":
                                    cases.append(Case(phase, s, e, total, ev, hidden, length, spec, impl=impl,
                                                      devices=ids, scaling=scaling, **settings))
                                    continue
                                if not (s in PEER_STRATEGIES and e in envs.names()):
                                    continue  # the peer is esperf's own strategies and envs, written in evosax + gymnax
                                # the peers run on one device: on a set, both implementations get a case on
                                # its first device alone, so that the comparison is like for like
                                one = ids[:1]
                                for i in ("esperf", impl) if len(ids) > 1 else (impl,):
                                    cases.append(Case(phase, s, e, pop, ev, hidden, length, one[0], impl=i,
                                                      devices=one, scaling=scaling, **settings))
    cases = list(dict.fromkeys(cases))
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
