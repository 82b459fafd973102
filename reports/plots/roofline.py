"""The roofline figure: per machine and device, each runtime case's achieved FLOP/s at its
arithmetic intensity under the device's measured roofs (the table: :func:`reports.roofline.roofline`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from reports import formatting as fmt
from reports import stability
from reports.plots.axes import count_label, nice_log_axis
from reports.plots.style import UNSTABLE_GID, Style, title_with_machines, unstable_mask


def roofline_plot(roof: pd.DataFrame, style: Style):
    """One log-log panel per machine and device (:func:`reports.roofline.roofline`): the roofs
    (copy bandwidth x intensity up to the ridge, then the matmul FLOP/s; dotted: the ridge point)
    and each whole-generation runtime case's achieved FLOP/s at its arithmetic intensity, one colour
    per strategy, labelled with its population size; an unstable case hollow."""
    if roof.empty:
        return "no runtime case has bytes_accessed and a measured peak of its device (pytest bench --es-peak-flops auto)"
    d = roof.copy()
    d["panel"] = d["device_label"].astype(str)
    panels = list(dict.fromkeys(d.sort_values(["host", "device"])["panel"]))
    strategies = sorted(d["strategy"].astype(str).unique())
    colors = dict(zip(strategies, sns.color_palette("colorblind" if len(strategies) <= 10 else "husl", len(strategies))))
    ncol = min(3, len(panels))
    nrow = -(-len(panels) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.9 * nrow), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels):
        p = d[d["panel"].eq(panel)]
        matmul, copy = float(p["matmul_flops_per_s"].iloc[0]), float(p["copy_bytes_per_s"].iloc[0])
        ridge = matmul / copy
        xs = pd.concat([p["intensity"], pd.Series([ridge])]).astype(float)
        x = np.geomspace(xs.min() / 4, xs.max() * 4, 200)
        ax.plot(x, np.minimum(matmul, copy * x), color="0.25", lw=1.8, gid="roof")
        ax.axvline(ridge, color="0.45", ls=":", lw=1.1)
        for strategy, s in p.groupby("strategy", sort=True):
            shaky = unstable_mask(s)
            c = colors[str(strategy)]
            ax.plot(s["intensity"][~shaky], s["flops_per_s"][~shaky], ls="", marker="o", ms=6, color=c)
            if shaky.any():
                ax.plot(s["intensity"][shaky], s["flops_per_s"][shaky], ls="", marker="o", ms=6, mfc="white",
                        mec=c, mew=1.5, gid=UNSTABLE_GID)
            for r in s.itertuples():
                ax.annotate(count_label(r.popsize), (r.intensity, r.flops_per_s), textcoords="offset points",
                            xytext=(4, -9), fontsize=7, color=c)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ys = pd.concat([p["flops_per_s"], pd.Series([matmul, copy * x.min()])]).astype(float)
        ax.set_ylim(ys.min() / 3, matmul * 3)
        nice_log_axis(ax.yaxis, ys.min() / 3, matmul * 3, compact=True)
        nice_log_axis(ax.xaxis, float(x.min()), float(x.max()))
        ax.set_xlabel("arithmetic intensity [FLOP / byte]")
        ax.set_ylabel("FLOP / s")
        entry = str(p["peak_entry"].iloc[0])
        ax.set_title(f"{panel}\nroofs ({entry}): {fmt.count_unit(matmul, 'FLOP/s')}, {fmt.count_unit(copy, 'B/s')}; "
                     f"ridge {ridge:.3g} FLOP/B", fontsize=9, loc="left")
        ax.grid(True, which="major", color="0.85", lw=0.7)
    handles = [Line2D([], [], ls="", marker="o", color=colors[k], label=k) for k in strategies]
    handles += [Line2D([], [], color="0.25", lw=1.8, label="roof: min(matmul, copy × intensity)"),
                Line2D([], [], color="0.45", ls=":", lw=1.1, label="ridge point (matmul / copy)")]
    if unstable_mask(d).any():
        handles.append(Line2D([], [], ls="", marker="o", ms=6, mfc="white", mec="0.25", mew=1.5,
                              label=f"hollow: unstable figure (see '{stability.HEADING}')"))
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(3, len(handles)),
               frameon=False)
    fig.tight_layout()
    title_with_machines(fig, "Roofline per device: achieved FLOP/s at each case's arithmetic intensity (XLA cost analysis: "
           "FLOPs / bytes accessed) under the measured roofs", style)
    return fig
