"""``python -m reports compare BASE NEW [--threshold 0.10] [--alpha 0.01]``: the regression verdict.

BASE and NEW are each a JSON file or a folder of them; the raw samples (``stats.data``)
of one case found in several files of one side are pooled (CI interleaves several base
and new runs). Cases are matched by impl, part, phase, strategy, env, popsize,
num_evals, hidden and device_kind (plus the device id where a side has two devices of
one kind on one host, plus the host where a side holds several hosts).

For every matched case: the ratio of medians NEW/BASE, its bootstrap confidence interval
(``scipy.stats.bootstrap``, percentile method, level 1 - alpha) and the two-sided
Mann-Whitney U test (``scipy.stats.mannwhitneyu``) of the two samples. Verdict:

- ``slower`` when ratio > 1 + threshold and p < alpha (a regression: exit 1) and, where
  each side has several runs (files), every NEW run's median is above every BASE run's;
- ``faster`` when ratio < 1 / (1 + threshold) and p < alpha (the same rule with the sides swapped);

Why the run rule: rounds of one run share that run's state of the machine, so rounds
pooled from several runs are not independent and the rank test on them is
over-confident when runs differ. Requiring the runs to agree (1 chance in 20 for 3 runs
a side under no change) keeps CI quiet without hiding a real, consistent slowdown.
- ``unchanged`` otherwise; ``only in base`` / ``only in new`` for unmatched cases.

Exit 0 when nothing is slower, 1 when something is, 2 on bad input (unreadable files,
no raw samples, no case in common).
"""
from __future__ import annotations

import argparse
import math
import sys
import warnings
from math import comb

import numpy as np
import pandas as pd
from scipy import stats

from reports.load import BadInput, expand_paths, host_of, key_text, read_json

KEY = ("impl", "part", "phase", "strategy", "env", "popsize", "num_evals", "hidden", "device_kind")
DEFAULTS = {"impl": "esperf", "part": "generation"}
ORDER = {"faster": 0, "slower": 1, "unchanged": 2, "only in base": 3, "only in new": 3}
N_RESAMPLES = 2000


def load_side(paths: list[str], side: str) -> pd.DataFrame:
    """One row per benchmark entry of one side: host, device, KEY fields, raw samples."""
    try:
        files = expand_paths(paths)
    except BadInput as err:
        raise BadInput(err.where, f"{err.problem} ({side})") from None
    rows = []
    for f in files:
        data = read_json(f)
        host = host_of(f, data["machine_info"])
        for i, b in enumerate(data["benchmarks"]):
            info = b["extra_info"]
            samples = b["stats"].get("data")
            if samples is None:
                raise BadInput(f, f"benchmark #{i} {b.get('name')!r} has no stats.data (raw samples); "
                               "compare needs them (pytest-benchmark writes them with --benchmark-json)")
            row = {k: info.get(k, DEFAULTS.get(k)) for k in KEY}
            if row["device_kind"] is None:
                row["device_kind"] = info.get("platform") or info.get("device")
            row.update(host=host, device=info.get("device") or row["device_kind"], file=str(f),
                       samples=np.asarray(samples, dtype=float))
            rows.append(row)
    df = pd.DataFrame(rows, columns=[*KEY, "host", "device", "file", "samples"])
    if df.empty:
        where = files[0] if len(files) == 1 else ", ".join(map(str, paths))
        raise BadInput(where, f"no benchmark cases ({side})")
    return df


def key_columns(base: pd.DataFrame, new: pd.DataFrame) -> list[str]:
    """KEY, plus device where a side has several devices of one kind on a host, plus host
    where a side holds several hosts."""
    cols = list(KEY)
    if any(d.groupby(["host", "device_kind"])["device"].nunique().gt(1).any() for d in (base, new)):
        cols.append("device")
    if any(d["host"].nunique() > 1 for d in (base, new)):
        cols.insert(0, "host")
    return cols


