"""esperf reports: plots, tables, report.html and a regression verdict from ``pytest bench`` JSON.

Reads JSON only: imports neither jax nor esperf's ``bench``, ``envs`` or ``strategies``,
so it runs on any laptop with pandas, seaborn and scipy.

- ``python -m reports RESULTS... [--out DIR] [--peak-flops KIND=FLOPS]``: :mod:`reports.cli`
- ``python -m reports compare BASE NEW [--threshold 0.10] [--alpha 0.01]``: :mod:`reports.compare`
"""
