"""report.html (one self-contained page: PNGs embedded as base64) and report.md (the same tables):
the sections in page order, each with its explanation, the unstable-figures and energy sections."""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from reports import energy as energy_text
from reports import stability
from reports.verdict import DEFAULT_ALPHA, DEFAULT_THRESHOLD
from reports.render.display import impls_table
from reports.render.page import Figure, figure_html, html_table, markdown_table, notices_html, notices_markdown, page_head


SCALING_NOTE = (
    "Sharded runs of one case on 1, 2, 4, ... devices of one host and platform. Strong scaling keeps "
    "the population fixed, weak scaling the population per device. Speedup = env steps/s on n devices over "
    "the same case's env steps/s on one device; parallel efficiency = speedup / n (100% = linear scaling)."
)
MEMORY_NOTE = (
    "Baseline: the benchmark worker's memory after the backend started, before the case built anything; "
    "peak: its peak while the case ran; peak − baseline: what the case itself needed "
    "(device_memory_stats on GPU/TPU, the process's peak RSS on CPU). No baseline in files written "
    "before per-case memory was measured."
)

CROSSOVER_NOTE = (
    "For each pair of devices of a machine that ran a case at two or more population sizes: the smallest "
    "measured popsize from which one device is faster at that popsize and every larger measured one, by "
    f"python -m reports compare's rule on the pooled rounds (ratio of medians beyond {1 + DEFAULT_THRESHOLD:g} "
    f"and Mann-Whitney p < {DEFAULT_ALPHA:g}). \"from 10000 (between 1000 and 10000)\": the curves cross between the two popsizes; "
    "\"at every measured popsize\": it may cross below the smallest; \"not in the measured range\": "
    "neither is faster at the largest. Per popsize: the faster device, = where neither is. "
    "Every value is in crossover.csv."
)
ROOFLINE_NOTE = (
    "Each runtime case's achieved FLOP/s at its arithmetic intensity (XLA cost analysis: FLOPs / bytes "
    "accessed of a generation) against its device's measured roofs (pytest bench --es-peak-flops auto): "
    "the roof there is min(matmul FLOP/s, copy bandwidth × intensity); left of the ridge point (matmul / "
    "copy) a case is memory-bound, right of it compute-bound. Every value is in roofline.csv."
)

IMPLS_NOTE = (
    "The same case (one generation, runtime phase) run by esperf and by a peer stack such as evosax + gymnax "
    "(pytest bench --es-impls esperf,evosax); <peer>_over_esperf is the peer's median over esperf's. "
    "Cases from one run are timed one after the other: for a ratio that survives machine load, "
    "python -m bench.vs_peers times both interleaved."
)


def _reasons_in(unstable: pd.DataFrame) -> list[str]:
    """Every reason named in an :func:`unstable_table`, each once, in :data:`reports.stability.REASONS` order."""
    return stability.ordered(r for v in unstable["unstable"] for r in stability.split_cell(v))


def unstable_html(unstable: pd.DataFrame | None) -> list[str]:
    """The unstable-figures section: what its reasons mean, then its table; nothing when no case is unstable."""
    if unstable is None or unstable.empty:
        return []
    e = html.escape
    items = [f"<li><code>{e(r)}</code>: {e(stability.describe(r))}</li>" for r in _reasons_in(unstable)]
    return [f'<h2 id="unstable">{e(stability.HEADING)} ({len(unstable)})</h2>', f"<p>{e(stability.EXPLAIN)}</p>",
            "<ul>", *items, "</ul>", html_table(unstable)]


def unstable_markdown(unstable: pd.DataFrame | None) -> list[str]:
    """:func:`unstable_html` as markdown lines; nothing when no case is unstable."""
    if unstable is None or unstable.empty:
        return []
    return [f"## {stability.HEADING} ({len(unstable)})", "", stability.EXPLAIN, "",
            *[f"- `{r}`: {stability.describe(r)}" for r in _reasons_in(unstable)], "", markdown_table(unstable)]


def _sources_in(table: pd.DataFrame) -> list[str]:
    """The energy sources named in an :func:`energy_table`, each once, in order of appearance."""
    return energy_text.distinct(table["source"]) if "source" in table else []


def energy_html(table: pd.DataFrame | None, note: str = "") -> list[str]:
    """The energy section (its explanation, what each source measures, the table, then ``note`` for the
    cases without energy); ``note`` alone as one line where no case has energy; nothing without either."""
    e = html.escape
    if table is None or table.empty:
        return [f'<p class="note">{e(note)}</p>'] if note else []
    items = [f"<li><code>{e(s)}</code>: {e(energy_text.describe(s))}</li>" for s in _sources_in(table)]
    return [f'<h2 id="energy">{e(energy_text.HEADING)} ({len(table)})</h2>', f"<p>{e(energy_text.EXPLAIN)}</p>",
            "<ul>", *items, "</ul>", html_table(table), *([f'<p class="note">{e(note)}</p>'] if note else [])]


def energy_markdown(table: pd.DataFrame | None, note: str = "") -> list[str]:
    """:func:`energy_html` as markdown lines."""
    if table is None or table.empty:
        return [note, ""] if note else []
    return [f"## {energy_text.HEADING} ({len(table)})", "", energy_text.EXPLAIN, "",
            *[f"- `{s}`: {energy_text.describe(s)}" for s in _sources_in(table)], "", markdown_table(table),
            *([note, ""] if note else [])]


