"""pytest-benchmark plugin of ``pytest bench``: the grid, machine info, failures in the JSON.

Options (``--es-*``) are registered by the root ``conftest.py`` from
:mod:`bench.options`; this file validates them (a bad value is a usage error, exit 4),
parametrizes ``test_generation`` over the grid, adds esperf's
machine information, and lists failed cases under ``esperf.failed`` in the JSON.
"""
from __future__ import annotations

import json

import pytest

from bench.grid import build_cases, parse_peak_flops, visible_devices
from bench.machine import SCHEMA_VERSION

_CASES = pytest.StashKey[list]()
_DEVICES = pytest.StashKey[dict]()
_FAILED = pytest.StashKey[list]()
_SETTINGS = pytest.StashKey[object]()
_BLAS = pytest.StashKey[list]()


def _int_option(config, name: str, flag: str, minimum: int):
    raw = config.getoption(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or value < minimum:
        raise pytest.UsageError(f"{flag}: {raw!r} is not allowed; give an int >= {minimum}")
    return value


def pytest_configure(config):
    from bench.cases import Settings
    from bench.timing import disable_persistent_cache, limit_blas_threads

    disable_persistent_cache()
    try:
        devices = visible_devices()
        cases = build_cases(config.getoption, devices)
        peak = parse_peak_flops(config.getoption("es_peak_flops"))
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    if any(c.impl == "evosax" for c in cases):
        from bench.peers import peers_available

        if not peers_available():
            raise pytest.UsageError(
                "--es-impls: 'evosax' needs the optional peers (evosax, gymnax); "
                'install them with pip install -e ".[peers]" or use --es-impls esperf'
            )
    settings = Settings(
        compile_rounds=_int_option(config, "es_compile_rounds", "--es-compile-rounds", 3),
        runtime_rounds=_int_option(config, "es_runtime_rounds", "--es-runtime-rounds", 1),
        min_runtime_rounds=max(20, config.getoption("benchmark_min_rounds") or 0),
        max_time=float(config.getoption("benchmark_max_time") or 1.0),
        unroll=_int_option(config, "es_unroll", "--es-unroll", 1),
        peak_flops=peak,
    )
    blas = _int_option(config, "es_blas_threads", "--es-blas-threads", 0)
    config.stash[_BLAS] = limit_blas_threads(blas or None)
    config.stash[_CASES] = cases
    config.stash[_DEVICES] = devices
    config.stash[_FAILED] = []
    config.stash[_SETTINGS] = settings


def pytest_generate_tests(metafunc):
    if "es_case" not in metafunc.fixturenames:
        return
    cases = metafunc.config.stash[_CASES]
    metafunc.parametrize("es_case", cases, ids=[c.id for c in cases])


@pytest.fixture
def es_run(request, benchmark):
    """Run the requested case on its device; returns its extra_info."""
    from bench.cases import run_case

    def run(case):
        device = request.config.stash[_DEVICES][case.device]
        return run_case(benchmark, case, device, request.config.stash[_SETTINGS])

    return run


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    case = getattr(getattr(item, "callspec", None), "params", {}).get("es_case")
    if case is not None and report.failed and call.excinfo is not None:
        item.config.stash[_FAILED].append(
            {
                "name": item.name,
                "when": report.when,
                "extra_info": case.fields(),
                "error": " ".join(call.excinfo.exconly().split())[:4000],
            }
        )
    return report


def pytest_benchmark_update_machine_info(config, machine_info):
    from bench.machine import machine_info as esperf_machine_info

    devices = config.stash.get(_DEVICES, None) or visible_devices()
    machine_info.update(esperf_machine_info(list(devices.values())))
    machine_info["blas_threads"] = config.stash.get(_BLAS, None)


def _esperf_section(config) -> dict:
    return {"schema_version": SCHEMA_VERSION, "failed": list(config.stash.get(_FAILED, []))}


def pytest_benchmark_update_json(config, benchmarks, output_json):
    output_json["esperf"] = _esperf_section(config)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    # pytest-benchmark writes no JSON when no benchmark succeeded; the failures are
    # results too, so write them (with machine info) rather than leave an empty file.
    config = session.config
    bs = getattr(config, "_benchmarksession", None)
    if bs is None or not bs.json or bs.benchmarks or not config.stash.get(_FAILED, []):
        return
    output = {
        "machine_info": bs.get_machine_info(),
        "commit_info": {},
        "benchmarks": [],
        "version": None,
        "esperf": _esperf_section(config),
    }
    bs.json.write(json.dumps(output, indent=4).encode())
    bs.json.close()
