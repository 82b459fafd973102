"""Tidy tables from :class:`reports.load.Results`: the summary, machines, best devices, failures.

All times are seconds. Medians and quartiles come from the raw samples
(``stats.data``; numpy's linear percentiles), so samples of one case on one device
found in several files are pooled.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from reports import formatting as fmt
from reports import energy, notices, stability
from reports.load import CASE_FIELDS, Results, case_key, key_strings, key_text

# The reference for "speedup over the CPU": the same case on the same host's CPU
# (its whole CPU where it has one, else its single CPU device; see cpu_reference).
SPEEDUP_KEY = ("host",) + CASE_FIELDS
# The device-set spec of the whole CPU: every core, one CPU device per core, sharded.
WHOLE_CPU = "cpu:all"
# The 1-device reference of a scaling row (Amdahl/Gustafson speedup and parallel efficiency):
# the same host, platform and case on one device; the population size matched apart
# (strong scaling: the same popsize; weak scaling: the same popsize per device).
SCALING_KEY = ("host", "platform", "impl", "strategy", "env", "num_evals", "hidden", "episode_length", "unroll")
SCALING_MODES = ("strong", "weak")
FIRST_COLUMNS = [
    "host", "device_label", "device", "device_kind", "platform", "num_devices", "num_processes", "impl", "part",
    "phase", "strategy", "env", "popsize", "popsize_per_device", "num_evals", "hidden", "episode_length", "unroll",
    "num_params", "median", "iqr", "q1", "q3", "rounds", stability.KEY, "mean", "stddev", "min", "max", "env_steps",
    "env_steps_per_s", "flops", "flops_per_s", "peak_flops", "pct_of_peak", "speedup_vs_cpu0", "cpu_reference", "speedup_vs_cpu", *energy.COLUMNS,
    "baseline_memory_bytes", "peak_memory_bytes", "case_memory_bytes", "memory_source",
]
LAST_COLUMNS = ["name", "files"]


def _num(df: pd.DataFrame, col: str) -> pd.Series:
    """Column ``col`` as numbers (NaN where missing or not a number)."""
    return pd.to_numeric(df[col], errors="coerce") if col in df else pd.Series(np.nan, index=df.index)


def _key_frame(df: pd.DataFrame, cols) -> pd.DataFrame:
    """``cols`` of ``df`` as text, NaN as '' (so that missing fields still group and merge)."""
    return pd.DataFrame({c: df[c].map(key_text) if c in df else "" for c in cols}, index=df.index)


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
    sharded = _num(rows, "num_devices").gt(1)
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
        return _num(df, col)

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


def _is_cpu(df: pd.DataFrame) -> pd.Series:
    kind = df["device_kind"].astype(str).str.lower().eq("cpu")
    if "platform" in df:
        kind |= df["platform"].astype(str).str.lower().eq("cpu")
    return kind


def cpu_cores(df: pd.DataFrame) -> pd.Series:
    """The cores a CPU row ran on: ``extra_info.cores_used`` where recorded, else (files written
    before it) its number of devices, one core each; NaN on other platforms."""
    cores = _num(df, "cores_used").fillna(_num(df, "num_devices").fillna(1))
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
    one_device = _num(df, "num_devices").fillna(1).eq(1)
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


def failed_labels(summary: pd.DataFrame, failed: pd.DataFrame | None) -> pd.DataFrame:
    """Failed cases with the device label their device has in ``summary`` (else ``host / device``)."""
    cols = ["device_label", "impl", "part", "phase", "strategy", "env", "popsize", "num_evals"]
    need = {"host", "device", "phase", "strategy", "env", "popsize", "num_evals"}
    if failed is None or failed.empty or not need <= set(failed):
        return pd.DataFrame(columns=cols)
    f = failed.copy()
    f["impl"] = f["impl"].fillna("esperf") if "impl" in f else "esperf"
    f["part"] = f["part"].fillna("generation") if "part" in f else "generation"
    labels = summary.drop_duplicates(["host", "device"]).set_index(["host", "device"])["device_label"]
    f["device_label"] = [labels.get((h, d), f"{h} / {d}") for h, d in zip(f["host"], f["device"])]
    f["popsize"] = pd.to_numeric(f["popsize"], errors="coerce")
    f["num_evals"] = pd.to_numeric(f["num_evals"], errors="coerce")
    return f[cols].dropna(subset=["popsize", "num_evals"])


def best_devices(summary_df: pd.DataFrame, failed_df: pd.DataFrame | None = None) -> pd.DataFrame:
    """For every runtime case (whole generation): the fastest device and how much faster than the next."""
    df = summary_df[summary_df["phase"].eq("runtime") & summary_df["part"].eq("generation")]
    case_cols = [c for c in CASE_FIELDS if c in df and c not in ("phase", "part")]
    fl = failed_labels(summary_df, failed_df)
    fl = fl[fl["phase"].eq("runtime") & fl["part"].eq("generation")]
    fkeys = _key_frame(fl, ["impl", "strategy", "env", "popsize", "num_evals"]).apply(tuple, axis=1) if not fl.empty else []
    failed_on: dict[tuple, list[str]] = {}
    for k, lab in zip(fkeys, fl["device_label"]):
        failed_on.setdefault(k, []).append(lab)
    out = []
    for _, g in df.groupby(_key_frame(df, case_cols).apply(tuple, axis=1), sort=False):
        g = g.sort_values("median", kind="stable")
        best = g.iloc[0]
        nxt = g.iloc[1] if len(g) > 1 else None
        out.append(
            {
                **{c: best[c] for c in case_cols},
                "best_device": best["device_label"],
                "median": best["median"],
                "env_steps_per_s": best.get("env_steps_per_s", np.nan),
                "next_device": nxt["device_label"] if nxt is not None else "",
                "x_faster_than_next": nxt["median"] / best["median"] if nxt is not None and best["median"] > 0 else np.nan,
                "devices": len(g),
                **({stability.KEY: best[stability.KEY]} if stability.KEY in best else {}),
                "failed_on": "; ".join(failed_on.get(
                    tuple(key_text(best[c]) for c in ("impl", "strategy", "env", "popsize", "num_evals")), [])),
            }
        )
    res = pd.DataFrame(out)
    if res.empty:
        return res
    return res.sort_values([c for c in ("impl", "strategy", "env", "popsize", "num_evals") if c in res], kind="stable").reset_index(drop=True)


def implementations(summary_df: pd.DataFrame) -> pd.DataFrame:
    """esperf against each peer implementation (e.g. evosax + gymnax) on the same device and case.

    One row per (device, case) run by two or more impls: each impl's median runtime per
    generation and env steps/s, and ``<peer>_over_esperf``, the peer's median divided by
    esperf's (how many times faster esperf is). Empty when only one impl is present.
    """
    df = summary_df[summary_df["phase"].eq("runtime") & summary_df["part"].eq("generation")]
    if "impl" not in df or df["impl"].nunique() < 2 or "esperf" not in set(df["impl"]):
        return pd.DataFrame()
    case_cols = [c for c in ("device_label", "strategy", "env", "popsize", "num_evals", "hidden") if c in df]
    out = []
    for _, g in df.groupby(_key_frame(df, case_cols).apply(tuple, axis=1), sort=False):
        by_impl = {row["impl"]: row for _, row in g.iterrows()}
        if "esperf" not in by_impl or len(by_impl) < 2:
            continue
        ours = by_impl["esperf"]
        rec = {c: ours[c] for c in case_cols}
        for impl, row in by_impl.items():
            rec[f"{impl}_median_s"] = row["median"]
            rec[f"{impl}_env_steps_per_s"] = row.get("env_steps_per_s", np.nan)
        for impl, row in by_impl.items():
            if impl != "esperf":
                rec[f"{impl}_over_esperf"] = row["median"] / ours["median"] if ours["median"] > 0 else np.nan
        out.append(rec)
    return pd.DataFrame(out)


def machines(res: Results) -> pd.DataFrame:
    """One row per host: CPU, cores, RAM, OS, software and devices (files of one host merged).

    Plus a ``warnings`` column (:func:`reports.notices.warnings_cell`: unused accelerators,
    failed backends, WARN system checks) where any host had one; a report of fit machines
    keeps the table it always had.
    """
    out = []
    for host, g in res.machines.groupby("host", sort=False):
        first = g.iloc[0]
        devices: dict[str, str] = {}
        for devs in g["devices"]:
            for d in devs:
                # allocator_limit_bytes: jax's memory pool (files before it called it memory_bytes)
                mem = d.get("allocator_limit_bytes", d.get("memory_bytes"))
                text = f"{d.get('id', '?')} {d.get('kind', '')}".strip()
                if fmt.is_real(mem) and mem > 0:
                    text += f" ({fmt.gib(mem, 0)} allocator pool)"
                devices.setdefault(str(d.get("id")), text)
        phys, logi = first["physical_cores"], first["logical_cores"]
        ram = first["ram_bytes"]
        out.append(
            {
                "host": host,
                "CPU": first["cpu_model"] or "",
                "cores (physical / logical)": f"{fmt.int_or_unknown(phys)} / {fmt.int_or_unknown(logi)}",
                "RAM": fmt.gib(ram, 1),
                "OS": first["os"] or "",
                "Python": first["python"] or "",
                "jax / jaxlib": f"{first['jax_version'] or '?'} / {first['jaxlib_version'] or '?'}",
                "devices": "; ".join(devices.values()),
                "warnings": notices.warnings_cell([m.to_dict() for _, m in g.iterrows()]),
                "files": ", ".join(g["file"]),
            }
        )
    df = pd.DataFrame(out)
    if not df["warnings"].astype(bool).any():
        df = df.drop(columns="warnings")
    return df


def unstable(summary_df: pd.DataFrame) -> pd.DataFrame:
    """The cases whose figure is unstable (a reason in the ``unstable`` column), in summary order:
    device label, case fields, median, IQR, rounds and the reasons. Empty where none is."""
    cols = ["device_label", "impl", "phase", "part", "strategy", "env", "popsize", "num_evals", "hidden",
            "episode_length", "median", "iqr", "rounds", stability.KEY]
    if stability.KEY not in summary_df:
        return pd.DataFrame(columns=cols)
    hit = summary_df[stability.KEY].map(stability.is_unstable)
    return summary_df[hit].reindex(columns=cols).reset_index(drop=True)


def energy_cases(summary_df: pd.DataFrame) -> pd.DataFrame:
    """The whole-generation runtime cases with an energy reading, in summary order: device label,
    case fields, ``energy_j``, ``env_steps_per_joule``, ``energy_source`` and, from
    ``device_state`` (first worker, first GPU, after the rounds), ``sm_clock_mhz`` and
    ``temperature_c`` (NaN without it). Empty where no case has energy."""
    cols = ["device_label", "impl", "strategy", "env", "popsize", "num_evals", "hidden", "episode_length",
            *energy.COLUMNS, "sm_clock_mhz", "temperature_c"]
    if energy.ENERGY not in summary_df:
        return pd.DataFrame(columns=cols)
    df = summary_df[summary_df["phase"].eq("runtime") & summary_df["part"].eq("generation")
                    & _num(summary_df, energy.ENERGY).notna()]
    out = df.reindex(columns=cols).reset_index(drop=True)
    if energy.DEVICE_STATE in df:
        after = [energy.state_after(v) for v in df[energy.DEVICE_STATE]]
        for col in ("sm_clock_mhz", "temperature_c"):
            out[col] = [a.get(col, np.nan) for a in after]
    return out


def energy_note(summary_df: pd.DataFrame) -> str:
    """The one line for whole-generation runtime cases that say why they have no energy (``energy_unavailable``):
    ``Energy: not measured on any machine (why)`` where no case has energy, else how many cases
    lack it and on which device labels; ``''`` where no runtime case gives a reason (files written before
    energy was measured)."""
    if energy.UNAVAILABLE not in summary_df:
        return ""
    runtime = summary_df[summary_df["phase"].eq("runtime") & summary_df["part"].eq("generation")]
    missing = runtime[_num(runtime, energy.ENERGY).isna() & runtime[energy.UNAVAILABLE].map(
        lambda v: isinstance(v, str) and bool(v.strip()))]
    if missing.empty:
        return ""
    reasons = energy.distinct(missing[energy.UNAVAILABLE])
    if energy_cases(summary_df).empty:
        return energy.not_measured(reasons)
    return energy.not_measured(reasons, len(missing), list(dict.fromkeys(missing["device_label"].astype(str))))


def compile_note(summary_df: pd.DataFrame) -> str:
    """One line where compile cases ran their rounds in one process on a GPU
    (``extra_info.compile_warm_autotune``: the rounds after the first reused XLA:GPU's
    autotuning, so their compile times understate a cold compile); ``''`` where none did."""
    if "compile_warm_autotune" not in summary_df:
        return ""
    warm = summary_df[summary_df["compile_warm_autotune"].map(lambda v: v is True or v == "True")]
    if warm.empty:
        return ""
    devices = ", ".join(dict.fromkeys(warm["device_label"].astype(str)))
    return (f"Compile: {len(warm)} compile case(s) on {devices} ran their rounds in one process "
            "(--es-isolate none or --es-distributed): after the first, each round reused XLA:GPU's autotuning "
            "and understates a cold compile; the first round (compile_s[0]) is the cold one.")


def failed(res: Results) -> pd.DataFrame:
    cols = ["host", "device", "impl", "part", "phase", "strategy", "env", "popsize", "num_evals", "error", "name", "file"]
    df = res.failed
    if df.empty:
        return pd.DataFrame(columns=cols)
    return df[[c for c in cols if c in df] + [c for c in df if c not in cols]]


def memory(summary_df: pd.DataFrame) -> pd.DataFrame:
    """Per-case memory of every whole-generation row that recorded a peak.

    ``case_memory_bytes`` = ``peak_memory_bytes`` - ``baseline_memory_bytes`` (the worker's
    footprint after backend start-up, before the case built anything): what the case
    itself needed. NaN where the baseline is missing (files written before it existed).
    """
    cols = ["device_label", "host", "device", "impl", "phase", "strategy", "env", "popsize", "num_evals", "hidden",
            "episode_length", "baseline_memory_bytes", "peak_memory_bytes", "case_memory_bytes", "memory_source"]
    if "peak_memory_bytes" not in summary_df:
        return pd.DataFrame(columns=cols)
    df = summary_df[summary_df["part"].eq("generation") & _num(summary_df, "peak_memory_bytes").notna()]
    df = df.reindex(columns=cols)
    order = ["host", "device", "impl", "phase", "strategy", "env", "num_evals", "popsize"]
    return df.sort_values(order, kind="stable").reset_index(drop=True)


def scaling(summary_df: pd.DataFrame) -> pd.DataFrame:
    """Strong- and weak-scaling series: throughput, speedup and parallel efficiency by device count.

    One row per (mode, runtime whole-generation row of a ``scaling`` series of that mode,
    ``extra_info.scaling`` = ``"strong"`` or ``"weak"``) with a 1-device reference: the
    same case on one device of the same host and platform (:data:`SCALING_KEY`), with the
    same population size (strong) or the same population per device (weak; the 1-device
    popsize equals it). Where several 1-device rows qualify, the one of the same series,
    then the lowest device id. With throughput T = env steps/s:

    - ``speedup`` = T(n) / T(1) (strong scaling: Amdahl's fixed problem; weak scaling:
      Gustafson's scaled problem, so the ideal is n in both), and
    - ``efficiency`` = T(n) / (n * T(1)) (1 = perfect scaling),

    as in e.g. Hager & Wellein, *Introduction to High Performance Computing for Scientists
    and Engineers* (2010), sec. 5.2. Rows without env steps or without a reference are left out.
    """
    cols = ["mode", "device_label", "host", "platform", "device", "num_devices", "num_processes", "impl", "strategy",
            "env", "popsize", "popsize_per_device", "num_evals", "hidden", "episode_length", "unroll",
            "series_popsize", "env_steps_per_s", "ref_env_steps_per_s", "speedup", "efficiency", "median"]
    if "scaling" not in summary_df or summary_df["scaling"].isna().all():
        return pd.DataFrame(columns=cols)
    df = summary_df[summary_df["phase"].eq("runtime") & summary_df["part"].eq("generation")].copy()
    df["num_devices"] = _num(df, "num_devices").fillna(1)
    df["num_processes"] = _num(df, "num_processes").fillna(1)
    ppd = _num(df, "popsize_per_device")
    df["popsize_per_device"] = ppd.fillna(_num(df, "popsize") / df["num_devices"])
    df["_modes"] = df["scaling"].map(lambda m: set() if pd.isna(m) else set(str(m).split(",")))
    df["_key"] = key_strings(df, SCALING_KEY)
    single = df[df["num_devices"].eq(1) & _num(df, "env_steps_per_s").gt(0)]
    out = []
    for mode in SCALING_MODES:
        series = df[df["_modes"].map(lambda m, mode=mode: mode in m)]
        for _, r in series.iterrows():
            pop = r["popsize"] if mode == "strong" else r["popsize_per_device"]
            cand = single[single["_key"].eq(r["_key"]) & _num(single, "popsize").eq(float(pop))]
            if cand.empty or pd.isna(r.get("env_steps_per_s")):
                continue
            cand = cand.assign(_other=~cand["_modes"].map(lambda m, mode=mode: mode in m))
            ref = cand.sort_values(["_other", "device"], kind="stable").iloc[0]
            t, t1, n = float(r["env_steps_per_s"]), float(ref["env_steps_per_s"]), float(r["num_devices"])
            out.append({**{c: r.get(c, np.nan) for c in cols if c in r}, "mode": mode, "series_popsize": pop,
                        "ref_env_steps_per_s": t1, "speedup": t / t1, "efficiency": t / (n * t1)})
    res = pd.DataFrame(out, columns=cols)
    order = ["mode", "host", "platform", "impl", "strategy", "env", "num_evals", "hidden", "episode_length",
             "unroll", "series_popsize", "num_devices", "device"]
    return res.sort_values(order, kind="stable", na_position="last").reset_index(drop=True)
