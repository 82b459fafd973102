"""The building blocks of a self-contained page (report.html, history.html) and of report.md: a
table as HTML or markdown, the page's head and CSS, a figure inline as base64, the notice block."""
from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reports import notices as notices_text


@dataclass
class Figure:
    """A figure of a page: drawn (``NAME.png`` / ``NAME.svg``) or skipped, and why."""

    name: str  # file stem: NAME.png and NAME.svg in the output folder
    caption: str
    skipped: str | None = None  # why the figure was not drawn


def markdown_table(df: pd.DataFrame) -> str:
    """``df`` as a markdown table (one line per row, ``|`` escaped, NaN empty); ``_none_`` when empty."""
    if df.empty:
        return "_none_\n"

    def cell(v) -> str:
        text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        return " ".join(text.split()).replace("|", "\\|")

    head = "| " + " | ".join(cell(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


def html_table(df: pd.DataFrame) -> str:
    """``df`` as an HTML table (escaped, NaN empty); *none* when empty."""
    if df.empty:
        return "<p><em>none</em></p>"
    return df.to_html(index=False, escape=True, border=0, classes="t", na_rep="")


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1250px;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.7em;margin-bottom:.2em} h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table.t{border-collapse:collapse;font-size:.88em;margin:.5em 0}
table.t th,table.t td{padding:.25em .6em;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:top}
table.t th{background:#f4f4f4}
figure{margin:1.5em 0} figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#555} .note{color:#8a5a00} .meta{color:#666;font-size:.9em}
code{background:#f4f4f4;padding:0 .25em}
.notices{border:2px solid #c77700;background:#fff6e5;padding:.2em 1em;margin:1em 0}
.notices h2{margin-top:.5em;border:0;color:#8a4b00}
"""


def notices_html(lines: list[str] | None) -> list[str]:
    """The notice block (``<div class="notices">``) above the tables; nothing when ``lines`` is empty."""
    if not lines:
        return []
    e = html.escape
    return [
        f'<div class="notices" id="notices"><h2>{e(notices_text.heading(lines))}</h2>',
        f"<p>{e(notices_text.EXPLAIN)}</p>",
        "<ul>", *[f"<li>{e(line)}</li>" for line in lines], "</ul></div>",
    ]


def notices_markdown(lines: list[str] | None) -> list[str]:
    """The notice block as markdown lines (a heading, the explanation, a list); nothing when empty."""
    if not lines:
        return []
    return [f"## {notices_text.heading(lines)}", "", notices_text.EXPLAIN, "",
            *[f"- {' '.join(line.split())}" for line in lines], ""]


def page_head(title: str, meta: list[str]) -> list[str]:
    """The opening lines of a self-contained page (report.html, history.html): doctype, :data:`CSS`
    inline, the title as ``<h1>`` and one ``<p class="meta">`` per line of ``meta``."""
    e = html.escape
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        *[f'<p class="meta">{e(m)}</p>' for m in meta],
    ]


def figure_html(fig: Figure, out_dir: Path) -> str:
    """``fig`` as a ``<figure>`` whose image is ``out_dir/NAME.png`` inline as base64 (the page needs no
    other file), or, where it was skipped, a note saying why."""
    e = html.escape
    if fig.skipped:
        return f'<p class="note">Skipped <code>{e(fig.name)}</code>: {e(fig.skipped)}.</p>'
    data = base64.b64encode((out_dir / f"{fig.name}.png").read_bytes()).decode("ascii")
    return (f'<figure id="{e(fig.name)}"><img alt="{e(fig.caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{e(fig.caption)} ({e(fig.name)}.png / .svg)</figcaption></figure>")
