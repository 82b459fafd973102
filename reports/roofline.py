"""The roofline of each device: where each runtime case sits under its device's measured roofs.

The roofs are the device's own measured peaks (``machine_info.measured_peaks``, written by
``pytest bench --es-peak-flops auto``): the float32 matmul FLOP/s (compute roof) and the copy
bandwidth in bytes/s (memory roof). A case's arithmetic intensity is XLA's cost analysis of one
generation, ``flops / bytes_accessed`` (FLOP per byte); its achieved FLOP/s is ``flops`` over its
median runtime. The attainable FLOP/s at intensity I is ``min(matmul, copy * I)`` (Williams,
Waterman & Patterson, "Roofline: an insightful visual performance model", CACM 52(4), 2009); the
ridge point ``matmul / copy`` divides the memory-bound cases (left of it) from the compute-bound.

A row's roofs are the entry of its own device spec: ``cpu:all`` against the all-core entry,
``cpu:0`` against the one-core one (files written before the all-core case had one ``cpu:0``
entry, which applies to ``cpu:0`` as it did), ``gpu:0`` against its own; a device set without an
entry of its own (``cpu:0+1``, ``gpu:all``) against the sum of its devices' entries where every
one of them was measured, as ``pct_of_peak`` sums them. An entry measured in several files of one
host: the median of each figure.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from reports import stability

COLUMNS = ["host", "device", "device_label", "impl", "strategy", "env", "popsize", "num_evals", "hidden",
           "episode_length", "unroll", "flops", "bytes_accessed", "intensity", "flops_per_s", "matmul_flops_per_s",
           "copy_bytes_per_s", "ridge_intensity", "roof_flops_per_s", "pct_of_roof", "bound", "peak_entry"]


def _positive(x) -> float:
    """``x`` as a float where it is a finite number > 0, else NaN."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return np.nan
    return v if np.isfinite(v) and v > 0 else np.nan


def measured_peaks(machines: pd.DataFrame) -> dict[tuple[str, str], dict]:
    """{(host, device spec): {"matmul", "copy"}} from the files' ``measured_peaks``
    (:func:`reports.load.load`'s ``machines``): the median of each figure over a host's files;
    entries without a positive matmul and copy figure are skipped."""
    found: dict[tuple[str, str], dict[str, list]] = {}
    if "measured_peaks" not in machines:
        return {}
    for host, entries in zip(machines["host"], machines["measured_peaks"]):
        for e in entries:
            matmul, copy = _positive(e.get("matmul_flops_per_s")), _positive(e.get("copy_bytes_per_s"))
            if e.get("device") is None or np.isnan(matmul) or np.isnan(copy):
                continue
            acc = found.setdefault((str(host), str(e["device"])), {"matmul": [], "copy": []})
            acc["matmul"].append(matmul)
            acc["copy"].append(copy)
    return {k: {"matmul": float(np.median(v["matmul"])), "copy": float(np.median(v["copy"]))} for k, v in found.items()}


def _members(row) -> list[str]:
    """The device ids of a row's device set (``extra_info.devices``, a JSON list in the table)."""
    devices = row.get("devices")
    if isinstance(devices, str):
        try:
            devices = json.loads(devices)
        except ValueError:
            return []
    return [str(d) for d in devices] if isinstance(devices, list) else []


def roofs_of(row, peaks: dict) -> tuple[float, float, str] | None:
    """(matmul FLOP/s, copy bytes/s, the entry's name) of ``row``'s device, or None where not measured:
    the entry of its device spec, else the sum of its devices' entries (each must be measured)."""
    host, device = str(row["host"]), str(row["device"])
    if (host, device) in peaks:
        p = peaks[(host, device)]
        return p["matmul"], p["copy"], device
    members = _members(row)
    if len(members) > 1 and all((host, d) in peaks for d in members):
        return (sum(peaks[(host, d)]["matmul"] for d in members), sum(peaks[(host, d)]["copy"] for d in members),
                "sum of " + ", ".join(members))
    return None


