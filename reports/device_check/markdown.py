"""The summary's markdown: one table cell (seconds, milliseconds, a rate, a ratio, a number) and
a table."""
from __future__ import annotations

from reports.formatting import count, seconds


def fmt(x, kind: str = "num") -> str:
    """One table cell: seconds (``s``), milliseconds (``ms``), a rate (``rate``), a ratio or a number."""
    if x is None:
        return "-"
    if kind == "s":
        return seconds(x)
    if kind == "ms":
        return f"{x * 1e3:.3g}"
    if kind == "rate":
        return count(x)
    if kind == "ratio":
        return f"{x:.2f}"
    return f"{x:.3g}" if isinstance(x, float) else str(x)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table (one line per row); a line saying so when there are no rows."""
    if not rows:
        return ["(no rows: the step wrote no results; see its log)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return lines
