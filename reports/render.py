"""report.html (one self-contained page: PNGs embedded as base64) and report.md (same tables)."""
from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reports import energy as energy_text
from reports import formatting as fmt
from reports import notices as notices_text
from reports import stability
from reports.compare import DEFAULT_ALPHA, DEFAULT_THRESHOLD


@dataclass
class Figure:
    name: str  # file stem: NAME.png and NAME.svg in the output folder
    caption: str
    skipped: str | None = None  # why the figure was not drawn


def best_table(best: pd.DataFrame) -> pd.DataFrame:
    if best.empty:
        return best
    return pd.DataFrame(
        {
            "strategy": best["strategy"],
            "env": best["env"],
            "popsize": best["popsize"].map(fmt.number),
            "evals": best["num_evals"].map(fmt.number),
            "impl": best["impl"],
            "best device": best["best_device"],
            "runtime / generation": best["median"].map(fmt.seconds),
            "env steps / s": best["env_steps_per_s"].map(fmt.count),
            "next best": best["next_device"],
            "× faster than next": best["x_faster_than_next"].map(fmt.ratio),
            "failed on": best["failed_on"],
            **_unstable_column(best),
        }
    )


def _unstable_column(df: pd.DataFrame) -> dict:
    """``{"unstable": reasons}`` for a table of ``df``'s rows where any row is unstable; else ``{}``
    (a report without unstable figures keeps the columns it always had)."""
    if stability.KEY not in df or not df[stability.KEY].map(stability.is_unstable).any():
        return {}
    return {"unstable": df[stability.KEY].map(lambda v: v if stability.is_unstable(v) else "")}


def impls_table(impls: pd.DataFrame) -> pd.DataFrame:
    """``tables.implementations`` with units: times, env steps/s and ratios formatted."""
    out = impls.copy()
    for col in out:
        if col.endswith("_median_s"):
            out[col] = out[col].map(fmt.seconds)
        elif col.endswith("_env_steps_per_s"):
            out[col] = out[col].map(fmt.count)
        elif col.endswith("_over_esperf"):
            out[col] = out[col].map(fmt.ratio)
        elif col in ("popsize", "num_evals", "hidden"):
            out[col] = out[col].map(fmt.number)
    return out


def failed_table(failed: pd.DataFrame, width: int = 160) -> pd.DataFrame:
    if failed.empty:
        return pd.DataFrame(columns=["host", "device", "case", "error"])

    def case(r) -> str:
        bits = [r.get("phase"), r.get("strategy"), r.get("env"), f"pop {fmt.number(r.get('popsize'))}",
                f"{fmt.number(r.get('num_evals'))} evals"]
        if r.get("part") not in (None, "generation") and not pd.isna(r.get("part")):
            bits.append(str(r.get("part")))
        if r.get("impl") not in (None, "esperf") and not pd.isna(r.get("impl")):
            bits.append(str(r.get("impl")))
        return " ".join(str(b) for b in bits if b is not None and not (isinstance(b, float) and math.isnan(b)))

    def short(e) -> str:
        e = " ".join(str(e).split())
        return e if len(e) <= width else e[: width - 1] + "…"

    return pd.DataFrame(
        {
            "host": failed["host"],
            "device": failed.get("device", pd.Series("", index=failed.index)),
            "case": [case(r) for _, r in failed.iterrows()],
            "error": failed["error"].map(short),
        }
    )


def cases_table(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device": summary["device_label"],
            "impl": summary["impl"],
            "phase": summary["phase"],
            "part": summary["part"],
            "strategy": summary["strategy"],
            "env": summary["env"],
            "popsize": summary["popsize"].map(fmt.number),
            "evals": summary["num_evals"].map(fmt.number),
            "median": summary["median"].map(fmt.seconds),
            "IQR": summary["iqr"].map(fmt.seconds),
            "rounds": summary["rounds"].map(fmt.number),
            "env steps / s": summary["env_steps_per_s"].map(fmt.count),
            "speedup vs CPU": summary["speedup_vs_cpu"].map(fmt.ratio),
            **_reference_columns(summary),
            **_unstable_column(summary),
        }
    )


def _reference_columns(summary: pd.DataFrame) -> dict:
    """The speedup's CPU reference (``whole CPU (16 cores)``, ``cpu:0 (1 core)``) where any case has a
    speedup, and the speedup over one core where the summary has it (a machine with a whole-CPU row)."""
    out = {}
    if "cpu_reference" in summary and summary["speedup_vs_cpu"].notna().any():
        out["CPU reference"] = summary["cpu_reference"].fillna("")
    if "speedup_vs_cpu0" in summary:
        out["speedup vs cpu:0"] = summary["speedup_vs_cpu0"].map(fmt.ratio)
    return out


