"""The state of one ``pytest bench`` run; ``bench/conftest.py``'s hooks delegate here.

A thin object over three parts, as pytest-benchmark splits its plugin, session and fixture:

* :mod:`bench.plugin.startup` -- :meth:`Session.start`: the refusals (usage errors, exit 4,
  before anything is listed or measured), ``jax.distributed``, ``PATH.lock``, the worker
  pool, the device listing, the grid, the peaks, what ``--es-resume`` keeps;
* :mod:`bench.plugin.policy` -- :meth:`Session.run`: how one case is measured (which
  workers, the memory worker, in this process) and its stability verdict;
* :mod:`bench.plugin.output` -- ``PATH.partial``, the line after each case, the header,
  machine_info and the final JSON.

pytest-benchmark's private API is used in :mod:`bench.plugin.pytest_benchmark_api` only.
"""
from __future__ import annotations

import signal
from dataclasses import dataclass, field

import pytest

from bench.case import PARAMS, Case
from bench.multi import distributed
from bench.plugin import output, policy, startup
from bench.plugin.options import RunOptions
from bench.plugin.results import Results, item_name

KEY = pytest.StashKey["Session"]()
__all__ = ["KEY", "Session", "item_name"]


@dataclass
class Session:
    """One ``pytest bench`` run: its cases, where they run, how, and where the results go."""

    cases: list[Case]
    found: dict  # what the device listing found (startup.discover): devices, jax, blas_threads, checks
    options: RunOptions
    workers: object | None  # bench.isolation.spawners.Workers in process mode
    results: Results
    distributed: bool
    old_sigterm: object = None
    processes: list | None = None  # every process's machine info, in process order (distributed)
    unstable: list = field(default_factory=list)  # (item name, reasons with figures) of unstable cases
    by_id: dict = field(default_factory=dict)  # {case id: Case}: an item's case from its callspec id
    case_output: output.CaseOutput | None = None  # each case's record in PATH.partial and its line

    # -- start and end -------------------------------------------------------------------
    @classmethod
    def start(cls, config) -> "Session":
        """Everything ``pytest_configure`` does; raises ``pytest.UsageError`` on a bad option."""
        getoption = config.getoption
        startup.refuse_parallel(config)
        spec, options = startup.parse_options(config)
        # --es-distributed: process 0 writes PATH, checked once this process knows its index
        path = startup.json_path(config, check=not spec)
        if getoption("es_resume") and path is None:
            raise pytest.UsageError("--es-resume needs --benchmark-json=PATH (it resumes from PATH.partial)")
        if spec:
            path = startup.join_distributed(spec, options, path)
            if path is not None:
                startup.check_writable(path)
        results = startup.hold_lock(config, path)
        workers = startup.start_workers(config, options)
        found: dict = {}
        cases = startup.build_cases(getoption, spec, found, lambda: startup.discover(workers, options))
        if options.measure_peaks:
            found.update(startup.measure_peaks(workers, options, cases))
        results.start(startup.resume_records(getoption, results, cases, spec))
        return cls(cases=cases, found=found, options=options, workers=workers, results=results,
                   distributed=bool(spec), old_sigterm=signal.signal(signal.SIGTERM, startup.raise_interrupt),
                   by_id={c.id: c for c in cases}, case_output=output.CaseOutput(results))

    def close(self) -> None:
        """``pytest_unconfigure``: the user's SIGTERM handler back; leave the distributed system;
        ``PATH.lock`` goes."""
        signal.signal(signal.SIGTERM, self.old_sigterm or signal.SIG_DFL)
        self.results.release()
        if self.distributed:
            distributed.shutdown()

    # -- collection ----------------------------------------------------------------------
    def parametrize(self, metafunc) -> None:
        """The grid's dimensions as pytest parameters (:data:`bench.case.PARAMS`), one set per case,
        each with its case id: ``params`` in the JSON then serve ``--benchmark-group-by=param:popsize``."""
        metafunc.parametrize(PARAMS, [tuple(c.params().values()) for c in self.cases], ids=[c.id for c in self.cases])

    def case_of(self, item) -> Case | None:
        """The case an item runs (None for an item that is not a case of the grid)."""
        callspec = getattr(item, "callspec", None)
        return self.by_id.get(callspec.id) if callspec is not None and "popsize" in callspec.params else None

    def collected(self, items) -> None:
        """``pytest_collection_finish``: the cases this run will measure, for the progress lines."""
        self.case_output.collected(sum(self.case_of(i) is not None for i in items))

    def deselect_done(self, config, items) -> None:
        """With ``--es-resume``: drop the items the earlier run finished."""
        done = self.results.done()
        if not done:
            return
        skipped = [i for i in items if i.name in done]
        if skipped:
            config.hook.pytest_deselected(items=skipped)
            items[:] = [i for i in items if i.name not in done]

    # -- one case ------------------------------------------------------------------------
    def run(self, case: Case, benchmark) -> dict:
        """Measure ``case``, give pytest-benchmark its rounds, return its extra_info (:mod:`bench.plugin.policy`)."""
        info, unstable = policy.run(case, benchmark, self.options, self.workers, self.distributed,
                                    self.found.get("measured_peaks"))
        if unstable:
            self.unstable.append((item_name(case), unstable))
        return info

    def report(self, item, call, report) -> None:
        """``pytest_runtest_makereport`` of a case's test: its record and line (:mod:`bench.plugin.output`)."""
        self.case_output.report(item, self.case_of(item), call, report)

    # -- the header and the summary ------------------------------------------------------
    def header(self) -> list[str]:
        return output.header(self.found)

    def report_header(self, config) -> list[str]:
        """``pytest_report_header``: the warnings of :meth:`header` where pytest prints a header."""
        return self.header() if output.header_shown(config) else []

    def warn_without_header(self, config) -> None:
        """Under ``-q`` (or ``--no-header``) pytest prints no header: the warnings still reach
        the user, written at session start by the terminal reporter."""
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and not output.header_shown(config):
            for line in self.header():
                reporter.write_line(line)

    def terminal_summary(self, reporter) -> None:
        """``pytest_terminal_summary``: one line per unstable runtime case, with its reasons."""
        output.unstable_summary(reporter, self.unstable)

    # -- the JSON ------------------------------------------------------------------------
    def update_machine_info(self, machine_info: dict) -> None:
        output.update_machine_info(machine_info, self.found, self.options.isolation, self.options.measure_peaks,
                                   self.workers, self.processes)

    def comparable_machine_info(self, machine_info: dict, compared_benchmark: dict) -> None:
        output.comparable_machine_info(machine_info, compared_benchmark, self.cases)

    def update_json(self, output_json: dict) -> None:
        output_json["esperf"] = output.esperf_block(self.options.smoke, self.results)

    def finish(self, session, exitstatus) -> None:
        """``pytest_sessionfinish``: every process's host (distributed), then ``PATH``."""
        if self.distributed and exitstatus != pytest.ExitCode.INTERRUPTED:
            from bench.measure.machine import machine_info

            self.processes = distributed.gather_json(machine_info(self.found["jax"]))
        output.write(session, exitstatus, self.results, self.cases)
