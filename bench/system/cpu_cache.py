"""The CPU's data caches, as Linux's sysfs describes them (``/sys/devices/system/cpu/cpuN/cache``).

What :mod:`bench.measure.chunking` sizes a population block by on a CPU. No jax here.
"""
from __future__ import annotations

import os
from pathlib import Path

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