def _device_name(device: str, kind: str) -> str:
    """A device spec with its kind where the spec does not say it (``gpu:0 (NVIDIA H100 80GB HBM3)``)."""
    return device if not kind or kind.lower() in ("cpu", "nan") else f"{device} ({kind})"


def crossover_table(cross: pd.DataFrame) -> pd.DataFrame:
    """:func:`reports.crossover.crossovers` for a page: host, case, the two devices, the one faster from
    the crossover on, the crossover (text) and the faster device per measured popsize."""
    cols = ["host", "case", "devices", "faster from the crossover", "crossover popsize", "faster per popsize"]
    if cross.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "host": cross["host"],
            "case": [_case_text(r) for _, r in cross.iterrows()],
            "devices": [f"{_device_name(a, ka)} vs {_device_name(b, kb)}" for a, ka, b, kb in
                        zip(cross["device_a"], cross["kind_a"], cross["device_b"], cross["kind_b"])],
            "faster from the crossover": [_device_name(d, ka if d == a else kb) if d else "neither" for d, a, ka, kb
                                          in zip(cross["faster"], cross["device_a"], cross["kind_a"], cross["kind_b"])],
            "crossover popsize": cross["crossover"],
            "faster per popsize": cross["verdicts"],
        },
        columns=cols,
    )


def roofline_table(roof: pd.DataFrame) -> pd.DataFrame:
    """:func:`reports.roofline.roofline` with units: device, case, popsize, intensity, achieved FLOP/s,
    the roof there, % of roof, bound."""
    cols = ["device", "case", "popsize", "intensity [FLOP/B]", "achieved", "roof there", "% of roof", "bound"]
    if roof.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "device": roof["device_label"],
            "case": [_case_text(r) for _, r in roof.iterrows()],
            "popsize": roof["popsize"].map(fmt.number),
            "intensity [FLOP/B]": roof["intensity"].map(lambda v: f"{v:.3g}"),
            "achieved": roof["flops_per_s"].map(lambda v: fmt.count_unit(v, "FLOP/s")),
            "roof there": roof["roof_flops_per_s"].map(lambda v: fmt.count_unit(v, "FLOP/s")),
            "% of roof": roof["pct_of_roof"].map(lambda v: f"{v:.3g}%"),
            "bound": roof["bound"],
        },
        columns=cols,
    )


def unstable_table(cases: pd.DataFrame) -> pd.DataFrame:
    """``tables.unstable`` with units: device, case, popsize, evals, median, IQR, rounds, reasons."""
    cols = ["device", "case", "popsize", "evals", "median", "IQR", "rounds", "unstable"]
    if cases.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "device": cases["device_label"],
            "case": [_case_text(r) + ("" if r["part"] == "generation" else f" {r['part']}")
                     for _, r in cases.iterrows()],
            "popsize": cases["popsize"].map(fmt.number),
            "evals": cases["num_evals"].map(fmt.number),
            "median": cases["median"].map(fmt.seconds),
            "IQR": cases["iqr"].map(fmt.seconds),
            "rounds": cases["rounds"].map(fmt.number),
            "unstable": cases[stability.KEY],
        },
        columns=cols,
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


def energy_table(cases: pd.DataFrame) -> pd.DataFrame:
    """``tables.energy_cases`` with units: device, (impl where several), strategy, env, popsize, evals,
    energy / generation, env steps / J, source, and the first GPU's SM clock and temperature after
    the rounds where any case has them."""
    cols = ["device", "strategy", "env", "popsize", "evals", "energy / generation", "env steps / J", "source"]
    if cases.empty:
        return pd.DataFrame(columns=cols)
    out = {"device": cases["device_label"]}
    if cases["impl"].nunique() > 1:
        out["impl"] = cases["impl"]
    out.update({
        "strategy": cases["strategy"],
        "env": cases["env"],
        "popsize": cases["popsize"].map(fmt.number),
        "evals": cases["num_evals"].map(fmt.number),
        "energy / generation": cases[energy_text.ENERGY].map(fmt.joules),
        "env steps / J": cases[energy_text.PER_JOULE].map(fmt.count),
        "source": cases[energy_text.SOURCE].fillna(""),
    })
    # a clock or temperature only where NVML read one: a CPU-only report keeps the short table
    for col, head, text in (("sm_clock_mhz", "SM clock after [MHz]", lambda v: f"{v:.0f}"),
                            ("temperature_c", "temperature after [°C]", lambda v: f"{v:.0f}")):
        values = pd.to_numeric(cases[col], errors="coerce")
        if values.notna().any():
            out[head] = values.map(lambda v, text=text: "" if pd.isna(v) else text(v))
    return pd.DataFrame(out)


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


def _case_text(r) -> str:
    bits = [str(r["phase"]) if "phase" in r else "", str(r["strategy"]), str(r["env"]), f"{fmt.number(r['num_evals'])} evals"]
    if r.get("impl") not in (None, "esperf") and not pd.isna(r.get("impl")):
        bits.append(f"[{r['impl']}]")
    return " ".join(b for b in bits if b)


