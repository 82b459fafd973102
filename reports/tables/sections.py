"""The tables and one-line notes of the report's sections, each derived from the summary: best
device per case, esperf against peer implementations, unstable figures, energy, compile rounds
that reused autotuning, memory per case."""
from __future__ import annotations

import numpy as np
import pandas as pd

from reports import energy, stability
from reports.load import CASE_FIELDS, key_text
from reports.tables.columns import as_numbers, key_frame
from reports.tables.failures import failed_labels


def best_devices(summary_df: pd.DataFrame, failed_df: pd.DataFrame | None = None) -> pd.DataFrame:
    """For every runtime case (whole generation): the fastest device and how much faster than the next."""
    df = summary_df[summary_df["phase"].eq("runtime") & summary_df["part"].eq("generation")]
    case_cols = [c for c in CASE_FIELDS if c in df and c not in ("phase", "part")]
    fl = failed_labels(summary_df, failed_df)
    fl = fl[fl["phase"].eq("runtime") & fl["part"].eq("generation")]
    fkeys = key_frame(fl, ["impl", "strategy", "env", "popsize", "num_evals"]).apply(tuple, axis=1) if not fl.empty else []
    failed_on: dict[tuple, list[str]] = {}
    for k, lab in zip(fkeys, fl["device_label"]):
        failed_on.setdefault(k, []).append(lab)
    out = []
    for _, g in df.groupby(key_frame(df, case_cols).apply(tuple, axis=1), sort=False):
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
    for _, g in df.groupby(key_frame(df, case_cols).apply(tuple, axis=1), sort=False):
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
                    & as_numbers(summary_df, energy.ENERGY).notna()]
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
    missing = runtime[as_numbers(runtime, energy.ENERGY).isna() & runtime[energy.UNAVAILABLE].map(
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
    df = summary_df[summary_df["part"].eq("generation") & as_numbers(summary_df, "peak_memory_bytes").notna()]
    df = df.reindex(columns=cols)
    order = ["host", "device", "impl", "phase", "strategy", "env", "num_evals", "popsize"]
    return df.sort_values(order, kind="stable").reset_index(drop=True)
