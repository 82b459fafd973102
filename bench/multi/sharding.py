"""One generation with the population sharded over a device mesh (jax's own sharding).

The mesh is 1-D with axis ``"pop"``. The generation state (strategy state and key) is
replicated on every device; the population ``x`` that ``ask`` returns is sharded along
its rows, so every device rolls out its own popsize / num_devices members with no
communication at all; the returns come back sharded the same way. The only
communication is in ``tell``: the (popsize,) fitness is gathered (it is tiny; ranking
needs all of it) and the sums over the population (CMA-ES's weighted mean and rank-mu
matrix, OpenAI-ES's gradient, the GA's parent rows, the best member) are partial sums
per device combined by all-reduces of (num_params,), (num_params, num_params) or
(num_parents, num_params) arrays. XLA's SPMD partitioner inserts them; the strategies
are written so that it can (``strategies.base.select_rows``).

The tests read the compiled HLO text to check that claim (``tests/hlo.py``).

Usage::

    mesh = pop_mesh(devices)                       # jax devices, e.g. devices_of(ids, visible)
    check_divisible(wl.popsize, mesh.size, "cpu:all")
    in_s, out_s = generation_shardings(mesh)
    step = jax.jit(wl.generation_fn(mesh), in_shardings=in_s, out_shardings=out_s)
    state, returns = step(place(wl.init(key), mesh))
"""
from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

POP_AXIS = "pop"


def pop_mesh(devices) -> Mesh:
    """A 1-D mesh with axis ``"pop"`` over ``devices`` (jax devices, in the given order)."""
    devices = list(devices)
    if not devices:
        raise ValueError("pop_mesh: no devices given; give at least one jax device")
    return Mesh(np.asarray(devices, dtype=object), (POP_AXIS,))


def check_divisible(popsize: int, num_devices: int, spec: str | None = None) -> None:
    """ValueError unless ``popsize`` splits evenly over ``num_devices`` (every shard the same size)."""
    if popsize % num_devices:
        where = f" of {spec}" if spec else ""
        raise ValueError(
            f"popsize {popsize} is not divisible by the {num_devices} devices{where}; "
            f"choose a multiple of {num_devices}"
        )


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array."""
    return NamedSharding(mesh, PartitionSpec())


def pop_sharded(mesh: Mesh) -> NamedSharding:
    """The leading (population) axis split over the mesh's ``"pop"`` axis."""
    return NamedSharding(mesh, PartitionSpec(POP_AXIS))


def generation_shardings(mesh: Mesh, popsize: int | None = None):
    """(in_shardings, out_shardings) of ``generation(state) -> (state, returns)`` for ``jax.jit``.

    The state in and out is replicated; the (popsize,) returns are sharded along "pop", or
    replicated where ``popsize`` does not split evenly over the mesh (a padded population:
    ``bench.workload.Workload.sharded_generation``).
    """
    rep = replicated(mesh)
    even = popsize is None or popsize % mesh.size == 0
    return (rep,), (rep, pop_sharded(mesh) if even else rep)


def place(state, mesh: Mesh):
    """``state`` (any pytree, e.g. a GenState) replicated on every device of ``mesh``."""
    return jax.device_put(state, replicated(mesh))


def on_own_rows(fn, mesh: Mesh):
    """``fn(rows, key) -> (rows,)`` run by every device on its own rows of the population
    (``jax.shard_map``: the rows sharded along "pop", the key replicated, no communication).

    What a device does with its rows (a block loop, say) stays on that device: the
    partitioner never sees a loop over the sharded axis.
    """
    spec = PartitionSpec(POP_AXIS)
    # No varying-axis checks: the rollout's scan carries start from the shared (replicated)
    # episodes and become per-member (varying) values, which the checker would reject.
    return jax.shard_map(fn, mesh=mesh, in_specs=(spec, PartitionSpec()), out_specs=spec, check_vma=False)


def constrain_population(x: jax.Array, mesh: Mesh) -> jax.Array:
    """``x`` (leading axis = population) laid out sharded along "pop" inside a jitted function."""
    return jax.lax.with_sharding_constraint(x, pop_sharded(mesh))
