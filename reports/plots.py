"""The report's figures: seaborn on matplotlib's Agg backend, each saved as PNG and SVG.

Every figure function takes the summary table (:func:`reports.tables.summary`) and a
:class:`Style` and returns a matplotlib Figure, or a string saying why there is nothing
to plot (the report then notes the plot as skipped). The figures of runtime rounds
(runtime, env steps/s, speedup, FLOP/s, % of peak) draw an unstable case's point
(:mod:`reports.stability`) with a hollow marker, every other point filled.
"""
from __future__ import annotations

import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, same output everywhere

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import matplotlib.transforms  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from reports import formatting as fmt  # noqa: E402
from reports import energy, stability, tables  # noqa: E402

DPI = 200
UNSTABLE_GID = "unstable"  # the gid of the hollow markers of unstable cases (the tests find them by it)
IMPL_STYLE = {"esperf": ("-", "o"), "evosax": ("--", "s")}
_EXTRA_STYLES = [(":", "^"), ("-.", "D"), ((0, (5, 1)), "v")]


@dataclass
class Style:
    """What every figure shares: one colour per device label, the machines for titles."""

    palette: dict[str, tuple]
    machines: str  # "laptop: cpu; gpu-box: cpu, NVIDIA H100 80GB HBM3"
    impls: list[str]
    failed: pd.DataFrame  # failed cases with a device_label, marked in the figures

    def impl_style(self, impl: str):
        if impl in IMPL_STYLE:
            return IMPL_STYLE[impl]
        others = [i for i in self.impls if i not in IMPL_STYLE]
        return _EXTRA_STYLES[others.index(impl) % len(_EXTRA_STYLES)] if impl in others else ("-", "o")


def set_theme() -> None:
    """seaborn's theme of every figure of :mod:`reports` (the report's and history's): paper context,
    white grid, larger fonts, reproducible SVG ids."""
    sns.set_theme(
        context="paper",
        style="whitegrid",
        font_scale=1.35,
        rc={
            "axes.titlesize": 11,
            "axes.labelsize": 11,
            "legend.fontsize": 10,
            "grid.linewidth": 0.6,
            "grid.color": "0.88",
            "axes.edgecolor": "0.35",
            "svg.hashsalt": "esperf",  # reproducible SVG ids
        },
    )


def make_style(summary: pd.DataFrame, failed: pd.DataFrame | None = None) -> Style:
    set_theme()
    labels = list(dict.fromkeys(summary.sort_values(["host", "device"])["device_label"]))
    colors = sns.color_palette("colorblind" if len(labels) <= 10 else "husl", len(labels))
    palette = dict(zip(labels, colors))
    for lab in tables.failed_labels(summary, failed)["device_label"]:  # devices where everything failed
        palette.setdefault(lab, (0.4, 0.4, 0.4))
    parts = []
    for host, g in summary.groupby("host", sort=True):
        kinds = list(dict.fromkeys(g.sort_values("device")["device_kind"].astype(str)))
        parts.append(f"{host}: {', '.join(kinds)}")
    impls = list(dict.fromkeys(["esperf", *sorted(summary["impl"].astype(str).unique())]))
    impls = [i for i in impls if i in set(summary["impl"].astype(str))]
    return Style(palette=palette, machines="; ".join(parts), impls=impls, failed=tables.failed_labels(summary, failed))


def _title(fig, title: str, style: Style) -> None:
    sub = textwrap.fill("machines / devices — " + style.machines, width=120)
    fig.suptitle(f"{title}\n{sub}", y=1.0, va="bottom", fontsize=12)


def _count(x: float) -> str:
    """A count on a plot (ticks, cells): no space before the unit prefix, ``1.5k``."""
    return fmt.count(x, sep="")


def _variant(df: pd.DataFrame, ref: pd.DataFrame | None = None) -> pd.Series:
    """" · h48 · 200 steps" where the hidden size / episode length differ across ``ref`` (else "")."""
    ref = df if ref is None else ref
    out = pd.Series("", index=df.index, dtype=object)
    for col, pattern in (("hidden", "h{:g}"), ("episode_length", "{:g} steps")):
        if col in df and col in ref and ref[col].nunique(dropna=False) > 1:
            out = out + df[col].map(lambda v: "" if pd.isna(v) else " · " + pattern.format(float(v)))
    return out


