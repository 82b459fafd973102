"""The README's quick suite: a plain ``pytest`` leaves the tests marked ``integration`` out.

``pytest`` (or a folder) is the quick suite, within 5 minutes on 2 cores; ``pytest -m
integration`` runs the integration tests -- many processes, the launcher, device-check,
``pytest bench`` end to end, long runs --, ``pytest --all`` (or ``pytest -m ""``) every test,
and ``.ci/run`` both halves. Any ``-m`` of the user's selects from every test as usual, and a
test file named on the command line runs all of its tests. The hooks are registered by
``tests/conftest.py``.
"""
from __future__ import annotations

import pytest

INTEGRATION = "integration"
LEFT_OUT = pytest.StashKey[int]()


def pytest_addoption(parser):
    parser.addoption("--all", action="store_true", dest="esperf_all",
                     help="run every test, the integration tests too (as `pytest -m \"\"`); without it, a plain "
                     "`pytest` (or a folder) leaves the tests marked integration out")


def names_test_files(args_source, args) -> bool:
    """Whether the command line names test files or test ids (``tests/test_x.py``,
    ``...::test_y``), not only folders."""
    if args_source != pytest.Config.ArgsSource.ARGS:
        return False
    return any("::" in a or a.endswith(".py") for a in args)


def integration_left_out(all_tests: bool, markexpr: str, args_source, args) -> bool:
    """Whether this run leaves the integration tests out: a plain ``pytest`` (or a folder), with
    no ``-m`` of its own, no ``--all`` and no test file named on the command line."""
    return not (all_tests or markexpr or names_test_files(args_source, args))


def pytest_collection_modifyitems(config, items):
    if not integration_left_out(config.getoption("esperf_all"), config.option.markexpr, config.args_source,
                                config.args):
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker(INTEGRATION) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
        config.stash[LEFT_OUT] = len(drop)  # for the summary line


def pytest_terminal_summary(terminalreporter, config):
    left = config.stash.get(LEFT_OUT, 0)
    if left:
        terminalreporter.write_line(f"esperf: {left} integration tests left out of this quick run; "
                                    "`pytest -m integration` runs them, `pytest --all` every test")
