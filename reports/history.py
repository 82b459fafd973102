"""``python -m reports history FILES_OR_DIRS... [--out DIR] [--metric runtime|env_steps_per_s|compile]
[--threshold 0.10] [--alpha 0.01]``: every case over commits, per machine, and the steps in it.

Reads many ``pytest bench`` JSON runs (folders: every ``*.json`` in them), of one or several
machines (hosts). Each run is placed by its ``commit_info`` (pytest-benchmark records the
commit's id and committer time when it runs in a git checkout); a run without them is bad
input (exit 2, one line naming the file): ordering by the run's ``datetime`` instead would put
a re-run of an old commit after newer ones and silently draw a step that is not there. Runs of
one commit on one machine pool their rounds (each file a run, as ``compare`` pools a side).
Cases are matched on :func:`reports.load.case_key`, the key of the report and ``compare``;
machines are kept apart (one series per machine and case).

``--metric``: ``runtime`` (seconds per generation, the runtime rows), ``compile`` (the cold
compile, the compile rows) or ``env_steps_per_s`` (the runtime rows as env steps per second,
round by round; higher is better, so a lower value is slower).

Steps: :mod:`reports.steps` (PELT change points of the log medians per commit, each kept only
where :func:`reports.verdict.compare_runs` of the pooled rounds on its two sides says slower or
faster beyond ``--threshold`` at ``--alpha``, compare's defaults). One line per step on stdout:
``slower since 1a2b3c4: +30 % (8.00 ms -> 10.4 ms, vm, runtime cma_es Pendulum-v1 ...)``.

Writes into ``--out`` (built beside it, moved into place when complete, never over an input):
``history.csv`` (one row per machine × case × commit: commit id and time, median, q1, q3,
rounds, runs, and the step found there, if any), one PNG + SVG per case (``history-NN-*.png``)
and ``history.html`` (self-contained: the steps table and one plot per case, inline as base64).

Exit status (:mod:`reports.exit_status`): 0 no series ends slower, 1 a series ends slower (its
latest step is a slower one: the latest segment is slower than the one before it), 2 bad input
or usage, 3 internal error, 141 stdout closed early.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from reports import formatting as fmt
from reports.compare import case_label, require_samples
from reports.verdict import add_verdict_options, pooled_runs
from reports.exit_status import EXIT_OK, EXIT_SLOWER, BadInput, OneLineParser, guarded
from reports.load import case_key, key_strings, key_text, load
from reports.report import Staging, check_out
from reports.steps import Commit, Step, find_steps

DEFAULT_OUT = os.path.join("reports", "history-out")
MARKERS = ("history.html", "history.csv")  # an --out folder holding one of these is an earlier history
SHORT = 7  # characters of a short commit id (git's default)


@dataclass(frozen=True)
class Metric:
    """What ``--metric`` plots and tests: the rows of one phase, each round as a value in ``unit``."""

    name: str
    phase: str
    axis: str  # the plot's y label
    unit: str  # history.csv's unit column
    higher_is_better: bool

    def values(self, row) -> np.ndarray:
        """The row's rounds in this metric: seconds as they are, or env steps / s of each round."""
        if self.name == "env_steps_per_s":
            return float(row["env_steps"]) / row["samples"]
        return row["samples"]

    def text(self, x) -> str:
        """A value of this metric as text: ``8 ms`` or ``1.2 M env steps/s``."""
        return fmt.seconds(x) if self.unit == "s" else f"{fmt.count(x)} env steps/s"

    def tick(self, x) -> str:
        """A value of this metric on the plot's y axis (the unit is in the label): ``8 ms`` or ``1.2M``."""
        return fmt.seconds(x) if self.unit == "s" else fmt.count(x, sep="")


METRICS = {
    "runtime": Metric("runtime", "runtime", "runtime per generation", "s", False),
    "env_steps_per_s": Metric("env_steps_per_s", "runtime", "env steps / s", "env steps/s", True),
    "compile": Metric("compile", "compile", "cold compile time", "s", False),
}


@dataclass
class RunCommit:
    """The commit a run (file) measured: pytest-benchmark's ``commit_info.id`` and ``.time``."""

    id: str
    time: _dt.datetime  # UTC
    dirty: bool


