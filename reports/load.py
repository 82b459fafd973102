"""Read ``pytest bench`` JSON files (pytest-benchmark's format plus esperf's fields).

JSON only: nothing here (or anywhere in :mod:`reports`) imports jax or esperf's
``bench``, ``envs`` or ``strategies``, so a report can be made on any laptop.

Liberal where harmless (a missing optional field becomes NaN), strict where it matters:
a file that is not JSON, not a benchmark file, not esperf's, of another schema version, or
that breaks the results format (:mod:`results_format.validate`: a required key missing, a
key of the wrong type) raises :class:`reports.exit_status.BadInput` naming the file, the case
and the problem. Files of older schema versions read with the defaults of the settings they
lack (:data:`results_format.identity.CASE_DEFAULTS`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from reports.exit_status import BadInput
from results_format.identity import CASE_DEFAULTS, CASE_FIELDS
from results_format.validate import problems

# Device-set fields of rows written before sharding existed: one device, one process.
DEVICE_DEFAULTS = {"num_devices": 1, "num_processes": 1}
# What identifies the device (set) a case ran on, besides the host and the device id.
DEVICE_FIELDS = ("device_kind", "num_devices")
# extra_info fields that may hold one value per round: reported as <field>_median too.
PER_ROUND = ("trace_s", "lower_s", "compile_s", "backend_init_s")


@dataclass
class Results:
    """Everything read from the input files, one row per benchmark entry (not yet pooled)."""

    files: list[Path]
    rows: pd.DataFrame  # one row per benchmark entry; column ``samples`` holds the raw seconds
    machines: pd.DataFrame  # one row per file: host and its machine_info
    failed: pd.DataFrame  # one row per failed case (``esperf.failed``)
    extra_keys: list[str] = field(default_factory=list)  # extra_info keys in order of first appearance


def expand_paths(paths) -> list[Path]:
    """Files named and ``*.json`` files in folders named, each once, in the order given."""
    out: list[Path] = []
    seen = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(q for q in p.glob("*.json") if q.is_file())
            if not found:
                raise BadInput(p, "no *.json files in this folder")
        elif p.is_file():
            found = [p]
        elif p.exists():
            raise BadInput(p, "not a file or folder")
        else:
            raise BadInput(p, "no such file or folder")
        for q in found:
            key = q.resolve()
            if key not in seen:
                seen.add(key)
                out.append(q)
    return out


def read_json(path: Path) -> dict:
    """The parsed, validated JSON of one results file."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise BadInput(path, f"cannot read ({err.strerror or err})") from None
    if not raw.strip():
        raise BadInput(path, "empty file (the benchmark run wrote nothing?)")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadInput(path, "not valid JSON (not UTF-8 text)") from None
    except json.JSONDecodeError as err:
        raise BadInput(path, f"not valid JSON (truncated? {err.msg}: line {err.lineno} column {err.colno})") from None
    validate(path, data)
    return data


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def validate(path, data) -> None:
    """Raise :class:`BadInput` for a file that breaks the results format or that a report cannot use.

    The format's rules are :func:`results_format.validate.problems` (the records' types and the
    keys required in the file's schema version): the first problem, naming the case and the key,
    is the one line. A smoke run (``--benchmark-disable``) is a good file with nothing measured.
    """
    found = problems(data)
    if found:
        more = f" (and {len(found) - 1} more problem{'s' * (len(found) > 2)})" if len(found) > 1 else ""
        raise BadInput(path, found[0].text() + more)
    if (data.get("esperf") or {}).get("run") == "smoke":
        raise BadInput(path, "a smoke run (pytest bench --benchmark-disable: each case once, nothing measured); "
                             "give the JSON of a measured run")


