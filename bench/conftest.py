"""pytest-benchmark plugin of ``pytest bench``: the grid, isolation, machine info, the JSON.

Options (``--es-*``) are registered by the root ``conftest.py`` from
:mod:`bench.options`; this file validates them (a bad value is a usage error, exit 4),
parametrizes ``test_generation`` over the grid, runs each case (in fresh worker
processes by default, :mod:`bench.isolation`), and writes the results:

* every finished case, passed or failed, is appended to ``PATH.partial`` (JSON Lines,
  flushed) beside ``--benchmark-json=PATH`` as soon as it ends;
* at the end ``PATH`` is written atomically (a temporary file in the same folder, then
  a rename) with pytest-benchmark's format, esperf's machine information and the failed
  cases under ``esperf.failed``; then ``PATH.partial`` is removed. An interrupted run
  (Ctrl-C, SIGTERM) keeps ``PATH.partial``; ``--es-resume`` runs only the cases it lacks.

The pytest process itself never starts an accelerator backend in ``--es-isolate
process`` mode: a short-lived worker lists the devices.
"""
from __future__ import annotations

import json
import os
import signal
import statistics
from dataclasses import asdict
from pathlib import Path

import pytest

from bench.grid import build_cases, parse_peak_flops
from bench.validate import parse_positive_int
from reports.schema import SCHEMA_VERSION

ISOLATION = ("process", "none")
DISCOVERY_TIMEOUT_S = 600.0  # listing the devices: a backend start, however slow a TPU's

_STATE = pytest.StashKey[dict]()


def _usage(err: Exception):
    return pytest.UsageError(str(err))


def _discover(workers, settings, timeout: float) -> tuple[dict, dict, list]:
    """({device id: description}, jax part of machine_info, BLAS pools) -- from a worker in
    process mode (``workers``: :class:`bench.isolation.Workers`), so that this process
    never starts a backend, else from here."""
    if workers is not None:
        from bench.isolation import WorkerFailed

        try:
            found = workers.run({"mode": "devices", "settings": asdict(settings)}, timeout)
        except WorkerFailed as err:
            raise pytest.UsageError(f"could not list the devices in a worker process: {err}") from None
        jax_part, blas = found["jax"], found["blas_threads"]
    else:
        from bench.devices import visible_devices
        from bench.machine import jax_info
        from bench.timing import disable_persistent_cache, limit_blas_threads

        disable_persistent_cache()
        blas = limit_blas_threads(settings.blas_threads)
        jax_part = jax_info(list(visible_devices().values()))
    return {d["id"]: d for d in jax_part["devices"]}, jax_part, blas


def _json_path(config) -> Path | None:
    """Take ``--benchmark-json`` over from pytest-benchmark: esperf writes the file itself.

    pytest-benchmark 4 opens the path as a file at parse time, 5 keeps a ``Path``; both
    write it only when a benchmark succeeded and not atomically.
    """
    target = config.getoption("benchmark_json")
    if target is None:
        return None
    if isinstance(target, (str, os.PathLike)):
        path = Path(target)
    else:  # pytest-benchmark 4 opened (and emptied) the file at parse time; esperf writes it at the end
        path = Path(target.name)
        target.close()
        path.unlink(missing_ok=True)
    config.option.benchmark_json = None  # read by pytest-benchmark's session when it is made
    bs = getattr(config, "_benchmarksession", None)
    if bs is not None:
        bs.json = None
    return path.absolute()


def _read_partial(path: Path) -> list[dict]:
    """The finished cases of an earlier run (a torn last line from a kill is ignored)."""
    records = []
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("name"):
            records.append(rec)
    return records


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")


def _seconds(option: str, text) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = float("nan")
    if not value > 0:
        raise ValueError(f"{option}: {text!r} is not allowed; give seconds > 0")
    return value


