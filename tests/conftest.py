"""What every test module shares: no process a test started may outlive its module, and
matmuls at full float32 precision on every platform.

Helpers that tests call (the checkout's root, child environments, subprocesses with a
deadline, ``pytest bench`` in a subprocess) are in ``helpers.py``.
"""
from __future__ import annotations

import time

import jax
import psutil
import pytest

# Float comparisons against references mean float32 matmuls: on a GPU jax's default
# precision is TF32 (10-bit mantissa), on a TPU bfloat16 passes. (No effect on a CPU.)
jax.config.update("jax_default_matmul_precision", "highest")

LEFTOVER_GRACE_S = 10.0  # a process ended just before the check may still be exiting


def _alive_children() -> list[psutil.Process]:
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.Error:  # gone meanwhile
            pass
    return alive


@pytest.fixture(autouse=True, scope="module")
def no_process_outlives_the_module():
    """After each test module: every process its tests started (workers, fork servers, launchers,
    ``pytest bench`` runs) has ended; else the module errors, naming them, and they are killed."""
    yield
    deadline = time.monotonic() + LEFTOVER_GRACE_S
    left = _alive_children()
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _alive_children()
    if left:
        names = []
        for p in left:
            try:
                names.append(f"{p.pid} {' '.join(p.cmdline())[:200]}")
                p.kill()
            except psutil.Error:  # it ended after all
                pass
        if names:
            pytest.fail("processes outlived the module's tests: " + "; ".join(names), pytrace=False)


# -- the README's quick suite: a plain `pytest` leaves the integration tests out (suite_split.py)
from suite_split import (  # noqa: E402,F401 -- pytest finds its hooks by name here
    pytest_addoption, pytest_collection_modifyitems, pytest_terminal_summary)
