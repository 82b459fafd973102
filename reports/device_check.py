"""``python -m reports device-check OUT_DIR``: the summary of one ``.ci/device-check`` run.

Reads only the files the script wrote under OUT_DIR (``steps.json``, ``probe.json``,
``json/*.json`` from ``pytest bench --benchmark-json`` and, of a part cut at its deadline, its
``json/<part>.json.partial``, ``json/tests.xml``, ``doctor.json``), or, once the script has
archived them, the same files inside ``OUT_DIR/device-check.tar.gz``; writes
``OUT_DIR/summary.md`` (markdown tables, one section per step) and prints it.

A part that ran past its deadline keeps the rows it finished: the plugin appends each finished
case to ``PATH.partial`` (JSON Lines, :mod:`bench.plugin.results`), and the summary shows them,
the part marked "timed out after k of n cases" (n from the plan in ``steps.json``). A part the
plan skipped (it could not fit the budget) is listed with the plan's line; it is no failure.

Exit status: 0 every part that ran passed and no bench case failed; 1 some part or bench case
failed (or ran past its deadline); 2 usage error (OUT_DIR missing or not a folder, or not a
device-check folder); 3 internal error (:mod:`reports.exit_status`). Standard library and
:mod:`reports.formatting` only: no jax, nothing of bench/.
"""
from __future__ import annotations

import json
import statistics
import tarfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from results_format.partial import partial_records
from reports.exit_status import EXIT_BAD_INPUT, EXIT_OK, BadInput, OneLineParser, guarded
from reports.formatting import count, seconds

EXIT_FAILED = 1  # some step or bench case failed (the script exits with it too)
MIB = 2**20
ARCHIVE = "device-check.tar.gz"  # where .ci/device-check puts everything but summary.md and steps.json
STEP_TITLES = {
    0: "probe",
    1: "doctor",
    2: "runtime: fork server vs interpreter, and JAX_PLATFORMS unset",
    3: "compile rounds: process vs --es-isolate none",
    4: "large populations",
    5: "small populations: unroll and command buffers",
    6: "harness tests on the device",
    7: "report",
}
# JSON files per step (json/<name>.json), in table order
STEP2 = ("fork", "interpreter")
UNSET = "platforms-unset"  # step 2's part with JAX_PLATFORMS unset
STEP3 = ("compile-process", "compile-none")
STEP5 = ("unroll1", "unroll4", "command-buffer")
BENCH_PARTS = STEP2 + (UNSET,) + STEP3 + ("large",) + STEP5
TIMEOUT_RC = 124


# -- reading OUT_DIR ------------------------------------------------------------------------

class OutDir:
    """The files of one run: under OUT_DIR, else in its :data:`ARCHIVE` (after the script packed them)."""

    def __init__(self, path: Path):
        self.path = path
        self._members: dict[str, bytes] = {}
        archive = path / ARCHIVE
        if archive.is_file():
            try:
                with tarfile.open(archive) as tar:
                    for m in tar.getmembers():
                        if m.isfile():
                            self._members[m.name.removeprefix("./")] = tar.extractfile(m).read()
            except (OSError, tarfile.TarError) as err:
                raise BadInput(archive, f"not a readable tar.gz ({' '.join(str(err).split())})") from None

    def text(self, rel: str) -> str | None:
        """The text of ``rel`` (a file under OUT_DIR first, then the archive's); None when neither has it."""
        path = self.path / rel
        if path.is_file():
            try:
                return path.read_text(errors="replace")
            except OSError as err:
                raise BadInput(path, f"not readable ({err})") from None
        found = self._members.get(rel)
        return None if found is None else found.decode(errors="replace")

    def exists(self, rel: str) -> bool:
        return (self.path / rel).is_file() or rel in self._members