def _runtime(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[summary["phase"].eq("runtime") & summary["part"].eq("generation")]


def roofline(summary: pd.DataFrame, machines: pd.DataFrame) -> pd.DataFrame:
    """One row per whole-generation runtime case with a FLOP count, ``bytes_accessed`` and a
    measured peak of its device: its ``intensity`` (flops / bytes_accessed, FLOP/byte), achieved
    ``flops_per_s``, the roofs (``matmul_flops_per_s``, ``copy_bytes_per_s``), ``ridge_intensity``
    (matmul / copy), ``roof_flops_per_s`` = min(matmul, copy * intensity), ``pct_of_roof`` =
    100 * achieved / roof, ``bound`` (``memory`` left of the ridge, else ``compute``) and
    ``peak_entry`` (the measured_peaks entry used).

    Args:
        summary: :func:`reports.tables.summary`.
        machines: :func:`reports.load.load`'s ``machines`` (one row per file, ``measured_peaks``).

    Returns:
        The table in summary order (with :data:`COLUMNS`, plus ``unstable`` where the summary has it).
    """
    peaks = measured_peaks(machines)
    cols = COLUMNS + ([stability.KEY] if stability.KEY in summary else [])
    out = []
    for _, r in _runtime(summary).iterrows():
        flops, nbytes, rate = _positive(r.get("flops")), _positive(r.get("bytes_accessed")), _positive(r.get("flops_per_s"))
        roofs = roofs_of(r, peaks)
        if np.isnan(flops) or np.isnan(nbytes) or np.isnan(rate) or roofs is None:
            continue
        matmul, copy, entry = roofs
        intensity = flops / nbytes
        roof = min(matmul, copy * intensity)
        out.append({**{c: r.get(c, np.nan) for c in cols}, "flops": flops, "bytes_accessed": nbytes,
                    "intensity": intensity, "flops_per_s": rate, "matmul_flops_per_s": matmul,
                    "copy_bytes_per_s": copy, "ridge_intensity": matmul / copy, "roof_flops_per_s": roof,
                    "pct_of_roof": 100.0 * rate / roof, "bound": "memory" if copy * intensity < matmul else "compute",
                    "peak_entry": entry})
    return pd.DataFrame(out, columns=cols)


def note(summary: pd.DataFrame, machines: pd.DataFrame) -> str:
    """The one line on the whole-generation runtime cases the roofline leaves out, and why: no FLOP
    count, no ``bytes_accessed`` (XLA's cost analysis gave none, or files written before it was
    recorded), no measured peak of the device; ``''`` where none is left out, and where no input
    has either a ``bytes_accessed`` or a measured peak (files written before the roofline: their
    report stays as it was)."""
    runtime = _runtime(summary)
    peaks = measured_peaks(machines)
    has_bytes = "bytes_accessed" in runtime and pd.to_numeric(runtime["bytes_accessed"], errors="coerce").gt(0).any()
    if runtime.empty or not (has_bytes or peaks):
        return ""
    no_flops = no_bytes = no_peak = 0
    where: dict[str, None] = {}
    for _, r in runtime.iterrows():
        if np.isnan(_positive(r.get("flops"))) or np.isnan(_positive(r.get("flops_per_s"))):
            no_flops += 1
        elif np.isnan(_positive(r.get("bytes_accessed"))):
            no_bytes += 1
        elif roofs_of(r, peaks) is None:
            no_peak += 1
            where.setdefault(str(r.get("device_label", r["device"])), None)
        else:
            continue
    left = no_flops + no_bytes + no_peak
    if not left:
        return ""
    why = [f"{no_flops} without a FLOP count (XLA's cost analysis gave none)"] if no_flops else []
    why += [f"{no_bytes} without bytes_accessed (XLA's cost analysis gave none, or the file predates it)"] if no_bytes else []
    why += [f"{no_peak} without a measured peak of their device ({', '.join(where)}; pytest bench "
            "--es-peak-flops auto measures it)"] if no_peak else []
    return f"Roofline: {left} of {len(runtime)} runtime case(s) left out: " + "; ".join(why) + "."
