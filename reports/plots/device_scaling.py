"""The scaling figures: env steps/s and parallel efficiency vs number of devices, strong (a fixed
population) and weak (a fixed population per device); the series: :func:`reports.tables.scaling`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from reports import tables
from reports.plots.axes import nice_log_axis, variant_label
from reports.plots.style import title_with_machines


def _scaling_panel(df: pd.DataFrame, mode: str) -> pd.Series:
    pop = df["series_popsize"].map(lambda v: f"pop {v:g}" + ("" if mode == "strong" else " per device"))
    impl = df["impl"].map(lambda v: "" if v == "esperf" else f" · {v}")
    return (df["strategy"].astype(str) + " · " + df["env"].astype(str) + " · "
            + df["num_evals"].map(lambda v: f"{v:g}") + " evals" + variant_label(df) + impl + "\n" + pop)


def scaling(summary, style, mode: str):
    """Env steps/s and parallel efficiency vs number of devices (:func:`reports.tables.scaling`),
    one panel pair per case, one line per host and platform; dashed: ideal (linear) scaling."""
    d = tables.scaling(summary)
    d = d[d["mode"].eq(mode)].copy()
    if d.empty or d["num_devices"].nunique() < 2:
        return (f"no {mode}-scaling series (rows with extra_info.scaling = {mode!r} on two or more device "
                "counts, with a 1-device reference)")
    d["series"] = d["host"].astype(str) + " · " + d["platform"].astype(str)
    d["panel"] = _scaling_panel(d, mode)
    d["efficiency_pct"] = 100.0 * d["efficiency"]
    series = list(dict.fromkeys(d.sort_values(["host", "platform"])["series"]))
    colors = dict(zip(series, sns.color_palette("colorblind" if len(series) <= 10 else "husl", len(series))))
    panels = list(dict.fromkeys(d["panel"]))
    fig, axes = plt.subplots(len(panels), 2, figsize=(10.5, 3.4 * len(panels) + 0.6), squeeze=False)
    ns = sorted(d["num_devices"].unique())
    for (ax_t, ax_e), panel in zip(axes, panels):
        p = d[d["panel"].eq(panel)]
        for name, s in p.groupby("series", sort=False):
            s = s.sort_values("num_devices")
            ideal = s["ref_env_steps_per_s"].iloc[0] * s["num_devices"]
            ax_t.plot(s["num_devices"], ideal, color=colors[name], ls="--", lw=1.1, alpha=0.8)
        sns.lineplot(data=p, x="num_devices", y="env_steps_per_s", hue="series", palette=colors, marker="o",
                     markersize=7, lw=2, ax=ax_t, legend=False, errorbar=None)
        sns.lineplot(data=p, x="num_devices", y="efficiency_pct", hue="series", palette=colors, marker="o",
                     markersize=7, lw=2, ax=ax_e, legend=False, errorbar=None)
        ax_e.axhline(100.0, color="0.35", ls="--", lw=1.1, zorder=0)
        ax_t.set_yscale("log")
        t = pd.concat([p["env_steps_per_s"], p["ref_env_steps_per_s"] * p["num_devices"]])
        nice_log_axis(ax_t.yaxis, float(t.min()), float(t.max()), compact=True)
        ax_e.set_ylim(0, max(110.0, float(p["efficiency_pct"].max()) * 1.08))
        ax_e.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}%"))
        for ax in (ax_t, ax_e):
            ax.set_xscale("log", base=2)
            ax.set_xlim(min(ns) / 1.3, max(ns) * 1.3)
            ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ns))
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel("number of devices")
            ax.grid(True, which="major", color="0.85", lw=0.7)
        ax_t.set_ylabel("env steps / s")
        ax_e.set_ylabel("parallel efficiency")
        ax_t.set_title(panel, fontsize=10, loc="left")
        ax_e.set_title("throughput / (n × 1-device throughput)", fontsize=10, loc="left")
    handles = [Line2D([], [], color=colors[s], marker="o", lw=2, label=s) for s in series]
    handles.append(Line2D([], [], color="0.35", ls="--", lw=1.1, label="ideal (linear) scaling"))
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(3, len(handles)),
               frameon=False)
    fig.tight_layout()
    what = ("fixed population, more devices" if mode == "strong"
            else "fixed population per device, more devices")
    title_with_machines(fig, f"{mode.capitalize()} scaling ({what}): throughput and parallel efficiency", style)
    return fig


def scaling_strong(summary, style):
    return scaling(summary, style, "strong")


def scaling_weak(summary, style):
    return scaling(summary, style, "weak")
