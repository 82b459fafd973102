"""The verdict rule that ``compare``, ``history`` (its steps) and the report's crossover share.

For one case, BASE and NEW rounds (one array per run, i.e. per file; per run, the rounds each
worker process gave): the ratio of medians NEW/BASE, its bootstrap confidence interval
(percentile method, level 1 - alpha) and the two-sided Mann-Whitney U test
(``scipy.stats.mannwhitneyu``) of the pooled rounds. The interval resamples rounds
(``scipy.stats.bootstrap``) where each side is one run of one worker; where a side holds two
or more runs it resamples that side's runs (a clustered bootstrap), and where its one run came
from several workers it resamples workers, then rounds within each worker drawn (a two-stage
bootstrap), since rounds of one run (one worker) share its state of the machine. Verdict:

- ``slower`` when ratio > 1 + threshold and p < alpha and, where each side has several runs,
  every NEW run's median is above every BASE run's;
- ``faster`` when ratio < 1 / (1 + threshold) and p < alpha (the same rule, sides swapped);
- ``unchanged`` otherwise.

Why the run rule: rounds pooled from several runs are not independent, so the rank test on
them is over-confident when runs differ; requiring the runs to agree (1 chance in 20 for 3
runs a side under no change) keeps CI quiet without hiding a real, consistent slowdown.
"""
from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from reports import stability
from reports.load import key_strings

# The verdict rule's defaults (compare, history and the report's crossover decide by the same rule).
DEFAULT_THRESHOLD, DEFAULT_ALPHA = 0.10, 0.01
N_RESAMPLES = 2000  # bootstrap replicates of the interval


def pooled_runs(df: pd.DataFrame, cols: list[str]) -> dict[str, dict]:
    """Per case key: a representative row, the case's rounds per run (file), per run the rounds
    each worker process gave (``extra_info.worker_rounds``; one worker where a row has none) and
    the case's unstable reasons (:func:`reports.stability.union` over its rows)."""
    out: dict[str, dict] = {}
    for key, (_, row) in zip(key_strings(df, cols), df.iterrows()):
        entry = out.setdefault(key, {"row": row, "runs": {}, "workers": {}, "unstable": []})
        entry["runs"].setdefault(row["file"], []).append(row["samples"])
        entry["workers"].setdefault(row["file"], []).extend(
            stability.worker_counts(row.get(stability.WORKER_ROUNDS), len(row["samples"])))
        entry["unstable"] = stability.ordered([*entry["unstable"], *stability.reasons(row.get(stability.KEY))])
    for entry in out.values():
        entry["runs"] = [np.concatenate(r) for r in entry["runs"].values()]
        entry["workers"] = list(entry["workers"].values())
    return out


def _ratio_of_medians(new, base, axis=-1):
    return np.median(new, axis=axis) / np.median(base, axis=axis)


def min_p_value(n: int, m: int) -> float:
    """The smallest two-sided p the exact Mann-Whitney test can give for sample sizes n, m.

    ``2 / C(n + m, n)`` (both extreme rank orders), computed in log space with
    ``math.lgamma`` so that any sample size works (C(2000, 1000) overflows a float).
    """
    if not (n and m):
        return 1.0
    log_comb = math.lgamma(n + m + 1) - math.lgamma(n + 1) - math.lgamma(m + 1)
    return min(1.0, math.exp(math.log(2.0) - log_comb))


def _clusters(run: np.ndarray, counts: list[int] | None) -> list[np.ndarray]:
    """One run's rounds cut into its workers' consecutive blocks (``counts`` rounds each);
    the whole run as one block where ``counts`` is None or does not add up to its length."""
    if not counts or sum(counts) != len(run):
        return [run]
    return np.split(run, np.cumsum(counts)[:-1])


