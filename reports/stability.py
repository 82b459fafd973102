"""Unstable runtime figures: the reasons ``pytest bench`` gives, in one place for the report and ``compare``.

A runtime row (``extra_info.phase == "runtime"``) may carry

- ``extra_info.unstable``: a list of reason strings (:data:`REASONS`), ``[]`` when its
  figure is stable;
- ``extra_info.worker_rounds``: how many consecutive rounds of ``stats.data`` each worker
  process contributed (their sum is ``len(stats.data)``), beside ``worker_medians``,
  ``runtime_workers`` and ``first_run_s``.

Files written before these keys existed lack them: a missing key means "not known", never
an error, and gives no mark anywhere. A key of the wrong type, or ``worker_rounds`` that do
not add up to ``stats.data``, is bad input (one line: :mod:`results_format.validate`, which
:mod:`reports.load` applies to every file), since the bootstrap of ``compare`` would
otherwise cut rounds wrongly.

Standard library only, and no other :mod:`reports` module: the tables, plots, pages and
``compare`` read reasons through it.
"""
from __future__ import annotations

import json

from results_format.stability import REASONS  # what each reason means, with the thresholds

KEY = "unstable"  # the extra_info key with the reasons, and the summary column listing them
WORKER_ROUNDS = "worker_rounds"
UNKNOWN = "a reason this version of reports does not know"
SEPARATOR = ", "  # between the reasons of one case in a table cell
HEADING = "Unstable figures"
EXPLAIN = ("These runtime figures did not hold steady while they were timed, so their medians deserve "
           "less trust than the others; the plots draw them with a hollow marker. What each reason means:")


def _as_list(value):
    """A JSON list as Python: a list as it is, the JSON text :func:`reports.load.load` keeps in a
    cell parsed; ``None`` for a missing value (None, NaN, absent) or anything that is not a list."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, list) else None


def reasons(value) -> list[str]:
    """The reasons of one row's ``unstable`` value (a list or its JSON text), each once, in the
    order of :data:`REASONS` and then unknown ones as given; ``[]`` when stable or missing."""
    items = _as_list(value) or []
    return ordered(str(r) for r in items)


def ordered(items) -> list[str]:
    """``items`` each once: the known reasons in the order of :data:`REASONS`, then the rest as first seen."""
    seen = list(dict.fromkeys(items))
    return [r for r in REASONS if r in seen] + [r for r in seen if r not in REASONS]


def union(values) -> list[str]:
    """The reasons of several rows of one case (files pooled): a case is unstable if any of its runs was."""
    return ordered(r for v in values for r in reasons(v))


def cell(items) -> str:
    """The reasons as one table cell (``iqr, spread``); ``''`` for a stable case."""
    return SEPARATOR.join(ordered(items))


def split_cell(text) -> list[str]:
    """The reasons of a cell written by :func:`cell` (NaN or ``''``: none)."""
    if not isinstance(text, str) or not text.strip():
        return []
    return [t.strip() for t in text.split(SEPARATOR.strip()) if t.strip()]


def describe(reason: str) -> str:
    """What a reason means (:data:`REASONS`), or :data:`UNKNOWN`."""
    return REASONS.get(reason, UNKNOWN)


def explained(items) -> str:
    """``iqr (IQR / median > 0.10 ...); rounds (fewer than ...)``: the reasons with their meanings."""
    return "; ".join(f"{r} ({describe(r)})" for r in ordered(items))


def legend(items) -> list[str]:
    """One ``reason: meaning`` line per reason that occurs in ``items``, in the order of :data:`REASONS`."""
    return [f"{r}: {describe(r)}" for r in ordered(items)]


def worker_counts(value, n_samples: int) -> list[int]:
    """How many consecutive rounds each worker gave, from ``worker_rounds`` (a list or its JSON
    text); ``[n_samples]`` (one worker) when it is missing. Assumes the file passed
    :func:`results_format.validate.problems`."""
    counts = _as_list(value)
    return [int(c) for c in counts] if counts else [int(n_samples)]


def is_unstable(text) -> bool:
    """Whether a summary cell (:func:`cell`) names any reason."""
    return bool(split_cell(text))
