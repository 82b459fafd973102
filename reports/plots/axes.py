"""What the figures of :mod:`reports.plots` share on their axes and panels: readable ticks of a
log axis, counts as tick labels, the panel names (env, evals and the settings that differ) and the
whole-generation rows of a phase, which most figures draw."""
from __future__ import annotations

import matplotlib.ticker
import numpy as np
import pandas as pd

from reports import formatting as fmt


def count_label(x: float) -> str:
    """A count on a plot (ticks, cells): no space before the unit prefix, ``1.5k``."""
    return fmt.count(x, sep="")


def variant_label(df: pd.DataFrame, ref: pd.DataFrame | None = None) -> pd.Series:
    """" · h48 · 200 steps" where the hidden size / episode length differ across ``ref`` (else "")."""
    ref = df if ref is None else ref
    out = pd.Series("", index=df.index, dtype=object)
    for col, pattern in (("hidden", "h{:g}"), ("episode_length", "{:g} steps")):
        if col in df and col in ref and ref[col].nunique(dropna=False) > 1:
            out = out + df[col].map(lambda v: "" if pd.isna(v) else " · " + pattern.format(float(v)))
    return out


def panel_label(df: pd.DataFrame, ref: pd.DataFrame | None = None) -> pd.Series:
    """A panel's name per row: "Pendulum-v1 · 50 evals" and the settings that differ across ``ref``."""
    return (df["env"].astype(str) + " · " + df["num_evals"].map(lambda v: f"{v:g}") + " evals"
            + variant_label(df, ref))


def _tick(v: float, unit: str = "") -> str:
    if not (v > 0 and np.isfinite(v)):
        return ""
    if v >= 1e4 or v < 1e-3:
        exp = int(np.floor(np.log10(v) + 1e-9))
        mant = v / 10**exp
        text = f"$10^{{{exp}}}$" if abs(mant - 1) < 1e-6 else f"${mant:g}\\times10^{{{exp}}}$"
        return text + unit
    return f"{v:g}{unit}"


def nice_log_axis(axis, lo: float, hi: float, unit: str = "", compact: bool = False) -> None:
    """Readable ticks for a log axis whose data span ``lo``..``hi``: decades for wide spans,
    1-2-5 or 1-1.5-2-3-5-7 steps for a few decades, evenly spaced round values within one."""
    if not (lo > 0 and hi > 0):
        return
    span = np.log10(max(hi, lo * 1.0001) / lo)
    if span < 0.5:  # less than half a decade: evenly spaced round values
        axis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    else:
        subs = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if span < 1.0 else (1.0, 2.0, 5.0) if span < 2.5 else (1.0,)
        axis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=subs, numticks=30))
    label = (lambda v, _: count_label(v) + unit) if compact else (lambda v, _: _tick(v, unit))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(label))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def spaced_ticks(values, min_ratio: float = 1.6) -> list[float]:
    """The values that get a tick on a log axis: powers of ten first, then the rest in
    ascending order, each kept only if at least ``min_ratio`` away from every kept one
    (so that labels such as 800 and 1k never overlap)."""
    vals = sorted({float(v) for v in values if v > 0})
    decade = [v for v in vals if abs(np.log10(v) - round(np.log10(v))) < 1e-9]
    kept: list[float] = []
    for v in decade + [v for v in vals if v not in decade]:
        if all(max(v, k) / min(v, k) >= min_ratio for k in kept):
            kept.append(v)
    return sorted(kept)


def generation_rows(summary: pd.DataFrame, phase: str) -> pd.DataFrame:
    """The whole-generation rows of ``phase`` (``runtime`` or ``compile``), a copy."""
    return summary[summary["phase"].eq(phase) & summary["part"].eq("generation")].copy()
