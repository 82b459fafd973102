"""The report's figures: seaborn on matplotlib's Agg backend, each saved as PNG and SVG.

Every figure function takes the summary table (:func:`reports.tables.summary`) and a
:class:`Style` and returns a matplotlib Figure, or a string saying why there is nothing
to plot (the report then notes the plot as skipped). The figures of runtime rounds
(runtime, env steps/s, speedup, FLOP/s, % of peak) draw an unstable case's point
(:mod:`reports.stability`) with a hollow marker, every other point filled.

One module per job; this package's namespace names them all (``plots.PLOTS``, ``plots.save``, ...):

- :mod:`reports.plots.style`: the theme, :class:`Style` (colours, line styles), the title, the
  hollow marker of an unstable case, :func:`save`;
- :mod:`reports.plots.axes`: log-axis ticks, count labels, panel names, the rows a figure draws;
- :mod:`reports.plots.popsize`: the figures over population size (:func:`line_facets`);
- :mod:`reports.plots.heatmap`, :mod:`reports.plots.ask_eval_tell`, :mod:`reports.plots.roofline`,
  :mod:`reports.plots.device_scaling`: one figure family each;
- :mod:`reports.plots.commits`: one case over commits (``python -m reports history``);
- :mod:`reports.plots.catalog`: the report's list of plots (:data:`PLOTS`, :data:`OPTIONAL_PLOTS`).
"""
from __future__ import annotations

import matplotlib

# files only: no display needed, same output everywhere. A package's __init__ runs before any of its
# modules, so every figure module imports pyplot after this line.
matplotlib.use("Agg")

import seaborn as sns  # noqa: E402,F401  (reports.history takes its palette as plots.sns)

from reports.plots.ask_eval_tell import breakdown  # noqa: E402
from reports.plots.axes import nice_log_axis, spaced_ticks  # noqa: E402
from reports.plots.catalog import OPTIONAL_PLOTS, PLOTS, PlotSpec, plots_for  # noqa: E402
from reports.plots.commits import MAX_COMMIT_TICKS, HistoryLine, history_case  # noqa: E402
from reports.plots.device_scaling import scaling, scaling_strong, scaling_weak  # noqa: E402
from reports.plots.heatmap import env_steps_heatmap  # noqa: E402
from reports.plots.popsize import (  # noqa: E402
    compile_vs_popsize,
    env_steps_per_joule_vs_popsize,
    env_steps_vs_popsize,
    flops_vs_popsize,
    has_energy,
    line_facets,
    memory_vs_popsize,
    pct_of_peak_vs_popsize,
    runtime_vs_popsize,
    speedup_points,
    speedup_vs_cpu,
)
from reports.plots.roofline import roofline_plot  # noqa: E402
from reports.plots.style import DPI, IMPL_STYLE, UNSTABLE_GID, Style, make_style, save, set_theme, unstable_mask  # noqa: E402

__all__ = [
    "DPI", "IMPL_STYLE", "MAX_COMMIT_TICKS", "OPTIONAL_PLOTS", "PLOTS", "UNSTABLE_GID", "HistoryLine", "PlotSpec",
    "Style", "breakdown", "compile_vs_popsize", "env_steps_heatmap", "env_steps_per_joule_vs_popsize",
    "env_steps_vs_popsize", "flops_vs_popsize", "has_energy", "history_case", "line_facets", "make_style",
    "memory_vs_popsize", "nice_log_axis", "pct_of_peak_vs_popsize", "plots_for", "roofline_plot",
    "runtime_vs_popsize", "save", "scaling", "scaling_strong", "scaling_weak", "set_theme", "spaced_ticks",
    "speedup_points", "speedup_vs_cpu", "unstable_mask",
]