def write_html(path: Path, out_dir: Path, *, title: str, meta: list[str], machines: pd.DataFrame,
               best: pd.DataFrame, figures: list[Figure], failed: pd.DataFrame, cases: pd.DataFrame,
               impls: pd.DataFrame | None = None, scaling: pd.DataFrame | None = None,
               memory: pd.DataFrame | None = None, notices: list[str] | None = None,
               unstable: pd.DataFrame | None = None, energy: pd.DataFrame | None = None,
               energy_note: str = "", compile_note: str = "", crossover: pd.DataFrame | None = None,
               roofline: pd.DataFrame | None = None, roofline_note: str = "") -> None:
    """report.html; ``crossover`` (:func:`crossover_table`) adds the crossover section below the best
    devices, ``roofline`` (:func:`roofline_table`) and ``roofline_note`` the roofline section;
    ``unstable`` (:func:`unstable_table`) adds its section above the plots, whose hollow
    markers it explains; ``energy`` (:func:`energy_table`) and ``energy_note`` the energy section or line;
    ``compile_note`` the line on compile rounds that reused autotuning (:func:`reports.tables.compile_note`)."""
    e = html.escape
    parts = [
        *page_head(title, meta),
        *notices_html(notices),  # above every table: whoever reads the numbers reads this first
        "<h2>Machines</h2>",
        html_table(machines),
        "<h2>Best device per case</h2>",
        "<p>Runtime of one whole generation (median of the rounds); the fastest device of every case "
        "and how much faster it is than the next one.</p>",
        html_table(best),
    ]
    if crossover is not None and not crossover.empty:
        parts += [f'<h2 id="crossover">Crossover popsize ({len(crossover)})</h2>', f"<p>{e(CROSSOVER_NOTE)}</p>",
                  html_table(crossover)]
    if roofline is not None and not roofline.empty:
        parts += [f'<h2 id="roofline">Roofline ({len(roofline)})</h2>', f"<p>{e(ROOFLINE_NOTE)}</p>",
                  "<details><summary>show the table</summary>", html_table(roofline), "</details>"]
    parts += [f'<p class="note">{e(roofline_note)}</p>'] if roofline_note else []
    if impls is not None and not impls.empty:
        parts += ["<h2>esperf against other implementations</h2>", f"<p>{e(IMPLS_NOTE)}</p>", html_table(impls_table(impls))]
    if scaling is not None and not scaling.empty:
        parts += ["<h2>Scaling over devices</h2>", f"<p>{e(SCALING_NOTE)}</p>", html_table(scaling)]
    if memory is not None and not memory.empty:
        parts += [f"<h2>Memory per case ({len(memory)})</h2>", f"<p>{e(MEMORY_NOTE)}</p>",
                  "<details><summary>show the table</summary>", html_table(memory), "</details>"]
    parts += energy_html(energy, energy_note)
    parts += [f'<p class="note">{e(compile_note)}</p>'] if compile_note else []
    parts += unstable_html(unstable)
    parts += [
        "<h2>Plots</h2>",
    ]
    parts += [figure_html(fig, out_dir) for fig in figures]
    parts += [
        f"<h2>Failed cases ({len(failed)})</h2>",
        html_table(failed),
        f"<h2>All cases ({len(cases)})</h2>",
        "<details><summary>show the table (every value is also in summary.csv)</summary>",
        html_table(cases),
        "</details>",
        "</body></html>",
    ]
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def write_markdown(path: Path, *, title: str, meta: list[str], machines: pd.DataFrame, best: pd.DataFrame,
                   figures: list[Figure], failed: pd.DataFrame, impls: pd.DataFrame | None = None,
                   scaling: pd.DataFrame | None = None, memory: pd.DataFrame | None = None,
                   notices: list[str] | None = None, unstable: pd.DataFrame | None = None,
                   energy: pd.DataFrame | None = None, energy_note: str = "", compile_note: str = "",
                   crossover: pd.DataFrame | None = None, roofline: pd.DataFrame | None = None,
                   roofline_note: str = "") -> None:
    """report.md: the tables of report.html but the cases table, images by relative path."""
    lines = [f"# {title}", "", *[f"{m}  " for m in meta], "", *notices_markdown(notices),
             "## Machines", "", markdown_table(machines),
             "## Best device per case", "",
             "Runtime of one whole generation (median of the rounds); the fastest device of every case.", "",
             markdown_table(best)]
    if crossover is not None and not crossover.empty:
        lines += [f"## Crossover popsize ({len(crossover)})", "", CROSSOVER_NOTE, "", markdown_table(crossover)]
    if roofline is not None and not roofline.empty:
        lines += [f"## Roofline ({len(roofline)})", "", ROOFLINE_NOTE, "", markdown_table(roofline)]
    lines += [roofline_note, ""] if roofline_note else []
    if impls is not None and not impls.empty:
        lines += ["## esperf against other implementations", "", IMPLS_NOTE, "", markdown_table(impls_table(impls))]
    if scaling is not None and not scaling.empty:
        lines += ["## Scaling over devices", "", SCALING_NOTE, "", markdown_table(scaling)]
    if memory is not None and not memory.empty:
        lines += [f"## Memory per case ({len(memory)})", "", MEMORY_NOTE, "", markdown_table(memory)]
    lines += energy_markdown(energy, energy_note)
    lines += [compile_note, ""] if compile_note else []
    lines += unstable_markdown(unstable)
    lines += ["## Plots", ""]
    for fig in figures:
        if fig.skipped:
            lines += [f"- skipped `{fig.name}`: {fig.skipped}.", ""]
        else:
            lines += [f"![{fig.caption}]({fig.name}.png)", "", f"_{fig.caption}_ ([SVG]({fig.name}.svg))", ""]
    lines += [f"## Failed cases ({len(failed)})", "", markdown_table(failed)]
    path.write_text("\n".join(lines), encoding="utf-8")
