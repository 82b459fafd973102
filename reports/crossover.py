"""The crossover popsize of each pair of devices of a machine: from which population size one is faster.

For each machine (host), each runtime case without its popsize (impl, strategy, env, evals,
hidden, episode length, unroll; whole generations) and each pair of the machine's device specs
(``cpu:0``, ``cpu:all``, ``gpu:0``, ...) that ran it at two or more shared population sizes,
every shared popsize gets ``reports compare``'s verdict on the two devices' pooled rounds
(:func:`reports.verdict.compare_runs`: ratio of medians beyond 1 + threshold, Mann-Whitney p
below alpha and, where both have several runs, the run rule). The **crossover popsize** is the
smallest measured popsize from which one device is faster at that popsize and at every larger
measured one; its interval is (the last popsize where it was not faster, the crossover popsize):
the curves cross somewhere in between. A device faster at every measured popsize has no lower
end (it may cross below the measured range); where neither device is faster at the largest
measured popsize, the crossover is "not in the measured range".

Rows without raw samples (``stats.data``) cannot be tested by the rule and are left out.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from reports import formatting as fmt
from reports.verdict import DEFAULT_ALPHA, DEFAULT_THRESHOLD, compare_runs, pooled_runs
from reports.load import Results, key_strings

NOT_IN_RANGE = "not in the measured range"
# The case of a crossover: everything that identifies a runtime case but its popsize and device.
GROUP_FIELDS = ("impl", "strategy", "env", "num_evals", "hidden", "episode_length", "unroll")
COLUMNS = ["host", *GROUP_FIELDS, "device_a", "device_b", "kind_a", "kind_b", "faster", "slower", "crossover_popsize",
           "interval_low", "interval_high", "crossover", "popsizes", "verdicts"]


def _verdicts(a: dict, b: dict, pops: list[float], threshold: float, alpha: float) -> list[str]:
    """Per popsize: the faster device's key ``"a"`` / ``"b"``, or ``""`` (no difference by the rule)."""
    out = []
    for i, p in enumerate(pops):
        ra, rb = a[p], b[p]
        v = compare_runs(ra["runs"], rb["runs"], threshold, alpha, seed=i,
                         base_workers=ra["workers"], new_workers=rb["workers"])["verdict"]
        out.append("b" if v == "faster" else "a" if v == "slower" else "")
    return out


def crossover_of(pops: list[float], faster: list[str]) -> tuple[str, int | None]:
    """The side (``"a"``/``"b"``) faster from some popsize on and the index of that popsize in
    ``pops`` (ascending), or ``("", None)`` where neither is faster at the largest one."""
    side = faster[-1]
    if not side:
        return "", None
    i = len(faster) - 1
    while i > 0 and faster[i - 1] == side:
        i -= 1
    return side, i


def crossovers(res: Results, threshold: float = DEFAULT_THRESHOLD, alpha: float = DEFAULT_ALPHA) -> pd.DataFrame:
    """One row per machine, case (:data:`GROUP_FIELDS`) and pair of device specs with runtime
    rows at two or more shared popsizes: the devices (``device_a`` < ``device_b``), the one faster
    from the crossover on (``faster``, ``slower``; '' where none), ``crossover_popsize``, its
    interval ``interval_low`` (the last popsize where ``faster`` was not faster; NaN where it was
    faster at every one) .. ``interval_high`` (= crossover_popsize), ``crossover`` (the same as
    text, or :data:`NOT_IN_RANGE`), the shared ``popsizes`` and per popsize the faster device
    (``verdicts``: ``100: cpu:all; 1000: =; ...``, ``=`` for no difference by the rule); ``kind_a``,
    ``kind_b``: the devices' kinds.

    Args:
        res: the loaded results (raw samples per file, as ``compare`` pools them).
        threshold, alpha: the verdict rule of :func:`reports.verdict.compare_runs`.

    Returns:
        The table, sorted by host, case and pair; empty (with :data:`COLUMNS`) where no pair qualifies.
    """
    rows = res.rows
    rows = rows[rows["phase"].eq("runtime") & rows["part"].eq("generation") & rows["samples"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = rows.assign(_group=key_strings(rows, ("host", *GROUP_FIELDS)))
    out = []
    for _, g in rows.groupby("_group", sort=False):
        per_device: dict[str, dict[float, dict]] = {}
        kinds: dict[str, str] = {}
        pooled = pooled_runs(g, ["device", "popsize"])
        for entry in pooled.values():
            r = entry["row"]
            per_device.setdefault(str(r["device"]), {})[float(r["popsize"])] = entry
            kinds[str(r["device"])] = str(r["device_kind"])
        first = g.iloc[0]
        devices = sorted(per_device)
        for i, da in enumerate(devices):
            for db in devices[i + 1:]:
                pops = sorted(set(per_device[da]) & set(per_device[db]))
                if len(pops) < 2:
                    continue
                faster = _verdicts(per_device[da], per_device[db], pops, threshold, alpha)
                side, at = crossover_of(pops, faster)
                name = {"a": da, "b": db}
                rec = {"host": first["host"], **{c: first.get(c, np.nan) for c in GROUP_FIELDS},
                       "device_a": da, "device_b": db, "kind_a": kinds[da], "kind_b": kinds[db],
                       "faster": name.get(side, ""),
                       "slower": name.get({"a": "b", "b": "a"}.get(side, ""), ""),
                       "popsizes": ", ".join(fmt.number(p) for p in pops),
                       "verdicts": "; ".join(f"{fmt.number(p)}: {name.get(v, '=')}" for p, v in zip(pops, faster))}
                if side:
                    low = pops[at - 1] if at > 0 else math.nan
                    rec.update(crossover_popsize=pops[at], interval_low=low, interval_high=pops[at],
                               crossover=(f"from {fmt.number(pops[at])} (between {fmt.number(low)} and "
                                          f"{fmt.number(pops[at])})" if at > 0 else
                                          f"at every measured popsize (from {fmt.number(pops[at])})"))
                else:
                    rec.update(crossover_popsize=math.nan, interval_low=math.nan, interval_high=math.nan,
                               crossover=NOT_IN_RANGE)
                out.append(rec)
    df = pd.DataFrame(out, columns=COLUMNS)
    order = ["host", *GROUP_FIELDS, "device_a", "device_b"]
    return df.sort_values(order, kind="stable", na_position="last").reset_index(drop=True)