def _run_options(getoption, spec):
    """(isolation, distributed timeouts, case timeout, Settings) from the options; ValueError on a bad one."""
    from bench.target import Settings

    isolation = getoption("es_isolate") or ("none" if spec else "process")
    if isolation not in ISOLATION:
        raise ValueError(f"--es-isolate: unknown value {isolation!r}; choose from {', '.join(ISOLATION)}")
    if spec and isolation == "process":
        raise ValueError("--es-isolate process cannot be combined with --es-distributed: the processes of a "
                         "distributed run measure their cases in-process (--es-isolate none)")
    settings = Settings(
        compile_rounds=parse_positive_int("--es-compile-rounds", getoption("es_compile_rounds"), 3),
        runtime_rounds=None if getoption("es_runtime_rounds") is None
        else parse_positive_int("--es-runtime-rounds", getoption("es_runtime_rounds")),
        min_runtime_rounds=max(20, getoption("benchmark_min_rounds") or 0),
        max_time=float(getoption("benchmark_max_time") or 1.0),
        unroll=parse_positive_int("--es-unroll", getoption("es_unroll")),
        peak_flops=parse_peak_flops(getoption("es_peak_flops")),
        blas_threads=parse_positive_int("--es-blas-threads", getoption("es_blas_threads"), 0) or None,
    )
    timeouts = _timeouts(getoption("es_distributed_timeouts"))
    return isolation, timeouts, _seconds("--es-case-timeout", getoption("es_case_timeout")), settings


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    from bench import distributed

    getoption = config.getoption
    try:
        spec = distributed.spec_from(getoption("es_distributed"))
    except ValueError as err:
        raise pytest.UsageError(f"--es-distributed / ${distributed.ENV_VAR}: {err}") from None
    try:
        isolation, timeouts, case_timeout, settings = _run_options(getoption, spec)
    except ValueError as err:
        raise _usage(err) from None
    json_path = _json_path(config)
    if getoption("es_resume") and json_path is None:
        raise pytest.UsageError("--es-resume needs --benchmark-json=PATH (it resumes from PATH.partial)")
    if spec:
        try:
            distributed.initialize(spec, init_timeout_s=timeouts[0], heartbeat_timeout_s=timeouts[1],
                                   shutdown_timeout_s=timeouts[2])
        except RuntimeError as err:
            pytest.exit(f"esperf: {err}", returncode=pytest.ExitCode.INTERNAL_ERROR)
        if distributed.process_index() != 0:
            json_path = None  # process 0 writes the results
    found = {}
    workers = None
    if isolation == "process":
        from bench.isolation import Workers

        workers = Workers(settings.blas_threads, start_timeout=DISCOVERY_TIMEOUT_S)
        config.add_cleanup(workers.close)  # also after a usage error below

    def discover():
        found["devices"], found["jax"], found["blas"] = _discover(workers, settings, DISCOVERY_TIMEOUT_S)
        return found["devices"]

    try:
        if spec:  # the default devices depend on the platforms found
            discover()
            cases = build_cases(_distributed_defaults(getoption, found["devices"]), found["devices"])
            _check_spans_every_process(cases, found["devices"], distributed.process_count())
        else:
            cases = build_cases(getoption, discover)
    except ValueError as err:
        raise _usage(err) from None
    devices, jax_part, blas = found["devices"], found["jax"], found["blas"]
    if any(c.impl == "evosax" for c in cases):
        from bench.peers import peers_available

        if not peers_available():
            raise pytest.UsageError(
                "--es-impls: 'evosax' needs the optional peers (evosax, gymnax); "
                'install them with pip install -e ".[peers]" or use --es-impls esperf'
            )
    partial = Path(f"{json_path}.partial") if json_path else None
    earlier = []
    if getoption("es_resume"):
        names = {f"test_generation[{c.id}]" for c in cases}
        earlier = [r for r in _read_partial(partial) if r["name"] in names] if partial else []
        if spec:  # every process skips what process 0 has
            done = set(distributed.broadcast_json(sorted(r["name"] for r in earlier)))
            earlier = earlier if partial else [{"name": n, "status": "elsewhere"} for n in done]
    if partial is not None:
        partial.parent.mkdir(parents=True, exist_ok=True)
        # a fresh run starts a fresh record; a resumed one keeps what it resumes from
        with open(partial, "w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in earlier)
    config.stash[_STATE] = {
        "cases": cases, "devices": devices, "jax": jax_part, "settings": settings, "isolation": isolation,
        "timeout": case_timeout, "blas": blas, "workers": workers, "json": json_path, "partial": partial,
        "earlier": earlier,
        "distributed": bool(spec),
        "failed": [r["failed"] for r in earlier if r.get("status") == "failed"],
        "old_sigterm": signal.signal(signal.SIGTERM, _raise_interrupt),
    }


def pytest_unconfigure(config):
    state = config.stash.get(_STATE, None)
    if state is not None:
        signal.signal(signal.SIGTERM, state["old_sigterm"] or signal.SIG_DFL)
        if state["distributed"]:
            from bench import distributed

            distributed.shutdown()


def _timeouts(text) -> tuple[float, float, float]:
    """``--es-distributed-timeouts INIT,HEARTBEAT,SHUTDOWN`` in seconds, each > 0."""
    parts = str(text).split(",")
    if len(parts) != 3:
        raise ValueError(f"--es-distributed-timeouts: {text!r} is not allowed; give INIT,HEARTBEAT,SHUTDOWN "
                         "seconds, each > 0 (e.g. 60,20,60)")
    return tuple(_seconds("--es-distributed-timeouts", p) for p in parts)


def _distributed_defaults(getoption, devices):
    """Under jax.distributed the default devices are every device of the fastest platform, as one set."""
    if getoption("es_devices") != "all":
        return getoption
    platforms = {d.split(":", 1)[0] for d in devices}
    best = next(p for p in ("tpu", "gpu", "cpu") if p in platforms)
    return lambda name: f"{best}:all" if name == "es_devices" else getoption(name)


def _check_spans_every_process(cases, devices, processes: int) -> None:
    """Every case of a distributed run takes every process's devices: each process then executes
    only its own shards, and no row times a device that its process does not own."""
    for c in cases:
        owners = {devices[d].get("process_index", 0) for d in c.devices}
        if len(owners) != processes:
            raise ValueError(
                f"--es-devices: {c.device!r} uses the devices of {len(owners)} of the {processes} processes; under "
                "--es-distributed every case spans every process: use a set such as gpu:all or cpu:all (or "
                "--es-scaling), and time single devices without --es-distributed")


def pytest_generate_tests(metafunc):
    if "es_case" not in metafunc.fixturenames:
        return
    cases = metafunc.config.stash[_STATE]["cases"]
    metafunc.parametrize("es_case", cases, ids=[c.id for c in cases])


def pytest_collection_modifyitems(session, config, items):
    state = config.stash.get(_STATE, None)
    if not state or not state["earlier"]:
        return
    done = {r["name"] for r in state["earlier"]}
    keep = [i for i in items if i.name not in done]
    skipped = [i for i in items if i.name in done]
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = keep


def _record(benchmark, samples: list[float]) -> None:
    """Give pytest-benchmark the rounds measured elsewhere (a worker, or bench.timing here).

    pytest-benchmark times only what it calls itself; ``_make_stats`` is the fixture's
    own entry for a set of rounds (the same in pytest-benchmark 4 and 5).
    """
    benchmark._mode = "esperf"  # the fixture was used (no "unused fixture" warning)
    if benchmark.disabled:
        return
    stats = benchmark._make_stats(1)
    for s in samples:
        stats.update(s)


def _run_case(case, state) -> tuple[list[float], dict]:
    """Measure ``case`` (per the isolation mode); return (samples, extra_info)."""
    from bench import cases as measure
    from bench.machine import memory_peak

    settings = state["settings"]
    if state["isolation"] == "process":
        run_worker = state["workers"].run
        request = {"case": case.to_json(), "settings": asdict(settings)}
        if case.phase == "runtime":
            r = run_worker({**request, "mode": "runtime"}, state["timeout"])
            samples, info, workers = r["samples"], r["info"], [r]
        else:
            workers = [run_worker({**request, "mode": "compile"}, state["timeout"])
                       for _ in range(settings.compile_rounds)]
            samples, info = _compile_figures(workers)
        # the round whose case needed the most memory speaks for the case
        top = max(workers, key=lambda w: w["peak_memory_bytes"] - w["baseline_memory_bytes"])
        info.update(
            isolation="process",
            worker_pids=[w["pid"] for w in workers],
            backend_init_s=[w["backend_init_s"] for w in workers],
            baseline_memory_bytes=top["baseline_memory_bytes"],
            peak_memory_bytes=top["peak_memory_bytes"],
            memory_source=top["memory_source"],
        )
        return samples, info
    sync = _ProcessSync() if state["distributed"] else None
    if case.phase == "runtime":
        samples, info = measure.measure_runtime(case, settings, sync)
    else:
        built = measure.build(case, settings, sync)
        rounds = []
        for _ in range(settings.compile_rounds):
            if sync:
                sync.before_round()
            rounds.append(measure.measure_compile_round(case, settings, built))
        samples, info = _compile_figures(rounds)
    if sync:
        samples = sync.slowest(samples)
    local = [d for d in measure.jax_devices(case.devices) if d.process_index == measure.jax.process_index()]
    peak, source = memory_peak(local)
    info.update(isolation="none", worker_pids=[os.getpid()], baseline_memory_bytes=None,
                peak_memory_bytes=peak, memory_source=source)
    return samples, info


class _ProcessSync:
    """How the processes of a distributed run keep in step around one case (bench.distributed).

    Every process runs the same cases in the same order; before a case's first collective
    they agree that it built everywhere (``agree``), they use process 0's round count
    (``rounds``), an untimed barrier starts each round (``before_round``), and a round's
    time is the slowest process's (``slowest``).
    """

    def agree(self, error: str | None) -> None:
        from bench import distributed
        from bench.cases import CaseFailed

        errors = distributed.gather_json(error)
        failed = [f"process {i}: {e}" for i, e in enumerate(errors) if e]
        if failed:
            raise CaseFailed("failed on " + "; ".join(failed))

    def rounds(self, n: int) -> int:
        from bench import distributed

        return int(distributed.broadcast_json(n))

    def before_round(self) -> None:
        from bench import distributed

        distributed.barrier("esperf-round")

    def slowest(self, samples: list[float]) -> list[float]:
        from bench import distributed

        return distributed.max_over_processes(samples)


def _compile_figures(rounds: list[dict]) -> tuple[list[float], dict]:
    """Samples and extra_info of a compile case from its cold rounds; each must have compiled."""
    from bench.cases import CaseFailed

    events = [r["events"] for r in rounds]
    for i, e in enumerate(events):
        missing = [stage for stage, n in e.items() if n < 1]
        if missing:
            raise CaseFailed(f"compile round {i + 1} ran no {', '.join(missing)} ({events}): it hit a cache")
    last = rounds[-1]
    info = {**last["info"], **{k: v for k, v in last.items() if k.startswith("xla_")}}
    info.update(
        trace_s=[r["trace_s"] for r in rounds],
        lower_s=[r["lower_s"] for r in rounds],
        compile_s=[r["compile_s"] for r in rounds],
        compile_events=events,
        backend_compiles=[e["backend_compile"] for e in events],
    )
    return [r["total_s"] for r in rounds], info


@pytest.fixture
def es_run(request, benchmark):
    """Run the requested case; record its rounds with pytest-benchmark; return its extra_info."""
    from bench.cases import rates

    state = request.config.stash[_STATE]

    def run(case):
        from bench.cases import CaseFailed
        from bench.isolation import WorkerFailed

        try:
            samples, info = _run_case(case, state)
        except (CaseFailed, WorkerFailed) as err:
            # a known way for a case to fail: one line, no traceback of the harness
            pytest.fail(f"{type(err).__name__}: {err}", pytrace=False)
        finally:
            benchmark._mode = benchmark._mode or "esperf"
        _record(benchmark, samples)
        info.update(rates(info, statistics.median(samples), state["settings"]))
        benchmark.extra_info.update(info)
        return info

    return run


def _append_partial(state, record: dict) -> None:
    if state["partial"] is None:
        return
    with open(state["partial"], "a") as fh:
        fh.write(json.dumps(record, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _benchmark_dict(config, benchmark) -> dict | None:
    stats = getattr(benchmark, "stats", None)
    if stats is None:
        return None
    out = config.hook.pytest_benchmark_generate_json(
        config=config, benchmarks=[stats], include_data=True, machine_info={}, commit_info={}
    )
    return (out.get("benchmarks") or [None])[0]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    case = getattr(getattr(item, "callspec", None), "params", {}).get("es_case")
    state = item.config.stash.get(_STATE, None)
    if case is None or state is None:
        return report
    if report.failed and call.excinfo is not None and not isinstance(call.excinfo.value, KeyboardInterrupt):
        failed = {
            "name": item.name,
            "when": report.when,
            "extra_info": case.fields(),
            "error": " ".join(call.excinfo.exconly().split())[:4000],
        }
        state["failed"].append(failed)
        _append_partial(state, {"name": item.name, "status": "failed", "failed": failed})
    elif report.when == "call" and report.passed:
        bench = _benchmark_dict(item.config, item.funcargs.get("benchmark"))
        if bench is not None:
            _append_partial(state, {"name": item.name, "status": "passed", "benchmark": bench})
    return report


def pytest_benchmark_update_machine_info(config, machine_info):
    from bench.machine import machine_info as esperf_machine_info

    state = config.stash.get(_STATE, None)
    if state is None:
        return
    machine_info.update(esperf_machine_info(state["jax"]))
    machine_info["blas_threads"] = state["blas"]
    machine_info["isolation"] = state["isolation"]
    if state["workers"] is not None:
        machine_info["workers"] = state["workers"].describe()  # how the worker processes started
    if state.get("processes"):
        machine_info["processes"] = state["processes"]  # every process's host, in process order


def pytest_benchmark_update_json(config, benchmarks, output_json):
    state = config.stash.get(_STATE, None)
    if state is not None:
        output_json["esperf"] = {"schema_version": SCHEMA_VERSION, "failed": list(state["failed"])}


def _write_atomically(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=4, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    config = session.config
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    if state["distributed"] and exitstatus != pytest.ExitCode.INTERRUPTED:
        from bench import distributed
        from bench.machine import machine_info

        state["processes"] = distributed.gather_json(machine_info(state["jax"]))
    if state["json"] is None:
        return
    path, partial = state["json"], state["partial"]
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        done = len(_read_partial(partial))
        print(f"\nesperf: interrupted; the {done} finished case(s) are in {partial}; "
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
    earlier = [r["benchmark"] for r in state["earlier"] if r.get("status") == "passed"]
    order = {f"test_generation[{c.id}]": i for i, c in enumerate(state["cases"])}
    output["benchmarks"] = sorted(earlier + output["benchmarks"], key=lambda b: order.get(b.get("name"), len(order)))
    _write_atomically(path, output)
    partial.unlink(missing_ok=True)
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and state["earlier"]:
        # --es-resume found every case already done: the run is complete, not empty
        session.exitstatus = pytest.ExitCode.TESTS_FAILED if state["failed"] else pytest.ExitCode.OK
