"""The published JSON Schema (draft 2020-12) of a results file, generated from the records of
:mod:`results_format.files` and :mod:`results_format.rows`.

``python -m results_format`` writes it to :data:`SCHEMA_PATH`; ``python -m results_format
--check`` exits 1 when the committed file differs from what this module generates.

Its shape: ``$defs`` hold every record once per schema version (``v1.Benchmark``,
``v2.Benchmark``, ...), the same types with the keys required in that version; the file's
version (``esperf.schema_version``, else ``machine_info.esperf_schema_version``) picks the
branch, a row's ``extra_info.phase`` the row record (``if``/``then``). Keys the records do not
name are allowed (additive keys, a plugin's).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from results_format import files, rows
from results_format.keys import Key, Min, Pattern, fields, is_record, union_members, unwrap
from results_format.version import SCHEMA_VERSION, SUPPORTED_VERSIONS

SCHEMA_PATH = Path(__file__).with_name("esperf-results.schema.json")
DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:esperf:results-format"
SCALARS = {int: "integer", float: "number", str: "string", bool: "boolean", type(None): "null"}


def _name(record, version: int) -> str:
    return f"v{version}.{record.__name__}"


def _ref(record, version: int) -> dict:
    return {"$ref": f"#/$defs/{_name(record, version)}"}


def type_schema(tp, version: int) -> dict:
    """The JSON Schema of a value of type ``tp`` in a file of schema ``version``."""
    tp, constraints = unwrap(tp)
    members = union_members(tp)
    if members is not None:
        parts = [type_schema(m, version) for m in members]
        if all(set(p) == {"type"} and isinstance(p["type"], str) for p in parts):
            return {"type": [p["type"] for p in parts]}
        return {"anyOf": parts}
    if tp is Any:
        return {}
    if tp is None:
        tp = type(None)
    if is_record(tp):
        return _ref(tp, version)
    origin = get_origin(tp)
    if origin is Literal:
        out = {"enum": list(get_args(tp))}
    elif origin is list:
        (item,) = get_args(tp)
        out = {"type": "array", "items": type_schema(item, version)}
    elif origin is dict:
        out = {"type": "object", "additionalProperties": type_schema(get_args(tp)[1], version)}
    elif tp is dict:
        out = {"type": "object"}
    elif tp in SCALARS:
        out = {"type": SCALARS[tp]}
    else:
        raise TypeError(f"no JSON Schema for {tp!r}")
    for c in constraints:
        if isinstance(c, Min):
            out["minItems" if out.get("type") == "array" else "minimum"] = c.value
        elif isinstance(c, Pattern):
            out["pattern"] = c.regex
    return out


def _key_schema(record, name: str, tp, key: Key, version: int) -> dict:
    if record is files.Benchmark and name == "extra_info":
        return {"$ref": f"#/$defs/v{version}.extra_info"}
    return {**type_schema(tp, version), "description": key.meaning}


def _plain(doc: str | None) -> str:
    """A docstring as one line of plain text: reST roles and double backquotes as single backquotes."""
    return re.sub(r":\w+:`([^`]+)`", r"`\1`", " ".join((doc or "").split())).replace("``", "`")


def record_schema(record, version: int) -> dict:
    """A record as an object schema: its keys' types, and the keys required in ``version``."""
    fs = fields(record)
    out = {"type": "object", "description": _plain(record.__doc__),
           "properties": {f.name: _key_schema(record, f.name, f.type, f.key, version) for f in fs}}
    required = [f.name for f in fs if f.required_in(version)]
    if required:
        out["required"] = required
    if version == 1 and record is files.Stats:
        out["anyOf"] = [{"required": [k]} for k in files.SAMPLES_IN]
    return out


def _records(version: int) -> list:
    """Every record a file of ``version`` reaches, each once, parents first."""
    found: list = []

    def visit(tp):
        tp, _ = unwrap(tp)
        members = union_members(tp)
        if members is not None:
            for m in members:
                visit(m)
            return
        if is_record(tp):
            if tp in found:
                return
            found.append(tp)
            for f in fields(tp):
                visit(f.type)
            return
        for arg in get_args(tp) if get_origin(tp) in (list, dict) else ():
            visit(arg)

    visit(files.ResultsFile)
    for record in rows.RECORDS:
        visit(record)
    return found


def _extra_info(version: int) -> dict:
    """A row's ``extra_info``: ``phase`` picks the records of a compile or a runtime row."""
    out = {
        "type": "object",
        "description": "esperf's keys of one case: the records of a compile or a runtime row, by its phase",
        "required": ["phase"],
        "properties": {"phase": {"enum": list(rows.PHASES)}},
        "allOf": [{"if": {"properties": {"phase": {"const": phase}}},
                   "then": {"allOf": [_ref(r, version) for r in rows.ROW_RECORDS[phase]]}}
                  for phase in rows.PHASES],
    }
    if version == 1:
        out["anyOf"] = [{"required": [k]} for k in rows.DEVICE_NAMED_BY]
    return out


def _is_version(version: int) -> dict:
    """A file of schema ``version``: ``esperf.schema_version`` says so, or, without it,
    ``machine_info.esperf_schema_version``."""
    has_block_version = {"required": ["esperf"], "properties": {"esperf": {"required": ["schema_version"]}}}
    return {"anyOf": [
        {"required": ["esperf"], "properties": {"esperf": {"required": ["schema_version"],
                                                           "properties": {"schema_version": {"const": version}}}}},
        {"not": has_block_version, "required": ["machine_info"],
         "properties": {"machine_info": {"required": ["esperf_schema_version"],
                                         "properties": {"esperf_schema_version": {"const": version}}}}},
    ]}


def schema() -> dict:
    """The JSON Schema of a results file, as a dict."""
    defs = {}
    for version in SUPPORTED_VERSIONS:
        for record in _records(version):
            defs[_name(record, version)] = record_schema(record, version)
        defs[f"v{version}.extra_info"] = _extra_info(version)
    versions = ", ".join(map(str, SUPPORTED_VERSIONS))
    return {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": f"esperf results file (schema version {SCHEMA_VERSION})",
        "description": ("The JSON `pytest bench --benchmark-json=PATH` writes: pytest-benchmark's format with "
                        f"esperf's keys. Generated by `python -m results_format` from results_format/files.py and "
                        f"results_format/rows.py; do not edit. Schema versions {versions}: a file's "
                        "esperf.schema_version (else machine_info.esperf_schema_version) picks the branch. "
                        "Keys not named here are allowed."),
        "type": "object",
        "required": ["benchmarks", "machine_info"],
        "properties": {
            "benchmarks": {"type": "array"},
            "machine_info": {"type": "object", "properties": {"esperf_schema_version": {"enum": list(SUPPORTED_VERSIONS)}}},
            "esperf": {"type": "object", "properties": {"schema_version": {"enum": list(SUPPORTED_VERSIONS)}}},
        },
        "anyOf": [
            {"required": ["esperf"], "properties": {"esperf": {"required": ["schema_version"]}}},
            {"required": ["machine_info"], "properties": {"machine_info": {"required": ["esperf_schema_version"]}}},
        ],
        "allOf": [{"if": _is_version(v), "then": _ref(files.ResultsFile, v)} for v in SUPPORTED_VERSIONS],
        "$defs": defs,
    }


def text() -> str:
    """The schema as the committed file holds it."""
    return json.dumps(schema(), indent=1, ensure_ascii=False) + "\n"


