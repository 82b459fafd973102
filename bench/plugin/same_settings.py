"""Refuse to set rows of other settings beside this run's cases.

A case's id names its grid dimensions only (ids are public and stay the same at any
setting), so two rows of one name may time different workloads: ``--es-hidden 8`` against
``--es-hidden 32``. Before ``--es-resume`` keeps an earlier run's rows, and before
pytest-benchmark's ``--benchmark-compare`` pairs rows by name, the settings of the rows that
share a name with a case of this run (:data:`results_format.identity.CASE_FIELDS` and the
device set) must equal the case's; else the run is refused (a usage error, exit 4) naming
each setting and both values.
"""
from __future__ import annotations

from results_format.identity import CASE_FIELDS, DEVICE_SET_FIELDS, case_settings, describe_differences, differences


def _row_info(row: dict) -> dict | None:
    """The ``extra_info`` of a JSON row (pytest-benchmark's) or of a ``PATH.partial`` record."""
    for where in (row, row.get("benchmark"), row.get("failed")):
        if isinstance(where, dict) and isinstance(where.get("extra_info"), dict):
            return where["extra_info"]
    return None


def first_mismatch(cases_by_name: dict, rows: list[dict]) -> tuple[str, list] | None:
    """(row name, [(setting, this run's value, the row's value)]) of the first row in ``rows``
    whose settings differ from the case of its name in ``cases_by_name`` ({item name: case
    fields, :meth:`bench.case.Case.fields`}); None when every row of a case's name agrees.
    Rows of names this run does not have, and rows without ``extra_info``, are not compared."""
    keys = (*CASE_FIELDS, *DEVICE_SET_FIELDS)
    for row in rows:
        ours = cases_by_name.get(row.get("name")) if isinstance(row, dict) else None
        info = _row_info(row) if ours is not None else None
        if info is None:
            continue
        diffs = differences(case_settings(ours), case_settings(info), keys)
        if diffs:
            return row["name"], diffs
    return None


def refusal(cases_by_name: dict, rows: list[dict], option: str, source: str) -> str | None:
    """The one-line usage error of ``option`` when a row of ``source`` has other settings than
    this run's case of the same name (:func:`first_mismatch`); None when they agree."""
    found = first_mismatch(cases_by_name, rows)
    if found is None:
        return None
    name, diffs = found
    return (f"{option}: {source} was measured with other settings than this run ({name}: "
            f"{describe_differences(diffs, 'this run', source)}); its rows time another workload: "
            "give the same options as that run")
