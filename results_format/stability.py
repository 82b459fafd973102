"""The thresholds of an unstable runtime figure (``extra_info.unstable``'s reasons).

After pyperf (it warns when the standard deviation exceeds 10 % of the mean, or the minimum or
maximum is 50 % away from it) and Google Benchmark's repetitions. The writer
(:mod:`bench.measure.stability`) applies them, the reader (:mod:`reports.stability`) explains
them: both take the figures from here.
"""
from __future__ import annotations

IQR_RATIO = 0.10  # iqr: (Q3 - Q1) / median over every round of every worker above this
SPREAD = 2.0  # spread: max / min above this
MIN_ROUNDS = 10  # rounds: fewer runtime rounds than this
WORKER_SPREAD = 0.10  # workers: (max - min) / min of the worker medians above this (N > 1)

# Each reason's meaning, as the report, docs/reports.md and ``reports compare`` say it.
REASONS = {
    "iqr": f"IQR / median > {IQR_RATIO:.2f} (the rounds scatter widely)",
    "spread": f"max / min > {SPREAD:g} (the slowest round took more than twice the fastest)",
    "rounds": f"fewer than {MIN_ROUNDS} runtime rounds (too few to trust the median)",
    "workers": f"the worker processes' medians differ by more than {100 * WORKER_SPREAD:.0f} %",
    "throttled": "the device reported thermal or power throttling during the rounds",
}
