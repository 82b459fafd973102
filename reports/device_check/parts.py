"""The verdict on each part of a run: its status (passed, skipped, failed, timed out after k of n
cases), whether it failed, how its workers started, its notes, and the bench cases that failed."""
from __future__ import annotations

from reports.device_check.layout import TIMEOUT_RC
from reports.device_check.out_dir import Run


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
