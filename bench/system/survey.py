"""What the device-listing worker of ``pytest bench`` reports: jax's devices, the accelerators
jax does not use, and the quick system checks, in one JSON-ready object."""
from __future__ import annotations

import os


def own_tree() -> set[int]:
    """This process and its ancestors (a fork server, pytest, the shell): not "other" load."""
    import psutil

    me = psutil.Process()
    return {os.getpid(), *(p.pid for p in me.parents())}


def machine_survey() -> dict:
    """:func:`bench.system.accelerators.survey` plus ``system_check``: the checks of
    ``python -m bench.doctor`` without the slow ones (:func:`bench.system.checks.run_checks`)."""
    from bench.system.accelerators import survey
    from bench.system.checks import run_checks

    found = survey()
    found["system_check"] = run_checks(found, quick=True, exclude_pids=own_tree())
    return found