def key_text(value) -> str:
    """A case field as text for matching: NaN/None -> '', 1000 and 1000.0 -> '1000'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    return str(value)


def host_of(path: Path, mi: dict) -> str:
    return str(mi.get("hostname") or mi.get("node") or path.stem)


def _cell(value):
    """extra_info values as table cells: scalars as they are, lists/dicts as JSON text."""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return np.nan if value is None else value


def _median_of_list(value) -> float:
    """The median of a list of numbers, a lone number as it is, else NaN."""
    if _is_number(value):
        return float(value)
    if isinstance(value, list) and value and all(_is_number(x) for x in value):
        return float(np.median(value))
    return np.nan


def case_key(frames, *, hosts: bool = True) -> list[str]:
    """The columns that identify one case on one device (set), for the report and ``compare``.

    :data:`results_format.identity.CASE_FIELDS` plus the device identity (:data:`DEVICE_FIELDS`:
    device kind and number of devices); plus ``device`` (the id or device-set spec) where a
    frame has two device ids of one kind and size on one host; plus ``host`` (first) where
    a frame holds several hosts and ``hosts`` is true. ``frames``: the row tables whose
    cases are matched (one for a report, BASE and NEW for a comparison), each with
    ``host``, ``device`` and the key columns (as :func:`load` makes them).
    """
    cols = [*CASE_FIELDS, *DEVICE_FIELDS]
    by = ["host", *DEVICE_FIELDS]

    def two_ids_of_one_kind(d: pd.DataFrame) -> bool:
        k = pd.DataFrame({c: d[c].map(key_text) for c in [*by, "device"]})
        return bool(k.groupby(by)["device"].nunique().gt(1).any())

    if any(two_ids_of_one_kind(d) for d in frames if not d.empty):
        cols.append("device")
    if hosts and any(d["host"].nunique() > 1 for d in frames):
        cols.insert(0, "host")
    return cols


def key_strings(df: pd.DataFrame, cols) -> pd.Series:
    """One text key per row of ``df`` over ``cols`` (see :func:`key_text`; a missing column is '')."""
    if df.empty:
        return pd.Series([], index=df.index, dtype=object)
    parts = [df[c].map(key_text) if c in df else pd.Series("", index=df.index) for c in cols]
    return pd.concat(parts, axis=1).agg("\x1f".join, axis=1)


def setting_differences(frames: dict[str, pd.DataFrame]) -> str:
    """Where the sides of a comparison hold different settings, in one text: each case setting
    (:data:`results_format.identity.CASE_FIELDS`, then :data:`DEVICE_FIELDS`) whose values
    differ between the row tables of ``frames`` ({side name: rows}), with both sides' values
    (``unroll 1 (BASE) vs 4 (NEW)``); ``""`` where every setting has the same values on every side."""
    def values(df: pd.DataFrame, col: str) -> list[str]:
        found = sorted(set(df[col].map(key_text)) if col in df else {""}, key=lambda v: (len(v), v))
        return [v or "none" for v in found]

    parts = []
    for col in (*CASE_FIELDS, *DEVICE_FIELDS):
        seen = {side: values(df, col) for side, df in frames.items()}
        if len({tuple(v) for v in seen.values()}) > 1:
            parts.append(f"{col} " + " vs ".join(f"{', '.join(v)} ({side})" for side, v in seen.items()))
    return "; ".join(parts)


def load(paths) -> Results:
    """Read and validate every file; raise :class:`BadInput` on the first bad one."""
    files = expand_paths(paths)
    datasets = [(f, read_json(f)) for f in files]
    rows, machines, failed = [], [], []
    extra_keys: dict[str, None] = {}
    for f, data in datasets:
        mi = data["machine_info"]
        host = host_of(f, mi)
        machines.append(_machine_row(f, host, data))
        for i, b in enumerate(data["benchmarks"]):
            info = b["extra_info"]
            for k in info:
                extra_keys.setdefault(k, None)
            row = {k: _cell(v) for k, v in info.items()}
            for k, v in {**CASE_DEFAULTS, **DEVICE_DEFAULTS}.items():
                if pd.isna(row.get(k, np.nan)):
                    row[k] = v
            for k in PER_ROUND:
                if k in info:
                    row[f"{k}_median"] = _median_of_list(info[k])
            if pd.isna(row.get("device_kind", np.nan)):
                row["device_kind"] = row.get("platform") if not pd.isna(row.get("platform", np.nan)) else row["device"]
            if pd.isna(row.get("device", np.nan)):
                row["device"] = row["device_kind"]
            stats = b["stats"]
            data_s = stats.get("data")
            row.update(
                host=host,
                file=str(f),
                bench_index=i,
                name=b.get("name"),
                samples=np.asarray(data_s, dtype=float) if data_s is not None else None,
                stats_median=float(stats["median"]) if _is_number(stats.get("median")) else np.nan,
                stats_q1=float(stats["q1"]) if _is_number(stats.get("q1")) else np.nan,
                stats_q3=float(stats["q3"]) if _is_number(stats.get("q3")) else np.nan,
                stats_rounds=stats.get("rounds") if _is_number(stats.get("rounds")) else np.nan,
            )
            rows.append(row)
        for item in (data.get("esperf") or {}).get("failed", []):
            info = item.get("extra_info") if isinstance(item.get("extra_info"), dict) else {}
            failed.append(
                {
                    "host": host,
                    "file": str(f),
                    "name": item.get("name"),
                    **{k: _cell(v) for k, v in info.items()},
                    "error": str(item.get("error", "")),
                }
            )
    if not rows:
        where = files[0] if len(files) == 1 else ", ".join(map(str, files))
        n_failed = f" ({len(failed)} failed)" if failed else ""
        raise BadInput(where, f"no benchmark cases at all{n_failed}")
    return Results(
        files=files,
        rows=pd.DataFrame(rows),
        machines=pd.DataFrame(machines),
        failed=pd.DataFrame(failed),
        extra_keys=list(extra_keys),
    )


def _dicts(value) -> list[dict]:
    """The objects of a list (anything else: none); a malformed notice is no reason to refuse a file."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _fitness(mi: dict) -> dict:
    """What ``pytest bench`` found unfit about the machine (:mod:`reports.notices`); empty in
    files written before it recorded ``unused_accelerators``, ``backend_errors`` and ``system_check``."""
    errors = mi.get("backend_errors")
    return {
        "unused_accelerators": _dicts(mi.get("unused_accelerators")),
        "backend_errors": {str(k): " ".join(str(v).split()) for k, v in errors.items()} if isinstance(errors, dict) else {},
        "system_check": _dicts(mi.get("system_check")),
    }


