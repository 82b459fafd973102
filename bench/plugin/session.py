"""The state of one ``pytest bench`` run and what it does; ``bench/conftest.py``'s hooks delegate here.

:meth:`Session.start` validates the options (a bad value is a usage error, exit 4), joins
the distributed system if asked, lists the devices (in a worker process in ``--es-isolate
process`` mode: the pytest process itself never starts an accelerator backend), builds the
grid and opens the results files (:mod:`bench.plugin.results`). :meth:`Session.run` measures
one case -- in fresh worker processes (:mod:`bench.isolation.spawners`) or in this process --
and gives pytest-benchmark its rounds; :meth:`Session.finish` writes the JSON.
"""
from __future__ import annotations

import json
import os
import signal
import statistics
import tempfile
from dataclasses import asdict, dataclass, field, replace

import pytest

from bench.case import PARAMS, Case, CaseFailed
from bench.plugin import benchmark_options, grid
from bench.plugin.options import RunOptions, parse_run_options
from bench.plugin.progress import Progress
from bench.plugin.same_settings import refusal
from bench.plugin.results import Results, ResultsBusy, read_partial, take_over_json_path
from bench.multi import distributed
from results_format.files import esperf_block

DISCOVERY_TIMEOUT_S = 600.0  # listing the devices: a backend start, however slow a TPU's
KEY = pytest.StashKey["Session"]()


def item_name(case: Case) -> str:
    """The pytest name of ``case``'s item (the id inside the brackets is the public case id)."""
    return f"test_generation[{case.id}]"


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")


def _discover(workers, options: RunOptions) -> dict:
    """What the device-listing worker reports (:func:`bench.system.survey.machine_survey`:
    ``jax``, ``backend_errors``, ``present``, ``unused_accelerators``, ``system_check``),
    with ``blas_threads`` (the pools as the workers set them) and ``devices`` ({device id:
    description}). In process mode (``workers``: :class:`bench.isolation.spawners.Workers`)
    a worker computes it, so that this process never starts a backend; else this process."""
    settings = options.settings
    if workers is not None:
        from bench.isolation.spawners import WorkerFailed

        try:
            found = workers.run({"mode": "devices", "settings": asdict(settings)}, DISCOVERY_TIMEOUT_S)
        except WorkerFailed as err:
            raise pytest.UsageError(f"could not list the devices in a worker process: {err}") from None
    else:
        from bench.measure.timing import disable_persistent_cache, limit_blas_threads
        from bench.system.caches import cold_caches
        from bench.system.survey import machine_survey

        cold = cold_caches()  # this process measures: before its backend starts
        disable_persistent_cache()
        found = {**machine_survey(), "blas_threads": limit_blas_threads(settings.blas_threads), "cold_caches": cold}
    found["devices"] = {d["id"]: d for d in found["jax"]["devices"]}
    return found


def _measure_peaks(workers, options: RunOptions, cases: list[Case]) -> dict:
    """``--es-peak-flops auto``: {"measured_peaks": [per device set: kind, platform, cores,
    matmul_flops_per_s, copy_bytes_per_s, sizes, rounds]} of what the cases are set against
    (:func:`bench.measure.peak.peak_requests`: one core, the whole CPU, each accelerator), each
    request in a fresh worker with the case deadline (or in this process under ``--es-isolate
    none``, where no worker can pin itself to one core: the CPU devices' own figures); where
    that fails, ``[]`` and ``measured_peaks_error`` saying why."""
    from bench.measure.peak import measure_peaks, peak_requests

    requests = peak_requests(dict.fromkeys((c.device, c.devices) for c in cases))
    peaks = []
    try:
        if workers is None:
            ids = sorted({d for c in cases for d in c.devices}, key=lambda i: (i.split(":")[0], int(i.split(":")[1])))
            sets = [(i, [i]) for i in ids] + [(c.device, list(c.devices)) for c in cases
                                               if c.device == "cpu:all" and len(c.devices) > 1][:1]
            return {"measured_peaks": measure_peaks(sets)}
        from bench.isolation.spawners import WorkerFailed

        for request in requests:
            try:
                found = workers.run({"mode": "peak", **request, "settings": asdict(options.settings)},
                                    options.case_timeout)
            except WorkerFailed as err:
                return {"measured_peaks": peaks, "measured_peaks_error": f"the peak worker failed: {err}"}
            peaks.extend(found["peaks"])
        return {"measured_peaks": peaks}
    except (CaseFailed, ValueError) as err:
        return {"measured_peaks": peaks, "measured_peaks_error": str(err)}