def read_out_json(out: OutDir, rel: str, default=None):
    """The JSON of the file ``rel`` of the device-check folder ``out``; ``default`` when it is missing
    or empty; BadInput when unreadable. (A results file is :func:`reports.load.read_json`'s.)"""
    text = out.text(rel)
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError as err:
        raise BadInput(out.path / rel, f"not readable JSON ({' '.join(str(err).split())})") from None


def read_steps(out: OutDir) -> dict:
    """steps.json: {"platform", "short", "device", "budget_s", "parts": [{"step", "part", "rc", "seconds",
    "deadline_s", "log", "plan", and "grid", "cases", "start" of a bench part, "skipped" of a skipped one}]}."""
    steps = read_out_json(out, "steps.json")
    if not isinstance(steps, dict) or not isinstance(steps.get("parts"), list):
        raise BadInput(out.path, "no steps.json with a parts list: not a folder written by .ci/device-check")
    return steps


def read_partial(text: str) -> list[dict]:
    """The records of a ``PATH.partial`` (:func:`results_format.partial.partial_records`)."""
    return partial_records(text)


def read_bench(out: OutDir, name: str) -> dict | None:
    """json/<name>.json as {"rows": [benchmark rows], "failed": [failed cases], "finished": cases done,
    "partial": whether only json/<name>.json.partial was there, "workers": machine_info.workers};
    None when neither file is there."""
    rel = f"json/{name}.json"
    data = read_out_json(out, rel)
    if data is None:
        text = out.text(f"{rel}.partial")
        if text is None:
            return None
        records = read_partial(text)
        rows = [r["benchmark"] for r in records if r.get("status") == "passed" and isinstance(r.get("benchmark"), dict)]
        failed = [r["failed"] for r in records if r.get("status") == "failed" and isinstance(r.get("failed"), dict)]
        return {"rows": rows, "failed": failed, "finished": len(records), "partial": True, "workers": None}
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise BadInput(out.path / rel, "not pytest-benchmark JSON (no benchmarks list)")
    failed = (data.get("esperf") or {}).get("failed") or []
    workers = (data.get("machine_info") or {}).get("workers")
    return {"rows": data["benchmarks"], "failed": failed, "finished": len(data["benchmarks"]) + len(failed),
            "partial": False, "workers": workers if isinstance(workers, dict) else None}


def read_junit(out: OutDir, rel: str) -> dict | None:
    """Counts of a junit xml: {"tests", "passed", "failed", "errors", "skipped"}; None when absent."""
    text = out.text(rel)
    if text is None:
        return None
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise BadInput(out.path / rel, f"not readable junit xml ({err})") from None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    totals = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    return {"tests": totals["tests"], "passed": totals["tests"] - totals["failures"] - totals["errors"]
            - totals["skipped"], "failed": totals["failures"], "errors": totals["errors"],
            "skipped": totals["skipped"]}


@dataclass
class Run:
    """One run's steps.json and its bench results, read once."""

    out: OutDir
    steps: dict
    benches: dict = field(default_factory=dict)  # {part: read_bench(...)}
    entries: dict = field(default_factory=dict)  # {part: its last steps.json entry}

    @classmethod
    def read(cls, path: Path) -> "Run":
        out = OutDir(path)
        steps = read_steps(out)
        return cls(out, steps, {n: read_bench(out, n) for n in BENCH_PARTS},
                   {p.get("part"): p for p in steps["parts"]})

    @property
    def platform(self) -> str:
        return self.steps.get("platform", "?")


# -- figures of benchmark rows --------------------------------------------------------------

def pairing_key(row: dict) -> str:
    """The name that pairs a case's compile and runtime rows (no phase, no implementation):
    strategy env popN evalsN device. (Not :func:`reports.load.case_key`, the key of compare.)"""
    x = row.get("extra_info", {})
    return f"{x.get('strategy')} {x.get('env')} pop{x.get('popsize')} evals{x.get('num_evals')} {x.get('device')}"


