"""The failed cases: the table of a run's failures, and the same cases with the device labels of
the summary (the figures mark them)."""
from __future__ import annotations

import pandas as pd

from reports.load import Results


def failed(res: Results) -> pd.DataFrame:
    """The failed cases of every file: host, device, case fields, error, name, file first, then the rest."""
    cols = ["host", "device", "impl", "part", "phase", "strategy", "env", "popsize", "num_evals", "error", "name", "file"]
    df = res.failed
    if df.empty:
        return pd.DataFrame(columns=cols)
    return df[[c for c in cols if c in df] + [c for c in df if c not in cols]]


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
