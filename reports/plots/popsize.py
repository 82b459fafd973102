"""The figures over population size (log-log, one line per device, one panel per strategy, env
and evals; :func:`line_facets` draws them all): runtime, compile time, env steps/s, env steps/J,
speedup over the own CPU, FLOP/s, % of peak and case memory. The figures of runtime rounds draw an
unstable case's point (:mod:`reports.stability`) with a hollow marker, every other point filled."""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker
import matplotlib.transforms
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from reports import formatting as fmt
from reports import energy, stability, tables
from reports.plots.axes import count_label, generation_rows, nice_log_axis, panel_label, spaced_ticks, variant_label
from reports.plots.style import UNSTABLE_GID, Style, title_with_machines, unstable_mask


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
    df["panel"] = panel_label(df)
    ordered = df.sort_values(["env", "num_evals"] + [c for c in ("hidden", "episode_length") if c in df])
    col_order = list(dict.fromkeys(ordered["panel"]))
    fail = style.failed[style.failed["phase"].eq(phase) & style.failed["part"].eq("generation")].copy()
    fail = fail[fail["strategy"].isin(df["strategy"]) & fail["impl"].isin(df["impl"])]
    fail["panel"] = (fail["env"].astype(str) + " · " + fail["num_evals"].map(lambda v: f"{v:g}") + " evals"
                     if not fail.empty else pd.Series(dtype=str))
    if variant_label(df).ne("").any():  # failed cases name no hidden size / length: mark them on every match
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
    g.axes.flat[0].xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: count_label(v)))
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
    title_with_machines(g.figure, title, style)
    return g.figure


def runtime_vs_popsize(summary, style):
    d = generation_rows(summary, "runtime")
    if d.empty:
        return "no runtime-phase results"
    return line_facets(d, "median", "q1", "q3", "runtime per generation [s]",
                       "Runtime of one generation (median of the rounds)", style, mark_unstable=True)


def compile_vs_popsize(summary, style):
    d = generation_rows(summary, "compile")
    if d.empty:
        return "no compile-phase results"
    return line_facets(d, "median", "q1", "q3", "compile time [s]",
                       "Cold compile of one generation: trace + lower + XLA compile (median)", style, phase="compile")


def _rate_facets(summary, count: str, rate: str, missing: str, ylabel: str, title: str, style, band: bool = True):
    """A per-generation count per unit (env steps/s, FLOP/s, env steps/J); with ``band``, its band
    is count / q3 .. count / q1 (the rounds' IQR of a rate per second), else none."""
    d = generation_rows(summary, "runtime")
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
    d = generation_rows(summary, "runtime")
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
    d = generation_rows(summary, "runtime")
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