def _panel(df: pd.DataFrame, ref: pd.DataFrame | None = None) -> pd.Series:
    return (df["env"].astype(str) + " · " + df["num_evals"].map(lambda v: f"{v:g}") + " evals"
            + _variant(df, ref))


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
    label = (lambda v, _: _count(v) + unit) if compact else (lambda v, _: _tick(v, unit))
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


def line_facets(
    df: pd.DataFrame, y: str, lo: str, hi: str, ylabel: str, title: str, style: Style, ref: float | None = None,
    phase: str = "runtime", y_unit: str = "", compact: bool = False, mark_unstable: bool = False,
):
    """``y`` vs population size (log-log), one line per device label, IQR band ``lo``..``hi``;
    rows: strategy, columns: env and evals. Failed cases of ``phase`` are marked with x on the axis.

    ``mark_unstable``: a case whose ``unstable`` cell names a reason (:mod:`reports.stability`)
    gets a hollow marker (white inside, gid :data:`UNSTABLE_GID`), every other point a filled one."""
    df = df.dropna(subset=[y, "popsize"]).copy()
    df = df[df[y] > 0]
    if df.empty:
        return "no positive values to plot"
    df["panel"] = _panel(df)
    ordered = df.sort_values(["env", "num_evals"] + [c for c in ("hidden", "episode_length") if c in df])
    col_order = list(dict.fromkeys(ordered["panel"]))
    fail = style.failed[style.failed["phase"].eq(phase) & style.failed["part"].eq("generation")].copy()
    fail = fail[fail["strategy"].isin(df["strategy"]) & fail["impl"].isin(df["impl"])]
    fail["panel"] = (fail["env"].astype(str) + " · " + fail["num_evals"].map(lambda v: f"{v:g}") + " evals"
                     if not fail.empty else pd.Series(dtype=str))
    if _variant(df).ne("").any():  # failed cases name no hidden size / length: mark them on every match
        fail = fail.merge(df[["panel", "env", "num_evals"]].drop_duplicates(), on=["env", "num_evals"],
                          suffixes=("_x", ""))
    row_order = sorted(df["strategy"].astype(str).unique())
    g = sns.FacetGrid(
        df, row="strategy", col="panel", row_order=row_order, col_order=col_order, height=3.1, aspect=1.3,
        margin_titles=True, sharex=True, sharey=True, despine=False,
    )
    multi_impl = df["impl"].nunique() > 1
    banded = bool(df[lo].notna().any())

    def draw(data, **_):
        ax = plt.gca()
        for (label, impl), s in data.groupby(["device_label", "impl"], sort=True):
            s = s.sort_values("popsize")
            color = style.palette[label]
            ls, marker = style.impl_style(impl)
            if s[lo].notna().any():
                ax.fill_between(s["popsize"], s[lo], s[hi], color=color, alpha=0.22, lw=0)
            shaky = unstable_mask(s) if mark_unstable else np.zeros(len(s), dtype=bool)
            # the line keeps every point (its data is the figure); only the stable ones get a filled marker
            ax.plot(s["popsize"], s[y], color=color, ls=ls, marker=marker, ms=5, lw=1.8, markevery=~shaky)
            if shaky.any():
                ax.plot(s["popsize"][shaky], s[y][shaky], ls="", marker=marker, ms=6, mfc="white", mec=color,
                        mew=1.5, zorder=4, gid=UNSTABLE_GID)
        if ref is not None:
            ax.axhline(ref, color="0.35", ls=":", lw=1.2, zorder=0)
        if not data.empty and not fail.empty:
            here = fail[fail["panel"].eq(data["panel"].iloc[0]) & fail["strategy"].eq(data["strategy"].iloc[0])]
            trans = matplotlib.transforms.blended_transform_factory(ax.transData, ax.transAxes)
            for r in here.itertuples():
                ax.plot([r.popsize], [0.045], transform=trans, marker="X", ms=9, color=style.palette[r.device_label],
                        mec="black", mew=0.6, clip_on=False, zorder=5)

    g.map_dataframe(draw)
    g.set(xscale="log", yscale="log")
    # failed popsizes inside the x range too
    xs = np.concatenate([df["popsize"].to_numpy(float), fail["popsize"].to_numpy(float)])
    g.set(xlim=(xs.min() / 1.6, xs.max() * 1.6))
    g.set_axis_labels("population size", ylabel)
    g.set_titles(row_template="{row_name}", col_template="{col_name}")
    for ax in g.axes.flat:
        ax.grid(True, which="major", color="0.85", lw=0.7)
        ax.grid(True, which="minor", color="0.94", lw=0.4)
    values = pd.concat([df[y], df[lo], df[hi]]).astype(float)
    values = values[np.isfinite(values) & (values > 0)]
    if ref is not None:
        values = pd.concat([values, pd.Series([ref])])
    nice_log_axis(g.axes.flat[0].yaxis, values.min(), values.max(), y_unit, compact)
    pops = sorted(set(df["popsize"].astype(float)) | set(fail["popsize"].astype(float)))
    g.axes.flat[0].xaxis.set_major_locator(matplotlib.ticker.FixedLocator(spaced_ticks(pops)))
    g.axes.flat[0].xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: _count(v)))
    g.axes.flat[0].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    labels = [lab for lab in style.palette if lab in set(df["device_label"])]
    handles = [Line2D([], [], color=style.palette[lab], marker="o", lw=2, label=lab) for lab in labels]
    if multi_impl:
        for impl in [i for i in style.impls if i in set(df["impl"])]:
            ls, marker = style.impl_style(impl)
            handles.append(Line2D([], [], color="0.25", ls=ls, marker=marker, lw=1.5, label=f"impl: {impl}"))
    if banded:
        handles.append(Patch(color="0.6", alpha=0.35, label="IQR (q1–q3 of the rounds)"))
    if ref is not None:
        handles.append(Line2D([], [], color="0.35", ls=":", lw=1.2, label=f"parity ({ref:g}{y_unit})"))
    if not fail.empty:
        handles.append(Line2D([], [], ls="", marker="X", ms=8, color="0.6", mec="black", mew=0.6,
                              label="failed case (see the failed table)"))
    if mark_unstable and unstable_mask(df).any():
        handles.append(Line2D([], [], ls="", marker="o", ms=6, mfc="white", mec="0.25", mew=1.5,
                              label=f"hollow: unstable figure (see '{stability.HEADING}')"))
    g.figure.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(3, len(handles)), frameon=False
    )
    g.figure.tight_layout()
    _title(g.figure, title, style)
    return g.figure


