"""Collectives in compiled HLO text (``jax.jit(f).lower(...).compile().as_text()``), for the
sharding tests: which collectives a program runs, which run inside a loop (the episode scan),
and which move population-sized data (see bench/multi/sharding.py for what the sharded
generation promises)."""
from __future__ import annotations

import re
from dataclasses import dataclass

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
