"""Energy of runtime figures: the keys ``pytest bench`` writes and the report's texts, in one place.

A runtime row (``extra_info.phase == "runtime"``) may carry

- ``energy_j``: joules per generation (the energy counter's difference over the timed rounds
  divided by the rounds) or null; ``energy_source``: :data:`SOURCES` or null;
- ``energy_unavailable``: why there is no energy (present where ``energy_j`` is null);
- ``env_steps_per_joule`` (only where ``energy_j`` is known; the report recomputes it from the
  pooled ``energy_j``);
- ``device_state`` (NVIDIA GPUs): ``{"before": [per GPU], "after": [per GPU]}``, or a list of
  those, one per worker; each per-GPU dict has ``sm_clock_mhz``, ``mem_clock_mhz``,
  ``temperature_c``, ``power_w`` and ``throttle_reasons``.

Files written before these keys existed lack them: a missing key, a null or a value that is
not a positive number means "no energy", never an error. A report of such files gains
nothing (no column, no table, no plot, no note).

Standard library only, and no other :mod:`reports` module: tables, plots and pages read it.
"""
from __future__ import annotations

import json
import math
import numbers

ENERGY = "energy_j"
PER_JOULE = "env_steps_per_joule"
SOURCE = "energy_source"
UNAVAILABLE = "energy_unavailable"
DEVICE_STATE = "device_state"
COLUMNS = (ENERGY, PER_JOULE, SOURCE)  # the summary.csv columns, in this order
# What each counter measures: the report's explanation and docs/reports.md say this text.
SOURCES = {
    "nvml": "NVML's total energy counter of each GPU, summed over the case's GPUs",
    "rapl": "RAPL package counters: the whole CPU package, not this process alone",
}
HEADING = "Energy per generation"
EXPLAIN = ("Joules per generation: the energy counter's difference over the timed rounds divided by the "
           "rounds, and the environment steps of a generation per joule. What each source measures:")
NOT_MEASURED = "Energy: not measured"
REASON_SEPARATOR = "; "  # between distinct reasons in one note or summary cell


def is_known(value) -> bool:
    """Whether ``value`` is an energy reading: a finite number > 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return math.isfinite(float(value)) and value > 0


def has_keys(columns) -> bool:
    """Whether a table with ``columns`` holds any energy key (files written before energy was measured do not)."""
    return ENERGY in columns or UNAVAILABLE in columns


def distinct(values) -> list[str]:
    """The non-empty strings of ``values`` (reasons, sources), each once, in first-seen order;
    a :data:`REASON_SEPARATOR`-joined cell counts as its parts."""
    out: dict[str, None] = {}
    for v in values:
        if isinstance(v, str):
            for part in v.split(REASON_SEPARATOR):
                if part.strip():
                    out.setdefault(part.strip(), None)
    return list(out)


def not_measured(reasons: list[str], cases: int | None = None, where: list[str] | None = None) -> str:
    """The note line: ``Energy: not measured on any machine (why; why)`` where no case has energy
    (``cases`` None), else ``Energy: not measured for 2 other runtime case(s) on host / cpu, ... (why)``."""
    place = "on any machine" if cases is None else f"for {cases} other runtime case(s) on {', '.join(where or [])}"
    why = f" ({REASON_SEPARATOR.join(reasons)})" if reasons else ""
    return f"{NOT_MEASURED} {place}{why}"


def describe(source: str) -> str:
    """What an ``energy_source`` measures (:data:`SOURCES`), or the name itself when unknown."""
    return SOURCES.get(source, source)


def state_after(value) -> dict:
    """The first GPU's reading after the rounds of the first worker, from ``device_state`` (a dict,
    a list of per-worker dicts, or their JSON text): ``{"sm_clock_mhz": ..., "temperature_c": ...}``
    with the numbers found; ``{}`` when there is none."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if isinstance(value, list):  # one per worker: the first that has a reading
        value = next((v for v in value if isinstance(v, dict)), None)
    if not isinstance(value, dict):
        return {}
    after = value.get("after")
    gpu = after[0] if isinstance(after, list) and after and isinstance(after[0], dict) else None
    if gpu is None:
        return {}
    return {k: float(gpu[k]) for k in ("sm_clock_mhz", "temperature_c")
            if isinstance(gpu.get(k), numbers.Real) and not isinstance(gpu.get(k), bool)}
