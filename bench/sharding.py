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

``collectives`` / ``collectives_in_loop`` read the compiled HLO text
(``jax.jit(f).lower(...).compile().as_text()``) to check that claim.

Usage::

    mesh = pop_mesh(devices)                       # jax devices, e.g. devices_of(ids, visible)
    check_divisible(wl.popsize, mesh.size, "cpu:all")
    in_s, out_s = generation_shardings(mesh)
    step = jax.jit(wl.generation_fn(mesh), in_shardings=in_s, out_shardings=out_s)
    state, returns = step(place(wl.init(key), mesh))
"""
from __future__ import annotations

import re
from dataclasses import dataclass

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


def generation_shardings(mesh: Mesh):
    """(in_shardings, out_shardings) of ``generation(state) -> (state, returns)`` for ``jax.jit``.

    The state in and out is replicated; the (popsize,) returns are sharded along "pop".
    """
    rep = replicated(mesh)
    return (rep,), (rep, pop_sharded(mesh))


def place(state, mesh: Mesh):
    """``state`` (any pytree, e.g. a GenState) replicated on every device of ``mesh``."""
    return jax.device_put(state, replicated(mesh))


def constrain_population(x: jax.Array, mesh: Mesh) -> jax.Array:
    """``x`` (leading axis = population) laid out sharded along "pop" inside a jitted function."""
    return jax.lax.with_sharding_constraint(x, pop_sharded(mesh))


# -- reading compiled HLO -------------------------------------------------------------

COLLECTIVE_OPS = (
    "all-gather",
    "all-reduce",
    "collective-permute",
    "all-to-all",
    "ragged-all-to-all",
    "reduce-scatter",
    "collective-broadcast",
)
# ``op(`` or the async ``op-start(`` (GPU); ``-done`` only waits for its ``-start``.
_COLLECTIVE = re.compile(r"\s(" + "|".join(COLLECTIVE_OPS) + r")(?:-start)?\(")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(.*)$")
_COMPUTATION = re.compile(r"^\s*(?:ENTRY\s+)?%?([\w.\-]+)\s*(?:\(.*\))?\s*->.*\{\s*$")
_CALLED = re.compile(
    r"\b(?:calls|to_apply|body|condition|true_computation|false_computation|scatter|select)=%?([\w.\-]+)"
)
_BRANCHES = re.compile(r"\bbranch_computations=\{([^}]*)\}")
_WHILE_BODY = re.compile(r"\swhile\(.*\bbody=%?([\w.\-]+)")
_SHAPE = re.compile(r"\b[a-z]+[0-9]*\[([0-9,]*)\]")


@dataclass(frozen=True)
class Collective:
    """A collective instruction of compiled HLO: op name, result shapes, whether a loop runs it."""

    op: str
    shapes: tuple[tuple[int, ...], ...]
    in_loop: bool
    computation: str
    line: str


def _computations(text: str) -> dict[str, list[str]]:
    comps, name = {}, None
    for line in text.splitlines():
        m = _COMPUTATION.match(line)
        if m and "=" not in line.split("->")[0].split("(")[0]:
            name = m.group(1)
            comps[name] = []
        elif name is not None and line.strip() == "}":
            name = None
        elif name is not None:
            comps[name].append(line)
    return comps


def _callees(line: str) -> list[str]:
    out = _CALLED.findall(line)
    for group in _BRANCHES.findall(line):
        out += [c.strip().lstrip("%") for c in group.split(",") if c.strip()]
    return out


def collectives(compiled_text: str) -> list[Collective]:
    """Every collective in the HLO module ``compiled_text``, marked ``in_loop`` when a while
    loop's body runs it (directly or through the computations the body calls)."""
    comps = _computations(compiled_text)
    in_loop, todo = set(), []
    for lines in comps.values():
        for line in lines:
            m = _WHILE_BODY.search(line)
            if m:
                todo.append(m.group(1))
    while todo:
        name = todo.pop()
        if name in in_loop or name not in comps:
            continue
        in_loop.add(name)
        for line in comps[name]:
            todo.extend(_callees(line))
    found = []
    for name, lines in comps.items():
        for line in lines:
            inst = _INSTRUCTION.match(line)
            m = _COLLECTIVE.search(" " + inst.group(1)) if inst else None
            if not m:
                continue
            result_type = inst.group(1)[: m.start()]  # the text between "=" and the op name
            shapes = tuple(
                tuple(int(d) for d in dims.split(",") if d) for dims in _SHAPE.findall(result_type)
            )
            found.append(Collective(m.group(1), shapes, name in in_loop, name, line.strip()))
    return found


def collectives_in_loop(compiled_text: str) -> list[str]:
    """The HLO lines of collectives that run inside a while loop (e.g. the episode scan)."""
    return [c.line for c in collectives(compiled_text) if c.in_loop]


def population_collectives(compiled_text: str, popsize: int, num_params: int, num_devices: int) -> list[str]:
    """Collectives that move population-sized data: a result shape with a (popsize or
    popsize / num_devices)-long axis AND a num_params-long axis (e.g. an all-gather of x).

    Pick popsize and num_params unlike any other dimension of the program for a sharp test.
    """
    rows = {popsize, popsize // num_devices}
    bad = []
    for c in collectives(compiled_text):
        if any(rows & set(shape) and num_params in shape for shape in c.shapes):
            bad.append(c.line)
    return bad
