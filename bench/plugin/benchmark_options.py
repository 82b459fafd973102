"""pytest-benchmark's own options under ``pytest bench``: what esperf honours, what it refuses, what it records.

esperf gives pytest-benchmark rounds that its worker processes timed, so the options that
shape pytest-benchmark's own timing loop do not reach them. Such an option, given, is a
usage error naming why (:func:`refused`) rather than a figure it did not shape; the
``options`` block of each row records what esperf did (:func:`recorded`). Other clients of
the fixture (pytest-codspeed) and the histogram's missing dependency are refused at start-up
too. Importing this module is cheap: no jax.
"""
from __future__ import annotations

import importlib
import os
import time

from bench.case import Case, Settings

WORKER_TIMER = time.perf_counter  # what bench/measure/timing.py times each round with
WORKER_TIMER_NAME = "time.perf_counter"
HISTOGRAM_INSTALL = 'pip install -e ".[histogram]"'


def _timer_name(getoption) -> str | None:
    """``--benchmark-timer`` as ``module.name`` (pytest keeps its default as that text, a given
    value as a wrapper of the function)."""
    timer = getoption("benchmark_timer", None)
    timer = getattr(timer, "target", timer)
    if timer is None or isinstance(timer, str):
        return timer
    return f"{getattr(timer, '__module__', None) or 'time'}.{getattr(timer, '__name__', timer)}"


def _importable(*modules: str) -> bool:
    try:
        for name in modules:
            importlib.import_module(name)
    except ImportError:
        return False
    return True


def refused(getoption, env=os.environ) -> list[str]:
    """One line per pytest-benchmark option given that esperf cannot honour, each naming why.

    ``getoption(name, default)`` reads an option's value (``config.getoption``).
    """
    lines = []
    timer = _timer_name(getoption)
    if timer is not None and timer != WORKER_TIMER_NAME:
        lines.append(f"--benchmark-timer={timer} cannot be honoured: esperf's workers time each round with time.perf_counter (wall time of "
                     "a generation blocked until ready); drop the option")
    if getoption("benchmark_disable_gc", False):
        lines.append("--benchmark-disable-gc cannot be honoured: esperf's workers leave Python's GC as it is "
                     "(a generation allocates no Python objects in its timed call); drop the option")
    if getoption("benchmark_warmup", False):
        lines.append("--benchmark-warmup cannot be honoured: every runtime worker already runs one untimed "
                     "generation (and a calibration round) before its timed rounds, and compile rounds are cold "
                     "by design; drop the option")
    if getoption("benchmark_cprofile", None):
        lines.append("--benchmark-cprofile cannot be honoured: the cases run in worker processes, outside this "
                     "one's profiler; use --es-profile DIR for JAX traces of the timed generation")
    if getoption("codspeed", False) or (env.get("CODSPEED_ENV") is not None and getoption("codspeed", None)
                                        is not None):
        lines.append("--codspeed cannot be honoured: pytest-codspeed replaces pytest-benchmark's fixture and "
                     "measures this process, but esperf times each case in fresh worker processes; run "
                     "pytest bench without --codspeed and CODSPEED_ENV (or with -p no:codspeed)")
    if getoption("benchmark_histogram", None) and not _importable("pygal", "pygaljs"):
        lines.append(f"--benchmark-histogram needs pygal and pygaljs, which are not installed; install them "
                     f"with {HISTOGRAM_INSTALL}")
    return lines


def recorded(case: Case, settings: Settings, smoke: bool) -> dict:
    """A row's ``options`` block: what esperf did for ``case`` ({key of
    :data:`bench.plugin.pytest_benchmark_api.OPTION_KEYS`: value}, which the adapter sets on the fixture).

    ``min_rounds`` is the rounds asked for (compile: every cold compile; runtime: the fixed
    count, or the floor that ``max_time`` fills up to); ``warmup`` is the untimed generations
    a runtime worker runs first (none for a cold compile). esperf calibrates no loop count:
    one round is one generation.
    """
    if smoke:
        rounds = 1
    elif case.phase == "compile":
        rounds = settings.compile_rounds
    else:
        rounds = settings.runtime_rounds or settings.min_runtime_rounds
    return {
        "timer": WORKER_TIMER,
        "disable_gc": False,
        "min_rounds": rounds,
        "max_time": None if (case.phase == "compile" or settings.runtime_rounds or smoke) else settings.max_time,
        "min_time": None,
        "warmup": 0 if case.phase == "compile" else 1,
    }
