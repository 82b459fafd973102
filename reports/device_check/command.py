"""``python -m reports device-check OUT_DIR``: summary.md of one run (its verdict, then one section
per step), written into OUT_DIR and printed, and the command's exit status."""
from __future__ import annotations

from pathlib import Path

from reports.device_check.layout import ARCHIVE, STEP_TITLES
from reports.device_check.out_dir import Run
from reports.device_check.parts import bench_failures, part_failed
from reports.device_check.sections import (
    report_line,
    section_compile_rounds,
    section_doctor,
    section_fork_vs_interpreter,
    section_large,
    section_probe,
    section_small,
    section_steps,
    section_tests,
)
from reports.exit_status import EXIT_OK, BadInput, OneLineParser, guarded


EXIT_FAILED = 1  # some step or bench case failed (the script exits with it too)


def summary(out: Path) -> tuple[str, int]:
    """(summary.md's text, exit status: 0 all that ran passed, 1 a part or bench case failed)."""
    run = Run.read(out)
    platform = run.platform
    failed_parts = [p for p in run.steps["parts"] if part_failed(p, platform)]
    skipped = [p for p in run.steps["parts"] if p.get("rc") is None]
    failed_cases = bench_failures(run)
    code = EXIT_FAILED if failed_parts or failed_cases else EXIT_OK
    names = ", ".join(f"{p.get('step')}-{p.get('part')}" for p in failed_parts) or "none"
    skipped_names = ", ".join(f"{p.get('step')}-{p.get('part')}" for p in skipped)
    if code == EXIT_OK:
        verdict = ("PASSED: every step passed" if not skipped else
                   f"PASSED: every part that ran passed; {len(skipped)} part(s) skipped for the budget ({skipped_names})")
    else:
        verdict = (f"FAILED: {len(failed_parts)} part(s) failed ({names}), {failed_cases} bench case(s) failed"
                   + (f"; {len(skipped)} part(s) skipped for the budget ({skipped_names})" if skipped else ""))
    lines = [f"# device-check: {run.steps.get('device')} ({platform}{', short' if run.steps.get('short') else ''})",
             "", verdict, "", *section_steps(run), "", *section_probe(run), "", *section_doctor(run), "",
             *section_fork_vs_interpreter(run), "", *section_compile_rounds(run), "", *section_large(run), "",
             *section_small(run), "", *section_tests(run), "",
             "## 7. " + STEP_TITLES[7], "", report_line(run), "",
             f"Files: summary.md and steps.json at OUT_DIR's top; the logs, JSON (and partials), junit, "
             f"doctor.json, probe.json and the report in {ARCHIVE} (.ci/device-check packs them after this summary).",
             "", verdict]
    return "\n".join(lines) + "\n", code


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m reports device-check",
                      description="summary.md of a .ci/device-check OUT_DIR (reads its files only)")
    p.add_argument("out", metavar="OUT_DIR", help="the folder .ci/device-check wrote")
    return p


def main(argv) -> int:
    """Write and print OUT_DIR/summary.md; 0 all passed, 1 something failed, 2 usage, 3 internal error."""
    args = build_parser().parse_args(argv)
    out = Path(args.out)

    def body() -> int:
        if not out.is_dir():
            raise BadInput(out, "OUT_DIR is missing or not a folder; give the folder .ci/device-check wrote")
        text, code = summary(out)
        (out / "summary.md").write_text(text)
        print(text, end="")
        return code

    return guarded(body)
