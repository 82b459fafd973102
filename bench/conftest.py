"""pytest-benchmark plugin of ``pytest bench``: hooks that delegate to :class:`bench.plugin.session.Session`.

Options (``--es-*``) are registered by the root ``conftest.py`` from
:mod:`bench.plugin.options`. At configure time the session validates them (a bad value is
a usage error, exit 4), lists the devices and builds the grid; ``test_generation`` is
parametrized over it; each case runs in fresh worker processes by default
(:mod:`bench.isolation`); every finished case goes to ``PATH.partial`` beside
``--benchmark-json=PATH`` at once, and ``PATH`` is written atomically at the end
(:mod:`bench.plugin.results`), with esperf's machine information and the failed cases
under ``esperf.failed``.
"""
from __future__ import annotations

import pytest

from bench.plugin.session import KEY, Session


def _session(config) -> Session | None:
    return config.stash.get(KEY, None)


def pytest_configure(config):
    # before pytest-benchmark's own (trylast): its session reads the machine info, for
    # --benchmark-compare, as it starts, and esperf's part of it must be there by then
    config.stash[KEY] = Session.start(config)


def pytest_unconfigure(config):
    session = _session(config)
    if session is not None:
        session.close()


def pytest_report_header(config):
    es = _session(config)
    return es.report_header(config) if es is not None else []


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    es = _session(session.config)
    if es is not None:
        es.warn_without_header(session.config)


def pytest_generate_tests(metafunc):
    if "es_case" in metafunc.fixturenames:
        _session(metafunc.config).parametrize(metafunc)


def pytest_collection_finish(session):
    es = _session(session.config)
    if es is not None:
        es.collected(session.items)


def pytest_collection_modifyitems(session, config, items):
    es = _session(config)
    if es is not None:
        es.deselect_done(config, items)


@pytest.fixture
def es_case(request, phase, strategy, env, popsize, evals, device, part, impl, hidden, episode_length, unroll,
            pop_chunk, isolation):
    """The case of this item; its dimensions are the item's pytest parameters (bench.case.PARAMS)."""
    return _session(request.config).case_of(request.node)


@pytest.fixture
def es_run(request, benchmark):
    """Run the requested case; record its rounds with pytest-benchmark; return its extra_info."""
    es = _session(request.config)
    return lambda case: es.run(case, benchmark)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    es = _session(item.config)
    if es is not None and es.case_of(item) is not None:
        es.report(item, call, report)
    return report


def pytest_benchmark_update_machine_info(config, machine_info):
    es = _session(config)
    if es is not None:
        es.update_machine_info(machine_info)


@pytest.hookimpl(wrapper=True)
def pytest_benchmark_compare_machine_info(config, benchmarksession, machine_info, compared_benchmark):
    es = _session(config)
    if es is not None:  # pytest-benchmark's own check then compares what describes the machine
        es.comparable_machine_info(machine_info, compared_benchmark)
    return (yield)


def pytest_benchmark_update_json(config, benchmarks, output_json):
    es = _session(config)
    if es is not None:
        es.update_json(output_json)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    es = _session(config)
    if es is not None:
        es.terminal_summary(terminalreporter)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    es = _session(session.config)
    if es is not None:
        es.finish(session, exitstatus)