def _two_stage_medians(workers: list[np.ndarray], rng: np.random.Generator, n_resamples: int) -> np.ndarray:
    """Bootstrap replicates of the median of one run whose rounds came from several worker processes.

    The two-stage bootstrap of Davison & Hinkley 1997, sec. 3.8: draw as many workers as there
    are, with replacement, then within each worker drawn as many of its rounds as it has, with
    replacement. Why: rounds of one worker share that process's state (its memory layout, its
    core, its clock), so workers that disagree are fewer independent units than their rounds;
    resampling the workers carries their disagreement into the interval.
    """
    k = len(workers)
    picks = rng.integers(0, k, size=(n_resamples, k))
    sizes = {len(w) for w in workers}
    if len(sizes) == 1:  # equal worker lengths: one vectorised draw
        n = sizes.pop()
        inner = rng.integers(0, n, size=(n_resamples, k, n))
        return np.median(np.stack(workers)[picks[:, :, None], inner].reshape(n_resamples, -1), axis=1)
    return np.array([np.median(np.concatenate([workers[j][rng.integers(0, len(workers[j]), len(workers[j]))]
                                               for j in p])) for p in picks])


def _bootstrap_medians(runs: list[np.ndarray], rng: np.random.Generator, n_resamples: int,
                       workers: list[list[int]] | None = None) -> np.ndarray:
    """Bootstrap replicates of the median of one side's pooled rounds.

    One run of one worker: resample its rounds with replacement. One run of several workers
    (``workers[0]``: the rounds of each, ``extra_info.worker_rounds``): the two-stage
    bootstrap of :func:`_two_stage_medians`. Two or more runs: the clustered bootstrap
    (Davison & Hinkley 1997, *Bootstrap Methods and their Application*, sec. 3.8, resampling
    the top-level units of hierarchical data): draw as many runs as there are, with
    replacement, and take all rounds of the runs drawn (the workers inside a run then need no
    stage of their own: a drawn run brings all of its workers' disagreement with it).
    """
    if len(runs) == 1:
        blocks = _clusters(runs[0], workers[0] if workers else None)
        if len(blocks) > 1:
            return _two_stage_medians(blocks, rng, n_resamples)
        x = runs[0]
        return np.median(x[rng.integers(0, len(x), size=(n_resamples, len(x)))], axis=1)
    k = len(runs)
    picks = rng.integers(0, k, size=(n_resamples, k))
    if len({len(r) for r in runs}) == 1:  # equal run lengths: one vectorised draw
        return np.median(np.stack(runs)[picks].reshape(n_resamples, -1), axis=1)
    return np.array([np.median(np.concatenate([runs[j] for j in p])) for p in picks])


def _several_workers(runs: list[np.ndarray], workers: list[list[int]] | None) -> bool:
    """Whether a one-run side splits into two or more worker blocks (:func:`_clusters`)."""
    return len(runs) == 1 and bool(workers) and len(_clusters(runs[0], workers[0])) > 1


def ratio_ci(base_runs: list[np.ndarray], new_runs: list[np.ndarray], alpha: float, seed: int = 0,
             base_workers: list[list[int]] | None = None, new_workers: list[list[int]] | None = None):
    """Percentile bootstrap interval (level 1 - alpha) of median(NEW) / median(BASE).

    ``base_workers``/``new_workers``: per run, the rounds each worker process gave (``None``:
    one worker per run). Both sides one run of one worker: ``scipy.stats.bootstrap`` over the
    rounds. Otherwise each side is resampled independently by :func:`_bootstrap_medians`
    (clustered over runs where the side has several, two-stage over workers where its one run
    has several), and the interval is the alpha/2 and 1 - alpha/2 percentiles of the
    replicate ratios. (NaN, NaN) when a side has fewer than 2 rounds.
    """
    base, new = np.concatenate(base_runs), np.concatenate(new_runs)
    if len(base) < 2 or len(new) < 2 or not np.median(base) > 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    clustered = _several_workers(base_runs, base_workers) or _several_workers(new_runs, new_workers)
    if len(base_runs) == 1 and len(new_runs) == 1 and not clustered:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # degenerate (all-equal) samples warn; the interval is still right
            ci = stats.bootstrap(
                (new, base), _ratio_of_medians, paired=False, vectorized=True, n_resamples=N_RESAMPLES,
                confidence_level=1.0 - alpha, method="percentile", rng=rng,
            ).confidence_interval
        return float(ci.low), float(ci.high)
    ratios = (_bootstrap_medians(new_runs, rng, N_RESAMPLES, new_workers)
              / _bootstrap_medians(base_runs, rng, N_RESAMPLES, base_workers))
    lo, hi = np.percentile(ratios, [100.0 * alpha / 2, 100.0 * (1.0 - alpha / 2)])
    return float(lo), float(hi)