def _pooled(df: pd.DataFrame, cols: list[str]) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for i, key in enumerate(df[cols].map(key_text).itertuples(index=False, name=None)):
        entry = out.setdefault(key, {"row": df.iloc[i], "samples": [], "files": set(), "runs": {}})
        entry["samples"].append(df.iloc[i]["samples"])
        entry["files"].add(df.iloc[i]["file"])
        entry["runs"].setdefault(df.iloc[i]["file"], []).append(df.iloc[i]["samples"])
    for entry in out.values():
        entry["samples"] = np.concatenate(entry["samples"])
        entry["run_medians"] = [float(np.median(np.concatenate(r))) for r in entry["runs"].values()]
    return out


def _ratio_of_medians(new, base, axis=-1):
    return np.median(new, axis=axis) / np.median(base, axis=axis)


def min_p_value(n: int, m: int) -> float:
    """The smallest two-sided p the exact Mann-Whitney test can give for sample sizes n, m."""
    return min(1.0, 2.0 / comb(n + m, n)) if n and m else 1.0


def compare_samples(
    base: np.ndarray,
    new: np.ndarray,
    threshold: float,
    alpha: float,
    seed: int = 0,
    base_runs: list[float] | None = None,
    new_runs: list[float] | None = None,
) -> dict:
    """Ratio of medians NEW/BASE, its CI, the Mann-Whitney p-value and the verdict.

    ``base_runs``/``new_runs`` are the per-run medians; with two or more runs on each
    side a verdict also needs every run of one side beyond every run of the other.
    """
    b_med, n_med = float(np.median(base)), float(np.median(new))
    ratio = n_med / b_med if b_med > 0 else math.inf
    lo = hi = math.nan
    if len(base) >= 2 and len(new) >= 2 and b_med > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ci = stats.bootstrap(
                (new, base), _ratio_of_medians, paired=False, vectorized=True, n_resamples=N_RESAMPLES,
                confidence_level=1.0 - alpha, method="percentile", rng=np.random.default_rng(seed),
            ).confidence_interval
        lo, hi = float(ci.low), float(ci.high)
    if np.ptp(np.concatenate([base, new])) == 0:
        p = 1.0  # every sample equal: no evidence of a difference
    else:
        p = float(stats.mannwhitneyu(new, base, alternative="two-sided").pvalue)
    significant = p < alpha
    several_runs = len(base_runs or ()) >= 2 and len(new_runs or ()) >= 2
    runs_slower = not several_runs or min(new_runs) > max(base_runs)
    runs_faster = not several_runs or max(new_runs) < min(base_runs)
    if significant and ratio > 1.0 + threshold and runs_slower:
        verdict = "slower"
    elif significant and ratio < 1.0 / (1.0 + threshold) and runs_faster:
        verdict = "faster"
    else:
        verdict = "unchanged"
    return {"base_median": b_med, "new_median": n_med, "ratio": ratio, "ci_low": lo, "ci_high": hi, "p": p,
            "verdict": verdict, "n_base": len(base), "n_new": len(new),
            "underpowered": min_p_value(len(base), len(new)) >= alpha}


def case_label(row, cols) -> str:
    parts = [str(row["phase"]), str(row["strategy"]), str(row["env"]), f"pop{_g(row['popsize'])}",
             f"evals{_g(row['num_evals'])}"]
    if not pd.isna(row["hidden"]):
        parts.append(f"h{_g(row['hidden'])}")
    parts.append(str(row["device_kind"]))
    if "device" in cols:
        parts.append(str(row["device"]))
    if row["part"] != "generation":
        parts.append(str(row["part"]))
    if row["impl"] != "esperf":
        parts.append(f"[{row['impl']}]")
    if "host" in cols:
        parts.insert(0, f"{row['host']}:")
    return " ".join(parts)


def _g(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float, np.number)) else str(v)


