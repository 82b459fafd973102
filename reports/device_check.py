"""``python -m reports device-check OUT_DIR``: the summary of one ``.ci/device-check`` run.

Reads only the files the script wrote under OUT_DIR (``steps.json``, ``json/*.json`` from
``pytest bench --benchmark-json``, ``json/tests.xml``, ``doctor.json``), writes
``OUT_DIR/summary.md`` (markdown tables, one section per step) and prints it.

Exit status: 0 every part of every step passed and no bench case failed; 1 some part or
bench case failed; 2 usage error (OUT_DIR missing or not a folder, or not a device-check
folder); 3 internal error (:mod:`reports.exit_status`). Standard library and
:mod:`reports.formatting` only: no jax, nothing of bench/.
"""
from __future__ import annotations

import json
import statistics
import xml.etree.ElementTree as ET
from pathlib import Path

from reports.exit_status import EXIT_BAD_INPUT, EXIT_OK, BadInput, OneLineParser, guarded
from reports.formatting import count, seconds

EXIT_FAILED = 1  # some step or bench case failed (the script exits with it too)
MIB = 2**20
STEP_TITLES = {
    1: "doctor",
    2: "runtime: fork server vs interpreter",
    3: "compile rounds: process vs --es-isolate none",
    4: "large populations",
    5: "small populations: unroll and command buffers",
    6: "harness tests on the device",
    7: "report",
}
# JSON files per step (json/<name>.json), in table order
STEP2 = ("fork", "interpreter")
STEP3 = ("compile-process", "compile-none")
STEP5 = ("unroll1", "unroll4", "command-buffer")
TIMEOUT_RC = 124


# -- reading OUT_DIR ------------------------------------------------------------------------

def read_json(path: Path, default=None):
    """The JSON in ``path``; ``default`` when the file is missing or empty; BadInput when unreadable."""
    if not path.is_file() or path.stat().st_size == 0:
        return default
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BadInput(path, f"not readable JSON ({' '.join(str(err).split())})") from None


def read_steps(out: Path) -> dict:
    """steps.json: {"platform", "short", "device", "parts": [{"step", "part", "rc", "seconds", ...}]}."""
    steps = read_json(out / "steps.json")
    if not isinstance(steps, dict) or not isinstance(steps.get("parts"), list):
        raise BadInput(out, "no steps.json with a parts list: not a folder written by .ci/device-check")
    return steps


def read_bench(out: Path, name: str) -> dict | None:
    """json/<name>.json as {"rows": [benchmark rows], "failed": [failed cases]}; None when absent."""
    data = read_json(out / "json" / f"{name}.json")
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise BadInput(out / "json" / f"{name}.json", "not pytest-benchmark JSON (no benchmarks list)")
    failed = (data.get("esperf") or {}).get("failed") or []
    return {"rows": data["benchmarks"], "failed": failed}


def read_junit(path: Path) -> dict | None:
    """Counts of a junit xml: {"tests", "passed", "failed", "errors", "skipped"}; None when absent."""
    if not path.is_file():
        return None
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as err:
        raise BadInput(path, f"not readable junit xml ({err})") from None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    totals = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    return {"tests": totals["tests"], "passed": totals["tests"] - totals["failures"] - totals["errors"]
            - totals["skipped"], "failed": totals["failures"], "errors": totals["errors"],
            "skipped": totals["skipped"]}


# -- figures of benchmark rows --------------------------------------------------------------

def case_key(row: dict) -> str:
    """A case's name without its phase and implementation: strategy env popN evalsN device."""
    x = row.get("extra_info", {})
    return f"{x.get('strategy')} {x.get('env')} pop{x.get('popsize')} evals{x.get('num_evals')} {x.get('device')}"


def rows_of(bench: dict | None, phase: str) -> dict[str, dict]:
    """{case key: row} of the rows of ``phase`` (compile or runtime)."""
    if bench is None:
        return {}
    return {case_key(r): r for r in bench["rows"] if r.get("extra_info", {}).get("phase") == phase}


def median_s(row: dict | None):
    """The row's median seconds (None when absent)."""
    return None if row is None else (row.get("stats") or {}).get("median")


def memory_mib(row: dict):
    """Peak - baseline memory of a row in MiB (None where the baseline is unknown)."""
    x = row.get("extra_info", {})
    peak, base = x.get("peak_memory_bytes"), x.get("baseline_memory_bytes")
    if peak is None or base is None:
        return None
    return (peak - base) / MIB


