"""Figures of one benchmark row of a device-check part: its case name, median, case memory,
compile seconds, compile rounds, and the GPU's state after the rounds."""
from __future__ import annotations

import statistics


MIB = 2**20


def device_check_case_key(row: dict) -> str:
    """A case's name without its phase and implementation: strategy env popN evalsN device."""
    x = row.get("extra_info", {})
    return f"{x.get('strategy')} {x.get('env')} pop{x.get('popsize')} evals{x.get('num_evals')} {x.get('device')}"


def rows_of(bench: dict | None, phase: str) -> dict[str, dict]:
    """{case key: row} of the rows of ``phase`` (compile or runtime)."""
    if bench is None:
        return {}
    return {device_check_case_key(r): r for r in bench["rows"] if r.get("extra_info", {}).get("phase") == phase}


def median_s(row: dict | None):
    """The row's median seconds (None when absent)."""
    return None if row is None else (row.get("stats") or {}).get("median")


def memory_mib(row: dict):
    """Peak - baseline memory of a row in MiB (None where the baseline is unknown)."""
    x = row.get("extra_info", {})
    peak, base = x.get("peak_memory_bytes"), x.get("baseline_memory_bytes")
    if peak is None or base is None:
        return None
    return (peak - base) / MIB


def first_compile_s(row: dict):
    """The compile seconds of a runtime row (its first call), else the median of compile_s."""
    x = row.get("extra_info", {})
    if x.get("first_compile_s") is not None:
        return x["first_compile_s"]
    rounds = x.get("compile_s")
    return statistics.median(rounds) if isinstance(rounds, list) and rounds else None


def round_figures(row: dict) -> dict:
    """Compile rounds of a row: the rounds (s), min, median, max, max/min and whether round 1 is
    the slowest (in fresh processes that points at a cache surviving between processes)."""
    data = list((row.get("stats") or {}).get("data") or [])
    if not data:
        return {"rounds": [], "min": None, "median": None, "max": None, "spread": None, "first_slowest": None}
    lo, hi = min(data), max(data)
    return {"rounds": data, "min": lo, "median": statistics.median(data), "max": hi,
            "spread": hi / lo if lo > 0 else None, "first_slowest": len(data) > 1 and data[0] == hi,
            "backend_compiles": row.get("extra_info", {}).get("backend_compiles")}


def state_after(x: dict) -> dict:
    """The first GPU's state after the timed rounds (the first worker's), {} where none was read."""
    state = x.get("device_state")
    if isinstance(state, list):
        state = next((s for s in state if s), None)
    after = (state or {}).get("after") or []
    return after[0] if after and isinstance(after[0], dict) else {}
