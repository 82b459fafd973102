"""The README's ``pytest`` is the quick suite and CI still runs every test (tests/suite_split.py)."""
from __future__ import annotations

import re
import tomllib

import pytest

from helpers import ROOT
from suite_split import INTEGRATION, integration_left_out

ARGS, TESTPATHS, INVOCATION_DIR = (pytest.Config.ArgsSource.ARGS, pytest.Config.ArgsSource.TESTPATHS,
                                   pytest.Config.ArgsSource.INVOCATION_DIR)


@pytest.mark.parametrize("all_tests, markexpr, source, args, left_out", [
    (False, "", TESTPATHS, ["tests"], True),  # the README's `pytest`
    (False, "", INVOCATION_DIR, ["."], True),  # `pytest` inside tests/
    (False, "", ARGS, ["tests"], True),  # a folder
    (True, "", TESTPATHS, ["tests"], False),  # --all
    (False, "integration", TESTPATHS, ["tests"], False),
    (False, "not slow", TESTPATHS, ["tests"], False),  # the lowest-versions step: every test but slow
    (False, "", ARGS, ["tests/test_launch.py"], False),  # a file named: all its tests
    (False, "", ARGS, ["tests/test_launch.py::test_prefixes_environment_and_success"], False),
])
def test_which_runs_leave_the_integration_tests_out(all_tests, markexpr, source, args, left_out):
    assert integration_left_out(all_tests, markexpr, source, args) is left_out


def test_the_marker_is_registered_and_the_quick_suite_keeps_every_package():
    markers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith(f"{INTEGRATION}:") for m in markers)
    marked = {p.name for p in (ROOT / "tests").glob("test_*.py")
              if re.search(r"^pytestmark = pytest\.mark\.integration", p.read_text(), re.M)}
    # every package keeps tests in the quick suite: no module of these is integration as a whole
    quick = {"test_layout.py", "test_commands.py", "test_strategies_api.py", "test_envs.py", "test_workload.py",
             "test_reports.py", "test_reports_compare.py", "test_plugins.py", "test_device_check.py",
             "test_launch.py", "test_isolation.py", "test_doctor.py"}
    assert not marked & quick, marked & quick


def test_ci_runs_the_readme_command_then_the_integration_tests_and_the_lowest_step_all_but_slow():
    ci = (ROOT / ".ci" / "run").read_text()
    step1 = ci[ci.index("start_step 1"):ci.index("export CI_WORK")]
    assert 'pip install -e ".[test]"' in step1
    assert re.search(r"^\s*pytest; quick=\$\?$", step1, re.M) and "pytest -m integration;" in step1
    step2 = ci[ci.index("start_step 2"):]
    assert 'pytest -m "not slow"' in step2  # a -m of its own: the integration tests run there too
    assert 'pip install -e ".[test]" && pytest\n' in (ROOT / "README.md").read_text()
