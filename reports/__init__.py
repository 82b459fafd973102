"""esperf reports: plots, tables, report.html and a regression verdict from ``pytest bench`` JSON.

Reads JSON only: imports neither jax nor esperf's ``bench``, ``envs`` or ``strategies``,
so it runs on any laptop with pandas, seaborn and scipy.

Commands (``python -m reports`` picks one in :mod:`reports.__main__`):

- ``python -m reports RESULTS... [--out DIR] [--peak-flops KIND=FLOPS]``: :mod:`reports.report`
- ``python -m reports compare BASE NEW [--threshold 0.10] [--alpha 0.01]``: :mod:`reports.compare`
  (its verdict rule, shared with history and the report's crossover: :mod:`reports.verdict`)
- ``python -m reports history FILES_OR_DIRS... [--metric runtime|env_steps_per_s|compile]``:
  :mod:`reports.history` (change points: :mod:`reports.steps`, tested by compare's rule)
- ``python -m reports device-check OUT_DIR``: :mod:`reports.device_check` (a package: reading OUT_DIR,
  each part's verdict, one section of summary.md per step)

Their names: :mod:`reports.commands`. Shared by all: :mod:`reports.exit_status` (exit statuses,
bad input, the error guards; the codes are :mod:`results_format.exit_codes`', docs/commands.md),
:mod:`reports.load` (reading the JSON), :mod:`reports.formatting` (numbers as text) and
:mod:`results_format` (the JSON contract with ``bench``, a package of its own). The report's own parts,
each a package of one module per job: :mod:`reports.tables` (the summary and the tables derived from it),
:mod:`reports.plots` (one module per figure family; history's figure too) and :mod:`reports.render`
(the tables with units, the page blocks history shares, report.html and report.md); both commands print
:mod:`reports.notices` (what made a machine unfit to be measured) and
:mod:`reports.stability` (unstable runtime figures: their reasons and per-worker rounds).
"""
