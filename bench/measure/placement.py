"""Where a case runs: the jax devices it names, the shardings of its arrays, abstract inputs."""
from __future__ import annotations

from dataclasses import dataclass

import jax

from bench.case import CaseFailed


def jax_devices(ids) -> list:
    """The jax devices named ``platform:id``; CaseFailed for one this process cannot see,
    with the backend's own start-up error where one failed."""
    from bench.multi.devices import platform_devices

    found, errors = {}, {}
    for platform in sorted({i.split(":", 1)[0] for i in ids}):
        devices, failed = platform_devices(platform)
        errors.update(failed)
        found.update({f"{platform}:{d.id}": d for d in devices})
    missing = [i for i in ids if i not in found]
    if missing:
        why = "".join(f"; jax's {b} backend failed to start: {e}" for b, e in errors.items())
        raise CaseFailed(f"device(s) {', '.join(missing)} not visible in this process "
                         f"(visible: {', '.join(found) or 'none'}){why}")
    return [found[i] for i in ids]


@dataclass(frozen=True)
class Placement:
    """Where a case's arrays live: ``state`` for the carried state; ``args``/``out`` pin a
    generation's inputs and outputs; ``mesh`` is the population's mesh of a sharded case."""

    devices: tuple
    state: object
    args: object
    out: object
    mesh: object = None

    @classmethod
    def on(cls, devices, popsize: int | None = None) -> "Placement":
        """Where a case on ``devices`` puts its arrays (``popsize``: the returns of a population
        that does not split evenly over the devices come back replicated)."""
        if len(devices) == 1:
            one = jax.sharding.SingleDeviceSharding(devices[0])
            return cls(tuple(devices), one, one, one)
        from bench.multi import sharding

        mesh = sharding.pop_mesh(list(devices))
        args, out = sharding.generation_shardings(mesh, popsize)
        return cls(tuple(devices), sharding.replicated(mesh), args, out, mesh)


def abstract_args(tree, sharding):
    """``tree`` with every leaf (an array or a ``jax.ShapeDtypeStruct``) as a
    ``jax.ShapeDtypeStruct`` of its shape, dtype and weak type, placed with ``sharding``."""
    return jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding, weak_type=getattr(a, "weak_type", False)),
        tree,
    )
