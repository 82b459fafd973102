"""The report's plots, in page order: :data:`PLOTS` (always drawn, or noted as skipped),
:data:`OPTIONAL_PLOTS` (only where their data exists) and :func:`plots_for`, the list of one report."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from reports.plots.ask_eval_tell import breakdown
from reports.plots.device_scaling import scaling_strong, scaling_weak
from reports.plots.heatmap import env_steps_heatmap
from reports.plots.popsize import (
    compile_vs_popsize,
    env_steps_per_joule_vs_popsize,
    env_steps_vs_popsize,
    flops_vs_popsize,
    has_energy,
    memory_vs_popsize,
    pct_of_peak_vs_popsize,
    runtime_vs_popsize,
    speedup_vs_cpu,
)
from reports.plots.roofline import roofline_plot


@dataclass
class PlotSpec:
    """One plot of the report: its file stem, its caption and the function that draws it."""

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