def first_compile_s(row: dict):
    """The compile seconds of a runtime row (its first call), else the median of compile_s."""
    x = row.get("extra_info", {})
    if x.get("first_compile_s") is not None:
        return x["first_compile_s"]
    rounds = x.get("compile_s")
    return statistics.median(rounds) if isinstance(rounds, list) and rounds else None


def round_figures(row: dict) -> dict:
    """Compile rounds of a row: the rounds (s), min, median, max, max/min and whether round 1 is
    the slowest (in fresh processes that points at a cache surviving between processes)."""
    data = list((row.get("stats") or {}).get("data") or [])
    if not data:
        return {"rounds": [], "min": None, "median": None, "max": None, "spread": None, "first_slowest": None}
    lo, hi = min(data), max(data)
    return {"rounds": data, "min": lo, "median": statistics.median(data), "max": hi,
            "spread": hi / lo if lo > 0 else None, "first_slowest": len(data) > 1 and data[0] == hi,
            "backend_compiles": row.get("extra_info", {}).get("backend_compiles")}


# -- text -----------------------------------------------------------------------------------

def fmt(x, kind: str = "num") -> str:
    """One table cell: seconds (``s``), milliseconds (``ms``), a rate (``rate``), a ratio or a number."""
    if x is None:
        return "-"
    if kind == "s":
        return seconds(x)
    if kind == "ms":
        return f"{x * 1e3:.3g}"
    if kind == "rate":
        return count(x)
    if kind == "ratio":
        return f"{x:.2f}"
    return f"{x:.3g}" if isinstance(x, float) else str(x)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table (one line per row); a line saying so when there are no rows."""
    if not rows:
        return ["(no rows: the step wrote no results; see its log)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return lines


def part_status(p: dict, platform: str) -> str:
    """passed, failed (rc N), over the deadline, or not applicable (the GPU flag on cpu)."""
    rc = p.get("rc")
    if rc == 0:
        return "passed"
    if p.get("part") == "command-buffer" and platform == "cpu":
        return f"not applicable on cpu (rc {rc})"
    if rc == TIMEOUT_RC:
        return f"over its {p.get('deadline_s')} s deadline"
    return f"failed (rc {rc})"


def part_failed(p: dict, platform: str) -> bool:
    """A part that failed (the command-buffer variant on cpu is not applicable, not a failure)."""
    return p.get("rc") != 0 and not (p.get("part") == "command-buffer" and platform == "cpu")


def section_steps(steps: dict) -> list[str]:
    """Per step and part: status, rc, seconds, deadline."""
    rows = [[p.get("step"), p.get("part"), part_status(p, steps.get("platform")), p.get("rc"),
             p.get("seconds"), p.get("deadline_s"), p.get("log")] for p in steps["parts"]]
    total = sum(p.get("seconds") or 0 for p in steps["parts"])
    return ["## Steps", "", *table(["step", "part", "status", "rc", "s", "deadline s", "log"], rows), "",
            f"Total: {total} s over {len(steps['parts'])} parts."]


def section_doctor(out: Path) -> list[str]:
    """Step 1: the doctor's WARN lines (doctor.json: [{"check", "status", "detail", "fix"}])."""
    lines = ["## 1. " + STEP_TITLES[1], ""]
    checks = read_json(out / "doctor.json")
    if not isinstance(checks, list):
        return lines + ["No doctor.json (see logs/1-doctor-json.log)."]
    warns = [c for c in checks if isinstance(c, dict) and c.get("status") == "WARN"]
    lines.append(f"{len(checks)} checks, {len(warns)} WARN.")
    rows = [[c.get("check"), c.get("detail"), c.get("fix")] for c in warns]
    return lines + ([""] + table(["check", "detail", "fix"], rows) if warns else [])


