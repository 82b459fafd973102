"""Peak figures as the command lines give them: ``KIND=FLOPS[,KIND=FLOPS...]``
(``pytest bench --es-peak-flops``, ``python -m reports --peak-flops``)."""
from __future__ import annotations

import math


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
