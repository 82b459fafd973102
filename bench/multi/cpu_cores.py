"""How many cores "the whole CPU" is: the ``cpu:all`` device set has one CPU device per core.

XLA:CPU runs a program's episode loop on one thread: one CPU device is one core. The whole
CPU is therefore a set of CPU devices, one per core this process may use, and a ``cpu:all``
case shards its population over them (:mod:`bench.multi.sharding`). The count is

* the CPUs of this process's affinity mask (``taskset``, a container's cpuset),
* counted as physical cores: two hyperthreads of one core share its execution units and
  caches, and the rollout is bound by them (Linux's sysfs topology; every allowed CPU
  counts as a core where sysfs has none),
* capped by the cgroup CPU quota (``cpu.max`` of cgroup v2, ``cpu.cfs_quota_us`` of v1),
  rounded up: a quota of 1.5 CPUs still runs two threads,

or ``--es-cpu-cores N`` where the user knows better (hyperthreads that do help, say).
No jax here: the pytest process counts the cores before any backend starts.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

SYSFS = Path("/sys/devices/system/cpu")
CGROUP = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class CpuCores:
    """The cores of the whole CPU: ``count`` and ``how`` it was found (for the JSON's machine_info)."""

    count: int
    how: str

    def to_json(self) -> dict:
        return {"count": self.count, "how": self.how}


def allowed_cpus() -> set[int]:
    """The logical CPUs this process may run on (its affinity mask)."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def physical_cores(cpus: set[int], root: Path = SYSFS) -> int | None:
    """The physical cores among logical ``cpus`` (distinct (package, core) pairs in sysfs's
    topology); None where sysfs has no topology for one of them."""
    cores = set()
    for cpu in cpus:
        topo = root / f"cpu{cpu}" / "topology"
        try:
            cores.add(((topo / "physical_package_id").read_text().strip(), (topo / "core_id").read_text().strip()))
        except OSError:
            return None
    return len(cores) or None


def one_cpu_per_core(cpus: set[int], root: Path = SYSFS) -> list[int]:
    """The logical CPUs of ``cpus``, the first of each physical core first (sorted), then the
    hyperthread siblings: the first k of the list are k distinct cores where there are k."""
    first, siblings, seen = [], [], set()
    for cpu in sorted(cpus):
        topo = root / f"cpu{cpu}" / "topology"
        try:
            core = ((topo / "physical_package_id").read_text().strip(), (topo / "core_id").read_text().strip())
        except OSError:
            core = ("cpu", str(cpu))
        (siblings if core in seen else first).append(cpu)
        seen.add(core)
    return first + siblings


def pin_to_cores(count: int, cpus: set[int] | None = None, root: Path = SYSFS) -> list[int] | None:
    """Restrict this process to ``count`` cores (one logical CPU of each of the first ``count``
    physical cores it may use); the CPUs kept, or None where it may use no more than that anyway.

    A CPU case of k devices is k cores: its worker pins itself before jax's backend sizes its
    thread pools, or XLA:CPU would spread one device's work over every core (measured with
    jax 0.10: one device kept 1.8 of 2 cores busy) and ``cpu:0`` would not be one core.
    """
    cpus = allowed_cpus() if cpus is None else set(cpus)
    if count >= len(cpus):
        return None
    kept = sorted(one_cpu_per_core(cpus, root)[:count])
    os.sched_setaffinity(0, kept)
    return kept


def cgroup_quota(root: Path = CGROUP) -> float | None:
    """The CPUs the cgroup quota allows (quota / period), or None where none is set.

    cgroup v2: ``cpu.max`` holds "QUOTA PERIOD" or "max PERIOD"; v1: ``cpu/cpu.cfs_quota_us``
    (-1: none) over ``cpu/cpu.cfs_period_us``.
    """
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period


def usable_cores(override: int | None = None, cpus: set[int] | None = None, sysfs: Path = SYSFS,
                 cgroup: Path = CGROUP) -> CpuCores:
    """The cores the whole CPU has for this process (the module's docstring says how they are counted).

    Args:
      override: ``--es-cpu-cores N``: this count, as given.
      cpus: the allowed logical CPUs (default: this process's affinity).
      sysfs, cgroup: the roots read (the tests' stand-ins).

    Returns:
      :class:`CpuCores` with the count (at least 1) and a line saying how it was found.
    """
    if override is not None:
        return CpuCores(int(override), "--es-cpu-cores")
    cpus = allowed_cpus() if cpus is None else set(cpus)
    physical = physical_cores(cpus, sysfs)
    count = physical or len(cpus) or 1
    how = (f"{count} physical cores of the {len(cpus)} CPUs in this process's affinity" if physical
           else f"{count} CPUs in this process's affinity (no core topology in sysfs)")
    quota = cgroup_quota(cgroup)
    if quota is not None and math.ceil(quota) < count:
        count = max(1, math.ceil(quota))
        how += f", capped by the cgroup's CPU quota ({quota:g} CPUs)"
    return CpuCores(count, how)