@dataclass
class Series:
    """One case on one machine over commits (oldest first) and the steps found in it."""

    host: str
    key: str  # the case key (:func:`reports.load.key_strings` over the case columns, no host)
    row: pd.Series  # a representative row of the case
    label: str  # :func:`reports.compare.case_label`
    commits: list[RunCommit]
    points: list[Commit]  # per commit, its runs' values (the metric's rounds)
    files: list[list[str]]  # per commit, its files
    steps: list[Step] = field(default_factory=list)

    def ends_slower(self) -> bool:
        """Whether the latest step is a slower one: the series ends slower than the segment before."""
        return bool(self.steps) and self.steps[-1].verdict == "slower"


def commit_of(path, info) -> RunCommit:
    """The commit of one run from its ``commit_info``; :class:`BadInput` naming the file where there is none."""
    hint = "history orders runs by commit (run pytest bench inside a git checkout)"
    if not isinstance(info, dict):
        raise BadInput(path, f"no commit_info; {hint}")
    cid, when = info.get("id"), info.get("time")
    why = f" ({' '.join(str(info['error']).split())})" if info.get("error") else ""
    # pytest-benchmark writes "unversioned" outside a checkout and "unknown" where git failed
    if not isinstance(cid, str) or not cid.strip() or cid in ("unknown", "unversioned"):
        raise BadInput(path, f"commit_info.id is {cid!r}, not a commit id{why}; {hint}")
    try:
        t = _dt.datetime.fromisoformat(str(when))
    except ValueError:
        raise BadInput(path, f"commit_info.time {when!r} is not an ISO 8601 time{why}; {hint}") from None
    t = t.replace(tzinfo=_dt.timezone.utc) if t.tzinfo is None else t.astimezone(_dt.timezone.utc)
    return RunCommit(cid.strip(), t, bool(info.get("dirty")))


def build_series(res, metric: Metric) -> tuple[list[Series], list[str]]:
    """The series of every machine × case of ``metric``'s phase, commits ordered by commit time (then id),
    and the case columns; runs of one commit on one machine pooled (:func:`reports.verdict.pooled_runs`)."""
    rows = res.rows[res.rows["phase"].eq(metric.phase)].copy()
    if rows.empty:
        raise BadInput(_where(res.files), f"no {metric.phase} cases for --metric {metric.name}")
    if metric.name == "env_steps_per_s":
        steps = pd.to_numeric(rows["env_steps"], errors="coerce") if "env_steps" in rows else pd.Series(dtype=float)
        rows = rows[steps.reindex(rows.index).gt(0)]
        if rows.empty:
            raise BadInput(_where(res.files), "no runtime case has extra_info.env_steps for --metric env_steps_per_s")
    require_samples(rows, "history")
    by_file = {f: commit_of(f, info) for f, info in zip(res.machines["file"], res.machines["commit_info"])}
    rows["samples"] = [metric.values(r) for _, r in rows.iterrows()]
    cols = case_key([rows], hosts=False)
    rows["_case"] = key_strings(rows, cols)
    rows["_commit"] = rows["file"].map(lambda f: by_file[f].id)
    varying = {c for c in ("episode_length",) if rows[c].map(key_text).nunique() > 1}
    out = []
    for (host, key), g in rows.groupby(["host", "_case"], sort=False):
        commits, points, files = [], [], []
        for cid, part in g.groupby("_commit", sort=False):
            runs = [by_file[f] for f in dict.fromkeys(part["file"])]
            # one commit, one time; a commit is dirty where any of its runs was
            commits.append(RunCommit(cid, min(r.time for r in runs), any(r.dirty for r in runs)))
            entry = pooled_runs(part, cols)[key]
            points.append(Commit(entry["runs"], entry["workers"]))
            files.append(list(dict.fromkeys(part["file"])))
        order = sorted(range(len(commits)), key=lambda i: (commits[i].time, commits[i].id))
        row = g.iloc[0]
        out.append(Series(str(host), key, row, case_label(row, cols, varying), [commits[i] for i in order],
                          [points[i] for i in order], [files[i] for i in order]))
    out.sort(key=lambda s: (s.label, s.host))
    return out, cols


def _where(files) -> str:
    return str(files[0]) if len(files) == 1 else f"{len(files)} files"


def _pct(ratio: float) -> str:
    return f"{100.0 * (ratio - 1.0):+.0f} %"


def step_line(s: Series, step: Step, metric: Metric) -> str:
    """``slower since 1a2b3c4: +30 % (8.00 ms -> 10.4 ms, vm, <case>)``: the change of the medians of the
    pooled rounds of the segments before and after the step."""
    r = step.result
    return (f"{step.verdict} since {s.commits[step.index].id[:SHORT]}: {_pct(r['ratio'])} "
            f"({metric.text(r['base_median'])} -> {metric.text(r['new_median'])}, {s.host}, {s.label})")