def _absent(found: dict) -> dict[str, str]:
    """{platform: why jax shows none of its devices} for the platforms an accelerator or a
    failed backend says should be there (what ``--es-devices gpu`` answers on such a machine)."""
    from bench.system.accelerators import BACKEND_PLATFORM, warnings

    why: dict[str, list[str]] = {}
    for a in found.get("unused_accelerators", []):
        why.setdefault(a["platform"], [])
    for platform in why:
        why[platform] = warnings([a for a in found["unused_accelerators"] if a["platform"] == platform])
    for backend, error in found.get("backend_errors", {}).items():
        platform = BACKEND_PLATFORM.get(backend, backend)
        if platform not in why:
            why[platform] = [f"jax's {backend} backend failed to start: {error}"]
    return {p: "; ".join(lines) for p, lines in why.items()}


def _record(benchmark, case: Case, samples: list[float], options: RunOptions) -> None:
    """Give pytest-benchmark the rounds measured elsewhere (a worker, or bench.measure.timing here),
    in the case's group, with the ``options`` block saying what esperf did.

    pytest-benchmark times only what it calls itself; ``_make_stats`` is the fixture's
    own entry for a set of rounds (the same in pytest-benchmark 4 and 5), and it reads the
    options block from the fixture's attributes.
    """
    benchmark._mode = "esperf"  # the fixture was used (no "unused fixture" warning)
    benchmark.group = case.group
    for name, value in benchmark_options.recorded(case, options.settings, options.smoke).items():
        setattr(benchmark, name, value)
    if benchmark.disabled:
        return
    stats = benchmark._make_stats(1)
    for s in samples:
        stats.update(s)


def _median(benchmark) -> float | None:
    """The median of the rounds given to ``benchmark`` (None in a smoke run: none were given)."""
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    return getattr(stats, "median", None) if stats is not None and stats.data else None


def _benchmark_dict(config, benchmark) -> dict | None:
    """One case's row as pytest-benchmark writes it in the JSON (for ``PATH.partial``)."""
    stats = getattr(benchmark, "stats", None)
    if stats is None:
        return None
    out = config.hook.pytest_benchmark_generate_json(
        config=config, benchmarks=[stats], include_data=True, machine_info={}, commit_info={}
    )
    return (out.get("benchmarks") or [None])[0]


def _parse_options(config):
    """(distributed spec, :class:`RunOptions`) of the command line; ``pytest.UsageError`` on a bad
    value, or on a pytest-benchmark option esperf cannot honour."""
    getoption = config.getoption
    refused = benchmark_options.refused(getoption)
    if refused:
        raise pytest.UsageError(refused[0])
    try:
        spec = distributed.spec_from(getoption("es_distributed"))
    except ValueError as err:
        raise pytest.UsageError(f"--es-distributed / ${distributed.ENV_VAR}: {err}") from None
    try:
        options = parse_run_options(getoption, bool(spec))
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    if spec and options.measure_peaks:
        raise pytest.UsageError("--es-peak-flops auto measures the peaks in one process, not under "
                                "--es-distributed; give KIND=FLOPS values")
    return spec, options


def _build_cases(getoption, spec, found: dict, discover) -> list[Case]:
    """The run's cases; ``discover()`` lists the devices (:func:`_discover`), into ``found``."""
    def devices():
        found.update(discover())
        return found["devices"]

    def absent():
        return _absent(found)

    try:
        if not spec:
            found["cpu_cores"] = grid.cpu_cores(getoption).to_json()
            if getoption("es_isolate") == "none":
                # this process measures: before anything starts its CPU backend (a plugin's check),
                # have it start one device per core (cpu:all)
                from bench.multi.devices import ensure_cpu_devices

                ensure_cpu_devices([f"cpu:{i}" for i in range(found["cpu_cores"]["count"])])
        if spec:  # the default devices depend on the platforms found
            devices()
            cases = grid.build_cases(grid.distributed_defaults(getoption, found["devices"]), found["devices"], absent,
                                     distributed=True)
            grid.check_spans_every_process(cases, found["devices"], distributed.process_count())
        else:
            cases = grid.build_cases(getoption, devices, absent)
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    if any(c.impl == "evosax" for c in cases):
        from bench.measure.peers import peers_available

        if not peers_available():
            raise pytest.UsageError(
                "--es-impls: 'evosax' needs the optional peers (evosax, gymnax); "
                'install them with pip install -e ".[peers]" or use --es-impls esperf'
            )
    return cases


