"""``PATH.partial``: JSON Lines beside ``--benchmark-json=PATH``, one record per finished case.

Each record has the item's ``name`` and a ``status`` (``passed`` with the pytest-benchmark
row in ``benchmark``, ``failed`` with ``failed``). The writer (``bench.plugin.results``) and
the readers (``--es-resume``, ``reports device-check``) read it with :func:`partial_records`.
"""
from __future__ import annotations

import json


def partial_records(text: str) -> list[dict]:
    """The records of a ``PATH.partial`` text, each with its ``name``; a torn last line from a
    kill is ignored."""
    records = []
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("name"):
            records.append(rec)
    return records