def history_table(series: list[Series], cols: list[str], metric: Metric) -> pd.DataFrame:
    """history.csv: one row per machine × case × commit (oldest first): the case, the commit (id, UTC
    time, dirty), the median, q1, q3 and rounds of its pooled rounds, its runs (files), and where a step
    begins at that commit its verdict, ratio of medians after/before, interval and p."""
    out = []
    for s in series:
        steps = {st.index: st for st in s.steps}
        for i, (c, p, files) in enumerate(zip(s.commits, s.points, s.files)):
            x = np.concatenate(p.runs)
            q1, med, q3 = np.percentile(x, [25, 50, 75])
            st = steps.get(i)
            r = st.result if st else {}
            out.append({
                "host": s.host, "case": s.label, **{k: s.row[k] for k in cols}, "metric": metric.name,
                "unit": metric.unit, "commit": c.id, "commit_time": c.time.isoformat(), "dirty": c.dirty,
                "median": med, "q1": q1, "q3": q3, "rounds": len(x), "runs": len(p.runs),
                "step": st.verdict if st else "", "step_before": r.get("base_median", math.nan),
                "step_after": r.get("new_median", math.nan), "step_ratio": r.get("ratio", math.nan),
                "step_ci_low": r.get("ci_low", math.nan), "step_ci_high": r.get("ci_high", math.nan),
                "step_p": r.get("p", math.nan), "files": ";".join(files),
            })
    return pd.DataFrame(out)


def steps_table(series: list[Series], metric: Metric, alpha: float) -> pd.DataFrame:
    """history.html's table of the steps: machine, case, verdict, commit, its time, medians before and
    after, change, interval, p, and whether it is the series' latest step."""
    level = f"CI {100 * (1 - alpha):g}%"
    out = []
    for s in series:
        for st in s.steps:
            r, c = st.result, s.commits[st.index]
            out.append({"machine": s.host, "case": s.label, "step": st.verdict, "since": c.id[:SHORT],
                        "commit time": c.time.strftime("%Y-%m-%d %H:%M UTC"),
                        "before": metric.text(r["base_median"]), "after": metric.text(r["new_median"]),
                        "change": _pct(r["ratio"]),
                        level: "" if math.isnan(r["ci_low"]) else f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]",
                        "p": fmt.p_value(r["p"]), "latest": "yes" if st is s.steps[-1] else ""})
    return pd.DataFrame(out)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:80]


def draw(series: list[Series], cols: list[str], metric: Metric, out_dir: Path):
    """One figure per case (all machines in it), saved as PNG + SVG; the :class:`reports.render.Figure` list."""
    from reports import plots, render

    plots.set_theme()
    hosts = sorted({s.host for s in series})
    palette = dict(zip(hosts, plots.sns.color_palette("colorblind", max(len(hosts), 1))))
    figures = []
    cases = list(dict.fromkeys(s.key for s in series))
    for n, key in enumerate(cases, 1):
        mine = [s for s in series if s.key == key]
        # one x axis for every machine: the case's commits of all machines, by commit time
        order = sorted({(c.time, c.id) for s in mine for c in s.commits})
        x_of = {cid: i for i, (_, cid) in enumerate(order)}
        lines = []
        for s in mine:
            x = [x_of[c.id] for c in s.commits]
            q = np.array([np.percentile(np.concatenate(p.runs), [25, 50, 75]) for p in s.points])
            bounds = [0, *(st.index for st in s.steps), len(s.commits)]
            level = np.empty(len(s.commits))
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                level[lo:hi] = np.median(np.concatenate([r for p in s.points[lo:hi] for r in p.runs]))
            marks = [(x_of[s.commits[st.index].id], s.commits[st.index].id[:SHORT], st.verdict,
                      _pct(st.result["ratio"])) for st in s.steps]
            lines.append(plots.HistoryLine(s.host, x, q[:, 1], q[:, 0], q[:, 2], level, marks))
        name = f"history-{n:02d}-{_slug(mine[0].label)}"
        caption = (f"{mine[0].label}: {metric.axis} per commit (oldest left), per machine; "
                   "band: IQR of the pooled rounds; thin line: median of each segment; dashed: steps")
        fig = plots.history_case(lines, [cid[:SHORT] for _, cid in order], title=mine[0].label,
                                 ylabel=metric.axis, tick=metric.tick,
                                 palette=palette)
        plots.save(fig, out_dir, name)
        figures.append(render.Figure(name, caption))
    return figures


