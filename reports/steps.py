"""Steps in one case's series of per-commit results: where it got slower or faster, and stayed so.

Two stages:

1. **Candidates**: change points of the per-commit medians on a log scale (so that a 30 % step
   is the same size at 1 ms and at 1 s), found by PELT (Killick, Fearnhead & Eckley 2012,
   *Optimal detection of changepoints with a linear computational cost*; ``ruptures.Pelt``,
   cost ``l2``) with the penalty ``2 σ² ln n`` of Yao's Schwarz criterion for shifts in the
   mean of Gaussian noise (Yao 1988). σ is the noise of the medians themselves, estimated from
   successive differences (``1.4826 · median |Δ| / √2``, which one step among many commits
   barely moves), so that the penalty scales with how much the series wanders between commits.
2. **Verdict**: a candidate is kept only where ``compare`` would call the segment after it
   slower or faster than the segment before it: :func:`reports.verdict.compare_runs` on the
   pooled rounds of the commits on each side (each file a run, as ``compare BASE/ NEW/`` pools
   them), at the same ``threshold`` and ``alpha``. A candidate that fails is dropped, the
   weakest first, its two segments merged, and the merged segment's neighbours tested again,
   until every candidate left passes (so drift that no single candidate shows can still add up
   to a step between merged segments).

JSON only, like all of :mod:`reports`: ruptures, numpy and compare's statistics, never jax.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import ruptures

from reports.verdict import compare_runs

# Medians that agree to better than 0.1 % (a clock's resolution, synthetic data) would make every
# wiggle a candidate; the verdict would drop them all anyway, the floor only spares it the work.
NOISE_FLOOR = 1e-3
# MAD -> standard deviation of Gaussian noise.
MAD_TO_SD = 1.4826


@dataclass
class Commit:
    """One commit of a series: its rounds per run (file) and, per run, the rounds of each worker."""

    runs: list[np.ndarray]
    workers: list[list[int]] = field(default_factory=list)

    def median(self) -> float:
        """The median of the commit's pooled rounds."""
        return float(np.median(np.concatenate(self.runs)))


@dataclass
class Step:
    """A kept change point: the series is ``verdict`` from commit ``index`` on (0 = the oldest).

    ``result``: :func:`reports.verdict.compare_runs` of the segment before (base) against the
    segment from ``index`` on (new): medians, ratio new/base, its interval, p.
    """

    index: int
    verdict: str  # "slower" or "faster", in speed (for a higher-is-better metric: the opposite of the ratio)
    result: dict


def noise(log_medians: np.ndarray) -> float:
    """The noise σ of a series of log medians from its successive differences: 1.4826 · median |Δ| / √2
    (the differences of independent noise have √2 its spread; the median ignores a few steps);
    at least :data:`NOISE_FLOOR`."""
    d = np.abs(np.diff(log_medians))
    if d.size == 0:
        return NOISE_FLOOR
    return max(NOISE_FLOOR, MAD_TO_SD * float(np.median(d)) / math.sqrt(2.0))


def change_points(log_medians: np.ndarray, threshold: float | None = None) -> list[int]:
    """Candidate change points of ``log_medians`` (each the index of the first commit of a new segment):
    PELT with the l2 cost, any segment length and position, penalty ``2 σ² ln n`` (σ: :func:`noise`).

    With ``threshold``, the penalty is at most ``log(1 + threshold)² / 2``: what splitting off one
    commit that moved by exactly the threshold gains. On a short series the differences are
    mostly the step itself (two commits: σ is the step), so the noise penalty alone would hide
    any step; the verdict stage, not this one, decides whether a candidate is real."""
    x = np.asarray(log_medians, dtype=float)
    n = len(x)
    if n < 2:
        return []
    pen = 2.0 * noise(x) ** 2 * math.log(n)
    if threshold is not None:
        pen = min(pen, math.log1p(threshold) ** 2 / 2.0)
    # min_size=1 and jump=1: a step at the newest commit alone is the one CI must see first
    found = ruptures.Pelt(model="l2", min_size=1, jump=1).fit(x.reshape(-1, 1)).predict(pen=pen)
    return [int(b) for b in found if b < n]


def _side(commits: list[Commit]) -> tuple[list[np.ndarray], list[list[int]]]:
    """The runs and per-run worker rounds of a segment of commits, in order."""
    runs = [r for c in commits for r in c.runs]
    workers = [w for c in commits for w in (c.workers or [[len(r)] for r in c.runs])]
    return runs, workers


def find_steps(commits: list[Commit], threshold: float, alpha: float, higher_is_better: bool = False) -> list[Step]:
    """The steps of a series of ``commits`` (oldest first): candidates of :func:`change_points` on the
    log medians, kept only where :func:`reports.verdict.compare_runs` of the segments on either side
    says slower or faster (module docstring); oldest first.

    ``higher_is_better`` (env steps/s): a ratio above 1 + threshold is faster, not slower.
    """
    medians = np.array([c.median() for c in commits])
    positive = medians[medians > 0]
    tiny = positive.min() * 1e-3 if positive.size else 1e-12  # a median of 0: far below any other, not -inf
    cps = change_points(np.log(np.maximum(medians, tiny)), threshold)
    tested: dict[tuple[int, int, int], dict] = {}

    def test(lo: int, cp: int, hi: int) -> dict:
        if (lo, cp, hi) not in tested:
            base_runs, base_workers = _side(commits[lo:cp])
            new_runs, new_workers = _side(commits[cp:hi])
            tested[lo, cp, hi] = compare_runs(base_runs, new_runs, threshold, alpha, seed=cp,
                                              base_workers=base_workers, new_workers=new_workers)
        return tested[lo, cp, hi]

    while True:
        bounds = [0, *cps, len(commits)]
        results = [test(bounds[i - 1], bounds[i], bounds[i + 1]) for i in range(1, len(bounds) - 1)]
        weak = [i for i, r in enumerate(results) if r["verdict"] == "unchanged"]
        if not weak:
            break
        # the candidate whose sides differ least goes first; its neighbours are judged again on merged segments
        drop = min(weak, key=lambda i: abs(math.log(results[i]["ratio"])) if 0 < results[i]["ratio"] < math.inf
                   else math.inf)
        del cps[drop]
    flip = {"slower": "faster", "faster": "slower"}
    return [Step(cp, flip[r["verdict"]] if higher_is_better else r["verdict"], r) for cp, r in zip(cps, results)]
