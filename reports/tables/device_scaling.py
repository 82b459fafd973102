"""Strong- and weak-scaling series: each sharded runtime row with its 1-device reference,
speedup and parallel efficiency."""
from __future__ import annotations

import numpy as np
import pandas as pd

from reports.load import key_strings
from reports.tables.columns import as_numbers


# The 1-device reference of a scaling row (Amdahl/Gustafson speedup and parallel efficiency):
# the same host, platform and case on one device; the population size matched apart
# (strong scaling: the same popsize; weak scaling: the same popsize per device).
SCALING_KEY = ("host", "platform", "impl", "strategy", "env", "num_evals", "hidden", "episode_length", "unroll")
SCALING_MODES = ("strong", "weak")


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
    df["num_devices"] = as_numbers(df, "num_devices").fillna(1)
    df["num_processes"] = as_numbers(df, "num_processes").fillna(1)
    ppd = as_numbers(df, "popsize_per_device")
    df["popsize_per_device"] = ppd.fillna(as_numbers(df, "popsize") / df["num_devices"])
    df["_modes"] = df["scaling"].map(lambda m: set() if pd.isna(m) else set(str(m).split(",")))
    df["_key"] = key_strings(df, SCALING_KEY)
    single = df[df["num_devices"].eq(1) & as_numbers(df, "env_steps_per_s").gt(0)]
    out = []
    for mode in SCALING_MODES:
        series = df[df["_modes"].map(lambda m, mode=mode: mode in m)]
        for _, r in series.iterrows():
            pop = r["popsize"] if mode == "strong" else r["popsize_per_device"]
            cand = single[single["_key"].eq(r["_key"]) & as_numbers(single, "popsize").eq(float(pop))]
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