def unstable_mask(df: pd.DataFrame) -> np.ndarray:
    """Per row of ``df``: whether its ``unstable`` cell names a reason (all False without the column)."""
    if stability.KEY not in df:
        return np.zeros(len(df), dtype=bool)
    return df[stability.KEY].map(stability.is_unstable).to_numpy(dtype=bool)


def _gen(summary: pd.DataFrame, phase: str) -> pd.DataFrame:
    return summary[summary["phase"].eq(phase) & summary["part"].eq("generation")].copy()


def runtime_vs_popsize(summary, style):
    d = _gen(summary, "runtime")
    if d.empty:
        return "no runtime-phase results"
    return line_facets(d, "median", "q1", "q3", "runtime per generation [s]",
                       "Runtime of one generation (median of the rounds)", style, mark_unstable=True)


def compile_vs_popsize(summary, style):
    d = _gen(summary, "compile")
    if d.empty:
        return "no compile-phase results"
    return line_facets(d, "median", "q1", "q3", "compile time [s]",
                       "Cold compile of one generation: trace + lower + XLA compile (median)", style, phase="compile")


def _rate_facets(summary, count: str, rate: str, missing: str, ylabel: str, title: str, style, band: bool = True):
    """A per-generation count per unit (env steps/s, FLOP/s, env steps/J); with ``band``, its band
    is count / q3 .. count / q1 (the rounds' IQR of a rate per second), else none."""
    d = _gen(summary, "runtime")
    d = d[d[rate].notna()] if rate in d else d.iloc[0:0]
    if d.empty:
        return missing
    n = pd.to_numeric(d[count])
    if band:
        d["lo"], d["hi"] = n / d["q3"], n / d["q1"]
    else:  # one energy reading per case: no spread over the rounds to draw
        d["lo"] = d["hi"] = np.nan
    return line_facets(d, rate, "lo", "hi", ylabel, title, style, compact=True, mark_unstable=True)


def env_steps_vs_popsize(summary, style):
    return _rate_facets(summary, "env_steps", "env_steps_per_s", "no runtime results with env_steps",
                        "env steps / s", "Throughput: environment steps per second of a generation", style)