def compare_runs(base_runs: list[np.ndarray], new_runs: list[np.ndarray], threshold: float, alpha: float,
                 seed: int = 0, base_workers: list[list[int]] | None = None,
                 new_workers: list[list[int]] | None = None) -> dict:
    """Ratio of medians NEW/BASE of the pooled rounds, its CI (:func:`ratio_ci`), the
    Mann-Whitney p-value of the pooled rounds and the verdict.

    ``base_runs``/``new_runs``: one array of rounds per run (file). With two or more runs
    on each side a verdict also needs every run median of one side beyond every run median
    of the other. ``base_workers``/``new_workers`` (per run, the rounds of each worker
    process) shape only the interval, never the verdict.
    """
    base_runs = [np.asarray(r, dtype=float) for r in base_runs]
    new_runs = [np.asarray(r, dtype=float) for r in new_runs]
    base, new = np.concatenate(base_runs), np.concatenate(new_runs)
    b_med, n_med = float(np.median(base)), float(np.median(new))
    ratio = n_med / b_med if b_med > 0 else math.inf
    lo, hi = ratio_ci(base_runs, new_runs, alpha, seed, base_workers, new_workers)
    if np.ptp(np.concatenate([base, new])) == 0:
        p = 1.0  # every sample equal: no evidence of a difference
    else:
        p = float(stats.mannwhitneyu(new, base, alternative="two-sided").pvalue)
    significant = p < alpha
    b_runs = [float(np.median(r)) for r in base_runs]
    n_runs = [float(np.median(r)) for r in new_runs]
    several_runs = len(b_runs) >= 2 and len(n_runs) >= 2
    runs_slower = not several_runs or min(n_runs) > max(b_runs)
    runs_faster = not several_runs or max(n_runs) < min(b_runs)
    if significant and ratio > 1.0 + threshold and runs_slower:
        verdict = "slower"
    elif significant and ratio < 1.0 / (1.0 + threshold) and runs_faster:
        verdict = "faster"
    else:
        verdict = "unchanged"
    return {"base_median": b_med, "new_median": n_med, "ratio": ratio, "ci_low": lo, "ci_high": hi, "p": p,
            "verdict": verdict, "n_base": len(base), "n_new": len(new),
            "runs_base": len(base_runs), "runs_new": len(new_runs),
            "underpowered": min_p_value(len(base), len(new)) >= alpha}


def compare_samples(base, new, threshold: float, alpha: float, seed: int = 0) -> dict:
    """:func:`compare_runs` for one run a side."""
    return compare_runs([base], [new], threshold, alpha, seed)


def _number_in(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False):
    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        above = x > lo if lo_open else x >= lo
        below = x < hi if hi_open else x <= hi
        if not (above and below):
            raise argparse.ArgumentTypeError(
                f"{text} is outside {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}")
        return x

    return parse


def add_verdict_options(p: argparse.ArgumentParser) -> None:
    """``--threshold`` and ``--alpha`` of :func:`compare_runs`, with their ranges and defaults
    (``compare`` and ``history`` decide slower / faster by the same rule, so they offer the same options)."""
    p.add_argument("--threshold", type=_number_in(0.0, 10.0), default=DEFAULT_THRESHOLD,
                   help="relative change that counts, e.g. 0.10 = 10%% slower (default: 0.10)")
    p.add_argument("--alpha", type=_number_in(0.0, 1.0, lo_open=True, hi_open=True), default=DEFAULT_ALPHA,
                   help="significance level of the Mann-Whitney U test (default: 0.01)")
