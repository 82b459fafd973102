"""``python -m reports compare BASE NEW [--threshold 0.10] [--alpha 0.01] [--cross-machine]``: the regression verdict.

BASE and NEW are each a JSON file or a folder of them; the raw samples (``stats.data``)
of one case found in several files (runs) of one side are pooled (CI interleaves several
base and new runs). Cases are matched on :func:`reports.load.case_key`, the key the
report uses too: :data:`results_format.identity.CASE_FIELDS` (impl, part, phase, strategy, env,
popsize, num_evals, hidden, episode_length, unroll) plus the device identity (device_kind
and num_devices), plus the device id where a side has two devices of one kind on a host,
plus the host where a side holds several hosts.

BASE and NEW must come from the same machine(s): the same hosts and the same device
kinds. Otherwise compare refuses (exit 2, one line naming both sides' hosts and kinds),
since a difference would measure the hardware, not the code; ``--cross-machine``
compares them anyway, matching cases on everything but the host, with a warning.

For every matched case: the ratio of medians NEW/BASE, its bootstrap confidence interval
(percentile method, level 1 - alpha) and the two-sided Mann-Whitney U test
(``scipy.stats.mannwhitneyu``) of the two samples. The interval resamples rounds
(``scipy.stats.bootstrap``) where each side is one run; where a side holds two or more
runs, it resamples that side's runs (a clustered bootstrap, see :func:`ratio_ci`),
since rounds of one run share that run's machine state. Verdict:

- ``slower`` when ratio > 1 + threshold and p < alpha (a regression: exit 1) and, where
  each side has several runs (files), every NEW run's median is above every BASE run's;
- ``faster`` when ratio < 1 / (1 + threshold) and p < alpha (the same rule with the sides swapped);
- ``unchanged`` otherwise; ``only in base`` / ``only in new`` for unmatched cases.

Why the run rule: rounds of one run share that run's state of the machine, so rounds
pooled from several runs are not independent and the rank test on them is
over-confident when runs differ. Requiring the runs to agree (1 chance in 20 for 3 runs
a side under no change) keeps CI quiet without hiding a real, consistent slowdown.

Exit status (see :mod:`reports.exit_status`): 0 nothing slower, 1 something slower, 2 bad input
(unreadable files, no raw samples, different machines without --cross-machine, no case
in common, usage errors), 3 an internal error (one line on stderr), 141 stdout closed early.

Each side's notices (:mod:`reports.notices`: accelerators jax did not use, backends that
failed, system check warnings) are printed above the table, prefixed ``base:`` / ``new:``;
they change neither a verdict nor the exit status. Below the table, each side's unstable
cases (``extra_info.unstable``, :mod:`reports.stability`), one line each with their
reasons; they change neither either.

Where a side's one run of a case came from several worker processes
(``extra_info.worker_rounds``), the interval resamples workers, then rounds within each
worker drawn (a two-stage bootstrap, :func:`_two_stage_medians`), since rounds of one
worker share that process's state.
"""
from __future__ import annotations

import argparse
import math
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from reports import formatting as fmt
from reports import stability
from reports.exit_status import EXIT_OK, EXIT_SLOWER, BadInput, OneLineParser, guarded
from reports.load import case_key, key_strings, key_text, load, setting_differences
from reports.notices import notices as machine_notices

# The verdict rule's defaults (compare, history and the report's crossover decide by the same rule).
DEFAULT_THRESHOLD, DEFAULT_ALPHA = 0.10, 0.01
ORDER = {"faster": 0, "slower": 1, "unchanged": 2, "only in base": 3, "only in new": 3}
N_RESAMPLES = 2000


@dataclass
class Side:
    """One side of a comparison: its rows (one per benchmark entry, raw samples in ``samples``),
    the hosts it ran on and the device kinds it used."""

    name: str  # "BASE" or "NEW"
    rows: pd.DataFrame
    hosts: list[str]
    kinds: list[str]
    notices: list[str] = field(default_factory=list)  # :func:`reports.notices.notices` of its files

    def describe(self) -> str:
        return f"{self.name}: host {', '.join(self.hosts)}; devices {', '.join(self.kinds)}"


def require_samples(rows: pd.DataFrame, command: str) -> None:
    """Raise :class:`BadInput` naming the first entry of ``rows`` without raw samples (``stats.data``):
    the verdict pools and resamples rounds, which pytest-benchmark's summary statistics cannot give."""
    missing = rows[rows["samples"].isna()]
    if not missing.empty:
        r = missing.iloc[0]
        raise BadInput(r["file"], f"benchmark #{r['bench_index']} {r['name']!r} has no stats.data (raw samples); "
                       f"{command} needs them (pytest-benchmark writes them with --benchmark-json)")


def load_side(paths: list[str], side: str) -> Side:
    """Read one side with :func:`reports.load.load`; every entry must have raw samples."""
    try:
        res = load(paths)
    except BadInput as err:
        raise BadInput(err.where, f"{err.problem} ({side})") from None
    rows = res.rows
    require_samples(rows, "compare")
    hosts = sorted({h for hs in res.machines["process_hosts"] for h in hs} | set(rows["host"].astype(str)))
    kinds = sorted(set(rows["device_kind"].astype(str)))
    return Side(side, rows, hosts, kinds, machine_notices(res))