def compare(base: pd.DataFrame, new: pd.DataFrame, threshold: float = 0.10, alpha: float = 0.01) -> pd.DataFrame:
    """One row per case of either side, sorted: faster, slower, unchanged, only in one side."""
    cols = key_columns(base, new)
    b, n = _pooled(base, cols), _pooled(new, cols)
    out = []
    for i, key in enumerate(dict.fromkeys([*b, *n])):
        row = (b.get(key) or n.get(key))["row"]
        rec = {"case": case_label(row, cols), **{c: row[c] for c in cols}}
        if key in b and key in n:
            rec.update(compare_samples(b[key]["samples"], n[key]["samples"], threshold, alpha, seed=i,
                                       base_runs=b[key]["run_medians"], new_runs=n[key]["run_medians"]))
        else:
            side = b if key in b else n
            med = float(np.median(side[key]["samples"]))
            rec.update(base_median=med if key in b else math.nan, new_median=med if key in n else math.nan,
                       ratio=math.nan, ci_low=math.nan, ci_high=math.nan, p=math.nan,
                       verdict="only in base" if key in b else "only in new",
                       n_base=len(b[key]["samples"]) if key in b else 0,
                       n_new=len(n[key]["samples"]) if key in n else 0, underpowered=False)
        out.append(rec)
    df = pd.DataFrame(out)
    df["_order"] = df["verdict"].map(ORDER)
    # faster: biggest gain first; slower and unchanged: largest ratio (worst) first
    df["_sort"] = np.where(df["verdict"].eq("faster"), df["ratio"], -df["ratio"])
    df = df.sort_values(["_order", "_sort", "case"], kind="stable", na_position="last")
    return df.drop(columns=["_order", "_sort"]).reset_index(drop=True)


def _fmt_s(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if x >= 1:
        return f"{x:.4g} s"
    if x >= 1e-3:
        return f"{x * 1e3:.4g} ms"
    return f"{x * 1e6:.4g} us"


def format_table(df: pd.DataFrame, alpha: float) -> str:
    level = f"{100 * (1 - alpha):g}%"
    head = ["case", "base median", "new median", "ratio", f"CI {level}", "p", "verdict"]
    lines = []
    for r in df.itertuples(index=False):
        ratio = "-" if math.isnan(r.ratio) else f"{r.ratio:.3f} ({100 * (r.ratio - 1):+.1f}%)"
        ci = "-" if math.isnan(r.ci_low) else f"[{r.ci_low:.3f}, {r.ci_high:.3f}]"
        p = "-" if math.isnan(r.p) else f"{r.p:.2g}"
        verdict = r.verdict + (" (too few samples)" if r.underpowered and r.verdict == "unchanged" else "")
        lines.append([r.case, _fmt_s(r.base_median), _fmt_s(r.new_median), ratio, ci, p, verdict])
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(head)]
    right = {1, 2, 3, 5}

    def fmt(row):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(head), rule, *(fmt(x) for x in lines)])


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


def _number_in(name: str, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False):
    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        above = x > lo if lo_open else x >= lo
        below = x < hi if hi_open else x <= hi
        if not (above and below):
            raise argparse.ArgumentTypeError(
                f"{name} {text} is outside {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}")
        return x

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m reports compare",
        description="Compare the raw samples of two sets of esperf results; exit 1 on a significant slowdown.",
    )
    p.add_argument("base", metavar="BASE", help="JSON file or folder of JSON files (samples of a case pooled)")
    p.add_argument("new", metavar="NEW", help="JSON file or folder of JSON files (samples of a case pooled)")
    p.add_argument("--threshold", type=_number_in("--threshold", 0.0, 10.0), default=0.10,
                   help="relative change that counts, e.g. 0.10 = 10%% slower (default: 0.10)")
    p.add_argument("--alpha", type=_number_in("--alpha", 0.0, 1.0, lo_open=True, hi_open=True), default=0.01,
                   help="significance level of the Mann-Whitney U test (default: 0.01)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        base = load_side([args.base], "BASE")
        new = load_side([args.new], "NEW")
        result = compare(base, new, args.threshold, args.alpha)
        if not result["verdict"].isin(["slower", "faster", "unchanged"]).any():
            raise BadInput(f"{args.base} vs {args.new}", "no case of BASE matches a case of NEW "
                           "(different grids, devices or hosts?)")
    except BadInput as err:
        print(f"reports: {err}", file=sys.stderr)
        return 2
    print(f"esperf compare: BASE {args.base} ({int(result['n_base'].gt(0).sum())} cases) vs "
          f"NEW {args.new} ({int(result['n_new'].gt(0).sum())} cases)")
    print(format_table(result, args.alpha))
    print(summary_line(result, args.threshold, args.alpha))
    return 1 if result["verdict"].eq("slower").any() else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
