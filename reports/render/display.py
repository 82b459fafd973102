"""The report's tables as a reader sees them: each table of :mod:`reports.tables` (and of
:mod:`reports.crossover`, :mod:`reports.roofline`) with units, readable column names and a case
named in words; the columns of unstable reasons and CPU references only where any row has one."""
from __future__ import annotations

import math

import pandas as pd

from reports import energy as energy_text
from reports import formatting as fmt
from reports import stability


def best_table(best: pd.DataFrame) -> pd.DataFrame:
    if best.empty:
        return best
    return pd.DataFrame(
        {
            "strategy": best["strategy"],
            "env": best["env"],
            "popsize": best["popsize"].map(fmt.number),
            "evals": best["num_evals"].map(fmt.number),
            "impl": best["impl"],
            "best device": best["best_device"],
            "runtime / generation": best["median"].map(fmt.seconds),
            "env steps / s": best["env_steps_per_s"].map(fmt.count),
            "next best": best["next_device"],
            "× faster than next": best["x_faster_than_next"].map(fmt.ratio),
            "failed on": best["failed_on"],
            **_unstable_column(best),
        }
    )


def _unstable_column(df: pd.DataFrame) -> dict:
    """``{"unstable": reasons}`` for a table of ``df``'s rows where any row is unstable; else ``{}``
    (a report without unstable figures keeps the columns it always had)."""
    if stability.KEY not in df or not df[stability.KEY].map(stability.is_unstable).any():
        return {}
    return {"unstable": df[stability.KEY].map(lambda v: v if stability.is_unstable(v) else "")}


def impls_table(impls: pd.DataFrame) -> pd.DataFrame:
    """``tables.implementations`` with units: times, env steps/s and ratios formatted."""
    out = impls.copy()
    for col in out:
        if col.endswith("_median_s"):
            out[col] = out[col].map(fmt.seconds)
        elif col.endswith("_env_steps_per_s"):
            out[col] = out[col].map(fmt.count)
        elif col.endswith("_over_esperf"):
            out[col] = out[col].map(fmt.ratio)
        elif col in ("popsize", "num_evals", "hidden"):
            out[col] = out[col].map(fmt.number)
    return out


def failed_table(failed: pd.DataFrame, width: int = 160) -> pd.DataFrame:
    if failed.empty:
        return pd.DataFrame(columns=["host", "device", "case", "error"])

    def case(r) -> str:
        bits = [r.get("phase"), r.get("strategy"), r.get("env"), f"pop {fmt.number(r.get('popsize'))}",
                f"{fmt.number(r.get('num_evals'))} evals"]
        if r.get("part") not in (None, "generation") and not pd.isna(r.get("part")):
            bits.append(str(r.get("part")))
        if r.get("impl") not in (None, "esperf") and not pd.isna(r.get("impl")):
            bits.append(str(r.get("impl")))
        return " ".join(str(b) for b in bits if b is not None and not (isinstance(b, float) and math.isnan(b)))

    def short(e) -> str:
        e = " ".join(str(e).split())
        return e if len(e) <= width else e[: width - 1] + "…"

    return pd.DataFrame(
        {
            "host": failed["host"],
            "device": failed.get("device", pd.Series("", index=failed.index)),
            "case": [case(r) for _, r in failed.iterrows()],
            "error": failed["error"].map(short),
        }
    )


def cases_table(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device": summary["device_label"],
            "impl": summary["impl"],
            "phase": summary["phase"],
            "part": summary["part"],
            "strategy": summary["strategy"],
            "env": summary["env"],
            "popsize": summary["popsize"].map(fmt.number),
            "evals": summary["num_evals"].map(fmt.number),
            "median": summary["median"].map(fmt.seconds),
            "IQR": summary["iqr"].map(fmt.seconds),
            "rounds": summary["rounds"].map(fmt.number),
            "env steps / s": summary["env_steps_per_s"].map(fmt.count),
            "speedup vs CPU": summary["speedup_vs_cpu"].map(fmt.ratio),
            **_reference_columns(summary),
            **_unstable_column(summary),
        }
    )


def _reference_columns(summary: pd.DataFrame) -> dict:
    """The speedup's CPU reference (``whole CPU (16 cores)``, ``cpu:0 (1 core)``) where any case has a
    speedup, and the speedup over one core where the summary has it (a machine with a whole-CPU row)."""
    out = {}
    if "cpu_reference" in summary and summary["speedup_vs_cpu"].notna().any():
        out["CPU reference"] = summary["cpu_reference"].fillna("")
    if "speedup_vs_cpu0" in summary:
        out["speedup vs cpu:0"] = summary["speedup_vs_cpu0"].map(fmt.ratio)
    return out


def _device_name(device: str, kind: str) -> str:
    """A device spec with its kind where the spec does not say it (``gpu:0 (NVIDIA H100 80GB HBM3)``)."""
    return device if not kind or kind.lower() in ("cpu", "nan") else f"{device} ({kind})"


def crossover_table(cross: pd.DataFrame) -> pd.DataFrame:
    """:func:`reports.crossover.crossovers` for a page: host, case, the two devices, the one faster from
    the crossover on, the crossover (text) and the faster device per measured popsize."""
    cols = ["host", "case", "devices", "faster from the crossover", "crossover popsize", "faster per popsize"]
    if cross.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "host": cross["host"],
            "case": [_case_text(r) for _, r in cross.iterrows()],
            "devices": [f"{_device_name(a, ka)} vs {_device_name(b, kb)}" for a, ka, b, kb in
                        zip(cross["device_a"], cross["kind_a"], cross["device_b"], cross["kind_b"])],
            "faster from the crossover": [_device_name(d, ka if d == a else kb) if d else "neither" for d, a, ka, kb
                                          in zip(cross["faster"], cross["device_a"], cross["kind_a"], cross["kind_b"])],
            "crossover popsize": cross["crossover"],
            "faster per popsize": cross["verdicts"],
        },
        columns=cols,
    )


