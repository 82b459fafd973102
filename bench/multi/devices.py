"""Device specs, parsed in one place (the benchmark grid and ``bench.train`` use it).

A device is named ``platform:id`` (``cpu:0``, ``gpu:3``) with jax's global device id.
A device SET is one token: ``cpu:0`` (one device), ``gpu:0+1+2+3`` (those ids of one
platform) or ``tpu:all`` (every visible device of the platform). In a multi-process
run (``jax.distributed``) ``jax.devices()`` lists every process's devices, so
``gpu:all`` spans all hosts; ``owned`` says which of them this process drives.
"""
from __future__ import annotations

import re

PLATFORMS = ("cpu", "gpu", "tpu")
SET_FORMS = "PLATFORM:ID, PLATFORM:ID+ID+..., or PLATFORM:all with PLATFORM one of " + ", ".join(PLATFORMS)


# the JAX_PLATFORMS entries that start a backend of another name (jax's platform aliases)
ALIASES = {"gpu": ("cuda", "rocm")}


def _without(platforms: str, backend: str) -> str:
    """``platforms`` (a JAX_PLATFORMS value) without the entries that start ``backend``."""
    return ",".join(p for p in platforms.split(",")
                    if p.strip() and p.strip() != backend and backend not in ALIASES.get(p.strip(), ()))


def platform_devices(platform: str) -> tuple[list, dict[str, str]]:
    """(jax devices of ``platform``, {backend: its start-up error}).

    A backend that fails to start (a CUDA driver too old for the plugin, the GPU's memory
    held by another process) makes jax raise on the first ``jax.devices(...)`` call of
    *any* platform, the CPU's too, and the failure is returned, in one line, under the
    backend's name (``cuda``, ``rocm``, ``tpu``). With ``JAX_PLATFORMS`` unset jax has
    started the backends before the failing one (the CPU's first) and keeps them, so the
    call is made once more. With ``JAX_PLATFORMS`` set (``cuda,cpu``) jax starts them in the
    order given and raises before it reaches the rest, every time: the failing backend is
    then dropped from ``jax_platforms`` (this process only) and the rest are started, its
    error saying so. A platform that is not installed is no error.
    """
    import jax

    errors: dict[str, str] = {}
    for _ in range(2 + len(PLATFORMS)):  # one retry, and one per backend dropped
        try:
            return list(jax.devices(platform)), errors
        except RuntimeError as err:
            text = " ".join(str(err).split())
            match = re.match(r"Unable to initialize backend '([\w-]+)': (.*)", text)
            if match is None:
                break
            backend, why = match.groups()
            if backend not in errors:
                errors[backend] = why  # the retry: jax kept what started before it (JAX_PLATFORMS unset)
                continue
            listed = jax.config.jax_platforms or ""
            rest = _without(listed, backend)
            if not listed or not rest or rest == listed:
                break
            jax.config.update("jax_platforms", rest)
            errors[backend] = f"{why} [dropped from JAX_PLATFORMS={listed}: went on with {rest}]"
    return [], errors


def discover() -> tuple[dict, dict[str, str]]:
    """({``platform:id``: jax device} of every platform that started, {backend: why it failed})
    (:func:`platform_devices` for each platform). Backends that jax tried quietly (the TPU
    factory on every machine) are in :func:`quiet_errors`, apart: most are no failure at all."""
    found, errors = {}, {}
    for platform in PLATFORMS:
        devices, failed = platform_devices(platform)
        errors.update(failed)
        found.update({f"{platform}:{d.id}": d for d in devices})
    return found, errors


def quiet_errors() -> dict[str, str]:
    """{backend: its start-up error} of the backends jax tried without raising (after
    :func:`discover`); ``{}`` where this jax keeps no such record."""
    try:
        from jax._src import xla_bridge
    except ImportError:
        return {}
    return {k: " ".join(str(v).split()) for k, v in dict(getattr(xla_bridge, "_backend_errors", {}) or {}).items()}


def visible_devices() -> dict:
    """JAX devices of every platform present, keyed ``platform:id`` (e.g. ``cpu:0``, ``gpu:1``).

    A platform whose backend is missing or fails to start is left out (:func:`discover`
    says why).
    """
    return discover()[0]


