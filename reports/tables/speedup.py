"""Speedups over the CPU of a case's own machine: which CPU row is the reference (the whole CPU
where the machine has one, else one core), its name, and the speedup of each row over it."""
from __future__ import annotations

import numpy as np
import pandas as pd

from reports.load import CASE_FIELDS, key_strings
from reports.tables.columns import as_numbers


# The reference for "speedup over the CPU": the same case on the same host's CPU
# (its whole CPU where it has one, else its single CPU device; see cpu_reference).
SPEEDUP_KEY = ("host",) + CASE_FIELDS
# The device-set spec of the whole CPU: every core, one CPU device per core, sharded.
WHOLE_CPU = "cpu:all"


def _is_cpu(df: pd.DataFrame) -> pd.Series:
    kind = df["device_kind"].astype(str).str.lower().eq("cpu")
    if "platform" in df:
        kind |= df["platform"].astype(str).str.lower().eq("cpu")
    return kind


def cpu_cores(df: pd.DataFrame) -> pd.Series:
    """The cores a CPU row ran on: ``extra_info.cores_used`` where recorded, else (files written
    before it) its number of devices, one core each; NaN on other platforms."""
    cores = as_numbers(df, "cores_used").fillna(as_numbers(df, "num_devices").fillna(1))
    return cores.where(_is_cpu(df))


def _cores_text(n: float) -> str:
    return f"{n:g} core" + ("" if n == 1 else "s")


def cpu_reference_name(device: str, cores: float) -> str:
    """The name of a speedup's CPU reference: ``whole CPU (16 cores)`` for :data:`WHOLE_CPU`,
    else the device and its cores, ``cpu:0 (1 core)``."""
    if device == WHOLE_CPU:
        return f"whole CPU ({_cores_text(cores)})" if cores == cores else "whole CPU"
    return f"{device} ({_cores_text(cores)})" if cores == cores else str(device)


def has_whole_cpu(df: pd.DataFrame) -> bool:
    """Whether any runtime row of ``df`` ran on a machine's whole CPU (:data:`WHOLE_CPU`)."""
    return bool((df["device"].astype(str).eq(WHOLE_CPU) & df["phase"].eq("runtime") & _is_cpu(df)).any())


def speedup_vs_cpu(df: pd.DataFrame) -> pd.Series:
    """The runtime of the same case on the same host's CPU reference over this row's runtime
    (NaN on CPUs); see :func:`cpu_reference`."""
    return cpu_reference(df)["speedup_vs_cpu"]


def cpu_reference(df: pd.DataFrame) -> pd.DataFrame:
    """Per row of ``df`` (a summary: one row per case and device), its speedups over the CPU of
    its own machine on the same case (:data:`SPEEDUP_KEY`: host and case fields).

    The reference of ``speedup_vs_cpu`` is the host's whole CPU (the :data:`WHOLE_CPU` row,
    every core) where the host has any whole-CPU runtime row; on a host without one (files
    written before the whole CPU was a case) it is, as it always was, the host's one-device CPU
    row of the lowest device id (``cpu:0``, one core). Columns:

    - ``cpu_median``, ``cpu_q1``, ``cpu_q3`` and ``speedup_vs_cpu`` = cpu_median / median, on
      runtime rows of non-CPU devices with a reference (NaN elsewhere);
    - ``cpu_reference``: its name, ``whole CPU (16 cores)`` or ``cpu:0 (1 core)``
      (:func:`cpu_reference_name`; '' where there is no speedup);
    - ``cpu0_median``, ``cpu0_q1``, ``cpu0_q3`` and ``speedup_vs_cpu0``: over the one-device
      CPU row (one core), on runtime rows of non-CPU devices and of CPU device sets of more
      than one core (the whole CPU over one core);
    - ``cpu0_reference``: that row's name, ``cpu:0 (1 core)``.
    """
    cols = ["cpu_median", "cpu_q1", "cpu_q3", "speedup_vs_cpu", "cpu0_median", "cpu0_q1", "cpu0_q3",
            "speedup_vs_cpu0"]
    out = pd.DataFrame(np.nan, index=df.index, columns=cols)
    out["cpu_reference"] = out["cpu0_reference"] = ""
    if df.empty:
        return out
    is_cpu = _is_cpu(df)
    runtime = df["phase"].eq("runtime")
    keys = key_strings(df, SPEEDUP_KEY)
    cores = cpu_cores(df)
    median = pd.to_numeric(df["median"], errors="coerce")
    one_device = as_numbers(df, "num_devices").fillna(1).eq(1)
    whole = df["device"].astype(str).eq(WHOLE_CPU)
    # a machine's reference is its whole CPU wherever it has one: never one core for some cases
    # and all of them for others
    with_whole = set(df.loc[is_cpu & runtime & whole, "host"].astype(str))
    on_whole_host = df["host"].astype(str).isin(with_whole)

    def refs(mask: pd.Series) -> pd.DataFrame:
        cand = df[mask].assign(_key=keys[mask], _cores=cores[mask]).sort_values("device", kind="stable")
        return cand.drop_duplicates("_key").set_index("_key")

    one = refs(is_cpu & runtime & one_device)
    all_cores = refs(is_cpu & runtime & whole)
    accel = runtime & ~is_cpu
    for prefix, target, ref in (("cpu0", accel | (runtime & is_cpu & cores.gt(1)), one),
                                ("cpu", accel & on_whole_host, all_cores), ("cpu", accel & ~on_whole_host, one)):
        found = target & keys.isin(ref.index)
        if not found.any():
            continue
        hit = ref.loc[keys[found]]
        for col in ("median", "q1", "q3"):
            out.loc[found, f"{prefix}_{col}"] = pd.to_numeric(hit[col], errors="coerce").to_numpy()
        out.loc[found, f"speedup_vs_{prefix}"] = out.loc[found, f"{prefix}_median"] / median[found]
        out.loc[found, f"{prefix}_reference"] = [cpu_reference_name(str(d), float(c))
                                                 for d, c in zip(hit["device"], hit["_cores"])]
    return out
