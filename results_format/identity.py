"""What identifies a case: the settings that change its figure, as ``extra_info`` names them.

Two rows that agree on every :data:`CASE_FIELDS` value and on the device (set) measured the
same thing. ``reports`` (tables, ``compare``, ``history``) pairs rows on them, ``--es-resume``
refuses a ``PATH.partial`` measured with other values, and the writer (``bench.case``) puts the
non-default ones into the case id, so that pytest-benchmark's ``--benchmark-compare`` (which
pairs on names) never sets two different workloads side by side.
"""
from __future__ import annotations

# The settings of a case on one device (set), in the order tables show them.
CASE_FIELDS = (
    "impl", "part", "phase", "strategy", "env", "popsize", "num_evals", "hidden", "episode_length", "unroll",
    "pop_chunk_setting", "isolation",
)
# Values that rows written before a setting was recorded (schema version 1) implicitly had.
CASE_DEFAULTS = {"impl": "esperf", "part": "generation", "unroll": 1, "pop_chunk_setting": "auto",
                 "isolation": "process"}
# The device set a case ran on, as this host names it (the device id and how many devices it spans);
# reports, across hosts, name a device by its kind instead (reports.load.DEVICE_FIELDS).
DEVICE_SET_FIELDS = ("device", "num_devices")


def case_settings(extra_info: dict) -> dict:
    """{setting: value} of a row's ``extra_info`` over :data:`CASE_FIELDS` and
    :data:`DEVICE_SET_FIELDS`, with :data:`CASE_DEFAULTS` for the settings an older row lacks."""
    return {k: extra_info.get(k, CASE_DEFAULTS.get(k)) for k in (*CASE_FIELDS, *DEVICE_SET_FIELDS)}


def differences(ours: dict, theirs: dict, keys=None) -> list[tuple[str, object, object]]:
    """[(setting, our value, their value)] where two settings dicts disagree, over ``keys``
    (default: every key either has), in a stable order."""
    keys = list(keys) if keys is not None else sorted(set(ours) | set(theirs))
    return [(k, ours.get(k), theirs.get(k)) for k in keys if ours.get(k) != theirs.get(k)]


def describe_differences(diffs: list[tuple[str, object, object]], ours: str = "this run",
                         theirs: str = "the other") -> str:
    """``hidden 16 (this run) vs 8 (the other); unroll ...``: one line naming each setting and both values."""
    return "; ".join(f"{k} {a!r} ({ours}) vs {b!r} ({theirs})" for k, a, b in diffs)
