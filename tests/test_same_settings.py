"""Every setting is part of a case's identity: rows carry it, ``params`` hold it, and
``--es-resume`` / ``--benchmark-compare`` refuse rows measured with other settings."""
from __future__ import annotations

import json

import pytest

from helpers import PY, ROOT, bench_env, run

from bench.case import Case
from bench.plugin.same_settings import first_mismatch, refusal

GRID = ["--es-strategies", "cma_es", "--es-envs", "Pendulum-v1", "--es-pops", "8", "--es-evals", "2",
        "--es-episode-length", "5", "--es-runtime-rounds", "3", "--es-phases", "runtime", "--es-devices", "cpu:0"]
NAME = "test_generation[runtime-cma_es-Pendulum-v1-pop8-evals2-cpu:0]"


def bench(tmp_path, *args, timeout=300):
    cmd = [PY, "-m", "pytest", "bench", "-q", "-p", "no:cacheprovider", *GRID, *args]
    return run(cmd, timeout, cwd=ROOT, env=bench_env(devices=1, ESPERF_TEST_TAG=str(tmp_path)))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One measured run at hidden 8 and unroll 4, saved to a pytest-benchmark storage and to JSON."""
    tmp = tmp_path_factory.mktemp("saved")
    out = tmp / "out.json"
    proc = bench(tmp, "--es-hidden", "8", "--es-unroll", "4", f"--benchmark-json={out}", "--benchmark-save=first",
                 f"--benchmark-storage=file://{tmp / 'store'}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tmp, json.loads(out.read_text())


@pytest.mark.integration  # `pytest bench` end to end in a subprocess
def test_rows_and_params_carry_every_setting(saved):
    _, data = saved
    (row,) = data["benchmarks"]
    assert row["name"] == NAME  # the id at any setting stays the grid's dimensions
    info = row["extra_info"]
    assert (info["unroll"], info["hidden"], info["episode_length"]) == (4, 8, 5)
    assert (info["pop_chunk_setting"], info["isolation"]) == ("auto", "process")
    assert {k: row["params"][k] for k in ("hidden", "episode_length", "unroll", "pop_chunk", "isolation")} == {
        "hidden": 8, "episode_length": 5, "unroll": 4, "pop_chunk": "auto", "isolation": "process"}


def _one_error_line(proc) -> str:
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    assert len(errors) == 1, lines
    return errors[0]


@pytest.mark.integration  # `pytest bench` end to end in a subprocess
def test_benchmark_compare_of_other_settings_is_refused_not_a_regression(saved):
    """pytest-benchmark pairs rows by name: hidden 16 against a saved hidden-8 run would be a false
    regression (exit 1); it is a usage error naming the setting and both values (exit 4)."""
    tmp, _ = saved
    proc = bench(tmp, "--es-hidden", "16", "--es-unroll", "4", f"--benchmark-storage=file://{tmp / 'store'}",
                 "--benchmark-compare", "--benchmark-compare-fail=median:50%")
    assert proc.returncode == 4, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = _one_error_line(proc)
    assert "--benchmark-compare" in line and "hidden 16 (this run) vs 8 (the saved run)" in line
    assert "unroll" not in line  # only what differs
    assert "Performance has regressed" not in proc.stdout + proc.stderr


@pytest.mark.integration  # `pytest bench` end to end in a subprocess
def test_benchmark_compare_of_the_same_settings_compares(saved):
    tmp, _ = saved
    proc = bench(tmp, "--es-hidden", "8", "--es-unroll", "4", f"--benchmark-storage=file://{tmp / 'store'}",
                 "--benchmark-compare")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "0001_first" in proc.stdout + proc.stderr  # pytest-benchmark set the saved row beside this one


@pytest.mark.integration  # `pytest bench` end to end in a subprocess
def test_resume_of_a_partial_file_of_other_settings_is_a_usage_error(saved, tmp_path):
    _, data = saved
    out = tmp_path / "resumed.json"
    partial = tmp_path / "resumed.json.partial"
    partial.write_text(json.dumps({"name": NAME, "status": "passed", "benchmark": data["benchmarks"][0]}) + "\n")
    proc = bench(tmp_path, "--es-hidden", "16", "--es-unroll", "4", f"--benchmark-json={out}", "--es-resume")
    assert proc.returncode == 4, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = _one_error_line(proc)
    assert "--es-resume" in line and "hidden 16 (this run) vs 8" in line and str(partial) in line
    assert partial.exists() and not out.exists()  # nothing measured is lost


def _case(**given) -> Case:
    return Case(**{"phase": "runtime", "strategy": "cma_es", "env": "Pendulum-v1", "popsize": 8, "evals": 2,
                   "hidden": 4, "episode_length": 5, "device": "cpu:0", **given})


def test_first_mismatch_names_each_differing_setting():
    ours = {"a": _case(unroll=4, pop_chunk=16).fields()}
    same = {"name": "a", "extra_info": _case(unroll=4, pop_chunk=16).fields()}
    other = {"name": "a", "status": "failed", "failed": {"extra_info": _case(unroll=1, pop_chunk="off").fields()}}
    unknown = {"name": "b", "extra_info": _case(hidden=99).fields()}  # not a case of this run
    assert first_mismatch(ours, [same, unknown]) is None
    assert first_mismatch(ours, [same, other]) == ("a", [("unroll", 4, 1), ("pop_chunk_setting", "16", "off")])


def test_rows_of_schema_1_read_with_the_defaults_they_had():
    """A version-1 row has no unroll, pop_chunk_setting or isolation: it was unroll 1, auto, process."""
    v1 = {k: v for k, v in _case().fields().items() if k not in ("unroll", "pop_chunk_setting", "isolation")}
    assert first_mismatch({"a": _case().fields()}, [{"name": "a", "extra_info": v1}]) is None
    why = refusal({"a": _case(unroll=2).fields()}, [{"name": "a", "extra_info": v1}], "--es-resume", "P")
    assert why.startswith("--es-resume: P was measured with other settings") and "unroll 2 (this run) vs 1 (P)" in why
