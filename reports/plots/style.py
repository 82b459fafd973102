"""What every figure of :mod:`reports.plots` shares: the theme, the colours and line styles
(:class:`Style`), the title naming the machines, the hollow marker of an unstable case, and saving
a figure as PNG and SVG."""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from reports import stability, tables


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
    """The theme set, and the :class:`Style` of a report of ``summary``: a colour per device label (grey for
    devices where every case failed), the machines and their devices for titles, the implementations."""
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


def title_with_machines(fig, title: str, style: Style) -> None:
    """``title`` above ``fig``, and below it the machines and devices of the report."""
    sub = textwrap.fill("machines / devices — " + style.machines, width=120)
    fig.suptitle(f"{title}\n{sub}", y=1.0, va="bottom", fontsize=12)


def unstable_mask(df: pd.DataFrame) -> np.ndarray:
    """Per row of ``df``: whether its ``unstable`` cell names a reason (all False without the column)."""
    if stability.KEY not in df:
        return np.zeros(len(df), dtype=bool)
    return df[stability.KEY].map(stability.is_unstable).to_numpy(dtype=bool)


def save(fig, out_dir: Path, name: str) -> list[Path]:
    """``fig`` as ``out_dir/NAME.png`` (:data:`DPI`) and ``NAME.svg`` (no date: the same bytes each run), closed."""
    png, svg = out_dir / f"{name}.png", out_dir / f"{name}.svg"
    fig.savefig(png, dpi=DPI, bbox_inches="tight", pad_inches=0.15)
    fig.savefig(svg, bbox_inches="tight", pad_inches=0.15, metadata={"Date": None})
    plt.close(fig)
    return [png, svg]
