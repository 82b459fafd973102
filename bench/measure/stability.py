"""When is a runtime figure unstable? The reasons of ``extra_info.unstable``.

After pyperf (it warns when the standard deviation exceeds 10 % of the mean, or the minimum or
maximum is 50 % away from it) and Google Benchmark's repetitions: a figure taken from too few
rounds, with a wide interquartile range, a large max/min, or worker processes that disagree
is reported as such, beside the figure, never silently. The rules (a public contract):

- ``iqr``: IQR / median > 0.10 (over every round of every worker);
- ``spread``: max / min > 2;
- ``rounds``: fewer than 10 runtime rounds;
- ``workers``: the worker medians differ by more than 10 %: (max - min) / min > 0.10 (N > 1);
- ``throttled``: the device reported thermal or power throttling during the rounds
  (``extra_info.throttle_reasons``, :mod:`bench.measure.energy`).

``reports`` reads the reasons (and explains them) without importing this module.
"""
from __future__ import annotations

import statistics

from results_format.stability import IQR_RATIO, MIN_ROUNDS, SPREAD, WORKER_SPREAD


def iqr_ratio(samples: list[float]) -> float:
    """(Q3 - Q1) / median of ``samples`` (quartiles by linear interpolation, as numpy's default)."""
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return (q3 - q1) / statistics.median(samples)


def unstable(samples: list[float], worker_medians: list[float] | None = None,
             throttle_reasons: list[str] | None = None) -> list[str]:
    """The reasons, in the order of the module's rules, why the runtime figure of ``samples``
    (seconds per round, every worker's rounds) is unstable; ``[]`` when none applies."""
    reasons = []
    if len(samples) >= 2 and statistics.median(samples) > 0 and iqr_ratio(samples) > IQR_RATIO:
        reasons.append("iqr")
    if min(samples) > 0 and max(samples) / min(samples) > SPREAD:
        reasons.append("spread")
    if len(samples) < MIN_ROUNDS:
        reasons.append("rounds")
    medians = worker_medians or []
    if len(medians) > 1 and min(medians) > 0 and (max(medians) - min(medians)) / min(medians) > WORKER_SPREAD:
        reasons.append("workers")
    if throttle_reasons:
        reasons.append("throttled")
    return reasons


def describe(samples: list[float], worker_medians: list[float] | None, reasons: list[str],
             throttle_reasons: list[str] | None = None) -> str:
    """One line of figures behind ``reasons``, for the end-of-run summary."""
    parts = []
    for reason in reasons:
        if reason == "iqr":
            parts.append(f"iqr: IQR/median {iqr_ratio(samples):.2f} > {IQR_RATIO:.2f}")
        elif reason == "spread":
            parts.append(f"spread: max/min {max(samples) / min(samples):.1f} > {SPREAD:g}")
        elif reason == "rounds":
            parts.append(f"rounds: {len(samples)} < {MIN_ROUNDS}")
        elif reason == "workers":
            m = worker_medians
            parts.append(f"workers: medians differ by {100 * (max(m) - min(m)) / min(m):.0f} % > "
                         f"{100 * WORKER_SPREAD:.0f} %")
        elif reason == "throttled":
            parts.append(f"throttled: {', '.join(throttle_reasons or [])}")
        else:
            parts.append(reason)
    return "; ".join(parts)
