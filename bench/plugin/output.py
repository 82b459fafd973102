"""What ``pytest bench`` writes: ``PATH.partial`` as cases end, the line after each case, the
header's warnings, esperf's machine_info, its block of the JSON and ``PATH`` at the end.

The rules: every finished case is on disk (``PATH.partial``) before the next one starts; the
line after a case says what happened to it (its median, its failure, or that it was skipped);
``PATH`` is written atomically at the end (:mod:`bench.plugin.results`), and an interrupted
run says how to resume instead.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from bench.case import Case
from bench.plugin import pytest_benchmark_api as api
from bench.plugin.progress import Progress
from bench.plugin.results import Results, item_name
from bench.plugin.same_settings import refusal
from results_format import files


def skip_reason(report) -> str:
    """Why pytest skipped a test, from its report (``Skipped: `` left off)."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr or "")
    return text.removeprefix("Skipped: ").strip() or "skipped"


@dataclass
class CaseOutput:
    """What each case's end writes: its record in ``PATH.partial``, then its line."""

    results: Results
    progress: Progress | None = None  # the line after each case (from collection on)
    outcome: dict = field(default_factory=dict)  # {item name: (median, failure, skip reason)} until its line

    def collected(self, total: int) -> None:
        self.progress = Progress(total)

    def report(self, item, case: Case, call, report) -> None:
        """After each phase of a case's test: a failure, or the passed row, goes to ``PATH.partial``;
        a skip is noted; after its teardown, the case's line."""
        if report.failed and call.excinfo is not None and not isinstance(call.excinfo.value, KeyboardInterrupt):
            failed = {
                "name": item.name,
                "when": report.when,
                "extra_info": case.fields(),
                "error": " ".join(call.excinfo.exconly().split())[:4000],
            }
            self.results.append({"name": item.name, "status": "failed", "failed": failed})
            self.outcome.setdefault(item.name, (None, failed["error"], None))
        elif report.skipped:  # --benchmark-skip, a skip mark: nothing was measured, nothing is written
            self.outcome.setdefault(item.name, (None, None, skip_reason(report)))
        elif report.when == "call" and report.passed:
            benchmark = item.funcargs.get("benchmark")
            row = api.row(item.config, benchmark)
            if row is not None:
                self.results.append({"name": item.name, "status": "passed", "benchmark": row})
            self.outcome[item.name] = (api.median(benchmark), None, None)
        if report.when == "teardown":
            self.line(item, case)

    def line(self, item, case: Case) -> None:
        """The case's line (after pytest's own mark for its test); none under ``-q``."""
        median, failure, skipped = self.outcome.pop(item.name, (None, None, None))
        if self.progress is None:
            return
        line = self.progress.line(case.id, median, failure, skipped)
        reporter = item.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and item.config.getoption("verbose") >= 0:
            reporter.ensure_newline()
            reporter.write_line(line)


# -- the header and the summary ----------------------------------------------------------------

def header_shown(config) -> bool:
    """Whether pytest prints its header (not under ``-q`` or ``--no-header``)."""
    return config.get_verbosity() >= 0 and not config.getoption("no_header", False)


def header(found: dict) -> list[str]:
    """The run header's warnings: each accelerator jax does not use, each backend that
    failed to start, each WARN of the system checks (``python -m bench.doctor`` explains)."""
    from bench.system.accelerators import BACKEND_PLATFORM, warnings

    unused = found.get("unused_accelerators", [])
    lines = warnings(unused)
    platforms = {a["platform"] for a in unused}
    lines += [f"jax's {b} backend failed to start: {e}" for b, e in found.get("backend_errors", {}).items()
              if BACKEND_PLATFORM.get(b, b) not in platforms]
    if found.get("measured_peaks_error"):
        lines.append(f"--es-peak-flops auto: {found['measured_peaks_error']}; pct_of_peak stays empty")
    for c in found.get("system_check") or []:
        # the doctor's jax.unused.* and jax.backend.* say again what the lines above said
        if c["status"] == "WARN" and not c["check"].startswith(("jax.unused.", "jax.backend.")):
            lines.append(f"{c['check']}: {c['detail']}" + (f" (fix: {c['fix']})" if c.get("fix") else ""))
    return [f"esperf: WARNING: {line}" for line in lines]