def _machine_row(path: Path, host: str, data: dict) -> dict:
    mi = data["machine_info"]
    cpu = mi.get("cpu") if isinstance(mi.get("cpu"), dict) else {}
    devices = mi.get("devices") if isinstance(mi.get("devices"), list) else []
    processes = mi.get("processes") if isinstance(mi.get("processes"), list) else []
    return {
        "host": host,
        "file": str(path),
        "cpu_model": mi.get("cpu_model") or cpu.get("brand_raw") or mi.get("processor") or mi.get("machine"),
        "physical_cores": mi.get("physical_cores"),
        "logical_cores": mi.get("logical_cores", cpu.get("count")),
        "ram_bytes": mi.get("ram_bytes"),
        "os": mi.get("os") or " ".join(str(mi.get(k, "")) for k in ("system", "release")).strip(),
        "python": mi.get("python") or mi.get("python_version"),
        "jax_version": mi.get("jax_version"),
        "jaxlib_version": mi.get("jaxlib_version"),
        "devices": [d for d in devices if isinstance(d, dict)],
        # each device's measured peaks (pytest bench --es-peak-flops auto): the roofline's roofs
        "measured_peaks": _dicts(mi.get("measured_peaks")),
        # hosts of a multi-process run (machine_info.processes[*].hostname), this file's host first
        "process_hosts": list(dict.fromkeys([host, *(str(p["hostname"]) for p in processes
                                                     if isinstance(p, dict) and p.get("hostname"))])),
        "datetime": data.get("datetime"),
        # pytest-benchmark's commit_info (id, time, dirty, ...; "unknown" outside a git checkout): history orders runs by it
        "commit_info": data["commit_info"] if isinstance(data.get("commit_info"), dict) else None,
        **_fitness(mi),
    }
