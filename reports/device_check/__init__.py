"""``python -m reports device-check OUT_DIR``: the summary of one ``.ci/device-check`` run.

Reads only the files the script wrote under OUT_DIR (``steps.json``, ``probe.json``,
``json/*.json`` from ``pytest bench --benchmark-json`` and, of a part cut at its deadline, its
``json/<part>.json.partial``, ``json/tests.xml``, ``doctor.json``), or, once the script has
archived them, the same files inside ``OUT_DIR/device-check.tar.gz``; writes
``OUT_DIR/summary.md`` (markdown tables, one section per step) and prints it.

A part that ran past its deadline keeps the rows it finished: the plugin appends each finished
case to ``PATH.partial`` (JSON Lines, :mod:`bench.plugin.results`), and the summary shows them,
the part marked "timed out after k of n cases" (n from the plan in ``steps.json``). A part the
plan skipped (it could not fit the budget) is listed with the plan's line; it is no failure.

Exit status: 0 every part that ran passed and no bench case failed; 1 some part or bench case
failed (or ran past its deadline); 2 usage error (OUT_DIR missing or not a folder, or not a
device-check folder); 3 internal error (:mod:`reports.exit_status`). Standard library,
:mod:`results_format` and :mod:`reports.formatting` only: no jax, nothing of bench/.

One module per job; this package's namespace names the command (``main``, ``summary``, ``fmt``):

- :mod:`reports.device_check.layout`: the steps and parts the script writes, the archive's name;
- :mod:`reports.device_check.out_dir`: reading OUT_DIR or its archive (:class:`Run`);
- :mod:`reports.device_check.rows`: the figures of one benchmark row;
- :mod:`reports.device_check.parts`: each part's status, notes and failed cases;
- :mod:`reports.device_check.markdown`: table cells and tables;
- :mod:`reports.device_check.sections`: one section of summary.md per step;
- :mod:`reports.device_check.command`: :func:`summary`, the parser and :func:`main`.
"""
from __future__ import annotations

from reports.device_check.command import EXIT_FAILED, build_parser, main, summary
from reports.device_check.markdown import fmt, table
from reports.device_check.out_dir import Run, read_device_check_json
from reports.device_check.rows import device_check_case_key
from reports.exit_status import EXIT_BAD_INPUT

__all__ = ["main", "summary", "EXIT_FAILED", "EXIT_BAD_INPUT", "Run", "build_parser", "device_check_case_key", "fmt",
           "read_device_check_json", "table"]
