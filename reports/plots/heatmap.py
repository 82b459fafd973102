"""The heatmap of env steps/s over population size x evals, one panel per device (and
implementation) and strategy x env, failed cases marked."""
from __future__ import annotations

import warnings

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import LogNorm

from reports.plots.axes import count_label, generation_rows, nice_log_axis, variant_label
from reports.plots.style import title_with_machines


def _row_label(df: pd.DataFrame) -> pd.Series:
    return df["device_label"].astype(str) + np.where(df["impl"].eq("esperf"), "", " · " + df["impl"].astype(str))


def env_steps_heatmap(summary, style):
    d = generation_rows(summary, "runtime")
    d = d[d["env_steps_per_s"].notna() & (d["env_steps_per_s"] > 0)] if "env_steps_per_s" in d else d.iloc[0:0]
    if d.empty:
        return "no runtime results with env_steps"
    if d["popsize"].nunique() < 2 and d["num_evals"].nunique() < 2:
        return "one population size and one evals value only: nothing to map"
    d["row"] = _row_label(d)
    d["col"] = d["strategy"].astype(str) + " · " + d["env"].astype(str) + variant_label(d)
    failed = style.failed[style.failed["phase"].eq("runtime") & style.failed["part"].eq("generation")].copy()
    failed["row"] = _row_label(failed) if not failed.empty else pd.Series(dtype=str)
    failed["col"] = failed["strategy"].astype(str) + " · " + failed["env"].astype(str)
    rows = [r for r in dict.fromkeys(_row_label(summary.sort_values(["host", "device", "impl"]))) if r in set(d["row"])]
    cols = sorted(d["col"].unique())
    pops = sorted(d["popsize"].unique())
    evals = sorted(d["num_evals"].unique(), reverse=True)
    norm = LogNorm(vmin=d["env_steps_per_s"].min(), vmax=d["env_steps_per_s"].max())
    if norm.vmin == norm.vmax:
        norm = LogNorm(vmin=norm.vmin / 2, vmax=norm.vmax * 2)
    cell_w, cell_h = 0.95, 0.5
    w = len(cols) * (len(pops) * cell_w + 1.4) + 1.2
    h = len(rows) * (len(evals) * cell_h + 1.5)
    # No layout engine while the panels are drawn: seaborn's heatmap draws the whole figure
    # once per panel (to check its tick labels for overlap), and a constrained layout would
    # be solved each time -- quadratic in the panels (14 panels: 17 s). Laid out once, below.
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(w, h), squeeze=False)
    cmap = sns.color_palette("viridis", as_cmap=True)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            ax = axes[i, j]
            cell = d[(d["row"] == r) & (d["col"] == c)]
            grid = cell.pivot_table(index="num_evals", columns="popsize", values="env_steps_per_s", aggfunc="first")
            grid = grid.reindex(index=evals, columns=pops)
            annot = grid.map(lambda v: "" if pd.isna(v) else count_label(v))
            ax.set_facecolor("0.93")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN panels
                sns.heatmap(grid, ax=ax, norm=norm, cmap=cmap, cbar=False, annot=annot, fmt="",
                            linewidths=0.8, linecolor="white", annot_kws={"fontsize": 9})
            for f in failed[(failed["row"] == r) & (failed["col"] == c)].itertuples():
                if f.popsize in pops and f.num_evals in evals:
                    ax.text(pops.index(f.popsize) + 0.5, evals.index(f.num_evals) + 0.5, "failed",
                            ha="center", va="center", fontsize=9, color="#b2182b", fontweight="bold")
            ax.set_xticklabels([count_label(p) for p in pops], rotation=0)
            ax.set_yticklabels([f"{e:g}" for e in evals], rotation=0)
            ax.set_xlabel("population size")
            ax.set_ylabel("evals per member" if j == 0 else "")
            ax.set_title(f"{r}\n{c}", fontsize=10)
            if cell.empty:
                ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes, color="0.4")
    fig.set_layout_engine("constrained")
    sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
    cbar = fig.colorbar(sm, ax=axes, label="env steps / s", shrink=0.9, aspect=30)
    nice_log_axis(cbar.ax.yaxis, norm.vmin, norm.vmax)
    cbar.ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: count_label(v)))
    title_with_machines(fig, "Env steps per second by population size × evals (runtime, median)", style)
    return fig
