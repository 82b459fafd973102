"""``python -m reports compare BASE NEW [--threshold 0.10] [--alpha 0.01] [--cross-machine]``: the regression verdict.

BASE and NEW are each a JSON file or a folder of them; the raw samples (``stats.data``)
of one case found in several files (runs) of one side are pooled (CI interleaves several
base and new runs). Cases are matched on :func:`reports.load.case_key`, the key the
report uses too: :data:`results_format.identity.CASE_FIELDS` (impl, part, phase, strategy, env,
popsize, num_evals, hidden, episode_length, unroll, pop_chunk_setting, isolation) plus the device identity (device_kind
and num_devices), plus the device id where a side has two devices of one kind on a host,
plus the host where a side holds several hosts.

BASE and NEW must come from the same machine(s): the same hosts and the same device
kinds. Otherwise compare refuses (exit 2, one line naming both sides' hosts and kinds),
since a difference would measure the hardware, not the code; ``--cross-machine``
compares them anyway, matching cases on everything but the host, with a warning.

For every matched case, :func:`reports.verdict.compare_runs` decides, by the rule that history
and the report's crossover share: the ratio of medians NEW/BASE, its bootstrap interval
(clustered over runs where a side has several, two-stage over worker processes where its one
run came from several) and the Mann-Whitney U test; ``slower`` (exit 1) when the ratio is beyond
1 + threshold, p < alpha and, with several runs a side, every run agrees; ``faster`` the same
way round; ``unchanged`` otherwise; ``only in base`` / ``only in new`` for unmatched cases.

Exit status (see :mod:`reports.exit_status`): 0 nothing slower, 1 something slower, 2 bad input
(unreadable files, no raw samples, different machines without --cross-machine, no case
in common, usage errors), 3 an internal error (one line on stderr), 141 stdout closed early.

Each side's notices (:mod:`reports.notices`: accelerators jax did not use, backends that
failed, system check warnings) are printed above the table, prefixed ``base:`` / ``new:``;
they change neither a verdict nor the exit status. Below the table, each side's unstable
cases (``extra_info.unstable``, :mod:`reports.stability`), one line each with their
reasons; they change neither either.
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reports import formatting as fmt
from reports import stability
from reports.exit_status import EXIT_OK, EXIT_SLOWER, BadInput, OneLineParser, guarded
from reports.load import case_key, key_text, load, setting_differences
from reports.notices import notices as machine_notices
from reports.verdict import DEFAULT_ALPHA, DEFAULT_THRESHOLD, add_verdict_options, compare_runs, pooled_runs
from reports.verdict import N_RESAMPLES, compare_samples, min_p_value, ratio_ci  # noqa: F401 -- still reports.compare's names

ORDER = {"faster": 0, "slower": 1, "unchanged": 2, "only in base": 3, "only in new": 3}


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
