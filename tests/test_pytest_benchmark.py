"""esperf as pytest-benchmark users know it: groups, params, the options block, the end-of-run
table, ``--benchmark-disable``, ``--benchmark-compare``, refused options, the lock on
``--benchmark-json=PATH`` and the line after each case (issue 19's points 1-9)."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from helpers import PY, ROOT, TINY, bench_env, run

GRID = [*TINY[:TINY.index("--es-pops")], "--es-pops", "8,16", *TINY[TINY.index("--es-pops") + 2:],
        "--es-devices", "cpu:0"]
IDS = [f"{phase}-cma_es-Pendulum-v1-pop{pop}-evals2-cpu:0" for phase in ("compile", "runtime") for pop in (8, 16)]
GROUPS = {"compile": "compile: cma_es on Pendulum-v1, cpu:0", "runtime": "runtime: cma_es on Pendulum-v1, cpu:0"}
PROGRESS = re.compile(r"^esperf: \[(\d+)/(\d+)\] (\S+): (.*) · (.+) elapsed · (about .+ left|done)$", re.M)


def bench(tmp_path, *args, quiet=False, timeout=300, **env):
    """``pytest bench`` on the tiny two-popsize grid in a subprocess (``-q`` with ``quiet``)."""
    cmd = [PY, "-m", "pytest", "bench", "-p", "no:cacheprovider", "-p", "esperf_faults", *(["-q"] if quiet else []),
           *GRID, *args]
    return run(cmd, timeout, cwd=ROOT, env=bench_env(devices=1, ESPERF_TEST_TAG=str(tmp_path), **env))


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """One measured run of the grid, not quiet: (process, JSON, its path, the worker requests)."""
    tmp = tmp_path_factory.mktemp("measured")
    out, log = tmp / "out.json", tmp / "requests.jsonl"
    proc = bench(tmp, f"--benchmark-json={out}", ESPERF_REQUEST_LOG=str(log))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads(out.read_text())["esperf"]["run"] == "measured"
    return proc, json.loads(out.read_text()), out, [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.integration
def test_rows_are_grouped_so_the_table_compares_like_with_like(measured):
    proc, data, _, _ = measured
    groups = {b["name"]: b["group"] for b in data["benchmarks"]}
    assert groups == {f"test_generation[{i}]": GROUPS[i.split("-")[0]] for i in IDS}
    # the end-of-run table: one block per group, each holding the two popsizes of one phase
    for group in GROUPS.values():
        assert f"benchmark '{group}': 2 tests" in proc.stdout


@pytest.mark.integration
def test_params_are_the_grids_dimensions_and_the_case_ids_stay(measured, tmp_path):
    _, data, out, _ = measured
    assert [b["name"] for b in data["benchmarks"]] == [f"test_generation[{i}]" for i in IDS]
    row = next(b for b in data["benchmarks"] if b["name"] == f"test_generation[{IDS[3]}]")
    assert row["params"] == {"phase": "runtime", "strategy": "cma_es", "env": "Pendulum-v1", "popsize": 16,
                             "evals": 2, "device": "cpu:0", "part": "generation", "impl": "esperf",
                             # every other setting that changes the figure (issue #27), the id stays
                             "hidden": 4, "episode_length": 5, "unroll": 1, "pop_chunk": "auto",
                             "isolation": "process"}
    assert row["param"] == IDS[3]
    # pytest-benchmark's own client groups esperf rows by a grid dimension
    other = shutil.copy(out, tmp_path / "other.json")
    cli = Path(PY).with_name("pytest-benchmark")
    done = run([str(cli), "compare", str(out), str(other), "--group-by=param:popsize"], 120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for pop in (8, 16):
        assert re.search(rf"benchmark 'popsize={pop}': 4 tests", done.stdout), done.stdout[-3000:]


@pytest.mark.integration
def test_the_options_block_records_what_esperf_did(measured):
    _, data, _, _ = measured
    for b in data["benchmarks"]:
        options, stats = b["options"], b["stats"]
        assert options["timer"] == "perf_counter" and options["disable_gc"] is False
        assert options["min_rounds"] == stats["rounds"] == len(stats["data"]) == 3, b["name"]
        assert options["warmup"] == (0 if b["params"]["phase"] == "compile" else 1)
        assert options["max_time"] is None  # fixed rounds (--es-runtime-rounds 3), no time budget


@pytest.mark.integration
def test_each_case_prints_one_line_with_its_median_and_the_time_left(measured):
    proc, data, out, _ = measured
    lines = PROGRESS.findall(proc.stdout)
    assert [(int(n), int(t), i) for n, t, i, *_ in lines] == [(n, 4, i) for n, i in enumerate(IDS, 1)]
    medians = {b["name"]: b["stats"]["median"] for b in data["benchmarks"]}
    for _, _, case_id, outcome, _, eta in lines:
        assert outcome.startswith("median "), outcome
        median = medians[f"test_generation[{case_id}]"]
        shown = float(outcome.split()[1]) * {"s": 1, "ms": 1e-3, "µs": 1e-6}[outcome.split()[2]]
        assert abs(shown - median) <= 0.01 * median
    assert [eta == "done" for *_, eta in lines] == [False, False, False, True]
    assert not Path(f"{out}.lock").exists()  # the lock went with the run


@pytest.mark.integration
def test_benchmark_disable_runs_each_case_once_and_failures_still_fail(tmp_path):
    out, log = tmp_path / "out.json", tmp_path / "requests.jsonl"
    proc = bench(tmp_path, f"--benchmark-json={out}", "--benchmark-disable", ESPERF_FAULT="fail-pop16",
                 ESPERF_REQUEST_LOG=str(log))
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"2 failed, 2 passed", proc.stdout), proc.stdout[-2000:]
    assert "injected out of memory at pop 16" in proc.stdout
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    case_requests = [(r["mode"], r["case"]) for r in requests if r["case"]]
    # one cold compile per compile case, one runtime worker timing one round per runtime case
    assert sorted(case_requests) == sorted((i.split("-")[0], i) for i in IDS)
    assert {r["runtime_rounds"] for r in requests if r["mode"] == "runtime"} == {1}
    data = json.loads(out.read_text())  # a smoke run measures nothing: no rows, the failures kept
    assert data["benchmarks"] == [] and data["esperf"]["run"] == "smoke"
    assert sorted(f["name"] for f in data["esperf"]["failed"]) == [f"test_generation[{i}]" for i in IDS if "pop16" in i]
    outcomes = [o for *_, o, _, _ in PROGRESS.findall(proc.stdout)]
    assert [o.split()[0] for o in outcomes] == ["passed", "FAILED", "passed", "FAILED"]


@pytest.mark.integration
@pytest.mark.parametrize("args, option", [
    (["--benchmark-timer=time.process_time"], "--benchmark-timer=time.process_time"),
    (["--benchmark-disable-gc"], "--benchmark-disable-gc"),
    (["--benchmark-warmup=on"], "--benchmark-warmup"),
    (["--benchmark-cprofile=cumtime"], "--benchmark-cprofile"),
    (["-p", "fake_codspeed", "--codspeed"], "--codspeed"),
])
def test_options_esperf_cannot_honour_are_one_line_usage_errors(tmp_path, args, option):
    proc = bench(tmp_path, f"--benchmark-json={tmp_path / 'out.json'}", *args, quiet=True, timeout=120)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert proc.returncode == 4 and len(errors) == 1, proc.stderr[-2000:]
    assert errors[0].startswith(f"ERROR: {option} cannot be honoured: ")
    assert not (tmp_path / "out.json.partial").exists()


@pytest.mark.integration
def test_benchmark_histogram_without_pygal_says_how_to_install_it(tmp_path):
    blocked = tmp_path / "blocked" / "pygal"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('pygal blocked by the test')\n")
    env = bench_env(devices=1)
    env["PYTHONPATH"] = f"{blocked.parent}:{env['PYTHONPATH']}"
    cmd = [PY, "-m", "pytest", "bench", "-q", "-p", "no:cacheprovider", *GRID, f"--benchmark-histogram={tmp_path}/h"]
    proc = run(cmd, 120, cwd=ROOT, env=env)
    assert proc.returncode == 4, proc.stderr[-2000:]
    assert 'ERROR: --benchmark-histogram needs pygal and pygaljs, which are not installed; install them with ' \
           'pip install -e ".[histogram]"' in proc.stderr


@pytest.mark.integration
def test_benchmark_histogram_draws_one_chart_per_group(tmp_path):
    pytest.importorskip("pygal", reason="pygal is in the test extra (pytest-benchmark[histogram])")
    proc = bench(tmp_path, f"--benchmark-histogram={tmp_path}/hist", "--es-phases", "runtime", quiet=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    charts = sorted(p.name for p in tmp_path.glob("hist-*.svg"))
    assert len(charts) == 1 and charts[0].startswith("hist-runtime"), charts  # one group: one chart
    assert "pop8" in (tmp_path / charts[0]).read_text() and "pop16" in (tmp_path / charts[0]).read_text()


@pytest.mark.integration
def test_a_second_run_on_the_same_json_path_refuses_to_start(tmp_path):
    from bench.plugin.results import ResultsLock

    out = tmp_path / "out.json"
    partial = Path(f"{out}.partial")
    partial.write_text('{"name": "test_generation[x]", "status": "passed"}\n')  # the first run's progress
    lock = ResultsLock(out)
    lock.acquire()  # the first run, still going
    try:
        proc = bench(tmp_path, f"--benchmark-json={out}", quiet=True, timeout=120)
    finally:
        lock.release()
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert proc.returncode == 4 and len(errors) == 1, proc.stderr[-2000:]
    assert f"is being written by another pytest bench run (pid {__import__('os').getpid()}" in errors[0]
    assert partial.read_text() == '{"name": "test_generation[x]", "status": "passed"}\n'
    assert not out.exists()


@pytest.mark.integration
def test_benchmark_compare_on_the_same_machine_does_not_warn(tmp_path):
    store = f"--benchmark-storage=file://{tmp_path / 'store'}"
    first = bench(tmp_path, store, "--benchmark-autosave", "--es-phases", "runtime", "--es-pops", "8", quiet=True)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    second = bench(tmp_path, store, "--benchmark-compare", "--es-phases", "runtime", "--es-pops", "8", quiet=True)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "Comparing against benchmarks from" in second.stdout + second.stderr
    assert "machine_info is different" not in second.stdout + second.stderr
    assert not PROGRESS.search(second.stdout)  # -q keeps the progress lines quiet


def test_another_machine_still_differs_after_the_run_state_leaves():
    from bench.plugin.output import comparable_machine_info

    here = {"node": "vm", "cpu": {"brand_raw": "AMD EPYC"}, "jax_version": "0.10.2", "blas_threads": [],
            "system_check": [{"check": "cpu.load", "detail": "0.1"}], "cold_caches": [], "workers": {"start": "x"}}
    same = {**here, "system_check": [{"check": "cpu.load", "detail": "1.9"}], "workers": {"start": "y"}}
    other = {**same, "jax_version": "0.9.0"}
    a, b = dict(here), {"machine_info": dict(same)}
    comparable_machine_info(a, b, [])  # no case of this run in the saved run: nothing to refuse
    assert a == b["machine_info"]
    a, b = dict(here), {"machine_info": dict(other)}
    comparable_machine_info(a, b, [])
    assert a != b["machine_info"] and a["jax_version"] != b["machine_info"]["jax_version"]
