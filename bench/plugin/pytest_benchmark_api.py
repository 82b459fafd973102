"""pytest-benchmark's private API, as esperf uses it: the one module that touches it.

esperf gives pytest-benchmark rounds that its worker processes timed, so it reaches past the
fixture's public call (``benchmark(fn)``) into what pytest-benchmark keeps to itself:

* the fixture (``BenchmarkFixture``): ``_make_stats`` (its own entry for a set of rounds),
  ``_mode`` (which use of the fixture happened: set, no "unused fixture" warning), and the
  attributes ``_make_stats`` reads into a row's ``options`` block (``_timer``,
  ``_disable_gc``, ``_min_rounds``, ``_max_time``, ``_min_time``, ``_warmup``);
* the stats it makes (``Metadata.stats``, a ``Stats`` with ``data``, ``median``, ``update``);
* the session (``config._benchmarksession``): ``benchmarks``, ``json``, ``get_machine_info``;
* ``--benchmark-json``: pytest-benchmark 4.0 to 5.2 open (and empty) PATH at parse time
  (``argparse.FileType('wb')``), its development branch keeps a ``Path``; both would write
  it only when a benchmark succeeded and not atomically, so esperf takes the option over.

Supported: pytest-benchmark 4.0.0 (pyproject's floor, ``pytest-benchmark>=4.0``) to 5.2.3,
and the ``Path`` form of ``--benchmark-json`` of the release after 5.2.3 -- the versions
whose sources these names were read from. ``tests/test_pytest_benchmark_api.py`` checks every
name below on the installed release; a release that renames one fails that test, and a run
(:func:`require`), naming the attribute, instead of writing rows without figures.
"""
from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

SUPPORTED = "pytest-benchmark 4.0.0 to 5.2.3"
# what esperf reads or sets on each object, by the object's class name in pytest-benchmark
FIXTURE = ("_mode", "_make_stats", "_timer", "_disable_gc", "_min_rounds", "_max_time", "_min_time", "_warmup",
           "disabled", "group", "extra_info", "stats")
METADATA = ("stats", "update")
STATS = ("data", "median", "update")
SESSION = ("benchmarks", "json", "get_machine_info")
# the options block of a row: fixture attribute "_" + key, read by _make_stats
OPTION_KEYS = ("timer", "disable_gc", "min_rounds", "max_time", "min_time", "warmup")


class PytestBenchmarkChanged(RuntimeError):
    """The installed pytest-benchmark lacks a private name esperf uses (a release changed it)."""


def installed_version() -> str:
    try:
        return metadata.version("pytest-benchmark")
    except metadata.PackageNotFoundError:
        return "?"


def _has(obj, name: str) -> bool:
    """Whether ``obj`` has ``name``, without computing it (``Stats.median`` is a cached property:
    read on empty data it raises, and it would stay cached)."""
    if isinstance(obj, type):
        return any(name in vars(c) for c in obj.__mro__)
    return name in getattr(obj, "__dict__", {}) or _has(type(obj), name)


def missing(obj, names: tuple[str, ...]) -> list[str]:
    """The ``names`` that ``obj`` (an instance, or a class for what the class itself defines) does not have."""
    return [n for n in names if not _has(obj, n)]


def require(obj, names: tuple[str, ...], what: str) -> None:
    """Raise :class:`PytestBenchmarkChanged` naming each of ``names`` that ``obj`` lacks."""
    lacking = missing(obj, names)
    if lacking:
        raise PytestBenchmarkChanged(
            f"pytest-benchmark {installed_version()}'s {what} has no {', '.join(lacking)}: esperf's adapter "
            f"(bench/plugin/pytest_benchmark_api.py) supports {SUPPORTED}; install one of those")


# -- --benchmark-json --------------------------------------------------------------------------

