"""The figure of one case over commits (``python -m reports history``): per machine the median, its
IQR band, the median of each segment between steps, and each step marked at its commit."""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Callable

import matplotlib.pyplot as plt
import matplotlib.ticker
import matplotlib.transforms
import numpy as np
from matplotlib.lines import Line2D


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
