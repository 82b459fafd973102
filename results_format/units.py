"""Seconds as text, standard library only: the one formatter of a time that ``reports`` and the
line ``pytest bench`` prints after each case share.

:mod:`reports.formatting` holds every other formatter and needs pandas; this one must not, so
that the pytest process never imports pandas in the middle of a run (an interrupt that lands
inside a half-done ``import pandas`` breaks every later import of it).
"""
from __future__ import annotations

import math


def seconds(x, digits: int = 3, micro: str = "µs", missing: str = "") -> str:
    """``1.23 s``, ``4.56 ms`` or ``789 µs`` (``digits`` significant digits; ``micro``: the µs unit);
    ``missing`` for None, NaN or anything else that is not a number (pandas' NA)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return missing
    if math.isnan(x):
        return missing
    if x >= 1:
        return f"{x:.{digits}g} s"
    if x >= 1e-3:
        return f"{x * 1e3:.{digits}g} ms"
    return f"{x * 1e6:.{digits}g} {micro}"
