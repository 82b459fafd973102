"""The output never lies and never loses (issue 27, point 5): a ``--benchmark-json`` PATH that cannot
be written, and a plugin that runs cases in parallel processes (pytest-xdist), are usage errors
(exit 4) in one line before anything is listed or measured; the line after a skipped case says
it was skipped.

pytest-xdist is not a dependency: ``tests/fake_xdist.py`` registers its options as xdist does.
Root writes into a read-only folder: the folder tests run ``pytest bench`` without root's
override of file permissions (``setpriv``, dropping CAP_DAC_OVERRIDE), as a user would.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import time
import types
from pathlib import Path

import pytest

from bench.plugin import startup
from helpers import PY, ROOT, TINY, bench_env, run

GRID = [*TINY, "--es-devices", "cpu:0"]
PROGRESS = re.compile(r"^esperf: \[(\d+)/(\d+)\] (\S+): (.*) · (.+) elapsed · (about .+ left|done)$", re.M)
PLAIN_USER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]  # root, bound by file permissions


def bench(tmp_path, *args, prefix=(), quiet=True, timeout=120, env=None):
    """``pytest bench`` on a tiny grid in a subprocess: (process, wall seconds)."""
    cmd = [*prefix, PY, "-m", "pytest", "bench", "-p", "no:cacheprovider", "-p", "esperf_faults",
           *(["-q"] if quiet else []), *GRID, *args]
    t0 = time.monotonic()
    proc = run(cmd, timeout, cwd=ROOT, env=env or bench_env(devices=1, ESPERF_TEST_TAG=str(tmp_path)))
    return proc, time.monotonic() - t0


def as_a_user() -> list[str]:
    """The prefix that runs a command bound by file permissions (none needed for a user)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("root without setpriv (util-linux): no folder can be made unwritable to root")
    return PLAIN_USER


def usage_error(proc) -> str:
    """The one ``ERROR:`` line of a usage error (exit 4)."""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert proc.returncode == 4 and len(errors) == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    return errors[0]


def nothing_started(proc, path: Path) -> None:
    """No device was listed (no header warning, nothing collected) and no results file was opened."""
    assert "esperf:" not in proc.stdout and "collected" not in proc.stdout, proc.stdout[-2000:]
    assert not Path(f"{path}.partial").exists() and not Path(f"{path}.lock").exists()


@pytest.fixture
def read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "out.json").write_text('{"an": "earlier run"}')  # a rerun: PATH is there from before
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def test_a_json_path_in_a_folder_that_cannot_be_written_is_one_usage_error_at_once(tmp_path, read_only_folder):
    path = read_only_folder / "out.json"
    proc, wall = bench(tmp_path, f"--benchmark-json={path}", prefix=as_a_user())
    line = usage_error(proc)
    assert line == (f"ERROR: --benchmark-json={path} cannot be written: no file can be created in "
                    f"{read_only_folder} (Permission denied)")
    assert wall < 60
    nothing_started(proc, path)


def test_a_new_json_path_in_a_folder_that_cannot_be_written_is_a_usage_error_naming_it(tmp_path, read_only_folder):
    """pytest-benchmark 4.0 to 5.2 open PATH at parse time, so theirs is the refusal (argparse's
    own format); later releases keep a Path, and esperf's check refuses it."""
    path = read_only_folder / "new.json"
    proc, wall = bench(tmp_path, f"--benchmark-json={path}", prefix=as_a_user())
    naming = [line for line in proc.stderr.splitlines() if str(path) in line]
    assert proc.returncode == 4 and len(naming) == 1, proc.stderr[-2000:]
    assert "Permission denied" in naming[0]
    assert wall < 60
    nothing_started(proc, path)


def test_a_read_only_json_file_is_one_usage_error_and_stays(tmp_path):
    path = tmp_path / "kept.json"
    path.write_text("{}")
    path.chmod(0o444)
    proc, wall = bench(tmp_path, f"--benchmark-json={path}")
    naming = [line for line in proc.stderr.splitlines() if str(path) in line]
    assert proc.returncode == 4 and len(naming) == 1, proc.stderr[-2000:]
    if os.geteuid() == 0:  # root may open it: esperf's own check refuses it
        assert naming[0] == (f"ERROR: --benchmark-json={path} cannot be written: the file is read-only (mode 0444); "
                             "make it writable or give another PATH")
    else:  # pytest-benchmark (4.0 to 5.2) could not open it; a later release leaves it to esperf's check
        assert "Permission denied" in naming[0] or "read-only (mode 0444)" in naming[0]
    assert wall < 60
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o444
    nothing_started(proc, path)


