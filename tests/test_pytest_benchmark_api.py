"""pytest-benchmark's private API as esperf uses it (bench/plugin/pytest_benchmark_api.py), checked
on the installed release: a release that renames or drops one of those names fails here, naming it.

The instance attributes (``_mode``, ``_timer``, ``Stats.data`` ...) exist only on live objects,
so one test runs a real pytest session with pytest-benchmark's own fixture and session, and
gives the fixture rounds through the adapter as ``pytest bench`` does.
"""
from __future__ import annotations

import json
import textwrap

import pytest

from bench.plugin import pytest_benchmark_api as api
from helpers import PY, child_env, run


def lacking(obj, names, what) -> str:
    return f"pytest-benchmark {api.installed_version()}'s {what} lacks {api.missing(obj, names)}: " \
           "bench/plugin/pytest_benchmark_api.py must follow this release"


@pytest.mark.parametrize("module, name, names", [
    ("pytest_benchmark.fixture", "BenchmarkFixture", ("_make_stats",)),
    ("pytest_benchmark.session", "BenchmarkSession", ("get_machine_info",)),
    ("pytest_benchmark.stats", "Metadata", ("update",)),
    ("pytest_benchmark.stats", "Stats", ("median", "update")),
])
def test_the_classes_define_the_methods_esperf_calls(module, name, names):
    import importlib

    cls = getattr(importlib.import_module(module), name, None)
    assert cls is not None, f"pytest-benchmark {api.installed_version()} has no {module}.{name}"
    assert api.missing(cls, names) == [], lacking(cls, names, name)


def test_a_missing_name_is_one_error_naming_it_and_the_supported_versions():
    class Renamed:  # a fixture of a release that renamed _make_stats
        _mode = None
        stats = None

    with pytest.raises(api.PytestBenchmarkChanged) as err:
        api.require(Renamed(), ("_mode", "_make_stats", "stats", "_timer"), "BenchmarkFixture")
    assert "BenchmarkFixture has no _make_stats, _timer:" in str(err.value)
    assert api.SUPPORTED in str(err.value) and f"pytest-benchmark {api.installed_version()}" in str(err.value)


def test_checking_a_name_computes_nothing():
    """``Stats.median`` is a cached property: reading it on empty data would raise (and stay cached)."""
    from pytest_benchmark.stats import Stats

    stats = Stats()
    assert api.missing(stats, api.STATS) == []
    assert "median" not in vars(stats)
    stats.update(2.0)
    assert stats.median == 2.0


INNER_TEST = '''
from bench.plugin import pytest_benchmark_api as api

def test_rounds_given_through_the_adapter(benchmark, request):
    assert api.missing(benchmark, api.FIXTURE) == [], f"BenchmarkFixture lacks {api.missing(benchmark, api.FIXTURE)}"
    options = {"timer": __import__("time").perf_counter, "disable_gc": False, "min_rounds": 3,
               "max_time": None, "min_time": None, "warmup": 1}
    api.record_rounds(benchmark, "the group", options, [0.003, 0.001, 0.002])
    assert api.missing(benchmark.stats, api.METADATA) == [], f"Metadata lacks {api.missing(benchmark.stats, api.METADATA)}"
    assert api.missing(benchmark.stats.stats, api.STATS) == [], f"Stats lacks {api.missing(benchmark.stats.stats, api.STATS)}"
    assert api.median(benchmark) == 0.002
    row = api.row(request.config, benchmark)
    assert row["group"] == "the group" and row["stats"]["data"] == [0.003, 0.001, 0.002], row
    assert row["options"] == {"timer": "perf_counter", "disable_gc": False, "min_rounds": 3, "max_time": None,
                              "min_time": None, "warmup": 1}, row["options"]
'''

INNER_CONFTEST = '''
import json, os
from bench.plugin import pytest_benchmark_api as api

def pytest_configure(config):
    config.esperf_json = api.json_target(config)
    api.take_over_json(config)

def pytest_sessionfinish(session, exitstatus):
    bs = getattr(session.config, "_benchmarksession", None)
    lacks = ["config._benchmarksession"] if bs is None else api.missing(bs, api.SESSION)
    out = {"session_lacks": lacks}
    if not lacks:
        out["json"] = api.output_json(session.config)
    with open(os.environ["API_OUT"], "w") as fh:
        json.dump(out, fh, default=str)
'''


def test_the_adapter_on_a_real_pytest_benchmark_session(tmp_path):
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TEST))
    (tmp_path / "conftest.py").write_text(textwrap.dedent(INNER_CONFTEST))
    target, out = tmp_path / "pb.json", tmp_path / "api.json"
    proc = run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                f"--benchmark-json={target}", str(tmp_path)],
               120, cwd=tmp_path, env=child_env(API_OUT=str(out)))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = json.loads(out.read_text())
    assert found["session_lacks"] == [], f"BenchmarkSession of pytest-benchmark {api.installed_version()} " \
                                         f"lacks {found['session_lacks']}"
    rows = found["json"]["benchmarks"]
    assert [(r["name"], r["group"], r["stats"]["rounds"], r["stats"]["median"]) for r in rows] == \
        [("test_rounds_given_through_the_adapter", "the group", 3, 0.002)]
    assert "machine_info" in found["json"] and "commit_info" in found["json"]
    # --benchmark-json taken over: pytest-benchmark wrote no PATH of its own (esperf writes it atomically)
    assert not target.exists()