def section_fork_vs_interpreter(out: Path) -> list[str]:
    """Step 2: runtime medians with the fork server and with fresh interpreters, their ratio."""
    fork, interp = (read_bench(out, n) for n in STEP2)
    a, b = rows_of(fork, "runtime"), rows_of(interp, "runtime")
    rows = []
    for key in sorted(set(a) | set(b)):
        ma, mb = median_s(a.get(key)), median_s(b.get(key))
        ratio = mb / ma if ma and mb else None
        rows.append([key, fmt(ma, "ms"), fmt(mb, "ms"), fmt(ratio, "ratio")])
    compiles = rows_of(fork, "compile")
    lines = ["## 2. " + STEP_TITLES[2], "",
             *table(["case", "fork server median ms", "interpreter median ms", "interpreter / fork"], rows), ""]
    lines.append(f"Compile cases of the quick grid (fork server): {len(compiles)}; "
                 f"median {', '.join(fmt(median_s(r), 's') for r in compiles.values()) or '-'}.")
    return lines + failures(("fork", fork), ("interpreter", interp))


def section_compile_rounds(out: Path) -> list[str]:
    """Step 3: every compile round, min/median/max, max/min and round 1 slowest, per isolation."""
    rows = []
    by_isolation = {name: rows_of(read_bench(out, name), "compile") for name in STEP3}
    for key in sorted(set().union(*by_isolation.values())):
        for name, found in by_isolation.items():
            if key not in found:
                rows.append([key, name.split("-", 1)[1], "missing", "-", "-", "-", "-", "-", "-"])
                continue
            f = round_figures(found[key])
            rows.append([key, name.split("-", 1)[1], ", ".join(f"{r:.3g}" for r in f["rounds"]),
                         fmt(f["min"], "s"), fmt(f["median"], "s"), fmt(f["max"], "s"),
                         fmt(f["spread"], "ratio"), "yes" if f["first_slowest"] else "no",
                         fmt(f.get("backend_compiles"))])
    lines = ["## 3. " + STEP_TITLES[3], "",
             *table(["case", "isolation", "rounds s", "min", "median", "max", "max/min", "round 1 slowest",
                     "backend compiles"], rows), "",
             "Each round must be a backend compile (backend compiles >= 1 in every round). Under process "
             "isolation, round 1 systematically slowest means a cache leaks between processes "
             "(~/.nv/ComputeCache, --xla_gpu_per_fusion_autotune_cache_dir, "
             "--xla_gpu_load_autotune_results_from)."]
    return lines + failures(*((n, read_bench(out, n)) for n in STEP3))


def state_after(x: dict) -> dict:
    """The first GPU's state after the timed rounds (the first worker's), {} where none was read."""
    state = x.get("device_state")
    if isinstance(state, list):
        state = next((s for s in state if s), None)
    after = (state or {}).get("after") or []
    return after[0] if after and isinstance(after[0], dict) else {}


def section_large(out: Path) -> list[str]:
    """Step 4: env steps/s, peak - baseline memory, compile seconds, first run, energy per
    generation, the device's clocks and temperature after the rounds, and the stability flags,
    per strategy x pop."""
    bench = read_bench(out, "large")
    found = rows_of(bench, "runtime")
    rows, why = [], set()
    for r in sorted(found.values(), key=lambda r: (r["extra_info"].get("strategy"), r["extra_info"].get("popsize"))):
        x = r["extra_info"]
        after = state_after(x)
        first = x.get("first_run_s")
        first = max(first) if isinstance(first, list) and first else first
        if x.get("energy_unavailable"):
            why.add(x["energy_unavailable"])
        rows.append([x.get("strategy"), x.get("popsize"), x.get("num_evals"), fmt(median_s(r), "ms"),
                     fmt(x.get("env_steps_per_s"), "rate"), fmt(memory_mib(r)), fmt(first_compile_s(r), "s"),
                     x.get("memory_source", "-"), fmt(first, "s"), fmt(x.get("energy_j")),
                     fmt(x.get("env_steps_per_joule"), "rate"), fmt(after.get("sm_clock_mhz")),
                     fmt(after.get("temperature_c")), ", ".join(x.get("throttle_reasons") or []) or "-",
                     ", ".join(x.get("unstable") or []) or "-",
                     fmt(None if x.get("generation_memory_bytes") is None else x["generation_memory_bytes"] / MIB)])
    lines = ["## 4. " + STEP_TITLES[4], "",
             *table(["strategy", "pop", "evals", "median ms", "env steps/s", "peak - baseline MiB", "compile s",
                     "memory source", "first run s (slowest worker)", "energy J/gen", "env steps/J", "SM MHz after",
                     "temp C after", "throttled", "unstable", "generation MiB (the rounds' own)"], rows)]
    if why:
        lines += ["", f"Energy not measured: {'; '.join(sorted(why))}."]
    return lines + failures(("large", bench))


