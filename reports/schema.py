"""The JSON contract between the writer (``pytest bench``) and the reader (``reports``).

Defined once, here, and imported by both sides: ``bench`` writes what this module names,
``reports`` reads it. Pure Python with no imports beyond the standard library, so that
``bench`` can use it without loading pandas and ``reports`` stays free of jax.
"""
from __future__ import annotations

import math

# Version of esperf's additions to pytest-benchmark's JSON (machine_info.esperf_schema_version
# and esperf.schema_version). Additive keys keep the version; a changed meaning bumps it.
SCHEMA_VERSION = 1

# extra_info keys that identify a case on one device (set): two rows that agree on all of
# them measured the same thing. The report and ``reports compare`` both key cases on these.
CASE_FIELDS = (
    "impl", "part", "phase", "strategy", "env", "popsize", "num_evals", "hidden", "episode_length", "unroll",
)
# Values that rows written before a field existed implicitly had.
CASE_DEFAULTS = {"impl": "esperf", "part": "generation", "unroll": 1}


def parse_peak_flops(text: str | None) -> dict[str, float]:
    """``KIND=FLOPS[,KIND=FLOPS...]`` as {device kind or platform: peak FLOP/s}.

    FLOPS must be a finite number > 0. Raises ``ValueError`` naming the bad item and the
    allowed form; an empty or None text is an empty dict.
    """
    out: dict[str, float] = {}
    for item in (t.strip() for t in str(text or "").split(",")):
        if not item:
            continue
        kind, sep, value = item.rpartition("=")
        try:
            flops = float(value)
        except ValueError:
            flops = math.nan
        if not sep or not kind.strip() or not (math.isfinite(flops) and flops > 0):
            raise ValueError(f"{item!r} is not KIND=FLOPS with FLOPS a finite number > 0 (e.g. cpu=1.2e11)")
        out[kind.strip()] = flops
    return out


def partial_records(text: str) -> list[dict]:
    """The records of a ``PATH.partial`` (JSON Lines, one per finished case, each with its
    ``name``); a torn last line from a kill is ignored. The writer (``bench.plugin.results``)
    and the readers (``--es-resume``, ``reports device-check``) read it with this one function."""
    import json

    records = []
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("name"):
            records.append(rec)
    return records