@dataclass
class Session:
    """One ``pytest bench`` run: its cases, where they run, how, and where the results go."""

    cases: list[Case]
    found: dict  # what the device listing found (_discover): devices, jax, blas_threads, unused accelerators, checks
    options: RunOptions
    workers: object | None  # bench.isolation.spawners.Workers in process mode
    results: Results
    distributed: bool
    old_sigterm: object = None
    processes: list | None = None  # every process's machine info, in process order (distributed)
    unstable: list = field(default_factory=list)  # (item name, reasons with figures) of unstable cases
    by_id: dict = field(default_factory=dict)  # {case id: Case}: an item's case from its callspec id
    progress: Progress | None = None  # the line after each case (from collection on)
    outcome: dict = field(default_factory=dict)  # {item name: (median, failure)} until its line is printed

    # -- start and end -------------------------------------------------------------------
    @classmethod
    def start(cls, config) -> "Session":
        """Everything ``pytest_configure`` does; raises ``pytest.UsageError`` on a bad option."""
        getoption = config.getoption
        spec, options = _parse_options(config)
        json_path = take_over_json_path(config)
        if getoption("es_resume") and json_path is None:
            raise pytest.UsageError("--es-resume needs --benchmark-json=PATH (it resumes from PATH.partial)")
        if spec:
            timeouts = options.distributed_timeouts
            try:
                distributed.initialize(spec, init_timeout_s=timeouts[0], heartbeat_timeout_s=timeouts[1],
                                       shutdown_timeout_s=timeouts[2])
            except RuntimeError as err:
                pytest.exit(f"esperf: {err}", returncode=pytest.ExitCode.INTERNAL_ERROR)
            if distributed.process_index() != 0:
                json_path = None  # process 0 writes the results
        results = Results(json_path)
        try:
            results.acquire()  # before anything slow: a second run with this PATH stops at once
        except ResultsBusy as err:
            raise pytest.UsageError(str(err)) from None
        config.add_cleanup(results.release)
        workers = None
        if options.isolation == "process":
            from bench.isolation.spawners import Workers
            from bench.plugins.checks import checks_on_cpu

            checks_on_cpu()  # this process measures nothing: checking a plugin may start CPU's backend only

            workers = Workers(options.settings.blas_threads, start_timeout=DISCOVERY_TIMEOUT_S)
            config.add_cleanup(workers.close)  # also after a usage error below
        found: dict = {}
        cases = _build_cases(getoption, spec, found, lambda: _discover(workers, options))
        if options.measure_peaks:
            found.update(_measure_peaks(workers, options, cases))
        earlier = []
        if getoption("es_resume"):
            names = {item_name(c) for c in cases}
            earlier = [r for r in read_partial(results.partial) if r["name"] in names] if results.partial else []
            refused = refusal({item_name(c): c.fields() for c in cases}, earlier, "--es-resume", str(results.partial))
            if refused:
                raise pytest.UsageError(refused)
            if spec:  # every process skips what process 0 has
                done = set(distributed.broadcast_json(sorted(r["name"] for r in earlier)))
                earlier = earlier if results.partial else [{"name": n, "status": "elsewhere"} for n in done]
        results.start(earlier)
        return cls(cases=cases, found=found, options=options,
                   workers=workers, results=results, distributed=bool(spec),
                   old_sigterm=signal.signal(signal.SIGTERM, _raise_interrupt),
                   by_id={c.id: c for c in cases})

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
        self.progress = Progress(sum(self.case_of(i) is not None for i in items))

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
        """Measure ``case``, give pytest-benchmark its rounds, return its extra_info."""
        from bench.isolation.spawners import WorkerFailed
        from bench.measure.rounds import rates

        try:
            samples, info = self.measure(case)
        except (CaseFailed, WorkerFailed) as err:
            # a known way for a case to fail: one line, no traceback of the harness
            pytest.fail(f"{type(err).__name__}: {err}", pytrace=False)
        finally:
            benchmark._mode = benchmark._mode or "esperf"
        _record(benchmark, case, samples, self.options)
        info.update(rates(info, statistics.median(samples), self.options.settings,
                          self.found.get("measured_peaks")))
        if self.options.smoke:
            info["smoke"] = True  # one round: no figure, no stability verdict
        elif case.phase == "runtime":
            from bench.measure import stability

            throttled = info.get("throttle_reasons") or []
            info["unstable"] = stability.unstable(samples, info.get("worker_medians"), throttled)
            if info["unstable"]:
                why = stability.describe(samples, info.get("worker_medians"), info["unstable"], throttled)
                self.unstable.append((item_name(case), why))
        benchmark.extra_info.update(info)
        return info

    def measure(self, case: Case) -> tuple[list[float], dict]:
        """(samples, extra_info) of ``case``, per the isolation mode."""
        if self.options.isolation == "process":
            return self._measure_in_workers(case)
        return self._measure_here(case)

    def _measure_in_workers(self, case: Case) -> tuple[list[float], dict]:
        from bench.measure import memory
        from bench.measure.rounds import compile_figures, runtime_figures, worker_shares

        settings, timeout = self.options.settings, self.options.case_timeout
        request = {"case": case.to_json(), "settings": asdict(settings)}
        if case.phase == "runtime":
            shares = worker_shares(settings, self.options.workers_for(case.platform))
            with tempfile.TemporaryDirectory(prefix="esperf-exe-") as folder:
                saved = None
                if memory.loads_saved_executable(case.platform):
                    # the device's peak counter cannot be reset: the first worker saves its executable,
                    # and a worker that only loads it measures the generation's own memory
                    saved = os.path.join(folder, "generation.exe")
                    shares = [replace(shares[0], save_executable=saved)] + shares[1:]
                workers = [self.workers.run({**request, "settings": asdict(share), "mode": "runtime"}, timeout)
                           for share in shares]
                samples, info = runtime_figures([(w["samples"], w["info"]) for w in workers])
                if saved:
                    self._generation_memory(request, info, saved, timeout)
        else:
            workers = [self.workers.run({**request, "mode": "compile"}, timeout)
                       for _ in range(settings.compile_rounds)]
            samples, info = compile_figures(workers)
            info["compile_warm_autotune"] = False  # every round a fresh process: autotuned from cold
        # the round whose case needed the most memory speaks for the case
        top = max(workers, key=lambda w: w["peak_memory_bytes"] - w["baseline_memory_bytes"])
        info.update(
            **self.workers.start_of(workers),  # per row: a fork-server fallback shows where it happened
            isolation="process",
            worker_pids=[w["pid"] for w in workers],
            backend_init_s=[w["backend_init_s"] for w in workers],
            jax_platforms=top.get("jax_platforms"),
            cpu_affinity=top.get("cpu_affinity"),  # the CPUs the workers could run on (a CPU case: its cores)
            baseline_memory_bytes=top["baseline_memory_bytes"],
            peak_memory_bytes=top["peak_memory_bytes"],
            memory_source=top["memory_source"],
        )
        return samples, info

    def _generation_memory(self, request: dict, info: dict, saved: str, timeout: float) -> None:
        """The memory worker of a GPU/TPU runtime case: it loads the executable the first runtime
        worker saved at ``saved`` and measures a generation's own memory into ``info``
        (:func:`bench.measure.memory.merge_generation_memory`). Its failure, or an executable
        that could not be saved, is named in the row and never fails the case: the runtime
        workers' figures stand."""
        from bench.isolation.spawners import WorkerFailed
        from bench.measure.memory import merge_generation_memory

        not_saved = info.get("executable_not_saved")
        if not_saved or not os.path.exists(saved):
            merge_generation_memory(info, error="no memory worker: the runtime worker could not save its executable"
                                                f" ({not_saved or 'no file was written'})")
            return
        try:
            found = self.workers.run({**request, "mode": "memory", "executable": saved}, timeout)
        except WorkerFailed as err:
            merge_generation_memory(info, error=f"the memory worker failed: {err}")
            return
        merge_generation_memory(info, found["info"], pid=found["pid"])

    def _measure_here(self, case: Case) -> tuple[list[float], dict]:
        import jax

        from bench.measure import rounds as measure
        from bench.measure.memory import memory_peak
        from bench.measure.placement import jax_devices

        settings = self.options.settings
        sync = None
        if self.distributed:
            from bench.multi.sync import ProcessSync

            sync = ProcessSync()
        if case.phase == "runtime":
            samples, info = measure.runtime_figures([measure.measure_runtime(case, settings, sync)])
        else:
            built = measure.build(case, settings, sync)
            compile_rounds = []
            for _ in range(settings.compile_rounds):
                if sync:
                    sync.before_round()
                compile_rounds.append(measure.measure_compile_round(case, settings, built))
            samples, info = measure.compile_figures(compile_rounds)
            # XLA:GPU keeps its autotuning results for the process: in one process the rounds after
            # the first still compile but skip autotuning, so they understate a cold compile.
            info["compile_warm_autotune"] = case.platform == "gpu" and len(compile_rounds) > 1
        if sync:
            samples = sync.slowest(samples)
        local = [d for d in jax_devices(case.devices) if d.process_index == jax.process_index()]
        peak, source = memory_peak(local)
        info.update(isolation="none", worker_pids=[os.getpid()], jax_platforms=jax.config.jax_platforms or None,
                    cpu_affinity=sorted(os.sched_getaffinity(0)),  # in-process: not pinned per case
                    baseline_memory_bytes=None,
                    peak_memory_bytes=peak, memory_source=source)
        return samples, info

    def report(self, item, call, report) -> None:
        """After each phase of a case's test: a failure, or the passed row, goes to ``PATH.partial``;
        after its teardown, the case's progress line."""
        case = self.case_of(item)
        if report.failed and call.excinfo is not None and not isinstance(call.excinfo.value, KeyboardInterrupt):
            failed = {
                "name": item.name,
                "when": report.when,
                "extra_info": case.fields(),
                "error": " ".join(call.excinfo.exconly().split())[:4000],
            }
            self.results.append({"name": item.name, "status": "failed", "failed": failed})
            self.outcome.setdefault(item.name, (None, failed["error"]))
        elif report.when == "call" and report.passed:
            benchmark = item.funcargs.get("benchmark")
            row = _benchmark_dict(item.config, benchmark)
            if row is not None:
                self.results.append({"name": item.name, "status": "passed", "benchmark": row})
            self.outcome[item.name] = (_median(benchmark), None)
        if report.when == "teardown":
            self._progress(item, case)

    def _progress(self, item, case: Case) -> None:
        """The case's line (after pytest's own mark for its test); none under ``-q``."""
        median, failure = self.outcome.pop(item.name, (None, None))
        if self.progress is None:
            return
        line = self.progress.line(case.id, median, failure)
        reporter = item.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and item.config.getoption("verbose") >= 0:
            reporter.ensure_newline()
            reporter.write_line(line)

    # -- the header ----------------------------------------------------------------------
    @staticmethod
    def _header_shown(config) -> bool:
        return config.get_verbosity() >= 0 and not config.getoption("no_header", False)

    def report_header(self, config) -> list[str]:
        """``pytest_report_header``: the warnings of :meth:`header` where pytest prints a header."""
        return self.header() if self._header_shown(config) else []

    def warn_without_header(self, config) -> None:
        """Under ``-q`` (or ``--no-header``) pytest prints no header: the warnings still reach
        the user, written at session start by the terminal reporter."""
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and not self._header_shown(config):
            for line in self.header():
                reporter.write_line(line)

    def terminal_summary(self, reporter) -> None:
        """``pytest_terminal_summary``: one line per unstable runtime case, with its reasons."""
        if not self.unstable:
            return
        reporter.section("esperf: unstable figures", sep="-")
        for name, why in self.unstable:
            reporter.write_line(f"UNSTABLE {name}: {why}")
        reporter.write_line("(bench/measure/stability.py: the rules; more rounds, --es-runtime-workers and a "
                            "quiet machine (python -m bench.doctor) steady a figure)")

    # -- the JSON ------------------------------------------------------------------------
    def header(self) -> list[str]:
        """The run header's warnings: each accelerator jax does not use, each backend that
        failed to start, each WARN of the system checks (``python -m bench.doctor`` explains)."""
        from bench.system.accelerators import BACKEND_PLATFORM, warnings

        unused = self.found.get("unused_accelerators", [])
        lines = warnings(unused)
        platforms = {a["platform"] for a in unused}
        lines += [f"jax's {b} backend failed to start: {e}" for b, e in self.found.get("backend_errors", {}).items()
                  if BACKEND_PLATFORM.get(b, b) not in platforms]
        if self.found.get("measured_peaks_error"):
            lines.append(f"--es-peak-flops auto: {self.found['measured_peaks_error']}; pct_of_peak stays empty")
        for c in self.found.get("system_check") or []:
            # the doctor's jax.unused.* and jax.backend.* say again what the lines above said
            if c["status"] == "WARN" and not c["check"].startswith(("jax.unused.", "jax.backend.")):
                lines.append(f"{c['check']}: {c['detail']}" + (f" (fix: {c['fix']})" if c.get("fix") else ""))
        return [f"esperf: WARNING: {line}" for line in lines]

    def update_machine_info(self, machine_info: dict) -> None:
        from bench.measure.machine import machine_info as esperf_machine_info

        machine_info.update(esperf_machine_info(self.found["jax"]))
        # in a stable order: threadpoolctl lists the pools in the order the libraries loaded
        pools = self.found["blas_threads"]
        machine_info["blas_threads"] = pools if pools is None else sorted(pools, key=lambda p: json.dumps(p, sort_keys=True))
        machine_info["unused_accelerators"] = self.found.get("unused_accelerators", [])
        machine_info["backend_errors"] = self.found.get("backend_errors", {})
        machine_info["system_check"] = self.found.get("system_check", [])
        machine_info["cold_caches"] = self.found.get("cold_caches", [])  # what the workers changed
        machine_info["isolation"] = self.options.isolation
        if self.found.get("cpu_cores"):
            machine_info["cpu_cores"] = self.found["cpu_cores"]  # the whole CPU (cpu:all): count, how counted
        if self.options.measure_peaks:  # --es-peak-flops auto
            machine_info["measured_peaks"] = self.found.get("measured_peaks", [])
            if self.found.get("measured_peaks_error"):
                machine_info["measured_peaks_error"] = self.found["measured_peaks_error"]
        if self.workers is not None:
            machine_info["workers"] = self.workers.describe()  # how the worker processes started
        if self.processes:
            machine_info["processes"] = self.processes  # every process's host, in process order

    def comparable_machine_info(self, machine_info: dict, compared_benchmark: dict) -> None:
        """Before pytest-benchmark's ``--benchmark-compare`` check: the keys that describe a run, not
        the machine (:data:`bench.measure.machine.RUN_STATE_KEYS`), leave both sides, so the same
        machine compares equal and another machine still warns."""
        from bench.measure.machine import RUN_STATE_KEYS

        refused = refusal({item_name(c): c.fields() for c in self.cases}, compared_benchmark.get("benchmarks") or [],
                          "--benchmark-compare", "the saved run")
        if refused:
            raise pytest.UsageError(refused)
        saved = compared_benchmark.get("machine_info")
        for info in (machine_info, saved if isinstance(saved, dict) else {}):
            for key in RUN_STATE_KEYS:
                info.pop(key, None)

    def update_json(self, output_json: dict) -> None:
        # a smoke run (--benchmark-disable) has no rows: "run" says why, "failed" what broke
        output_json["esperf"] = esperf_block("smoke" if self.options.smoke else "measured", self.results.failed)

    def finish(self, session, exitstatus) -> None:
        """``pytest_sessionfinish``: write ``PATH`` (or say how to resume an interrupted run)."""
        config = session.config
        if self.distributed and exitstatus != pytest.ExitCode.INTERRUPTED:
            from bench.measure.machine import machine_info

            self.processes = distributed.gather_json(machine_info(self.found["jax"]))
        results = self.results
        if results.path is None:
            return
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            print(f"\nesperf: interrupted; the {results.finished_count()} finished case(s) are in {results.partial}; "
                  "rerun the same command with --es-resume to complete it", flush=True)
            return
        bs = config._benchmarksession
        commit_info = config.hook.pytest_benchmark_generate_commit_info(config=config)
        config.hook.pytest_benchmark_update_commit_info(config=config, commit_info=commit_info)
        output = config.hook.pytest_benchmark_generate_json(
            config=config, benchmarks=bs.benchmarks, include_data=True,
            machine_info=bs.get_machine_info(), commit_info=commit_info,
        )
        config.hook.pytest_benchmark_update_json(config=config, benchmarks=bs.benchmarks, output_json=output)
        results.write(output, [item_name(c) for c in self.cases])
        if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and results.earlier:
            # --es-resume found every case already done: the run is complete, not empty
            session.exitstatus = pytest.ExitCode.TESTS_FAILED if results.failed else pytest.ExitCode.OK
