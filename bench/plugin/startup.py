"""The start of one ``pytest bench`` run: what :meth:`bench.plugin.session.Session.start` does, step by step.

Refusals first, each a usage error (exit 4) in one line before anything is measured or
listed: a plugin that runs cases in parallel processes (:func:`refuse_parallel`), a
pytest-benchmark option esperf cannot honour, a bad ``--es-*`` value (:func:`parse_options`),
a ``--benchmark-json`` PATH that cannot be written (:func:`json_path`). Then: join
``jax.distributed`` (:func:`join_distributed`), hold ``PATH.lock`` (:func:`hold_lock`), start
the worker pool (:func:`start_workers`), list the devices (:func:`discover`, in a worker
process in ``--es-isolate process`` mode: the pytest process itself never starts an
accelerator backend), build the grid (:func:`build_cases`), measure the peaks
(:func:`measure_peaks`) and read what an earlier run finished (:func:`resume_records`).
"""
from __future__ import annotations

import os
import signal
import stat
import tempfile
from dataclasses import asdict
from pathlib import Path

import pytest

from bench.case import Case, CaseFailed
from bench.multi import distributed
from bench.plugin import benchmark_options, grid
from bench.plugin import pytest_benchmark_api as api
from bench.plugin.options import RunOptions, parse_run_options
from bench.plugin.results import Results, ResultsBusy, item_name, read_partial
from bench.plugin.same_settings import refusal

DISCOVERY_TIMEOUT_S = 600.0  # listing the devices: a backend start, however slow a TPU's
XDIST_ENV = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


def raise_interrupt(signum, frame):
    """SIGTERM as Ctrl-C: pytest then ends the run as interrupted and ``PATH.partial`` stays."""
    raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")


# -- refusals ----------------------------------------------------------------------------------

def parallel_processes(config, env=os.environ) -> str | None:
    """What would run this run's cases in parallel processes, in words; None where nothing does.

    Generic over plugins: an xdist worker (``config.workerinput``, ``$PYTEST_XDIST_WORKER``),
    or an option registered as xdist registers its own: ``numprocesses`` (``-n``) other than
    0, ``dist`` (``--dist``) other than ``no``.
    """
    if getattr(config, "workerinput", None) is not None or env.get("PYTEST_XDIST_WORKER"):
        return "this pytest process is a pytest-xdist worker"
    processes = config.getoption("numprocesses", None)
    if processes not in (None, 0, "0"):
        return f"-n {processes} asks for parallel worker processes"
    dist = config.getoption("dist", "no")
    if dist not in (None, "no"):
        return f"--dist {dist} asks for parallel worker processes"
    return None


def refuse_parallel(config) -> None:
    """``pytest.UsageError`` where cases would run in parallel processes (pytest-xdist or alike)."""
    why = parallel_processes(config)
    if why:
        raise pytest.UsageError(f"{why}: pytest bench measures one case at a time, since cases must not share "
                                "the machine (each one's figures would include the others'); drop -n / --dist")


def unwritable(path: Path) -> str | None:
    """Why this process cannot write ``path`` as esperf does (``PATH.lock`` and ``PATH.partial``
    beside it, a temporary file renamed over it); None where it can.

    Honest rather than ``os.access`` (which says yes to root, and no to nothing on a read-only
    mount): a temporary file is created and removed in the nearest existing folder, and an
    existing PATH is opened for appending (which changes nothing in it). A PATH without any
    write permission bit is refused even where this user could replace it (root): its owner
    marked it read-only.
    """
    if path.is_dir():
        return "it is a folder"
    if path.exists():
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            return "it is not a regular file"
        if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            return f"the file is read-only (mode {stat.S_IMODE(mode):04o}); make it writable or give another PATH"
        try:
            open(path, "ab").close()
        except OSError as err:
            return f"the file cannot be written ({err.strerror or err})"
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the folders that are missing are made at start-up: their parent must take them
    if not folder.is_dir():
        return f"{folder} is not a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.probe-"):
            pass
    except OSError as err:
        return f"no file can be created in {folder} ({err.strerror or err})"
    return None


def check_writable(path: Path) -> None:
    """``pytest.UsageError`` in one line where ``--benchmark-json``'s ``path`` cannot be written."""
    why = unwritable(path)
    if why:
        raise pytest.UsageError(f"--benchmark-json={path} cannot be written: {why}")


def json_path(config, check: bool = True) -> Path | None:
    """``--benchmark-json``'s PATH, taken over from pytest-benchmark (esperf writes it); with
    ``check``, first a usage error where it cannot be written. None without the option."""
    path = api.json_target(config)
    if path is not None and check:
        check_writable(path)
    api.take_over_json(config)
    return path


