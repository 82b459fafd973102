"""Columns as the tables of :mod:`reports.tables` read them: as numbers, or as text keys that group
and merge (a missing field is '')."""
from __future__ import annotations

import numpy as np
import pandas as pd

from reports.load import key_text


def as_numbers(df: pd.DataFrame, col: str) -> pd.Series:
    """Column ``col`` as numbers (NaN where missing or not a number)."""
    return pd.to_numeric(df[col], errors="coerce") if col in df else pd.Series(np.nan, index=df.index)


def key_frame(df: pd.DataFrame, cols) -> pd.DataFrame:
    """``cols`` of ``df`` as text, NaN as '' (so that missing fields still group and merge)."""
    return pd.DataFrame({c: df[c].map(key_text) if c in df else "" for c in cols}, index=df.index)