def write_page(path: Path, out_dir: Path, *, title: str, meta: list[str], steps: pd.DataFrame,
               figures, notices: list[str]) -> None:
    """history.html: the steps table, then one plot per case (inline), self-contained like report.html."""
    import html

    from reports import render

    e = html.escape
    parts = [*render.page_head(title, meta), *render.notices_html(notices),
             f"<h2>Steps ({len(steps)})</h2>", f"<p>{e(STEPS_NOTE)}</p>", render.html_table(steps),
             f"<h2>Cases ({len(figures)})</h2>", *(render.figure_html(f, out_dir) for f in figures),
             "</body></html>"]
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


STEPS_NOTE = (
    "A step: a change point of the per-commit medians (PELT on their logarithms, penalty scaled to the "
    "series' own noise) that compare would call slower or faster: the pooled rounds of the commits after "
    "it against those before it, ratio of medians beyond the threshold and Mann-Whitney p below alpha. "
    "latest = the series' last step; a series whose latest step is slower makes the exit code 1."
)


def make_history(paths: list[str], out: Path, metric: Metric, threshold: float, alpha: float) -> tuple[str, int]:
    """Read, find the steps, write --out; return the text for stdout and the exit status."""
    res = load(paths)
    check_out(out, res.files, MARKERS)
    series, cols = build_series(res, metric)
    for s in series:
        s.steps = find_steps(s.points, threshold, alpha, metric.higher_is_better)
    from reports import notices as notices_text

    notices = notices_text.notices(res)
    n_commits = len({c.id for s in series for c in s.commits})
    hosts = sorted({s.host for s in series})
    rule = (f"ratio of medians beyond {1 + threshold:.3g} / {1 / (1 + threshold):.3g} and Mann-Whitney p < {alpha:g}"
            " between the pooled rounds of the segments")
    lines = [*(f"reports: notice: {n}" for n in notices),
             f"esperf history ({metric.name}): {len(res.files)} runs of {n_commits} commits on "
             f"{len(hosts)} machine(s) ({', '.join(hosts)}), {len({s.key for s in series})} cases"]
    lines += [step_line(s, st, metric) for s in series for st in s.steps]
    n_steps = {v: sum(st.verdict == v for s in series for st in s.steps) for v in ("slower", "faster")}
    ending = [s for s in series if s.ends_slower()]
    lines.append(f"{n_steps['slower']} slower, {n_steps['faster']} faster step(s) ({rule}); "
                 f"series whose latest step is slower: {len(ending)}")
    with Staging(out) as tmp:
        history_table(series, cols, metric).to_csv(tmp / "history.csv", index=False)
        figures = draw(series, cols, metric, tmp)
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        meta = [f"Generated {stamp} by python -m reports history --metric {metric.name} --threshold {threshold:g} "
                f"--alpha {alpha:g} from {len(res.files)} file(s) of {n_commits} commit(s) on "
                f"{len(hosts)} machine(s): {', '.join(hosts)}.",
                "Commits are ordered by commit time; runs of one commit on one machine pool their rounds. "
                "Every value is in history.csv."]
        write_page(tmp / "history.html", tmp, title=f"esperf history — {metric.name} — {', '.join(hosts)}",
                   meta=meta, steps=steps_table(series, metric, alpha), figures=figures, notices=notices)
    lines.append(f"reports: wrote {out}/history.html, history.csv and {len(figures)} plots")
    return "\n".join(lines), EXIT_SLOWER if ending else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m reports history",
        description="Every case of many esperf runs over commits, per machine, with its steps (change points "
        "compare would call slower or faster). Exit 0: no series ends slower; 1: a series ends slower; "
        "2: bad input or usage; 3: internal error.",
    )
    p.add_argument("results", nargs="+", metavar="FILES_OR_DIRS",
                   help="JSON files or folders of them (each run placed by its commit_info)")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"output folder, replaced as a whole (default: {DEFAULT_OUT}/)")
    p.add_argument("--metric", choices=list(METRICS), default="runtime",
                   help="runtime (s per generation), env_steps_per_s (higher is better) or compile (default: runtime)")
    add_verdict_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Write the history; return the exit status (0, 1, 2 or 3; usage errors raise ``SystemExit(2)``)."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))

    def run() -> int:
        text, code = make_history(args.results, Path(args.out), METRICS[args.metric], args.threshold, args.alpha)
        print(text)
        return code

    return guarded(run)