def json_target(config) -> Path | None:
    """``--benchmark-json``'s PATH (absolute), whichever form pytest-benchmark gave it; None without it."""
    target = config.getoption("benchmark_json")
    if target is None:
        return None
    if isinstance(target, (str, os.PathLike)):
        return Path(target).absolute()
    return Path(target.name).absolute()  # 4.0 to 5.2: the file object argparse opened


def take_over_json(config) -> None:
    """Take ``--benchmark-json`` from pytest-benchmark: esperf writes PATH itself, atomically, at the end.

    pytest-benchmark 4.0 to 5.2 opened (and emptied) PATH at parse time: the handle is
    closed and the empty file goes, so that an interrupted run leaves no empty PATH.
    """
    target = config.getoption("benchmark_json")
    if target is None:
        return
    if not isinstance(target, (str, os.PathLike)):
        target.close()
        Path(target.name).unlink(missing_ok=True)
    config.option.benchmark_json = None  # read by pytest-benchmark's session when it is made
    bs = getattr(config, "_benchmarksession", None)
    if bs is not None:
        bs.json = None


# -- the fixture -------------------------------------------------------------------------------

def mark_used(benchmark) -> None:
    """Say the fixture was used (pytest-benchmark warns about an unused one otherwise)."""
    benchmark._mode = benchmark._mode or "esperf"


def record_rounds(benchmark, group: str, options: dict, samples: list[float]) -> None:
    """Give ``benchmark`` the rounds ``samples`` (seconds) measured elsewhere, in ``group``, with
    ``options`` ({:data:`OPTION_KEYS`: value}) as the row's options block.

    pytest-benchmark times only what it calls itself; ``_make_stats`` is the fixture's own
    entry for a set of rounds, and it reads the options block from the fixture's attributes.
    A disabled fixture (``--benchmark-disable``) records nothing.
    """
    require(benchmark, FIXTURE, "BenchmarkFixture")
    benchmark._mode = "esperf"
    benchmark.group = group
    for key in OPTION_KEYS:
        setattr(benchmark, f"_{key}", options[key])
    if benchmark.disabled:
        return
    stats = benchmark._make_stats(1)
    require(stats, METADATA, "Metadata")
    require(stats.stats, STATS, "Stats")
    for s in samples:
        stats.update(s)


def median(benchmark) -> float | None:
    """The median of the rounds given to ``benchmark`` (None where none were: a smoke run)."""
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    return getattr(stats, "median", None) if stats is not None and stats.data else None


def row(config, benchmark) -> dict | None:
    """One case's row as pytest-benchmark writes it in the JSON (for ``PATH.partial``); None
    where the fixture holds no rounds."""
    stats = getattr(benchmark, "stats", None)
    if stats is None:
        return None
    out = config.hook.pytest_benchmark_generate_json(
        config=config, benchmarks=[stats], include_data=True, machine_info={}, commit_info={}
    )
    return (out.get("benchmarks") or [None])[0]


# -- the session -------------------------------------------------------------------------------

def output_json(config) -> dict:
    """The run's JSON as pytest-benchmark builds it (its rows, machine and commit info), with
    every ``pytest_benchmark_update_json`` hook applied (esperf's block among them)."""
    bs = getattr(config, "_benchmarksession", None)
    if bs is None:
        raise PytestBenchmarkChanged(f"pytest-benchmark {installed_version()} set no config._benchmarksession: "
                                     f"esperf's adapter supports {SUPPORTED}")
    require(bs, SESSION, "BenchmarkSession")
    commit_info = config.hook.pytest_benchmark_generate_commit_info(config=config)
    config.hook.pytest_benchmark_update_commit_info(config=config, commit_info=commit_info)
    output = config.hook.pytest_benchmark_generate_json(
        config=config, benchmarks=bs.benchmarks, include_data=True,
        machine_info=bs.get_machine_info(), commit_info=commit_info,
    )
    config.hook.pytest_benchmark_update_json(config=config, benchmarks=bs.benchmarks, output_json=output)
    return output