def roofline_table(roof: pd.DataFrame) -> pd.DataFrame:
    """:func:`reports.roofline.roofline` with units: device, case, popsize, intensity, achieved FLOP/s,
    the roof there, % of roof, bound."""
    cols = ["device", "case", "popsize", "intensity [FLOP/B]", "achieved", "roof there", "% of roof", "bound"]
    if roof.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "device": roof["device_label"],
            "case": [_case_text(r) for _, r in roof.iterrows()],
            "popsize": roof["popsize"].map(fmt.number),
            "intensity [FLOP/B]": roof["intensity"].map(lambda v: f"{v:.3g}"),
            "achieved": roof["flops_per_s"].map(lambda v: fmt.count_unit(v, "FLOP/s")),
            "roof there": roof["roof_flops_per_s"].map(lambda v: fmt.count_unit(v, "FLOP/s")),
            "% of roof": roof["pct_of_roof"].map(lambda v: f"{v:.3g}%"),
            "bound": roof["bound"],
        },
        columns=cols,
    )


def unstable_table(cases: pd.DataFrame) -> pd.DataFrame:
    """``tables.unstable`` with units: device, case, popsize, evals, median, IQR, rounds, reasons."""
    cols = ["device", "case", "popsize", "evals", "median", "IQR", "rounds", "unstable"]
    if cases.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "device": cases["device_label"],
            "case": [_case_text(r) + ("" if r["part"] == "generation" else f" {r['part']}")
                     for _, r in cases.iterrows()],
            "popsize": cases["popsize"].map(fmt.number),
            "evals": cases["num_evals"].map(fmt.number),
            "median": cases["median"].map(fmt.seconds),
            "IQR": cases["iqr"].map(fmt.seconds),
            "rounds": cases["rounds"].map(fmt.number),
            "unstable": cases[stability.KEY],
        },
        columns=cols,
    )


def energy_table(cases: pd.DataFrame) -> pd.DataFrame:
    """``tables.energy_cases`` with units: device, (impl where several), strategy, env, popsize, evals,
    energy / generation, env steps / J, source, and the first GPU's SM clock and temperature after
    the rounds where any case has them."""
    cols = ["device", "strategy", "env", "popsize", "evals", "energy / generation", "env steps / J", "source"]
    if cases.empty:
        return pd.DataFrame(columns=cols)
    out = {"device": cases["device_label"]}
    if cases["impl"].nunique() > 1:
        out["impl"] = cases["impl"]
    out.update({
        "strategy": cases["strategy"],
        "env": cases["env"],
        "popsize": cases["popsize"].map(fmt.number),
        "evals": cases["num_evals"].map(fmt.number),
        "energy / generation": cases[energy_text.ENERGY].map(fmt.joules),
        "env steps / J": cases[energy_text.PER_JOULE].map(fmt.count),
        "source": cases[energy_text.SOURCE].fillna(""),
    })
    # a clock or temperature only where NVML read one: a CPU-only report keeps the short table
    for col, head, text in (("sm_clock_mhz", "SM clock after [MHz]", lambda v: f"{v:.0f}"),
                            ("temperature_c", "temperature after [°C]", lambda v: f"{v:.0f}")):
        values = pd.to_numeric(cases[col], errors="coerce")
        if values.notna().any():
            out[head] = values.map(lambda v, text=text: "" if pd.isna(v) else text(v))
    return pd.DataFrame(out)


def _case_text(r) -> str:
    bits = [str(r["phase"]) if "phase" in r else "", str(r["strategy"]), str(r["env"]), f"{fmt.number(r['num_evals'])} evals"]
    if r.get("impl") not in (None, "esperf") and not pd.isna(r.get("impl")):
        bits.append(f"[{r['impl']}]")
    return " ".join(b for b in bits if b)


def memory_table(mem: pd.DataFrame) -> pd.DataFrame:
    """``tables.memory`` with units: case, device, popsize, baseline, peak, peak - baseline, source."""
    cols = ["case", "device", "popsize", "baseline", "peak", "peak − baseline", "source"]
    if mem.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "case": [_case_text(r) for _, r in mem.iterrows()],
            "device": mem["device_label"],
            "popsize": mem["popsize"].map(fmt.number),
            "baseline": mem["baseline_memory_bytes"].map(fmt.binary_bytes),
            "peak": mem["peak_memory_bytes"].map(fmt.binary_bytes),
            "peak − baseline": mem["case_memory_bytes"].map(fmt.binary_bytes),
            "source": mem["memory_source"].fillna(""),
        },
        columns=cols,
    )


def scaling_table(sc: pd.DataFrame) -> pd.DataFrame:
    """``tables.scaling`` with units: case, devices, num_devices, env steps/s, speedup, efficiency."""
    cols = ["scaling", "case", "devices", "num_devices", "popsize", "env steps / s", "speedup over 1 device",
            "efficiency"]
    if sc.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "scaling": sc["mode"],
            "case": [_case_text(r) + (f" · pop {fmt.number(r['series_popsize'])}" if r["mode"] == "strong"
                                      else f" · {fmt.number(r['series_popsize'])} per device") for _, r in sc.iterrows()],
            "devices": sc["device_label"],
            "num_devices": sc["num_devices"].map(lambda v: f"{v:g}"),
            "popsize": sc["popsize"].map(fmt.number),
            "env steps / s": sc["env_steps_per_s"].map(fmt.count),
            "speedup over 1 device": sc["speedup"].map(fmt.ratio),
            "efficiency": sc["efficiency"].map(fmt.percent),
        },
        columns=cols,
    )