def owned(device) -> bool:
    """Whether this process drives ``device`` (always true in a single-process run)."""
    import jax

    return device.process_index == jax.process_index()


def ids_of(platform: str, visible: dict) -> tuple[str, ...]:
    """The ids of ``platform``'s devices in ``visible``, sorted by id number."""
    ids = [name for name in visible if name.split(":", 1)[0] == platform]
    return tuple(sorted(ids, key=lambda name: int(name.split(":", 1)[1])))


def resolve_device_set(token: str, visible: dict) -> tuple[str, ...]:
    """The visible device ids that ``token`` names, sorted by id.

    ``cpu:0`` -> ("cpu:0",); ``cpu:0+1+2+3`` -> ("cpu:0", "cpu:1", "cpu:2", "cpu:3");
    ``cpu:all`` -> every visible cpu device. Raises ValueError naming the bad token and
    what is allowed (an unknown form, an unknown platform, a repeated id, or an id that
    is not visible, listing the visible devices of the platform).
    """
    text = str(token).strip()
    platform, sep, rest = text.partition(":")
    if not sep or not rest:
        raise ValueError(f"device set {text!r} is not allowed; use {SET_FORMS}")
    if platform not in PLATFORMS:
        raise ValueError(f"device set {text!r}: unknown platform {platform!r}; use {SET_FORMS}")
    available = ids_of(platform, visible)
    shown = ", ".join(available) if available else "none"
    if rest == "all":
        if not available:
            raise ValueError(f"device set {text!r}: no {platform} device is visible; visible devices: "
                             f"{', '.join(visible) or 'none'}")
        return tuple(available)
    parts = rest.split("+")
    if not all(p.isdigit() for p in parts):
        raise ValueError(f"device set {text!r} is not allowed; use {SET_FORMS}")
    names = [f"{platform}:{int(p)}" for p in parts]
    for name in names:
        if name not in visible:
            raise ValueError(f"{text!r}: {name} is not a visible device; visible {platform} devices: {shown}")
    if len(set(names)) != len(names):
        raise ValueError(f"device set {text!r} names a device twice; name each device once")
    return tuple(sorted(names, key=lambda name: int(name.split(":", 1)[1])))


def scaling_sets(platform_ids: list[str]) -> list[tuple[str, ...]]:
    """Device sets for a scaling sweep: the first 1, 2, 4, 8, ... ids, then all of them.

    ``["cpu:0", ..., "cpu:5"]`` -> [(cpu:0,), (cpu:0, cpu:1), (cpu:0 .. cpu:3), (cpu:0 .. cpu:5)].
    """
    ids = tuple(platform_ids)
    if not ids:
        raise ValueError("scaling_sets: no devices given; give at least one device id")
    sets, k = [], 1
    while k < len(ids):
        sets.append(ids[:k])
        k *= 2
    sets.append(ids)
    return sets


def devices_of(names, visible: dict) -> list:
    """The jax devices named by ``names`` (ids from ``resolve_device_set``), in order."""
    return [visible[name] for name in names]


def forced_cpu_device_count(environ=None) -> int:
    """The CPU devices that XLA_FLAGS' ``--xla_force_host_platform_device_count`` asks for (1 without)."""
    import os

    flags = (os.environ if environ is None else environ).get("XLA_FLAGS", "")
    found = re.findall(r"--xla_force_host_platform_device_count=(\d+)", flags)
    return int(found[-1]) if found else 1


def ensure_cpu_devices(ids, environ=None) -> int | None:
    """Have jax's CPU backend start with enough CPU devices for the ids ``ids`` (``cpu:3`` needs 4).

    Call it before jax's backend starts (``jax_num_cpu_devices`` is read then): a ``cpu:all``
    case's worker starts one CPU device per core this way, whatever number jax shows by
    default. Returns the count set, or None where the default (or XLA_FLAGS' forced count)
    already has them.
    """
    cpu = [int(i.split(":", 1)[1]) for i in ids if str(i).startswith("cpu:") and i.split(":", 1)[1].isdigit()]
    need = max(cpu, default=0) + 1
    if need <= forced_cpu_device_count(environ):
        return None
    import jax

    try:
        jax.config.update("jax_num_cpu_devices", need)
    except RuntimeError:  # the backend started already: its devices stay (a missing one is the case's error)
        return None
    return need