def env_steps_per_joule_vs_popsize(summary, style):
    """Env steps per joule (:mod:`reports.energy`) vs population size, drawn as the env steps/s plot."""
    sources = ", ".join(energy.distinct(summary.get(energy.SOURCE, []))) or "?"
    return _rate_facets(summary, "env_steps", energy.PER_JOULE, "no runtime results with an energy reading",
                        "env steps / J", f"Energy efficiency: environment steps per joule of a generation "
                        f"(counter: {sources})", style, band=False)


def has_energy(summary) -> bool:
    """Whether any runtime case of ``summary`` has an energy reading (else the energy plot is left out)."""
    return energy.PER_JOULE in summary and bool(pd.to_numeric(summary[energy.PER_JOULE], errors="coerce").notna().any())


def speedup_points(summary: pd.DataFrame) -> pd.DataFrame:
    """The points of the speedup plot: per whole-generation runtime row, its speedup over its own
    machine's CPU (``speedup``; band ``lo``..``hi``: CPU q1 / row q3 .. CPU q3 / row q1) and the
    reference's name (``reference``). An accelerator's speedup is ``speedup_vs_cpu`` (over the whole
    CPU where the machine has one, else over cpu:0); a CPU device set of several cores has its
    ``speedup_vs_cpu0`` (the whole CPU over one core). ``label``: the device label and its reference."""
    d = _gen(summary, "runtime")
    ref = tables.cpu_reference(d)
    parts = []
    for prefix in ("cpu", "cpu0"):
        r = ref[ref[f"speedup_vs_{prefix}"].notna()]
        if prefix == "cpu0":  # accelerators keep their one reference; CPU sets of several cores get this one
            r = r[r["speedup_vs_cpu"].isna()]
        if r.empty:
            continue
        p = d.loc[r.index].copy()
        p["speedup"] = r[f"speedup_vs_{prefix}"]
        p["lo"] = r[f"{prefix}_q1"] / pd.to_numeric(p["q3"])
        p["hi"] = r[f"{prefix}_q3"] / pd.to_numeric(p["q1"])
        p["reference"] = r[f"{prefix}_reference"]
        parts.append(p)
    if not parts:
        return d.iloc[0:0].assign(speedup=[], lo=[], hi=[], reference=[], label=[])
    out = pd.concat(parts)
    out["label"] = out["device_label"].astype(str) + " over " + out["reference"].astype(str)
    return out


def speedup_vs_cpu(summary, style):
    d = speedup_points(summary)
    if d.empty:
        return "no machine has a non-CPU device (or its whole CPU) and its own CPU timed on the same case"
    # the line of a device is named with its reference; it keeps the device's colour
    palette = {**style.palette, **{lab: style.palette[dev] for lab, dev in zip(d["label"], d["device_label"])}}
    line_of = dict(zip(d["device_label"][::-1], d["label"][::-1]))  # a device's failed cases: on its first line
    failed = style.failed.assign(device_label=style.failed["device_label"].map(lambda v: line_of.get(v, v)))
    d["device_label"] = d["label"]
    named = Style(palette=palette, machines=style.machines, impls=style.impls, failed=failed)
    return line_facets(d, "speedup", "lo", "hi", "speedup over own CPU [×]",
                       "Speedup over the CPU of its own machine (runtime per generation); "
                       "each line names its CPU reference", named, ref=1.0, y_unit="×", mark_unstable=True)


def flops_vs_popsize(summary, style):
    return _rate_facets(summary, "flops", "flops_per_s",
                        "no runtime results with a FLOP count (XLA cost analysis unavailable)", "achieved FLOP/s",
                        "Achieved FLOP/s (XLA cost analysis FLOPs / median runtime)", style)