def test_unwritable_names_why_and_checks_by_trying():
    assert startup.unwritable(Path("/")) == "it is a folder"
    # os.access says yes to root here; creating a file says no (EACCES, or EROFS where /sys is mounted read-only)
    why = startup.unwritable(Path("/sys/esperf-probe/out.json"))
    assert why in ("no file can be created in /sys (Permission denied)",
                   "no file can be created in /sys (Read-only file system)")
    assert startup.unwritable(Path("/proc/self/status")) is not None


def test_missing_folders_under_a_writable_one_are_fine(tmp_path):
    assert startup.unwritable(tmp_path / "a" / "b" / "out.json") is None
    assert not (tmp_path / "a").exists()  # the check makes nothing (start-up makes the folders)
    assert list(tmp_path.iterdir()) == []  # nor leaves its probe file
    (tmp_path / "file").write_text("")
    assert startup.unwritable(tmp_path / "file" / "out.json") == f"{tmp_path / 'file'} is not a folder"


@pytest.mark.parametrize("args, env, why", [
    (["-n", "2"], {}, "-n 2 asks for parallel worker processes"),
    (["-n", "auto"], {}, "-n auto asks for parallel worker processes"),
    (["--dist", "loadfile"], {}, "--dist loadfile asks for parallel worker processes"),
    ([], {"FAKE_XDIST_WORKER": "gw0"}, "this pytest process is a pytest-xdist worker"),
    ([], {"PYTEST_XDIST_WORKER": "gw1"}, "this pytest process is a pytest-xdist worker"),
])
def test_cases_in_parallel_processes_are_refused_in_one_line(tmp_path, args, env, why):
    path = tmp_path / "out.json"
    environ = {**bench_env(devices=1, ESPERF_TEST_TAG=str(tmp_path)), **env}
    proc, wall = bench(tmp_path, "-p", "fake_xdist", *args, f"--benchmark-json={path}", env=environ)
    line = usage_error(proc)
    assert line == (f"ERROR: {why}: pytest bench measures one case at a time, since cases must not share the "
                    "machine (each one's figures would include the others'); drop -n / --dist")
    assert wall < 60
    nothing_started(proc, path)


def test_only_parallel_processes_are_refused():
    def config(workerinput=None, **options):
        c = types.SimpleNamespace(getoption=lambda name, default=None: options.get(name, default))
        if workerinput is not None:
            c.workerinput = workerinput
        return c

    assert startup.parallel_processes(config(), env={}) is None  # no xdist at all
    assert startup.parallel_processes(config(numprocesses=0, dist="no"), env={}) is None  # -n 0: this process
    assert startup.parallel_processes(config(numprocesses=None, dist="no"), env={}) is None
    assert startup.parallel_processes(config(numprocesses=4, dist="load"), env={}) == \
        "-n 4 asks for parallel worker processes"
    assert startup.parallel_processes(config(dist="each"), env={}) == "--dist each asks for parallel worker processes"
    assert startup.parallel_processes(config(workerinput={"workerid": "gw0"}), env={}) == \
        "this pytest process is a pytest-xdist worker"


@pytest.mark.integration  # `pytest bench` end to end in a subprocess
def test_benchmark_skip_says_each_case_was_skipped(tmp_path):
    path = tmp_path / "out.json"
    proc, _ = bench(tmp_path, "--es-pops", "8,16", "--benchmark-skip", f"--benchmark-json={path}", quiet=False,
                    timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = PROGRESS.findall(proc.stdout)
    assert [(int(n), int(t)) for n, t, *_ in lines] == [(1, 4), (2, 4), (3, 4), (4, 4)], proc.stdout[-3000:]
    assert {outcome for _, _, _, outcome, _, _ in lines} == {
        "skipped (Skipping benchmark (--benchmark-skip active).)"}
    assert "4 skipped" in proc.stdout