def memory_table(mem: pd.DataFrame) -> pd.DataFrame:
    """``tables.memory`` with units: case, device, popsize, baseline, peak, peak - baseline, source."""
    cols = ["case", "device", "popsize", "baseline", "peak", "peak − baseline", "source"]
    if mem.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "case": [_case_text(r) for _, r in mem.iterrows()],
            "device": mem["device_label"],
            "popsize": mem["popsize"].map(fmt.number),
            "baseline": mem["baseline_memory_bytes"].map(fmt.binary_bytes),
            "peak": mem["peak_memory_bytes"].map(fmt.binary_bytes),
            "peak − baseline": mem["case_memory_bytes"].map(fmt.binary_bytes),
            "source": mem["memory_source"].fillna(""),
        },
        columns=cols,
    )


def scaling_table(sc: pd.DataFrame) -> pd.DataFrame:
    """``tables.scaling`` with units: case, devices, num_devices, env steps/s, speedup, efficiency."""
    cols = ["scaling", "case", "devices", "num_devices", "popsize", "env steps / s", "speedup over 1 device",
            "efficiency"]
    if sc.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "scaling": sc["mode"],
            "case": [_case_text(r) + (f" · pop {fmt.number(r['series_popsize'])}" if r["mode"] == "strong"
                                      else f" · {fmt.number(r['series_popsize'])} per device") for _, r in sc.iterrows()],
            "devices": sc["device_label"],
            "num_devices": sc["num_devices"].map(lambda v: f"{v:g}"),
            "popsize": sc["popsize"].map(fmt.number),
            "env steps / s": sc["env_steps_per_s"].map(fmt.count),
            "speedup over 1 device": sc["speedup"].map(fmt.ratio),
            "efficiency": sc["efficiency"].map(fmt.percent),
        },
        columns=cols,
    )


def markdown_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "_none_\n"

    def cell(v) -> str:
        text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        return " ".join(text.split()).replace("|", "\\|")

    head = "| " + " | ".join(cell(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


def html_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "<p><em>none</em></p>"
    return df.to_html(index=False, escape=True, border=0, classes="t", na_rep="")


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1250px;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.7em;margin-bottom:.2em} h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table.t{border-collapse:collapse;font-size:.88em;margin:.5em 0}
table.t th,table.t td{padding:.25em .6em;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:top}
table.t th{background:#f4f4f4}
figure{margin:1.5em 0} figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#555} .note{color:#8a5a00} .meta{color:#666;font-size:.9em}
code{background:#f4f4f4;padding:0 .25em}
.notices{border:2px solid #c77700;background:#fff6e5;padding:.2em 1em;margin:1em 0}
.notices h2{margin-top:.5em;border:0;color:#8a4b00}
"""


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


def notices_html(lines: list[str] | None) -> list[str]:
    """The notice block (``<div class="notices">``) above the tables; nothing when ``lines`` is empty."""
    if not lines:
        return []
    e = html.escape
    return [
        f'<div class="notices" id="notices"><h2>{e(notices_text.heading(lines))}</h2>',
        f"<p>{e(notices_text.EXPLAIN)}</p>",
        "<ul>", *[f"<li>{e(line)}</li>" for line in lines], "</ul></div>",
    ]


def notices_markdown(lines: list[str] | None) -> list[str]:
    """The notice block as markdown lines (a heading, the explanation, a list); nothing when empty."""
    if not lines:
        return []
    return [f"## {notices_text.heading(lines)}", "", notices_text.EXPLAIN, "",
            *[f"- {' '.join(line.split())}" for line in lines], ""]


def page_head(title: str, meta: list[str]) -> list[str]:
    """The opening lines of a self-contained page (report.html, history.html): doctype, :data:`CSS`
    inline, the title as ``<h1>`` and one ``<p class="meta">`` per line of ``meta``."""
    e = html.escape
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        *[f'<p class="meta">{e(m)}</p>' for m in meta],
    ]


def figure_html(fig: Figure, out_dir: Path) -> str:
    """``fig`` as a ``<figure>`` whose image is ``out_dir/NAME.png`` inline as base64 (the page needs no
    other file), or, where it was skipped, a note saying why."""
    e = html.escape
    if fig.skipped:
        return f'<p class="note">Skipped <code>{e(fig.name)}</code>: {e(fig.skipped)}.</p>'
    data = base64.b64encode((out_dir / f"{fig.name}.png").read_bytes()).decode("ascii")
    return (f'<figure id="{e(fig.name)}"><img alt="{e(fig.caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{e(fig.caption)} ({e(fig.name)}.png / .svg)</figcaption></figure>")


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
