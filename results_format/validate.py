"""Check a results file against the records of the format, standard library only.

:func:`problems` applies the same rules as the published JSON Schema
(:mod:`results_format.json_schema`: the records' types, the keys required in the file's
schema version, a row's records by its phase), plus what a schema cannot say: a row's
``worker_rounds`` add up to its ``stats.data``, and the samples are finite. ``reports``
refuses a file with a problem, naming the file, the case and the key (exit 2).
"""
from __future__ import annotations

import math
import re
from typing import Any, Literal, NamedTuple, get_args, get_origin

from results_format import files, rows
from results_format.keys import Min, Pattern, fields, is_record, union_members, unwrap
from results_format.version import SCHEMA_VERSION, SUPPORTED_VERSIONS

MISSING = "missing"


class Problem(NamedTuple):
    """One thing wrong with a file: the case it is in (``benchmark #3 'test_generation[...]'``;
    ``""`` for the file's own keys), the key (``extra_info.unroll``) and what is wrong
    (:data:`MISSING`, or ``'4' is not an integer >= 1``)."""

    case: str
    key: str
    what: str

    def text(self) -> str:
        """The problem as one line: ``<case> has no <key>[ (why it matters)]`` for a missing key,
        else ``<case>: <key> <what>``."""
        if self.what.startswith(MISSING):
            rest = self.what[len(MISSING):]
            return f"{self.case} has no {self.key}{rest}" if self.case else f"no {self.key}{rest}"
        if not self.key:  # the case itself (an entry that is no object)
            return f"{self.case} {self.what}"
        return f"{self.case}: {self.key} {self.what}" if self.case else f"{self.key} {self.what}"


# -- values against types ------------------------------------------------------------------------

def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def conforms(value, tp, version: int = SCHEMA_VERSION) -> bool:
    """Whether a JSON value is of type ``tp`` (a record's key type; see :mod:`results_format.keys`)
    in a file of schema ``version``, as JSON Schema reads it: an integral float is an integer, a
    boolean is no number."""
    tp, constraints = unwrap(tp)
    members = union_members(tp)
    if members is not None:
        return any(conforms(value, m, version) for m in members)
    if tp is Any:
        return True
    if tp is None or tp is type(None):
        return value is None
    if is_record(tp):
        return isinstance(value, dict) and not _record_problems(value, tp, version, "", "")
    origin = get_origin(tp)
    if origin is Literal:
        # as JSON Schema's enum: 2.0 is 2, true is not 1, "2" is not 2
        ok = any(value == a and isinstance(value, bool) == isinstance(a, bool)
                 and isinstance(value, str) == isinstance(a, str) for a in get_args(tp))
    elif origin is list or tp is list:
        item = get_args(tp)[0] if origin is list else object
        ok = isinstance(value, list) and (item is object or all(conforms(v, item, version) for v in value))
    elif origin is dict or tp is dict:
        inner = get_args(tp)[1] if origin is dict else object
        ok = isinstance(value, dict) and (inner is object or all(conforms(v, inner, version) for v in value.values()))
    elif tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = _is_number(value) and float(value).is_integer()
    elif tp is float:
        ok = _is_number(value)
    elif tp is str:
        ok = isinstance(value, str)
    else:
        raise TypeError(f"no check for {tp!r}")
    for c in constraints if ok else ():
        if isinstance(c, Min):
            ok = ok and (len(value) >= c.value if isinstance(value, list) else value >= c.value)
        elif isinstance(c, Pattern):
            ok = ok and re.fullmatch(c.regex, value) is not None
    return ok


def describe(tp, plural: bool = False) -> str:
    """What a value of type ``tp`` is, in words (``an integer >= 1``, ``a list of strings``)."""
    tp, constraints = unwrap(tp)
    members = union_members(tp)
    if members is not None:
        return " or ".join(describe(m, plural) for m in members)
    bound = next((c for c in constraints if isinstance(c, Min)), None)
    pattern = next((c for c in constraints if isinstance(c, Pattern)), None)
    origin = get_origin(tp)
    if tp is Any:
        return "any JSON value"
    if tp is None or tp is type(None):
        return "null"
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(tp))
    if origin is list or tp is list:
        items = describe(get_args(tp)[0], plural=True) if origin is list else "values"
        size = "non-empty " if bound is not None and bound.value >= 1 else ""
        return f"{'lists' if plural else 'a ' + size + 'list'} of {items}"
    if is_record(tp) or origin is dict or tp is dict:
        return "objects" if plural else "an object"
    if pattern is not None:
        return f"strings ({pattern.what})" if plural else f"a string ({pattern.what})"
    word = {int: ("an integer", "integers"), float: ("a number", "numbers"), str: ("a string", "strings"),
            bool: ("true or false", "true or false")}[tp]
    text = word[1] if plural else word[0]
    return f"{text} >= {bound.value:g}" if bound is not None else text


# -- records -------------------------------------------------------------------------------------

