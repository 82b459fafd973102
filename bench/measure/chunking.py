"""How many members of the population one block of the rollout evaluates (``--es-pop-chunk``).

``envs.rollout.population_returns(..., pop_chunk=N)`` evaluates the population N members
at a time, each block running all its episode steps, so that a step's working set -- the
(members, evals, hidden) activations, the env state, the members' parameters -- stays in a
cache. Here ``bench`` decides N: the user's number, ``off`` (the whole population at once),
or ``auto``: on a CPU the block whose step working set is :data:`L2_MULTIPLE` times the L2
cache of the core the worker runs on; on a GPU or TPU the whole population (no chunking:
nothing measured says blocks are faster there). The CPU's caches are read from Linux's
sysfs (``/sys/devices/system/cpu/cpuN/cache``). No jax here.

Measured on the project's 2-core EPYC VM (L2 1 MiB per core, L3 32 MiB; XLA:CPU runs the
step's fusions on one thread), Pendulum-v1, hidden 48, rollout alone, block sizes
interleaved: at 50 evals the best blocks were 100-400 members (1.2-5 MB a step; 2.2x the
unchunked pop 20 000), at 10 evals 250-1000, at 1 eval 2 500-10 000 -- all near 4 MB,
and 2-3 times as large was already slower (docs/performance.md).
"""
from __future__ import annotations

import os
from pathlib import Path

L2_MULTIPLE = 4  # a block's step working set, in L2 caches (measured: see the module's docstring)
DEFAULT_L2_BYTES = 1024**2  # where sysfs has no cache sizes
FLOAT_BYTES = 4
SYSFS = Path("/sys/devices/system/cpu")
_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3}


def _bytes(text: str) -> int | None:
    """sysfs's ``size`` ("48K", "32768K", "1M") in bytes; None where it is unreadable."""
    text = text.strip().upper()
    scale = _UNITS.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in _UNITS else text
    return int(digits) * scale if digits.isdigit() else None


def this_cpu() -> int:
    """The lowest CPU this process may run on (the one whose caches speak for it)."""
    try:
        return min(os.sched_getaffinity(0))
    except (AttributeError, OSError, ValueError):
        return 0


def data_caches(cpu: int | None = None, root: Path = SYSFS) -> dict[int, int]:
    """{cache level: bytes} of the data and unified caches of ``cpu`` (default :func:`this_cpu`);
    ``{}`` where sysfs has none (not Linux, a container without ``/sys``)."""
    cpu = this_cpu() if cpu is None else cpu
    out: dict[int, int] = {}
    for index in sorted((root / f"cpu{cpu}" / "cache").glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = int((index / "level").read_text())
            size = _bytes((index / "size").read_text())
        except (OSError, ValueError):
            continue
        if kind in ("Data", "Unified") and size:
            out[level] = size
    return out


def member_step_bytes(num_params: int, evals: int, hidden: int, obs_size: int) -> int:
    """The float32 bytes one member's step reads or writes: its parameters, and per episode
    the hidden activations, the observation and a few state and return fields."""
    return FLOAT_BYTES * (num_params + evals * (hidden + 2 * obs_size + 4))


def resolve_pop_chunk(setting, platform: str, popsize: int, evals: int, hidden: int, num_params: int,
                      obs_size: int, shards: int = 1) -> tuple[int | None, str]:
    """(members per block or None for the whole population, how it was chosen) of one case.

    ``setting`` is ``"auto"``, ``"off"`` or a positive int (``bench.validate.pop_chunk_setting``).
    ``shards``: the devices a sharded case splits the population over; a block then holds
    rows of one device (``auto``: sized to that device's core's cache, as on one device), and
    each device evaluates its own ``popsize / shards`` rows block after block.
    """
    rows = popsize // max(1, shards)
    per_device = " per device" if shards > 1 else ""
    if setting == "off":
        return None, "off"
    if setting != "auto":
        return (setting if setting < rows else None), "given" + per_device
    if platform != "cpu":
        return None, f"auto: whole population on {platform}"
    caches = data_caches()
    l2 = caches.get(2)
    where = f"cpu{this_cpu()}" if l2 else "not in sysfs, assumed"
    l2 = l2 or DEFAULT_L2_BYTES
    chunk = max(1, L2_MULTIPLE * l2 // member_step_bytes(num_params, evals, hidden, obs_size))
    why = f"auto: {L2_MULTIPLE} x L2 ({l2 // 1024} KiB, {where}){per_device}"
    return (chunk if chunk < rows else None), why