def pct_of_peak_vs_popsize(summary, style):
    d = _gen(summary, "runtime")
    d = d[d["pct_of_peak"].notna()] if "pct_of_peak" in d else d.iloc[0:0]
    if d.empty:
        return "no device's peak FLOP/s is known (give --peak-flops KIND=FLOPS)"
    scale = 100.0 * pd.to_numeric(d["flops"]) / pd.to_numeric(d["peak_flops"])
    d["lo"], d["hi"] = scale / d["q3"], scale / d["q1"]
    peaks = d.drop_duplicates(["device_label", "peak_flops"])
    peak_text = "; ".join(f"{r.device_label} = {fmt.count_unit(r.peak_flops, 'FLOP/s')}" for r in peaks.itertuples())
    return line_facets(d, "pct_of_peak", "lo", "hi", "% of peak FLOP/s",
                       f"Achieved FLOP/s as a percentage of each device's peak (peak: {peak_text})", style,
                       mark_unstable=True)


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
                ax.annotate(_count(r.popsize), (r.intensity, r.flops_per_s), textcoords="offset points",
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
    _title(fig, "Roofline per device: achieved FLOP/s at each case's arithmetic intensity (XLA cost analysis: "
           "FLOPs / bytes accessed) under the measured roofs", style)
    return fig


def memory_vs_popsize(summary, style):
    """Case memory (peak - baseline of the worker) vs population size, one line per device."""
    d = summary[summary["part"].eq("generation")].copy()
    d["case_memory_bytes"] = pd.to_numeric(d.get("case_memory_bytes"), errors="coerce")
    d = d[d["case_memory_bytes"].notna()]
    if d.empty:
        return ("no row has baseline_memory_bytes (results written before per-case memory was measured), "
                "so no case memory (peak - baseline)")
    phases = d["phase"].unique()
    d = d[d["phase"].eq("runtime")] if "runtime" in phases else d  # one value per case: the runtime worker's
    d["lo"] = d["hi"] = np.nan  # one value per case: no band
    sources = ", ".join(sorted(d["memory_source"].dropna().astype(str).unique())) if "memory_source" in d else "?"
    return line_facets(d, "case_memory_bytes", "lo", "hi", "case memory [bytes]",
                       "Memory a case needs: the worker's peak − its baseline after backend start-up "
                       f"(source: {sources})", style,
                       phase=str(d["phase"].iloc[0]), y_unit="B", compact=True)


def _scaling_panel(df: pd.DataFrame, mode: str) -> pd.Series:
    pop = df["series_popsize"].map(lambda v: f"pop {v:g}" + ("" if mode == "strong" else " per device"))
    impl = df["impl"].map(lambda v: "" if v == "esperf" else f" · {v}")
    return (df["strategy"].astype(str) + " · " + df["env"].astype(str) + " · "
            + df["num_evals"].map(lambda v: f"{v:g}") + " evals" + _variant(df) + impl + "\n" + pop)


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
    _title(fig, f"{mode.capitalize()} scaling ({what}): throughput and parallel efficiency", style)
    return fig


def scaling_strong(summary, style):
    return scaling(summary, style, "strong")


def scaling_weak(summary, style):
    return scaling(summary, style, "weak")


def _row_label(df: pd.DataFrame) -> pd.Series:
    return df["device_label"].astype(str) + np.where(df["impl"].eq("esperf"), "", " · " + df["impl"].astype(str))


def env_steps_heatmap(summary, style):
    d = _gen(summary, "runtime")
    d = d[d["env_steps_per_s"].notna() & (d["env_steps_per_s"] > 0)] if "env_steps_per_s" in d else d.iloc[0:0]
    if d.empty:
        return "no runtime results with env_steps"
    if d["popsize"].nunique() < 2 and d["num_evals"].nunique() < 2:
        return "one population size and one evals value only: nothing to map"
    d["row"] = _row_label(d)
    d["col"] = d["strategy"].astype(str) + " · " + d["env"].astype(str) + _variant(d)
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
            annot = grid.map(lambda v: "" if pd.isna(v) else _count(v))
            ax.set_facecolor("0.93")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN panels
                sns.heatmap(grid, ax=ax, norm=norm, cmap=cmap, cbar=False, annot=annot, fmt="",
                            linewidths=0.8, linecolor="white", annot_kws={"fontsize": 9})
            for f in failed[(failed["row"] == r) & (failed["col"] == c)].itertuples():
                if f.popsize in pops and f.num_evals in evals:
                    ax.text(pops.index(f.popsize) + 0.5, evals.index(f.num_evals) + 0.5, "failed",
                            ha="center", va="center", fontsize=9, color="#b2182b", fontweight="bold")
            ax.set_xticklabels([_count(p) for p in pops], rotation=0)
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
    cbar.ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: _count(v)))
    _title(fig, "Env steps per second by population size × evals (runtime, median)", style)
    return fig


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
    gen = _gen(summary, "runtime").set_index(case)["median"]
    wide["generation"] = [gen.get(tuple(r), np.nan) for r in wide[case].itertuples(index=False)]
    wide["total"] = wide[["ask", "eval", "tell"]].sum(axis=1)
    wide["panel"] = wide["strategy"].astype(str) + " · " + wide["env"].astype(str) + _variant(wide)
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
    _title(fig, "Where the time of a generation goes: ask / eval / tell", style)
    return fig


