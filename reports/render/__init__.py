"""report.html (one self-contained page: PNGs embedded as base64) and report.md (same tables).

One module per job; this package's namespace names them all (``render.write_html``, ``render.Figure``, ...):

- :mod:`reports.render.display`: each table of the report with units (``best_table``, ``cases_table``, ...);
- :mod:`reports.render.page`: a page's building blocks, shared with ``history.html`` (:class:`Figure`,
  :func:`page_head`, :func:`html_table`, :func:`markdown_table`, :func:`figure_html`, the notice block);
- :mod:`reports.render.pages`: report.html and report.md (:func:`write_html`, :func:`write_markdown`).
"""
from __future__ import annotations

from reports.render.display import (
    best_table,
    cases_table,
    crossover_table,
    energy_table,
    failed_table,
    impls_table,
    memory_table,
    roofline_table,
    scaling_table,
    unstable_table,
)
from reports.render.page import CSS, Figure, figure_html, html_table, markdown_table, notices_html, notices_markdown, page_head
from reports.render.pages import (
    CROSSOVER_NOTE,
    IMPLS_NOTE,
    MEMORY_NOTE,
    ROOFLINE_NOTE,
    SCALING_NOTE,
    energy_html,
    energy_markdown,
    unstable_html,
    unstable_markdown,
    write_html,
    write_markdown,
)

__all__ = [
    "CROSSOVER_NOTE", "CSS", "IMPLS_NOTE", "MEMORY_NOTE", "ROOFLINE_NOTE", "SCALING_NOTE", "Figure", "best_table",
    "cases_table", "crossover_table", "energy_html", "energy_markdown", "energy_table", "failed_table", "figure_html",
    "html_table", "impls_table", "markdown_table", "memory_table", "notices_html", "notices_markdown", "page_head",
    "roofline_table", "scaling_table", "unstable_html", "unstable_markdown", "unstable_table", "write_html",
    "write_markdown",
]