def unstable_summary(reporter, unstable: list) -> None:
    """One line per unstable runtime case ((item name, reasons with figures)), with its reasons."""
    if not unstable:
        return
    reporter.section("esperf: unstable figures", sep="-")
    for name, why in unstable:
        reporter.write_line(f"UNSTABLE {name}: {why}")
    reporter.write_line("(bench/measure/stability.py: the rules; more rounds, --es-runtime-workers and a "
                        "quiet machine (python -m bench.doctor) steady a figure)")


# -- machine_info and the JSON -----------------------------------------------------------------

def update_machine_info(machine_info: dict, found: dict, isolation: str, measure_peaks: bool,
                        workers, processes: list | None) -> None:
    """esperf's part of pytest-benchmark's ``machine_info``: what the device listing ``found``,
    the isolation mode, the measured peaks, how the workers started, every process's host."""
    from bench.measure.machine import machine_info as esperf_machine_info

    machine_info.update(esperf_machine_info(found["jax"]))
    # in a stable order: threadpoolctl lists the pools in the order the libraries loaded
    pools = found["blas_threads"]
    machine_info["blas_threads"] = pools if pools is None else sorted(pools, key=lambda p: json.dumps(p, sort_keys=True))
    machine_info["unused_accelerators"] = found.get("unused_accelerators", [])
    machine_info["backend_errors"] = found.get("backend_errors", {})
    machine_info["system_check"] = found.get("system_check", [])
    machine_info["cold_caches"] = found.get("cold_caches", [])  # what the workers changed
    machine_info["isolation"] = isolation
    if found.get("cpu_cores"):
        machine_info["cpu_cores"] = found["cpu_cores"]  # the whole CPU (cpu:all): count, how counted
    if measure_peaks:  # --es-peak-flops auto
        machine_info["measured_peaks"] = found.get("measured_peaks", [])
        if found.get("measured_peaks_error"):
            machine_info["measured_peaks_error"] = found["measured_peaks_error"]
    if workers is not None:
        machine_info["workers"] = workers.describe()  # how the worker processes started
    if processes:
        machine_info["processes"] = processes  # every process's host, in process order


def comparable_machine_info(machine_info: dict, compared_benchmark: dict, cases: list[Case]) -> None:
    """Before pytest-benchmark's ``--benchmark-compare`` check: ``pytest.UsageError`` where the
    saved run measured a case of this run with other settings (the same names would be compared
    as one case: a false regression); then the keys that describe a run, not the machine
    (:data:`bench.measure.machine.RUN_STATE_KEYS`), leave both sides, so the same machine
    compares equal and another machine still warns."""
    from bench.measure.machine import RUN_STATE_KEYS

    refused = refusal({item_name(c): c.fields() for c in cases}, compared_benchmark.get("benchmarks") or [],
                      "--benchmark-compare", "the saved run")
    if refused:
        raise pytest.UsageError(refused)
    saved = compared_benchmark.get("machine_info")
    for info in (machine_info, saved if isinstance(saved, dict) else {}):
        for key in RUN_STATE_KEYS:
            info.pop(key, None)


def esperf_block(smoke: bool, results: Results) -> dict:
    """The JSON's ``esperf`` block (:func:`results_format.files.esperf_block`): a smoke run
    (--benchmark-disable) has no rows, ``run`` says why; ``failed`` says what broke."""
    return files.esperf_block("smoke" if smoke else "measured", results.failed)


def write(session, exitstatus, results: Results, cases: list[Case]) -> None:
    """``pytest_sessionfinish``: write ``PATH`` (or say how to resume an interrupted run)."""
    if results.path is None:
        return
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        print(f"\nesperf: interrupted; the {results.finished_count()} finished case(s) are in {results.partial}; "
              "rerun the same command with --es-resume to complete it", flush=True)
        return
    results.write(api.output_json(session.config), [item_name(c) for c in cases])
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and results.earlier:
        # --es-resume found every case already done: the run is complete, not empty
        session.exitstatus = pytest.ExitCode.TESTS_FAILED if results.failed else pytest.ExitCode.OK