def _record_problems(value: dict, record, version: int, case: str, prefix: str) -> list[Problem]:
    """The problems of ``value`` as a ``record`` of a file of schema ``version``: a required key
    missing, a key of another type (nested records named by their own keys)."""
    out = []
    for f in fields(record):
        key = f"{prefix}{f.name}"
        if f.name not in value:
            if f.required_in(version):
                out.append(Problem(case, key, MISSING))
            continue
        tp, _ = unwrap(f.type)
        item = unwrap(get_args(tp)[0])[0] if get_origin(tp) is list else None
        if is_record(tp) and isinstance(value[f.name], dict):
            out += _record_problems(value[f.name], tp, version, case, f"{key}.")
        elif is_record(item) and isinstance(value[f.name], list):
            for j, v in enumerate(value[f.name]):  # each object of a list of records by its own keys
                if isinstance(v, dict):
                    out += _record_problems(v, item, version, case, f"{key}[{j}].")
                else:
                    out.append(Problem(case, f"{key}[{j}]", f"{v!r} is not an object"))
        elif not conforms(value[f.name], f.type, version):
            out.append(Problem(case, key, f"{value[f.name]!r} is not {f.key.what or describe(f.type)}"))
    return out


def _case_name(i: int, entry, what: str = "benchmark") -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"{what} #{i} {name!r}" if name else f"{what} #{i}"


def version_of(data: dict) -> int | None:
    """The file's schema version: ``esperf.schema_version``, else ``machine_info.esperf_schema_version``."""
    esperf = data.get("esperf") if isinstance(data.get("esperf"), dict) else {}
    mi = data.get("machine_info") if isinstance(data.get("machine_info"), dict) else {}
    return esperf.get("schema_version", mi.get("esperf_schema_version"))


def _file_problems(data) -> list[Problem]:
    """What makes ``data`` no esperf results file of a version this code reads (checked first:
    the rest of the checks need a version)."""
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        return [Problem("", "'benchmarks' list", f"{MISSING} (not a pytest-benchmark JSON file)")]
    mi = data.get("machine_info")
    if not isinstance(mi, dict):
        return [Problem("", "'machine_info' object", f"{MISSING} (not written by pytest bench?)")]
    esperf = data.get("esperf")
    if esperf is not None and not isinstance(esperf, dict):
        return [Problem("", "esperf", "is not an object")]
    versions = {"machine_info.esperf_schema_version": mi.get("esperf_schema_version"),
                "esperf.schema_version": (esperf or {}).get("schema_version")}
    if all(v is None for v in versions.values()):
        return [Problem("", "machine_info.esperf_schema_version", f"{MISSING} (not written by esperf's pytest bench?)")]
    for where, version in versions.items():
        if version is not None and version not in SUPPORTED_VERSIONS:
            return [Problem("", where, f"{version!r} is not supported (this esperf reads schema versions "
                                       f"{', '.join(map(str, SUPPORTED_VERSIONS))}; {SCHEMA_VERSION} is the newest)")]
    return []


def _stats_problems(stats: dict, version: int, case: str) -> list[Problem]:
    """The samples' own rules: ``stats.data`` a non-empty list of finite numbers >= 0, or (version 1)
    at least a numeric ``stats.median``."""
    samples = stats.get("data")
    if samples is None:
        if version == 1 and not _is_number(stats.get("median")):
            return [Problem(case, "stats.data", "is missing and stats.median is not a number either")]
        return []
    if not isinstance(samples, list) or not samples:
        return [Problem(case, "stats.data", "is not a non-empty list")]
    if not all(_is_number(x) and math.isfinite(x) and x >= 0 for x in samples):
        return [Problem(case, "stats.data", "holds a value that is not a finite number >= 0")]
    return []


def _row_problems(i: int, entry, version: int) -> list[Problem]:
    case = _case_name(i, entry)
    if not isinstance(entry, dict):
        return [Problem(case, "", "is not an object")]
    info = entry.get("extra_info")
    if not isinstance(info, dict) or "phase" not in info:
        return [Problem(case, "extra_info.phase", f"{MISSING} (not an esperf benchmark)")]
    if info["phase"] not in rows.PHASES:
        return [Problem(case, "extra_info.phase", f"{info['phase']!r} is not {describe(Literal[rows.PHASES])}")]
    if not isinstance(entry.get("stats"), dict):
        return [Problem(case, "stats", MISSING if "stats" not in entry else "is not an object")]
    # the samples' own rules first (a schema cannot say "finite"); one problem per key
    samples_wrong = _stats_problems(entry["stats"], version, case)
    out = [p for p in _record_problems(entry, files.Benchmark, version, case, "")
           if p.key not in {q.key for q in samples_wrong}] + samples_wrong
    out += _record_problems(info, rows.ROWS[info["phase"]], version, case, "extra_info.")
    if version == 1 and not any(info.get(k) is not None for k in rows.DEVICE_NAMED_BY):
        out.append(Problem(case, "extra_info.device", "is missing and extra_info.device_kind too"))
    # nor this: each worker's rounds are a block of the samples
    counts, samples = info.get("worker_rounds"), entry["stats"].get("data")
    if (isinstance(counts, list) and isinstance(samples, list) and conforms(counts, list[int])
            and sum(counts) != len(samples)):
        out.append(Problem(case, "extra_info.worker_rounds",
                           f"adds up to {sum(counts)} rounds but stats.data holds {len(samples)}"))
    return out


def problems(data) -> list[Problem]:
    """Everything wrong with a parsed results file, in file order ([] for a good one)."""
    found = _file_problems(data)
    if found:
        return found
    version = version_of(data)
    top = {k: v for k, v in data.items() if k != "benchmarks"}
    # the rows apart: a row's records follow from its phase
    out = _record_problems({**top, "benchmarks": []}, files.ResultsFile, version, "", "")
    for i, entry in enumerate(data["benchmarks"]):
        out += _row_problems(i, entry, version)
    return out
