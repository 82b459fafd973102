"""Tidy tables from :class:`reports.load.Results`: the summary, machines, best devices, failures.

All times are seconds. Medians and quartiles come from the raw samples
(``stats.data``; numpy's linear percentiles), so samples of one case on one device
found in several files are pooled.

One module per job; this package's namespace names them all (``tables.summary``, ``tables.scaling``, ...):

- :mod:`reports.tables.pooled`: the summary (:func:`summary`, :func:`device_labels`);
- :mod:`reports.tables.speedup`: the CPU reference of each case and the speedups over it;
- :mod:`reports.tables.device_scaling`: strong- and weak-scaling series (:func:`scaling`);
- :mod:`reports.tables.sections`: the tables and notes of the report's sections (best devices,
  implementations, unstable, energy, memory);
- :mod:`reports.tables.hosts`: the machines table; :mod:`reports.tables.failures`: the failed cases;
- :mod:`reports.tables.columns`: columns as numbers or as text keys.
"""
from __future__ import annotations

from reports.tables.device_scaling import SCALING_KEY, SCALING_MODES, scaling
from reports.tables.failures import failed, failed_labels
from reports.tables.hosts import machines
from reports.tables.pooled import FIRST_COLUMNS, LAST_COLUMNS, device_labels, summary
from reports.tables.sections import (
    best_devices,
    compile_note,
    energy_cases,
    energy_note,
    implementations,
    memory,
    unstable,
)
from reports.tables.speedup import (
    SPEEDUP_KEY,
    WHOLE_CPU,
    cpu_cores,
    cpu_reference,
    cpu_reference_name,
    has_whole_cpu,
    speedup_vs_cpu,
)

__all__ = [
    "FIRST_COLUMNS", "LAST_COLUMNS", "SCALING_KEY", "SCALING_MODES", "SPEEDUP_KEY", "WHOLE_CPU", "best_devices",
    "compile_note", "cpu_cores", "cpu_reference", "cpu_reference_name", "device_labels", "energy_cases",
    "energy_note", "failed", "failed_labels", "has_whole_cpu", "implementations", "machines", "memory", "scaling",
    "speedup_vs_cpu", "summary", "unstable",
]