def different_machines(base: Side, new: Side) -> bool:
    """True when the sides ran on different host sets or used different device kinds."""
    return base.hosts != new.hosts or base.kinds != new.kinds


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


def case_label(row, cols, varying: set[str]) -> str:
    """Short text naming a case; ``varying``: optional fields that differ across the compared cases."""
    parts = [str(row["phase"]), str(row["strategy"]), str(row["env"]), f"pop{fmt.general(row['popsize'])}",
             f"evals{fmt.general(row['num_evals'])}"]
    if not pd.isna(row["hidden"]):
        parts.append(f"h{fmt.general(row['hidden'])}")
    if "episode_length" in varying and not pd.isna(row["episode_length"]):
        parts.append(f"len{fmt.general(row['episode_length'])}")
    if key_text(row["unroll"]) not in ("", "1"):
        parts.append(f"unroll{fmt.general(row['unroll'])}")
    if key_text(row.get("pop_chunk_setting")) not in ("", "auto"):  # the settings at their defaults say nothing
        parts.append(f"chunk{row['pop_chunk_setting']}")
    if key_text(row.get("isolation")) not in ("", "process"):
        parts.append(f"isolate-{row['isolation']}")
    parts.append(str(row["device_kind"]))
    if key_text(row["num_devices"]) not in ("", "1"):
        parts.append(f"x{fmt.general(row['num_devices'])}")
    if "device" in cols:
        parts.append(str(row["device"]))
    if row["part"] != "generation":
        parts.append(str(row["part"]))
    if row["impl"] != "esperf":
        parts.append(f"[{row['impl']}]")
    if "host" in cols:
        parts.insert(0, f"{row['host']}:")
    return " ".join(parts)


def compare(base: Side, new: Side, threshold: float = DEFAULT_THRESHOLD, alpha: float = DEFAULT_ALPHA,
            cross_machine: bool = False) -> pd.DataFrame:
    """One row per case of either side, sorted: faster, slower, unchanged, only in one side.

    Cases are matched on :func:`reports.load.case_key` of both sides, without the host
    when ``cross_machine``. ``unstable_base``/``unstable_new``: each side's unstable reasons
    of the case (:func:`reports.stability.cell`, ``''`` when stable or not recorded).
    """
    cols = case_key([base.rows, new.rows], hosts=not cross_machine)
    b, n = pooled_runs(base.rows, cols), pooled_runs(new.rows, cols)
    both = pd.concat([base.rows, new.rows])
    varying = {c for c in ("episode_length",) if both[c].map(key_text).nunique() > 1}
    out = []
    for i, key in enumerate(dict.fromkeys([*b, *n])):
        row = (b.get(key) or n.get(key))["row"]
        rec = {"case": case_label(row, cols, varying), **{c: row[c] for c in cols}}
        rec["unstable_base"] = stability.cell(b[key]["unstable"]) if key in b else ""
        rec["unstable_new"] = stability.cell(n[key]["unstable"]) if key in n else ""
        if key in b and key in n:
            rec.update(compare_runs(b[key]["runs"], n[key]["runs"], threshold, alpha, seed=i,
                                    base_workers=b[key]["workers"], new_workers=n[key]["workers"]))
        else:
            side = b if key in b else n
            med = float(np.median(np.concatenate(side[key]["runs"])))
            count = sum(map(len, side[key]["runs"]))
            rec.update(base_median=med if key in b else math.nan, new_median=med if key in n else math.nan,
                       ratio=math.nan, ci_low=math.nan, ci_high=math.nan, p=math.nan,
                       verdict="only in base" if key in b else "only in new",
                       n_base=count if key in b else 0, n_new=count if key in n else 0,
                       runs_base=len(side[key]["runs"]) if key in b else 0,
                       runs_new=len(side[key]["runs"]) if key in n else 0, underpowered=False)
        out.append(rec)
    df = pd.DataFrame(out)
    df["_order"] = df["verdict"].map(ORDER)
    # faster: biggest gain first; slower and unchanged: largest ratio (worst) first
    df["_sort"] = np.where(df["verdict"].eq("faster"), df["ratio"], -df["ratio"])
    df = df.sort_values(["_order", "_sort", "case"], kind="stable", na_position="last")
    return df.drop(columns=["_order", "_sort"]).reset_index(drop=True)


def _secs(x) -> str:
    """A median in the verdict table: 4 significant digits, ASCII ``us``, ``-`` for none."""
    return fmt.seconds(x, digits=4, micro="us", missing="-")