def rows_of(bench: dict | None, phase: str) -> dict[str, dict]:
    """{case key: row} of the rows of ``phase`` (compile or runtime)."""
    if bench is None:
        return {}
    return {pairing_key(r): r for r in bench["rows"] if r.get("extra_info", {}).get("phase") == phase}


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


def finished_of(run: Run, p: dict) -> str | None:
    """``k of n cases`` of a bench part (k: the cases its JSON or PATH.partial holds, n: the plan's)."""
    n = p.get("cases")
    if not n:
        return None
    bench = run.benches.get(p.get("part"))
    return f"{(bench or {}).get('finished', 0)} of {n} cases"


def timed_out(p: dict) -> bool:
    """Ended at its deadline: ``timeout``'s 124 (SIGINT), or the script's mark (also a SIGKILL 15 s later)."""
    return p.get("rc") == TIMEOUT_RC or bool(p.get("timed_out"))


def part_status(p: dict, run: Run) -> str:
    """passed, skipped (the plan's line), failed (rc N), timed out (after k of n cases), over the
    deadline, or not applicable (the GPU flag on cpu)."""
    rc = p.get("rc")
    if rc is None:
        return p.get("skipped") or "skipped"
    if rc == 0:
        return "passed"
    if p.get("part") == "command-buffer" and run.platform == "cpu":
        return f"not applicable on cpu (rc {rc})"
    done = finished_of(run, p)
    if timed_out(p):
        return f"timed out after {done}" if done else f"over its {p.get('deadline_s')} s deadline"
    return f"failed (rc {rc})" + (f" after {done}" if done else "")


def part_failed(p: dict, platform: str) -> bool:
    """A part that ran and failed (the command-buffer variant on cpu is not applicable, not a
    failure; a part the plan skipped did not run; the summary's own entry, written after it ran,
    holds its verdict, not a failure of its own)."""
    if p.get("rc") is None or p.get("part") == "summary":  # the summary's entry: an earlier summary's verdict
        return False
    return p.get("rc") != 0 and not (p.get("part") == "command-buffer" and platform == "cpu")


def start_of(p: dict, run: Run) -> str:
    """How a bench part's workers started: the JSON's ``machine_info.workers`` (a fork server that
    fell back to fresh interpreters says so and why); the plan's method where no JSON was written."""
    planned = p.get("start")
    if not planned:
        return "-"
    if planned == "none":
        return "in the pytest process (--es-isolate none)"
    workers = (run.benches.get(p.get("part")) or {}).get("workers")
    if not workers:
        return f"{planned} (planned; no final JSON)"
    started, why = workers.get("start"), workers.get("why")
    if planned == "fork server" and started != "fork server":
        return f"FELL BACK to {started}: {why or 'no reason given'}"
    return f"{started} ({why})" if why else str(started)


def section_steps(run: Run) -> list[str]:
    """Per part, in the order they ran: status, rc, seconds, deadline, cases, how workers started."""
    rows = [[p.get("step"), p.get("part"), part_status(p, run), "-" if p.get("rc") is None else p.get("rc"),
             p.get("seconds"), p.get("deadline_s") or "-", finished_of(run, p) or "-", start_of(p, run),
             p.get("log") or "-"] for p in run.steps["parts"]]
    total = sum(p.get("seconds") or 0 for p in run.steps["parts"])
    budget = run.steps.get("budget_s")
    lines = ["## Steps", "", *table(["step", "part", "status", "rc", "s", "deadline s", "cases", "workers", "log"],
                                     rows), "",
             f"Total: {total} s over {len(run.steps['parts'])} parts" + (f" (budget {budget} s)." if budget else ".")]
    planned = [f"- {p.get('step')} {p.get('part')}: {p['plan']}" for p in run.steps["parts"]
               if p.get("plan") and p.get("rc") is not None]
    if planned:
        lines += ["", "Plan (grid and deadline of each part, from the probe):", *planned]
    return lines


