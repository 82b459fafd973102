"""Every ``python -m`` command answers with one exit convention (docs/commands.md).

Bad arguments only (nothing is measured): each command exits 2 with one stderr line naming
the bad value; an injected bug exits 3 with one line naming the file the traceback went to;
every entry point in ``bench/`` and ``reports/`` has a row in docs/commands.md's table.
"""
from __future__ import annotations

import ast
import importlib
import re
import sys
import tempfile

import pytest

import helpers
from helpers import PY, ROOT, child_env
from results_format import exit_codes

# (argv after ``python -m``, a piece of the one error line that names the bad value)
BAD_ARGUMENTS = [
    (["bench.train", "--popsize", "many"], "'many'"),
    (["bench.vs_peers", "--rounds", "x"], "'x'"),
    (["bench.peak", "--rounds", "0"], "--rounds=0"),
    (["bench.peak", "--devices", "cpu:4096"], "cpu:4096"),
    (["bench.doctor", "--bogus"], "--bogus"),
    (["bench.device_check", "plan", "--form", "phone"], "'phone'"),
    (["bench.device_check", "bogus-command"], "'bogus-command'"),
    (["bench.launch", "-n", "0", "--", "true"], "-n 0"),
    (["reports", "--bogus"], "--bogus"),
    (["reports", "compare", "only-one"], "NEW"),
    (["reports", "history", "--threshold", "-1"], "-1"),
    (["reports", "device-check", "out", "--bogus"], "--bogus"),
]


@pytest.mark.parametrize("argv, needle", BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_a_bad_argument_is_one_line_naming_it_and_exit_2(argv, needle):
    proc = helpers.run([PY, "-m", *argv], 120, cwd=ROOT, env=child_env())
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == exit_codes.EXIT_USAGE, proc.stderr
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


# (module, the function its ``main`` runs under the exit convention): a bug injected there
BODIES = [("bench.train", "_main"), ("bench.vs_peers", "_main"), ("bench.peak", "_main"),
          ("bench.doctor", "_main"), ("bench.device_check.__main__", "_main"), ("bench.launch", "_main")]


@pytest.mark.parametrize("module, body", BODIES, ids=[m for m, _ in BODIES])
def test_an_unexpected_error_is_one_line_naming_the_traceback_file_and_exit_3(module, body, monkeypatch,
                                                                              capsys, tmp_path):
    mod = importlib.import_module(module)

    def bug(argv):
        raise KeyError(f"injected into {module}")

    monkeypatch.setattr(mod, body, bug)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert mod.main(["--anything"]) == exit_codes.EXIT_INTERNAL
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert helpers.internal_error_line(line, "KeyError").endswith(f"internal error: KeyError: 'injected into {module}'")
    assert list(tmp_path.iterdir()) == []  # the helper read and removed the one traceback file


def test_reports_unexpected_error_outside_a_command_is_exit_3_with_the_traceback_file(monkeypatch, capsys, tmp_path):
    from reports import __main__ as dispatcher
    from reports.exit_status import run_process

    def bug(name):
        raise KeyError("injected")

    monkeypatch.setattr(dispatcher, "command_main", bug)
    monkeypatch.setattr(sys, "argv", ["reports", "compare", "a", "b"])
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert run_process(dispatcher.main) == exit_codes.EXIT_INTERNAL
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert helpers.internal_error_line(line, "KeyError") == "reports: internal error: KeyError: 'injected'"


def test_a_traceback_that_cannot_be_saved_is_said_on_the_same_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    assert exit_codes.internal_error("python -m x", ValueError("bad\nthing")) == 3
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("python -m x: internal error: ValueError: bad thing (traceback: not saved: ")
    assert "No such file or directory" in line


def entry_points() -> set[str]:
    """Every ``python -m`` name in bench/ and reports/: a module with a ``__main__`` guard or a
    package's ``__main__.py``."""
    found = set()
    for pkg in ("bench", "reports"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text())
            guarded = any(isinstance(n, ast.If) and "__main__" in ast.unparse(n.test) for n in tree.body)
            if guarded or path.name == "__main__.py":
                parts = list(path.relative_to(ROOT).with_suffix("").parts)
                found.add(".".join(parts[:-1] if parts[-1] == "__main__" else parts))
    return found


def test_every_entry_point_has_a_row_in_the_commands_table():
    text = (ROOT / "docs" / "commands.md").read_text()
    rows = set(re.findall(r"^\| `python -m ([\w.]+)", text, re.M))
    documented = rows | set(re.findall(r"`python -m ([\w.]+)` is no user command", text))
    assert entry_points() == documented
    tested = {a[0] for a, _ in BAD_ARGUMENTS}
    assert rows == tested  # every user command of the table gets the bad-argument test
    assert "[docs/commands.md](docs/commands.md)" in (ROOT / "README.md").read_text()


def test_one_definition_of_the_codes():
    from bench import cli
    from reports import exit_status

    assert (cli.EXIT_OK, cli.EXIT_VERDICT, cli.EXIT_USAGE, cli.EXIT_INTERNAL) == (0, 1, 2, 3)
    assert (exit_status.EXIT_OK, exit_status.EXIT_SLOWER, exit_status.EXIT_BAD_INPUT, exit_status.EXIT_INTERNAL) == \
        (exit_codes.EXIT_OK, exit_codes.EXIT_VERDICT, exit_codes.EXIT_USAGE, exit_codes.EXIT_INTERNAL)
    for module in (cli, exit_status):  # imported, not defined again
        source = ast.parse(open(module.__file__).read())
        assigned = {t.id for n in source.body if isinstance(n, ast.Assign) for t in ast.walk(n) if isinstance(t, ast.Name)}
        assert not {"EXIT_OK", "EXIT_INTERNAL"} & assigned, module.__name__
    assert sys.modules["results_format.exit_codes"] is exit_codes
