"""The summary table: one row per case and device, the samples of a case found in several files
pooled (medians and quartiles from the raw samples, numpy's linear percentiles), with the figures
derived from them (env steps/s, FLOP/s, % of peak, speedups, energy per step, case memory)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from reports import energy, stability
from reports.load import Results, case_key, key_strings
from reports.tables.columns import as_numbers
from reports.tables.speedup import cpu_reference, has_whole_cpu


FIRST_COLUMNS = [
    "host", "device_label", "device", "device_kind", "platform", "num_devices", "num_processes", "impl", "part",
    "phase", "strategy", "env", "popsize", "popsize_per_device", "num_evals", "hidden", "episode_length", "unroll",
    "num_params", "median", "iqr", "q1", "q3", "rounds", stability.KEY, "mean", "stddev", "min", "max", "env_steps",
    "env_steps_per_s", "flops", "flops_per_s", "peak_flops", "pct_of_peak", "speedup_vs_cpu0", "cpu_reference", "speedup_vs_cpu", *energy.COLUMNS,
    "baseline_memory_bytes", "peak_memory_bytes", "case_memory_bytes", "memory_source",
]
LAST_COLUMNS = ["name", "files"]


def _pool(group: pd.DataFrame) -> pd.Series:
    first = group.iloc[-1].copy()
    arrays = [s for s in group["samples"] if s is not None]
    if arrays:
        x = np.concatenate(arrays)
        q1, med, q3 = np.percentile(x, [25, 50, 75])
        first["median"], first["q1"], first["q3"], first["iqr"] = med, q1, q3, q3 - q1
        first["rounds"] = len(x)
        first["mean"], first["min"], first["max"] = x.mean(), x.min(), x.max()
        first["stddev"] = x.std(ddof=1) if len(x) > 1 else np.nan
    else:  # no raw samples: pytest-benchmark's own statistics of the last file
        first["median"], first["q1"], first["q3"] = first["stats_median"], first["stats_q1"], first["stats_q3"]
        first["iqr"] = first["q3"] - first["q1"]
        first["rounds"] = first["stats_rounds"]
        first["mean"] = first["min"] = first["max"] = first["stddev"] = np.nan
    first["files"] = ";".join(dict.fromkeys(group["file"]))
    if stability.KEY in group:  # pooled runs: the case is unstable where any of its runs was
        first[stability.KEY] = stability.cell(stability.union(group[stability.KEY]))
    if energy.has_keys(group):
        _pool_energy(group, first)
    if "scaling" in group:  # one measurement may belong to a strong and a weak series
        modes = sorted({str(m) for m in group["scaling"] if not pd.isna(m)})
        first["scaling"] = ",".join(modes) if modes else np.nan
    return first


def _pool_energy(group: pd.DataFrame, first: pd.Series) -> None:
    """Energy of a case pooled from its files into ``first``: ``energy_j`` the mean of the known
    readings weighted by their rounds (as bench pools its workers), ``energy_source`` and
    ``energy_unavailable`` the distinct values (the latter only where no file measured energy)."""
    values = group[energy.ENERGY] if energy.ENERGY in group else pd.Series(np.nan, index=group.index)
    known = values.map(energy.is_known)
    weights = np.array([len(s) if s is not None else 1 for s in group["samples"]], dtype=float)
    if known.any():
        w = weights[known.to_numpy()]
        first[energy.ENERGY] = float(np.dot(values[known].astype(float), w) / w.sum())
        sources = energy.distinct(group[energy.SOURCE][known]) if energy.SOURCE in group else []
        first[energy.SOURCE] = energy.REASON_SEPARATOR.join(sources) if sources else np.nan
        if energy.UNAVAILABLE in group:
            first[energy.UNAVAILABLE] = np.nan
    else:
        first[energy.ENERGY] = first[energy.SOURCE] = np.nan
        if energy.UNAVAILABLE in group:
            reasons = energy.distinct(group[energy.UNAVAILABLE])
            first[energy.UNAVAILABLE] = energy.REASON_SEPARATOR.join(reasons) if reasons else np.nan


def device_labels(rows: pd.DataFrame) -> pd.Series:
    """``host / device_kind``; with ``[device]`` appended where a host has two devices (or device
    sets) of one kind, and always on a sharded row (``num_devices`` > 1), so that ``gpu:all``
    never reads like ``gpu:0``."""
    kinds = rows.groupby(["host", "device_kind"])["device"].transform("nunique")
    label = rows["host"].astype(str) + " / " + rows["device_kind"].astype(str)
    sharded = as_numbers(rows, "num_devices").gt(1)
    return label.where((kinds <= 1) & ~sharded, label + " [" + rows["device"].astype(str) + "]")


def summary(res: Results, peak_flops: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per case and device (samples pooled across files), every extra_info field kept.

    Where any input row has ``extra_info.unstable``, the ``unstable`` column lists a case's
    reasons (:func:`reports.stability.cell`; the union over its files, ``''`` when stable or
    not recorded); inputs without the key get no such column.

    ``speedup_vs_cpu`` and ``cpu_reference`` (its CPU reference's name) are :func:`cpu_reference`'s;
    ``speedup_vs_cpu0`` (over one core) too where a machine has a whole-CPU row (:func:`has_whole_cpu`).

    Where any input row has an energy key (:mod:`reports.energy`), the ``energy_j``,
    ``env_steps_per_joule`` (env steps / energy_j of a runtime row) and ``energy_source``
    columns follow ``speedup_vs_cpu``, NaN where a case has no energy; inputs without the keys
    get none of them.
    """
    rows = res.rows.copy()
    for c in case_key([rows]):
        if c not in rows:
            rows[c] = np.nan
    rows["_key"] = key_strings(rows, case_key([rows]))
    pooled = [_pool(g) for _, g in rows.groupby("_key", sort=False)]
    df = pd.DataFrame(pooled).reset_index(drop=True)
    df["device_label"] = device_labels(df)

    def num(col):
        return as_numbers(df, col)

    runtime = df["phase"].eq("runtime") & num("median").gt(0)
    df["env_steps_per_s"] = (num("env_steps") / num("median")).where(runtime)
    df["flops_per_s"] = (num("flops") / num("median")).where(runtime)
    peak = num("peak_flops")
    for kind_or_platform, value in (peak_flops or {}).items():
        hit = df["device_kind"].astype(str).eq(kind_or_platform)
        if "platform" in df:
            hit |= df["platform"].astype(str).eq(kind_or_platform)
        peak = peak.mask(hit, float(value))
    df["peak_flops"] = peak
    df["pct_of_peak"] = 100.0 * df["flops_per_s"] / peak
    ref = cpu_reference(df)
    df["speedup_vs_cpu"] = ref["speedup_vs_cpu"]
    df["cpu_reference"] = ref["cpu_reference"]
    if has_whole_cpu(df):
        # over one core too, where a machine has a whole-CPU row (elsewhere speedup_vs_cpu is over one core)
        df["speedup_vs_cpu0"] = ref["speedup_vs_cpu0"]
    if energy.has_keys(df):
        joules = num(energy.ENERGY).where(num(energy.ENERGY).map(energy.is_known))
        df[energy.ENERGY] = joules
        # recomputed, not bench's value: a case pooled from several files has one pooled energy
        df[energy.PER_JOULE] = (num("env_steps") / joules).where(runtime)
        if energy.SOURCE not in df:
            df[energy.SOURCE] = np.nan
    # The case's own memory: the worker's peak minus its footprint before the case built anything.
    df["case_memory_bytes"] = num("peak_memory_bytes") - num("baseline_memory_bytes")

    ordered = [c for c in FIRST_COLUMNS if c in df]
    rest = [c for c in res.extra_keys if c in df and c not in ordered]
    rest += sorted(c for c in df if c.endswith("_median") and not c.startswith("stats_") and c not in ordered and c not in rest)
    cols = ordered + rest + [c for c in LAST_COLUMNS if c in df]
    df = df[cols]
    sort = ["host", "device", "impl", "phase", "part", "strategy", "env", "popsize", "num_evals"]
    return df.sort_values(sort, kind="stable", na_position="last").reset_index(drop=True)