def section_probe(run: Run) -> list[str]:
    """Step 0: what one worker cost on the device (every part's grid and deadline follow from it)."""
    lines = ["## 0. " + STEP_TITLES[0], ""]
    probe = read_out_json(run.out, "probe.json")
    if not isinstance(probe, dict):
        return lines + ["No probe.json (see logs/0-probe.log): the parts were sized by the fallback figures "
                        "(bench/device_check/plan.py FALLBACK_PROBE)."]
    workers = probe.get("workers") or {}
    start = workers.get("start", "-") + (f" ({workers['why']})" if workers.get("why") else "")
    rows = [[probe.get("case", "-"), start, fmt(probe.get("server_start_s"), "s"), fmt(probe.get("worker_start_s"), "s"),
             fmt(probe.get("backend_init_s"), "s"), fmt(probe.get("compile_s"), "s"), fmt(probe.get("first_run_s"), "s"),
             fmt(probe.get("generation_s"), "ms"), fmt(probe.get("wall_s"), "s")]]
    return lines + table(["case", "workers", "server start", "worker start", "backend init", "compile",
                          "first run", "generation ms", "worker wall"], rows)


def section_doctor(run: Run) -> list[str]:
    """Step 1: the doctor's WARN lines (doctor.json: [{"check", "status", "detail", "fix"}])."""
    lines = ["## 1. " + STEP_TITLES[1], ""]
    checks = read_out_json(run.out, "doctor.json")
    if not isinstance(checks, list):
        return lines + ["No doctor.json (see logs/1-doctor-json.log)."]
    warns = [c for c in checks if isinstance(c, dict) and c.get("status") == "WARN"]
    lines.append(f"{len(checks)} checks, {len(warns)} WARN.")
    rows = [[c.get("check"), c.get("detail"), c.get("fix")] for c in warns]
    return lines + ([""] + table(["check", "detail", "fix"], rows) if warns else [])


def section_fork_vs_interpreter(run: Run) -> list[str]:
    """Step 2: runtime medians with the fork server and with fresh interpreters, their ratio; how
    each part's workers started; the case with JAX_PLATFORMS unset."""
    fork, interp = (run.benches.get(n) for n in STEP2)
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
    starts = [f"{n}: {start_of(run.entries[n], run)}" for n in STEP2 + (UNSET,) if n in run.entries]
    if starts:
        lines.append(f"Workers started by: {'; '.join(starts)}.")
    fell = (fork or {}).get("workers") or {}
    if fell and fell.get("start") != "fork server":
        lines.append(f"WARNING: the fork part's workers started as fresh interpreters ({fell.get('why')}): "
                     "this step compares interpreter with interpreter.")
    unset = run.benches.get(UNSET)
    found = rows_of(unset, "runtime")
    lines += ["", f"With JAX_PLATFORMS unset (the worker picks its own platforms, as a user's run does):", "",
              *table(["case", "median ms", "env steps/s", "jax_platforms of the workers", "backend init s"],
                     [[k, fmt(median_s(r), "ms"), fmt(r["extra_info"].get("env_steps_per_s"), "rate"),
                       r["extra_info"].get("jax_platforms") or "-",
                       ", ".join(fmt(x, "s") for x in (r["extra_info"].get("backend_init_s") or [])) or "-"]
                      for k, r in sorted(found.items())])]
    return lines + notes(run, *STEP2, UNSET)


def section_compile_rounds(run: Run) -> list[str]:
    """Step 3: every compile round, min/median/max, max/min and round 1 slowest, per isolation."""
    rows = []
    by_isolation = {name: rows_of(run.benches.get(name), "compile") for name in STEP3}
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
    return lines + notes(run, *STEP3)


def state_after(x: dict) -> dict:
    """The first GPU's state after the timed rounds (the first worker's), {} where none was read."""
    state = x.get("device_state")
    if isinstance(state, list):
        state = next((s for s in state if s), None)
    after = (state or {}).get("after") or []
    return after[0] if after and isinstance(after[0], dict) else {}