def section_small(out: Path, platform: str) -> list[str]:
    """Step 5: median ms and env steps/s per pop for unroll 1, unroll 4 and command buffers."""
    benches = {n: read_bench(out, n) for n in STEP5}
    found = {n: rows_of(b, "runtime") for n, b in benches.items()}
    keys = sorted(set().union(*found.values()), key=lambda k: (k.split()[0], int(k.split()[2][3:])))
    rows = []
    for key in keys:
        cells = [key]
        for n in STEP5:
            r = found[n].get(key)
            cells += [fmt(median_s(r), "ms"), fmt(None if r is None else r["extra_info"].get("env_steps_per_s"), "rate")]
        rows.append(cells)
    header = ["case"] + [f"{n} {what}" for n in STEP5 for what in ("ms", "steps/s")]
    lines = ["## 5. " + STEP_TITLES[5], "", *table(header, rows), ""]
    if platform == "cpu":
        lines.append("command-buffer: not applicable on cpu (XLA's CPU client ignores the GPU flag: the "
                     "program is unroll 1's, and any difference is noise).")
    else:
        lines.append("Small populations are launch-bound when unroll 4 or command buffers beat unroll 1 "
                     "by far: 200 scan steps x several kernels per generation.")
    return lines + failures(*benches.items())


def section_tests(out: Path, platform: str) -> list[str]:
    """Step 6: passed / failed / errors / skipped of the harness tests' junit xml."""
    counts = read_junit(out / "json" / "tests.xml")
    lines = ["## 6. " + STEP_TITLES[6], ""]
    if counts is None:
        return lines + ["No json/tests.xml (see logs/6-tests.log)."]
    lines += table(["tests", "passed", "failed", "errors", "skipped"],
                   [[counts[k] for k in ("tests", "passed", "failed", "errors", "skipped")]])
    lines += ["", f"In-process tests (test_workload) ran on the default platform ({platform}); the pytest bench "
              "runs of test_isolation use CPU devices by construction (tests/helpers.py bench_env)."]
    return lines


def failures(*named) -> list[str]:
    """Lines naming every failed bench case of the (name, bench) pairs; nothing when none failed."""
    lines = []
    for name, bench in named:
        for f in (bench or {}).get("failed", []):
            lines.append(f"- FAILED ({name}) {f.get('name')}: {str(f.get('error', ''))[:300]}")
    return ["", "Failed cases:", *lines] if lines else []


def bench_failures(out: Path) -> int:
    """How many bench cases failed over every JSON of the run."""
    names = STEP2 + STEP3 + ("large",) + STEP5
    return sum(len((read_bench(out, n) or {}).get("failed", [])) for n in names)


def report_line(out: Path) -> str:
    """Where step 7's report.html is, or that it is missing."""
    found = (out / "report" / "report.html").is_file()
    return "report.html: report/report.html" if found else "report.html: missing (see logs/7-report.log)"


def summary(out: Path) -> tuple[str, int]:
    """(summary.md's text, exit status: 0 all passed, 1 a part or bench case failed)."""
    steps = read_steps(out)
    platform = steps.get("platform", "?")
    failed_parts = [p for p in steps["parts"] if part_failed(p, platform)]
    failed_cases = bench_failures(out)
    code = EXIT_FAILED if failed_parts or failed_cases else EXIT_OK
    names = ", ".join(f"{p.get('step')}-{p.get('part')}" for p in failed_parts) or "none"
    verdict = ("PASSED: every step passed" if code == EXIT_OK else
               f"FAILED: {len(failed_parts)} part(s) failed ({names}), {failed_cases} bench case(s) failed")
    lines = [f"# device-check: {steps.get('device')} ({platform}{', short' if steps.get('short') else ''})", "",
             verdict, "", *section_steps(steps), "", *section_doctor(out), "",
             *section_fork_vs_interpreter(out), "", *section_compile_rounds(out), "", *section_large(out), "",
             *section_small(out, platform), "", *section_tests(out, platform), "",
             "## 7. " + STEP_TITLES[7], "", report_line(out), "", verdict]
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


__all__ = ["main", "summary", "EXIT_FAILED", "EXIT_BAD_INPUT"]