def format_table(df: pd.DataFrame, alpha: float) -> str:
    level = f"{100 * (1 - alpha):g}%"
    head = ["case", "base median", "new median", "ratio", f"CI {level}", "p", "verdict"]
    lines = []
    for r in df.itertuples(index=False):
        ratio = "-" if math.isnan(r.ratio) else f"{r.ratio:.3f} ({100 * (r.ratio - 1):+.1f}%)"
        ci = "-" if math.isnan(r.ci_low) else f"[{r.ci_low:.3f}, {r.ci_high:.3f}]"
        p = fmt.p_value(r.p)
        verdict = r.verdict + (" (too few samples)" if r.underpowered and r.verdict == "unchanged" else "")
        lines.append([r.case, _secs(r.base_median), _secs(r.new_median), ratio, ci, p, verdict])
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(head)]
    right = {1, 2, 3, 5}

    def line(row):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *(line(x) for x in lines)])


def summary_line(df: pd.DataFrame, threshold: float, alpha: float) -> str:
    counts = df["verdict"].value_counts()
    only = int(counts.get("only in base", 0) + counts.get("only in new", 0))
    text = (f"{int(counts.get('slower', 0))} slower, {int(counts.get('faster', 0))} faster, "
            f"{int(counts.get('unchanged', 0))} unchanged, {only} only in one side "
            f"(slower/faster: ratio of medians beyond {1 + threshold:.3g} / {1 / (1 + threshold):.3g} "
            f"and Mann-Whitney p < {alpha:g})")
    weak = int((df["underpowered"] & df["verdict"].eq("unchanged")).sum())
    if weak:
        text += (f"\nnote: {weak} case(s) have too few samples for any p < {alpha:g}; "
                 "add rounds or pairs (ESPERF_COMPARE_PAIRS) to test them")
    return text


def notice_lines(base: Side, new: Side) -> list[str]:
    """Each side's notices (an unused accelerator, a failed backend, a system check warning),
    prefixed ``base:`` / ``new:``; ``[]`` when both machines were fit.

    Informational only: they change no verdict and no exit status, but a ratio measured on an
    unfit machine deserves the reader's doubt.
    """
    return [f"{s.name.lower()}: {line}" for s in (base, new) for line in s.notices]


def unstable_lines(df: pd.DataFrame) -> list[str]:
    """One line per unstable case of each side, base first: ``base: <case>: iqr (IQR / median ...)``;
    ``[]`` when no case of either side is unstable (or the files predate the reasons).

    Informational only, like the notices: an unstable figure changes no verdict and no exit status.
    """
    return [f"{side}: {case}: {stability.explained(stability.split_cell(text))}"
            for side in ("base", "new") for case, text in zip(df["case"], df[f"unstable_{side}"])
            if stability.is_unstable(text)]


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


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m reports compare",
        description="Compare the raw samples of two sets of esperf results. Exit 0: nothing slower; "
        "1: something slower; 2: bad input or usage; 3: internal error.",
    )
    p.add_argument("base", metavar="BASE", help="JSON file or folder of JSON files (samples of a case pooled)")
    p.add_argument("new", metavar="NEW", help="JSON file or folder of JSON files (samples of a case pooled)")
    add_verdict_options(p)
    p.add_argument("--cross-machine", action="store_true",
                   help="compare BASE and NEW even when they come from different hosts or device kinds "
                   "(matching cases on everything but the host); this compares hardware, not code")
    return p


def _run(args) -> int:
    base = load_side([args.base], "BASE")
    new = load_side([args.new], "NEW")
    if different_machines(base, new):
        if not args.cross_machine:
            raise BadInput(f"{args.base} vs {args.new}",
                           f"BASE and NEW come from different machines ({base.describe()} | {new.describe()}); "
                           "timing one against the other compares hardware, not code "
                           "(pass --cross-machine to compare them anyway)")
        print(f"reports: warning: --cross-machine: {base.describe()} | {new.describe()}; "
              "this compares hardware, not code", file=sys.stderr)
    result = compare(base, new, args.threshold, args.alpha, cross_machine=args.cross_machine)
    if not result["verdict"].isin(["slower", "faster", "unchanged"]).any():
        differ = setting_differences({"BASE": base.rows, "NEW": new.rows})
        raise BadInput(f"{args.base} vs {args.new}", "no case of BASE matches a case of NEW " + (
            f"(the settings differ: {differ})" if differ else "(different grids, devices or hosts?)"))
    print(f"esperf compare: BASE {args.base} ({int(result['n_base'].gt(0).sum())} cases) vs "
          f"NEW {args.new} ({int(result['n_new'].gt(0).sum())} cases)")
    notes = notice_lines(base, new)
    if notes:
        print("notices (a machine not fit to be measured; python -m bench.doctor explains):")
        print("\n".join(f"  {line}" for line in notes))
    print(format_table(result, args.alpha))
    shaky = unstable_lines(result)
    if shaky:
        print(f"{stability.HEADING.lower()} (their timing did not hold steady; they change no verdict):")
        print("\n".join(f"  {line}" for line in shaky))
    print(summary_line(result, args.threshold, args.alpha))
    return EXIT_SLOWER if result["verdict"].eq("slower").any() else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; return the exit status (0, 1, 2 or 3; usage errors raise SystemExit(2))."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    return guarded(lambda: _run(args))