@dataclass
class HistoryLine:
    """One machine's series in a :func:`history_case` figure: x positions (commit indices on the case's
    shared axis), median, q1, q3 and the median of each point's segment per commit, and its steps as
    (x, short commit id, verdict, change text)."""

    machine: str
    x: list[int]
    median: np.ndarray
    q1: np.ndarray
    q3: np.ndarray
    level: np.ndarray
    steps: list[tuple[int, str, str, str]]


MAX_COMMIT_TICKS = 16


def history_case(lines: list[HistoryLine], commits: list[str], *, title: str, ylabel: str, tick: Callable,
                 palette: dict):
    """One case over commits (``python -m reports history``): per machine the median (line and markers)
    with its IQR band and the median of each segment between steps (a thin flat line); each step a dashed
    vertical line at its commit, labelled with the commit id and the change. x: ``commits`` (short ids,
    oldest left), at most :data:`MAX_COMMIT_TICKS` of them labelled; y: ``tick`` formats the values."""
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    for line in lines:
        color = palette[line.machine]
        ax.fill_between(line.x, line.q1, line.q3, color=color, alpha=0.22, lw=0)
        ax.plot(line.x, line.median, color=color, marker="o", ms=3.5, lw=1.5, label=line.machine)
        # each segment's median as a flat line over its own commits: the jump is the step, not a slope
        starts = [0, *(i for i in range(1, len(line.x)) if line.level[i] != line.level[i - 1]), len(line.x)]
        for lo, hi in zip(starts[:-1], starts[1:]):
            ax.plot([line.x[lo] - 0.3, line.x[hi - 1] + 0.3], [line.level[lo]] * 2, color=color, lw=1.0, alpha=0.85)
    trans = matplotlib.transforms.blended_transform_factory(ax.transData, ax.transAxes)
    k = 0
    for line in lines:
        color = palette[line.machine]
        for x, short, verdict, change in line.steps:
            ax.axvline(x, color=color, ls="--", lw=1.1, zorder=1)
            # labels of several steps stacked from the top, so that steps of two machines at one commit stay legible
            # right of the line, or left of it in the right half, so that the label stays inside the axes
            right = x > (len(commits) - 1) / 2
            ax.text(x, 0.97 - 0.17 * (k % 4), f"{verdict} since {short} \n{change} " if right else
                    f" {verdict} since {short}\n {change}", transform=trans, ha="right" if right else "left",
                    va="top", fontsize=8, color=color, multialignment="right" if right else "left")
            k += 1
    every = max(1, -(-len(commits) // MAX_COMMIT_TICKS))
    ax.set_xticks(range(0, len(commits), every), commits[::every], rotation=60, ha="right", fontsize=8)
    ax.set_xlim(-0.5, len(commits) - 0.5)
    ax.margins(y=0.3 if k else 0.1)
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=5))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: tick(v) if v > 0 else ""))
    ax.set_xlabel("commit (by commit time, oldest left)")
    ax.set_ylabel(textwrap.fill(ylabel, 34))
    ax.set_title(textwrap.fill(title, 80), fontsize=10, loc="left")
    handles = [Line2D([], [], color=palette[line.machine], marker="o", ms=3.5, lw=1.5, label=line.machine)
               for line in lines]
    handles += [Line2D([], [], color="0.4", lw=1.0, label="segment median"),
                Line2D([], [], color="0.4", ls="--", lw=1.1, label="step")]
    ax.legend(handles=handles, title="machine\n(median, IQR band)", title_fontsize=10, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), frameon=False, alignment="left")
    fig.tight_layout()
    return fig


@dataclass
class PlotSpec:
    name: str
    caption: str
    make: Callable
    # Only for OPTIONAL_PLOTS: the report has the plot where applies(summary) holds, placed after
    # the plot named ``after``; elsewhere it is neither drawn nor noted as skipped.
    applies: Callable | None = None
    after: str | None = None
    # The table ``make`` and ``applies`` take: "summary" (:func:`reports.tables.summary`) or another
    # table of the report, by name (e.g. "roofline": :func:`reports.roofline.roofline`).
    data: str = "summary"


