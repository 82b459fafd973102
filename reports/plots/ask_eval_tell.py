"""The breakdown figure: the shares of ask, eval and tell (each timed alone, ``pytest bench
--es-breakdown``) in their sum, per case and device, with the absolute times."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import Patch

from reports import formatting as fmt
from reports.plots.axes import generation_rows, variant_label
from reports.plots.style import title_with_machines


def breakdown(summary, style):
    d = summary[summary["phase"].eq("runtime") & summary["part"].isin(["ask", "eval", "tell"])]
    if d.empty:
        return "no ask/eval/tell breakdown rows (run pytest bench --es-breakdown)"
    case = ["device_label", "host", "device", "impl", "strategy", "env", "popsize", "num_evals"]
    case += [c for c in ("hidden", "episode_length") if c in d and d[c].notna().all()]
    wide = d.pivot_table(index=case, columns="part", values="median", aggfunc="first").dropna(
        subset=[p for p in ("ask", "eval", "tell")], how="any") if {"ask", "eval", "tell"} <= set(d["part"]) else None
    if wide is None or wide.empty:
        return "no case has all three of ask, eval and tell"
    wide = wide.reset_index()
    gen = generation_rows(summary, "runtime").set_index(case)["median"]
    wide["generation"] = [gen.get(tuple(r), np.nan) for r in wide[case].itertuples(index=False)]
    wide["total"] = wide[["ask", "eval", "tell"]].sum(axis=1)
    wide["panel"] = wide["strategy"].astype(str) + " · " + wide["env"].astype(str) + variant_label(wide)
    panels = sorted(wide["panel"].unique())
    n_bars = [int((wide["panel"] == p).sum()) for p in panels]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(10, 1.2 + sum(0.55 * n + 0.9 for n in n_bars)), squeeze=False,
        gridspec_kw={"height_ratios": n_bars}, sharex=True,
    )
    colors = dict(zip(("ask", "eval", "tell"), sns.color_palette("Set2", 3)))
    order = list(style.palette)
    for ax, p in zip(axes[:, 0], panels):
        w = wide[wide["panel"] == p].copy()
        w["_o"] = w["device_label"].map(order.index)
        w = w.sort_values(["_o", "impl", "popsize", "num_evals"], ascending=False)
        ylab = [f"{r.device_label}{'' if r.impl == 'esperf' else ' · ' + r.impl}\npop {r.popsize:g} · {r.num_evals:g} evals"
                for r in w.itertuples()]
        y = np.arange(len(w))
        left = np.zeros(len(w))
        for part in ("ask", "eval", "tell"):
            share = 100.0 * w[part].to_numpy() / w["total"].to_numpy()
            ax.barh(y, share, left=left, color=colors[part], edgecolor="white", height=0.7, label=part)
            for yi, l, s in zip(y, left, share):
                if s >= 7:
                    ax.text(l + s / 2, yi, f"{s:.0f}%", ha="center", va="center", fontsize=9)
            left += share
        for yi, r in zip(y, w.itertuples()):
            text = f"Σ {fmt.seconds(r.total)}"
            if not pd.isna(r.generation):
                text += f"\ngeneration {fmt.seconds(r.generation)}"
            ax.text(101.5, yi, text, va="center", ha="left", fontsize=9, clip_on=False)
        ax.set_yticks(y, ylab)
        ax.set_xlim(0, 100)
        ax.set_title(p, fontsize=11, loc="left")
        ax.grid(axis="y", visible=False)
    axes[-1, 0].set_xlabel("share of ask + eval + tell time [%] (medians; each part timed alone)")
    handles = [Patch(color=colors[k], label=k) for k in colors]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False)
    fig.tight_layout()
    title_with_machines(fig, "Where the time of a generation goes: ask / eval / tell", style)
    return fig
