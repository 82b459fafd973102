"""Numbers as text, for every table, plot label and verdict line of :mod:`reports`.

One set of formatters; each caller picks its variant by argument (the HTML tables say
``µs`` with 3 significant digits, the ``compare`` table ``us`` with 4, plot ticks write
counts without a space: ``1.5k``). A missing value (None, NaN) is ``missing`` (default ``''``).
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from results_format.units import seconds  # noqa: F401 -- one definition, pandas-free (the plugin's progress line)

# The smallest p-value printed as a number; scipy's p of an overwhelming difference underflows to 0.
P_FLOOR = 1e-300


def is_missing(x) -> bool:
    """None or NaN (pandas' notion of a missing scalar)."""
    return x is None or bool(pd.isna(x))


def is_real(x) -> bool:
    """A finite real number (not a bool)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


_DECIMAL = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _scaled(x: float) -> tuple[str, str]:
    """``x`` in decimal units, 3 significant digits: (number, unit prefix or '')."""
    for div, unit in _DECIMAL:
        if abs(x) >= div:
            return f"{x / div:.3g}", unit
    return f"{x:.3g}", ""


def count(x, sep: str = " ") -> str:
    """A count or rate in decimal units, 3 significant digits: ``1.5 M`` (``sep=''``: ``1.5M``);
    '' for a missing or infinite value."""
    if is_missing(x) or not math.isfinite(float(x)):
        return ""
    num, unit = _scaled(float(x))
    return f"{num}{sep}{unit}" if unit else num


def count_unit(x, unit: str) -> str:
    """:func:`count` with a unit: ``67 TFLOP/s``, ``500 FLOP/s``."""
    text = count(x, sep=" ")
    return f"{text}{unit}" if text[-1:].isalpha() else f"{text} {unit}"


def joules(x) -> str:
    """Joules with 3 significant digits: ``12.3 J``, ``0.0456 J``; '' for a missing or infinite value."""
    if is_missing(x) or not math.isfinite(float(x)):
        return ""
    return f"{float(x):.3g} J"


def binary_bytes(x) -> str:
    """Bytes in binary units (KiB = 1024 B), 3 significant digits; '' for missing."""
    if is_missing(x):
        return ""
    x = float(x)
    for div, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(x) >= div:
            return f"{x / div:.3g} {unit}"
    return f"{x:.0f} B"


def gib(x, decimals: int, missing: str = "?") -> str:
    """Bytes in GiB with ``decimals`` decimals: ``125.7 GiB``; ``missing`` unless a finite number."""
    return f"{x / 2**30:.{decimals}f} GiB" if is_real(x) else missing


def percent(fraction) -> str:
    """A fraction as a whole percentage: ``0.75`` -> ``75%``."""
    return "" if is_missing(fraction) else f"{100.0 * float(fraction):.0f}%"


def ratio(x) -> str:
    """``3×`` (3 significant digits)."""
    return "" if is_missing(x) else f"{float(x):.3g}×"


def number(x) -> str:
    """A table cell: '' for missing, floats with ``{:g}``, anything else as ``str``."""
    return "" if is_missing(x) else f"{x:g}" if isinstance(x, float) else str(x)


def general(v) -> str:
    """Any number (int, float, numpy) with ``{:g}``, anything else as ``str`` (case labels)."""
    return f"{v:g}" if isinstance(v, (int, float, np.number)) else str(v)


def int_or_unknown(x) -> str:
    """A finite number as an integer, else ``?``."""
    return str(int(x)) if is_real(x) else "?"


def p_value(p, missing: str = "-") -> str:
    """2 significant digits; a p that underflowed to 0 as ``< 1e-300`` (its honest bound)."""
    if is_missing(p):
        return missing
    return f"< {P_FLOOR:g}" if p < P_FLOOR else f"{p:.2g}"