PLOTS = [
    PlotSpec("runtime_vs_popsize", "Runtime per generation vs population size (log-log), one line per device; bands: IQR of the rounds.", runtime_vs_popsize),
    PlotSpec("compile_vs_popsize", "Cold compile time (trace + lower + compile) vs population size; bands: IQR of the rounds.", compile_vs_popsize),
    PlotSpec("env_steps_vs_popsize", "Environment steps per second vs population size.", env_steps_vs_popsize),
    PlotSpec("env_steps_heatmap", "Env steps per second over population size × evals, per device and strategy.", env_steps_heatmap),
    PlotSpec("speedup_vs_cpu", "Speedup over the own machine's CPU on the same case, each line named with its "
             "reference: an accelerator over the whole CPU (cpu:all, every core) where the run has it, else over "
             "cpu:0 (one core); the whole CPU over one core (band: CPU q1/device q3 to CPU q3/device q1).",
             speedup_vs_cpu),
    PlotSpec("flops_vs_popsize", "Achieved FLOP/s: XLA cost-analysis FLOPs of a generation over its median runtime.", flops_vs_popsize),
    PlotSpec("pct_of_peak_vs_popsize", "Achieved FLOP/s as % of the device's peak (from the JSON or --peak-flops).", pct_of_peak_vs_popsize),
    PlotSpec("breakdown_ask_eval_tell", "Share of ask, eval and tell (each timed alone) in their sum, with absolute times.", breakdown),
    PlotSpec("memory", "Case memory (the worker's peak minus its baseline after backend start-up) vs population size (log-log), one line per device.", memory_vs_popsize),
    PlotSpec("scaling_strong", "Strong scaling: env steps/s and parallel efficiency vs number of devices at a fixed population size, per host and platform; dashed: ideal.", scaling_strong),
    PlotSpec("scaling_weak", "Weak scaling: env steps/s and parallel efficiency vs number of devices at a fixed population per device, per host and platform; dashed: ideal.", scaling_weak),
]


# Plots of data that files written before it existed lack: a report of such files stays as it was.
OPTIONAL_PLOTS = [
    PlotSpec("env_steps_per_joule_vs_popsize", "Environment steps per joule (the energy of a generation from "
             "the device's counter) vs population size, one line per device.", env_steps_per_joule_vs_popsize,
             applies=has_energy, after="env_steps_vs_popsize"),
    PlotSpec("roofline", "Roofline per device: each runtime case's achieved FLOP/s at its arithmetic intensity "
             "(XLA cost analysis: FLOPs / bytes accessed of a generation) under the device's measured roofs "
             "(matmul FLOP/s and copy bandwidth; pytest bench --es-peak-flops auto); the ridge point dotted; "
             "the data in roofline.csv.", roofline_plot, applies=lambda roof: not roof.empty,
             after="pct_of_peak_vs_popsize", data="roofline"),
]


def plots_for(summary, tables_by_name: dict | None = None) -> list[PlotSpec]:
    """The plots of a report of ``summary``: every one of :data:`PLOTS` (drawn or noted as skipped),
    each of :data:`OPTIONAL_PLOTS` whose ``applies`` holds (on its :attr:`PlotSpec.data`: ``summary``
    or the table of that name in ``tables_by_name``; left out where the table is not given) right
    after the plot it names."""
    data = {**(tables_by_name or {}), "summary": summary}
    extra = [s for s in OPTIONAL_PLOTS if s.data in data and s.applies(data[s.data])]
    out = []
    for spec in PLOTS:
        out.append(spec)
        out += [s for s in extra if s.after == spec.name]
    return out + [s for s in extra if s.after not in {p.name for p in PLOTS}]


def save(fig, out_dir: Path, name: str) -> list[Path]:
    png, svg = out_dir / f"{name}.png", out_dir / f"{name}.svg"
    fig.savefig(png, dpi=DPI, bbox_inches="tight", pad_inches=0.15)
    fig.savefig(svg, bbox_inches="tight", pad_inches=0.15, metadata={"Date": None})
    plt.close(fig)
    return [png, svg]
