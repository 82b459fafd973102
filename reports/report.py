"""``python -m reports RESULTS... [--out DIR] [--peak-flops KIND=FLOPS]``: the report command.

Writes plots (PNG and SVG), summary.csv, failed.csv, crossover.csv (:mod:`reports.crossover`),
roofline.csv (:mod:`reports.roofline`), report.html and report.md into --out.
Where an input's machine was not fit to be measured (:mod:`reports.notices`), both pages
open with its notices, above the tables, and the terminal repeats them. Where a runtime
figure is unstable (:mod:`reports.stability`), the tables list its reasons, the plots draw
it hollow and both pages explain the reasons above the plots. Where a runtime case has an
energy reading (:mod:`reports.energy`), both pages get an energy table and the report an env
steps per joule plot; where none has but some say why, one note line gives the reasons.

Bad input (a file that is not esperf's benchmark JSON, another schema version, no cases,
an --out that would replace an input): one line on stderr naming the file and the
problem, exit 2, nothing written. The report is built in a temporary folder next to
--out and moved into place only when complete. Exit statuses: :mod:`reports.exit_status`
(0 report written, 2 bad input or usage, 3 internal error, 141 stdout closed).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

from reports.commands import COMMANDS, commands_help
from reports.exit_status import EXIT_OK, BadInput, OneLineParser, guarded
from reports.load import load
from results_format.peaks import parse_peak_flops

DEFAULT_RESULTS = "results"
DEFAULT_OUT = os.path.join("reports", "out")
MARKERS = ("report.html", "summary.csv")  # an --out folder holding one of these is an earlier report


def peak_flops_arg(text: str) -> dict[str, float]:
    """:func:`results_format.peaks.parse_peak_flops` as an argparse type (a usage error, exit 2, on bad text)."""
    try:
        out = parse_peak_flops(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if not out:
        raise argparse.ArgumentTypeError(f"{text!r} is not KIND=FLOPS (e.g. cpu=1.2e11)")
    return out


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m reports",
        description="Plots, tables and report.html from the JSON of `pytest bench --benchmark-json=...`\n"
        "of one or many machines (reads JSON only; no jax needed).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage=f"%(prog)s [RESULTS ...] [--out DIR] [--peak-flops KIND=FLOPS] | %(prog)s {{{','.join(COMMANDS)}}} ...",
        epilog=commands_help(),
    )
    p.add_argument("results", nargs="*", metavar="RESULTS",
                   help=f"JSON files or folders of them (default: {DEFAULT_RESULTS}/)")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"output folder, replaced as a whole (default: {DEFAULT_OUT}/)")
    p.add_argument("--peak-flops", action="append", default=[], type=peak_flops_arg, metavar="KIND=FLOPS",
                   help="peak FLOP/s of a device kind or platform for %% of peak, e.g. cpu=1.2e11 or "
                   "'NVIDIA H100 80GB HBM3=6.7e13' (repeatable; overrides peak_flops in the JSON)")
    return p


def check_out(out: Path, files: list[Path], markers: tuple[str, ...] = MARKERS) -> None:
    """--out must not be or contain an input, and must be new, empty or an earlier report (a folder
    holding one of ``markers``: the files the command writes)."""
    o = out.resolve()
    for f in files:
        fr = f.resolve()
        if fr == o or o in fr.parents:
            raise BadInput(out, f"--out would replace the input file {f}; choose another folder")
    if o.exists() and not o.is_dir():
        raise BadInput(out, "--out exists and is not a folder")
    if o.is_dir() and any(o.iterdir()) and not any((o / m).exists() for m in markers):
        raise BadInput(out, "--out is a folder with other files in it (no earlier report); it would be "
                       "replaced as a whole, so choose a new or empty folder")


class Staging:
    """A temporary folder next to ``out`` that replaces ``out`` on success and vanishes on failure."""

    def __init__(self, out: Path):
        self.out = out.absolute()

    def __enter__(self) -> Path:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.tmp-", dir=self.out.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o777 & ~umask)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        old = None
        if self.out.exists():
            old = self.out.parent / f".{self.out.name}.old-{uuid.uuid4().hex[:8]}"
            self.out.rename(old)
        try:
            self.tmp.rename(self.out)
        except BaseException:
            if old is not None:
                old.rename(self.out)
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def progress(i: int, n: int, text: str) -> None:
    print(f"[{i}/{n}] {text}", file=sys.stderr, flush=True)


def make_report(results: list[str], out: Path, peak_flops: dict[str, float]) -> str:
    res = load(results)
    check_out(out, res.files)
    # Heavy imports only once the input is known to be good: bad input answers fast.
    from reports import notices as notices_text
    from reports import crossover, plots, render, roofline, stability, tables

    summary = tables.summary(res, peak_flops)
    failed = tables.failed(res)
    machines = tables.machines(res)
    notices = notices_text.notices(res)
    best = tables.best_devices(summary, failed)
    impls = tables.implementations(summary)
    scaling = render.scaling_table(tables.scaling(summary))
    memory = render.memory_table(tables.memory(summary))
    unstable = render.unstable_table(tables.unstable(summary))
    crossovers = crossover.crossovers(res)
    roof = roofline.roofline(summary, res.machines)
    roof_note = roofline.note(summary, res.machines)
    specs = plots.plots_for(summary, {"roofline": roof})
    energy_cases = render.energy_table(tables.energy_cases(summary))
    energy_note = tables.energy_note(summary)
    compile_note = tables.compile_note(summary)
    n = len(specs) + 3
    figures = []
    with Staging(out) as tmp:
        step = 1
        progress(step, n, "summary.csv, failed.csv, crossover.csv, roofline.csv")
        summary.to_csv(tmp / "summary.csv", index=False)
        failed.to_csv(tmp / "failed.csv", index=False)
        crossovers.to_csv(tmp / "crossover.csv", index=False)
        roof.to_csv(tmp / "roofline.csv", index=False)
        style = plots.make_style(summary, failed)
        for spec in specs:
            step += 1
            fig = spec.make({"summary": summary, "roofline": roof}[spec.data], style)
            if isinstance(fig, str) or fig is None:
                reason = fig or "no data"
                progress(step, n, f"{spec.name}.png skipped: {reason}")
                figures.append(render.Figure(spec.name, spec.caption, skipped=reason))
                continue
            progress(step, n, f"{spec.name}.png, {spec.name}.svg")
            plots.save(fig, tmp, spec.name)
            figures.append(render.Figure(spec.name, spec.caption))
        hosts = ", ".join(machines["host"])
        title = f"esperf benchmark report — {hosts}"
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        meta = [
            f"Generated {stamp} by python -m reports from {len(res.files)} file(s): "
            + ", ".join(str(f) for f in res.files),
            f"{len(summary)} cases on {summary['device_label'].nunique()} device(s) of {len(machines)} machine(s); "
            f"{len(failed)} failed. Times are medians of the rounds (IQR = q3 - q1); every value is in summary.csv.",
        ]
        step += 1
        progress(step, n, "report.html")
        render.write_html(
            tmp / "report.html", tmp, title=title, meta=meta, machines=machines, best=render.best_table(best),
            figures=figures, failed=render.failed_table(failed), cases=render.cases_table(summary), impls=impls,
            scaling=scaling, memory=memory, notices=notices, unstable=unstable, energy=energy_cases,
            energy_note=energy_note, compile_note=compile_note, crossover=render.crossover_table(crossovers),
            roofline=render.roofline_table(roof), roofline_note=roof_note,
        )
        step += 1
        progress(step, n, "report.md")
        render.write_markdown(
            tmp / "report.md", title=title, meta=meta, machines=machines, best=render.best_table(best),
            figures=figures, failed=render.failed_table(failed), impls=impls, scaling=scaling, memory=memory,
            notices=notices, unstable=unstable, energy=energy_cases, energy_note=energy_note,
            compile_note=compile_note, crossover=render.crossover_table(crossovers),
            roofline=render.roofline_table(roof), roofline_note=roof_note,
        )
    drawn = sum(f.skipped is None for f in figures)
    skipped = len(figures) - drawn
    wrote = f"reports: wrote {out}/report.html, report.md, summary.csv and {drawn} plots" + (
        f" ({skipped} skipped: no data)" if skipped else ""
    )
    if not unstable.empty:  # said once on the terminal; the page lists them
        wrote += f"\nreports: {len(unstable)} unstable runtime figure(s): see '{stability.HEADING}' in report.html"
    # the terminal says it too: a report of an unfit machine should not look like any other
    return "\n".join([*(f"reports: notice: {line}" for line in notices), wrote])


def main(argv: list[str] | None = None) -> int:
    """Make the report; return the exit status (0, 2 or 3; usage errors raise ``SystemExit(2)``)."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    peaks: dict[str, float] = {}
    for d in args.peak_flops:
        peaks.update(d)

    def run() -> int:
        print(make_report(args.results or [DEFAULT_RESULTS], Path(args.out), peaks))
        return EXIT_OK

    return guarded(run)