def parse_options(config):
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


# -- the run's resources -----------------------------------------------------------------------

def join_distributed(spec, options: RunOptions, path: Path | None) -> Path | None:
    """Join ``jax.distributed`` (exit 3 where that fails); the results PATH this process writes
    (process 0 writes the results, the others none)."""
    timeouts = options.distributed_timeouts
    try:
        distributed.initialize(spec, init_timeout_s=timeouts[0], heartbeat_timeout_s=timeouts[1],
                               shutdown_timeout_s=timeouts[2])
    except RuntimeError as err:
        pytest.exit(f"esperf: {err}", returncode=pytest.ExitCode.INTERNAL_ERROR)
    return path if distributed.process_index() == 0 else None


def hold_lock(config, path: Path | None) -> Results:
    """The run's results files, ``PATH.lock`` held (before anything slow: a second run with
    this PATH stops at once) and given back when pytest ends."""
    results = Results(path)
    try:
        results.acquire()
    except ResultsBusy as err:
        raise pytest.UsageError(str(err)) from None
    config.add_cleanup(results.release)
    return results


def start_workers(config, options: RunOptions):
    """The worker pool of ``--es-isolate process`` (:class:`bench.isolation.spawners.Workers`),
    closed when pytest ends; None where this process measures."""
    if options.isolation != "process":
        return None
    from bench.isolation.spawners import Workers
    from bench.plugins.checks import checks_on_cpu

    checks_on_cpu()  # this process measures nothing: checking a plugin may start CPU's backend only
    workers = Workers(options.settings.blas_threads, start_timeout=DISCOVERY_TIMEOUT_S)
    config.add_cleanup(workers.close)  # also after a usage error below
    return workers


def discover(workers, options: RunOptions) -> dict:
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


def absent(found: dict) -> dict[str, str]:
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


def build_cases(getoption, spec, found: dict, list_devices) -> list[Case]:
    """The run's cases; ``list_devices()`` lists the devices (:func:`discover`), into ``found``."""
    def devices():
        found.update(list_devices())
        return found["devices"]

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
            cases = grid.build_cases(grid.distributed_defaults(getoption, found["devices"]), found["devices"],
                                     lambda: absent(found), distributed=True)
            grid.check_spans_every_process(cases, found["devices"], distributed.process_count())
        else:
            cases = grid.build_cases(getoption, devices, lambda: absent(found))
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


def measure_peaks(workers, options: RunOptions, cases: list[Case]) -> dict:
    """``--es-peak-flops auto``: {"measured_peaks": [per device set: kind, platform, cores,
    matmul_flops_per_s, copy_bytes_per_s, sizes, rounds]} of what the cases are set against
    (:func:`bench.measure.peak.peak_requests`: one core, the whole CPU, each accelerator), each
    request in a fresh worker with the case deadline (or in this process under ``--es-isolate
    none``, where no worker can pin itself to one core: the CPU devices' own figures); where
    that fails, ``[]`` and ``measured_peaks_error`` saying why."""
    from bench.measure.peak import measure_peaks as measure, peak_requests

    requests = peak_requests(dict.fromkeys((c.device, c.devices) for c in cases))
    peaks = []
    try:
        if workers is None:
            ids = sorted({d for c in cases for d in c.devices}, key=lambda i: (i.split(":")[0], int(i.split(":")[1])))
            sets = [(i, [i]) for i in ids] + [(c.device, list(c.devices)) for c in cases
                                               if c.device == "cpu:all" and len(c.devices) > 1][:1]
            return {"measured_peaks": measure(sets)}
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


def resume_records(getoption, results: Results, cases: list[Case], spec) -> list[dict]:
    """With ``--es-resume``: the records of ``PATH.partial`` that name a case of this grid (under
    ``--es-distributed``, every process skips what process 0 has); else none. ``pytest.UsageError``
    where a record was measured with other settings (:mod:`bench.plugin.same_settings`)."""
    if not getoption("es_resume"):
        return []
    names = {item_name(c) for c in cases}
    earlier = [r for r in read_partial(results.partial) if r["name"] in names] if results.partial else []
    # rows measured with other settings (--es-hidden, --es-unroll, ...) would be kept under this
    # run's machine_info as if measured with its settings: a usage error naming each setting
    refused = refusal({item_name(c): c.fields() for c in cases}, earlier, "--es-resume", str(results.partial))
    if refused:
        raise pytest.UsageError(refused)
    if spec:
        done = set(distributed.broadcast_json(sorted(r["name"] for r in earlier)))
        earlier = earlier if results.partial else [{"name": n, "status": "elsewhere"} for n in done]
    return earlier