def section_large(run: Run) -> list[str]:
    """Step 4: env steps/s, peak - baseline memory, compile seconds, first run, energy per
    generation, the device's clocks and temperature after the rounds, and the stability flags,
    per strategy x pop."""
    found = rows_of(run.benches.get("large"), "runtime")
    rows, why, memory_why = [], set(), set()
    for r in sorted(found.values(), key=lambda r: (r["extra_info"].get("strategy"), r["extra_info"].get("popsize"))):
        x = r["extra_info"]
        after = state_after(x)
        first = x.get("first_run_s")
        first = max(first) if isinstance(first, list) and first else first
        if x.get("energy_unavailable"):
            why.add(x["energy_unavailable"])
        # no generation memory figure: the row says why (the memory worker's failure, no saved executable)
        no_memory = x.get("generation_memory_worker_error") or x.get("generation_memory_unavailable")
        if x.get("generation_memory_bytes") is None and no_memory:
            memory_why.add(str(no_memory))
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
    if memory_why:
        lines += ["", f"Generation memory not measured: {'; '.join(sorted(memory_why))}."]
    return lines + notes(run, "large")


def section_small(run: Run) -> list[str]:
    """Step 5: median ms and env steps/s per pop for unroll 1, unroll 4 and command buffers."""
    found = {n: rows_of(run.benches.get(n), "runtime") for n in STEP5}
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
    if run.platform == "cpu":
        lines.append("command-buffer: not applicable on cpu (XLA's CPU client ignores the GPU flag: the "
                     "program is unroll 1's, and any difference is noise).")
    else:
        lines.append("Small populations are launch-bound when unroll 4 or command buffers beat unroll 1 "
                     "by far: 200 scan steps x several kernels per generation.")
    return lines + notes(run, *STEP5)


def section_tests(run: Run) -> list[str]:
    """Step 6: passed / failed / errors / skipped of the harness tests' junit xml."""
    counts = read_junit(run.out, "json/tests.xml")
    lines = ["## 6. " + STEP_TITLES[6], ""]
    if counts is None:
        return lines + ["No json/tests.xml (see logs/6-tests.log)."]
    lines += table(["tests", "passed", "failed", "errors", "skipped"],
                   [[counts[k] for k in ("tests", "passed", "failed", "errors", "skipped")]])
    lines += ["", f"In-process tests (test_workload) ran on the default platform ({run.platform}); the pytest "
              "bench runs of test_isolation use CPU devices by construction (tests/helpers.py bench_env)."]
    return lines


def notes(run: Run, *names: str) -> list[str]:
    """Lines for the parts ``names``: one cut at its deadline (its rows above are the finished
    cases of its PATH.partial), one skipped, and every failed bench case; nothing when all is well."""
    lines = []
    for name in names:
        p, bench = run.entries.get(name), run.benches.get(name)
        if p is not None and p.get("rc") is None:
            lines.append(f"- {name}: {p.get('skipped') or 'skipped'}")
        elif p is not None and timed_out(p):
            lines.append(f"- {name}: {part_status(p, run)}; the rows above are its finished cases"
                         + (f" (from json/{name}.json.partial)" if (bench or {}).get("partial") else ""))
        for f in (bench or {}).get("failed", []):
            lines.append(f"- FAILED ({name}) {f.get('name')}: {str(f.get('error', ''))[:300]}")
    return ["", *lines] if lines else []


def bench_failures(run: Run) -> int:
    """How many bench cases failed over every JSON (or partial) of the run."""
    return sum(len((b or {}).get("failed", [])) for b in run.benches.values())


def report_line(run: Run) -> str:
    """Where step 7's report.html is, or that it is missing."""
    found = run.out.exists("report/report.html")
    return "report.html: report/report.html" if found else "report.html: missing (see logs/7-report.log)"


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


__all__ = ["main", "summary", "EXIT_FAILED", "EXIT_BAD_INPUT"]
