"""``.ci/device-check OUT_DIR``, its plan (``bench.device_check``) and its summary,
``python -m reports device-check OUT_DIR``.

The summary's tests build a small OUT_DIR from the rows of a real pytest bench JSON
(tests/fixtures/real/vm-small.json); the script's tests run it with a stand-in ``python``
(tests/device_check_stand_in.py: the plan, steps.json and the summary are real, the device's
work is stood in: a part stuck at its deadline, a slow worker start) in seconds; one test runs
the script's short cpu form end to end (``ESPERF_DEVICE_CHECK_PLATFORM=cpu
ESPERF_DEVICE_CHECK_SHORT=1``, about 3 minutes on 2 busy cores).
"""
import copy
import json
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from helpers import PY, ROOT, TESTS, child_env, grid_options, run
from bench.device_check import plan as planning
from bench.plugin.results import Results
from reports import device_check

FIXTURE = ROOT / "tests" / "fixtures" / "real" / "vm-small.json"
SCRIPT = ROOT / ".ci" / "device-check"
PARTS = [(1, "doctor"), (1, "doctor-json"), (2, "fork"), (2, "interpreter"), (3, "compile-process"),
         (3, "compile-none"), (4, "large"), (5, "unroll1"), (5, "unroll4"), (5, "command-buffer"),
         (6, "tests"), (7, "report")]
JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="1"
skipped="1" tests="5"></testsuite></testsuites>"""


def fixture_rows(phase: str) -> list[dict]:
    """The fixture's benchmark rows of ``phase``."""
    rows = json.loads(FIXTURE.read_text())["benchmarks"]
    return [copy.deepcopy(r) for r in rows if r["extra_info"]["phase"] == phase]


def write_bench(path: Path, rows: list[dict], failed=()) -> None:
    """A pytest bench JSON holding ``rows`` and the failed cases ``failed``."""
    data = json.loads(FIXTURE.read_text())
    data["benchmarks"] = rows
    data["esperf"]["failed"] = list(failed)
    path.write_text(json.dumps(data))


def scaled(rows: list[dict], factor: float) -> list[dict]:
    """``rows`` with every runtime median multiplied by ``factor``."""
    for r in rows:
        r["stats"]["median"] *= factor
    return rows


def make_out(tmp_path, rc=None, platform="cpu", failed=()) -> Path:
    """An OUT_DIR as .ci/device-check leaves it: every part passed, except those in ``rc``."""
    out = tmp_path / "out"
    (out / "json").mkdir(parents=True)
    (out / "report").mkdir()
    (out / "report" / "report.html").write_text("<html></html>")
    rc = rc or {}
    parts = [{"step": n, "part": p, "rc": rc.get(p, 0), "seconds": 3, "deadline_s": 60, "log": f"logs/{n}-{p}.log"}
             for n, p in PARTS]
    (out / "steps.json").write_text(json.dumps({"platform": platform, "short": 0, "device": f"{platform}:0",
                                                "parts": parts}))
    (out / "doctor.json").write_text(json.dumps([
        {"check": "gpu driver", "status": "WARN", "detail": "no nvidia-smi", "fix": "install the driver"},
        {"check": "cores", "status": "OK", "detail": "2", "fix": ""}]))
    write_bench(out / "json" / "fork.json", fixture_rows("compile") + fixture_rows("runtime"), failed)
    write_bench(out / "json" / "interpreter.json", scaled(fixture_rows("runtime"), 2.0))
    write_bench(out / "json" / "compile-process.json", fixture_rows("compile"))
    none = fixture_rows("compile")
    for r in none:
        r["extra_info"]["isolation"] = "none"
        r["stats"]["data"] = [1.0, 2.0, 4.0]  # round 1 fastest, spread 4
    write_bench(out / "json" / "compile-none.json", none)
    for name in ("large", "unroll1", "unroll4", "command-buffer"):
        write_bench(out / "json" / f"{name}.json", fixture_rows("runtime"))
    (out / "json" / "tests.xml").write_text(JUNIT)
    return out


def summarize(out, capsys) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``python -m reports device-check OUT`` in this process."""
    code = device_check.main([str(out)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_summary_of_a_passed_run(tmp_path, capsys):
    out = make_out(tmp_path)
    code, text, _ = summarize(out, capsys)
    assert code == 0
    assert (out / "summary.md").read_text() == text
    assert text.splitlines()[2] == "PASSED: every step passed"
    for n in range(1, 8):
        assert f"\n## {n}. " in text
    # step 2: fork and interpreter medians of the fixture's runtime cases, ratio 2
    cma = fixture_rows("runtime")[0]
    assert f"| cma_es Pendulum-v1 pop16 evals2 cpu:0 | {cma['stats']['median'] * 1e3:.3g} |" in text
    assert text.count("| 2.00 |") == 2
    # step 3: the rounds, their spread, whether round 1 is the slowest, per isolation
    assert "| process | 3.64, 3.13, 3.21 | 3.13 s | 3.21 s | 3.64 s | 1.16 | yes | [1, 1, 1] |" in text
    assert "| none | 1, 2, 4 | 1 s | 2 s | 4 s | 4.00 | no |" in text
    # step 4: env steps/s, peak - baseline MiB, compile s
    x = cma["extra_info"]
    mib = (x["peak_memory_bytes"] - x["baseline_memory_bytes"]) / 2**20
    assert f"| cma_es | 16 | 2 | {cma['stats']['median'] * 1e3:.3g} | 80.1 k | {mib:.3g} | 3.54 s |" in text
    # step 5: a row per case with the three variants; on cpu the command buffer is not applicable
    assert re.search(r"\| openai_es Pendulum-v1 pop16 evals2 cpu:0 \|( [0-9.]+ \| [0-9.]+ [kM]? \|){3}$", text, re.M)
    assert "command-buffer: not applicable on cpu" in text
    # step 6 counts, the doctor's WARN only
    assert "| 5 | 3 | 1 | 0 | 1 |" in text
    assert "| gpu driver | no nvidia-smi | install the driver |" in text and "| cores |" not in text
    assert "report.html: report/report.html" in text


def test_a_failed_part_or_case_exits_1_and_says_which(tmp_path, capsys):
    code, text, _ = summarize(make_out(tmp_path, rc={"interpreter": 1, "large": 124}), capsys)
    assert code == 1
    assert "FAILED: 2 part(s) failed (2-interpreter, 4-large), 0 bench case(s) failed" in text
    assert "| 4 | large | over its 60 s deadline | 124 |" in text
    failed = [{"name": "test_generation[runtime-cma_es]", "error": "WorkerFailed: worker died"}]
    code, text, _ = summarize(make_out(tmp_path / "b", failed=failed), capsys)
    assert code == 1
    assert "- FAILED (fork) test_generation[runtime-cma_es]: WorkerFailed: worker died" in text


def test_the_command_buffer_flag_failing_on_cpu_is_not_applicable_but_fails_on_gpu(tmp_path, capsys):
    code, text, _ = summarize(make_out(tmp_path, rc={"command-buffer": 134}), capsys)
    assert code == 0 and "not applicable on cpu (rc 134)" in text
    code, text, _ = summarize(make_out(tmp_path / "gpu", rc={"command-buffer": 134}, platform="gpu"), capsys)
    assert code == 1 and "| command-buffer | failed (rc 134) |" in text


def test_missing_files_are_shown_as_missing(tmp_path, capsys):
    out = make_out(tmp_path)
    for name in ("doctor.json", "json/large.json", "json/tests.xml", "report/report.html"):
        (out / name).unlink()
    code, text, _ = summarize(out, capsys)
    assert code == 0
    assert "No doctor.json" in text and "No json/tests.xml" in text and "report.html: missing" in text
    assert "(no rows: the step wrote no results; see its log)" in text


@pytest.mark.parametrize("what", ["missing", "file", "no-steps", "bad-json"])
def test_bad_out_is_a_one_line_usage_error(tmp_path, capsys, what):
    out = tmp_path / "out"
    if what == "file":
        out.write_text("x")
    elif what != "missing":
        out.mkdir()
        if what == "bad-json":
            (out / "steps.json").write_text("{")
    code, text, err = summarize(out, capsys)
    assert code == 2 and text == ""
    assert len(err.strip().splitlines()) == 1 and str(out) in err


def test_python_m_reports_device_check(tmp_path):
    """The subcommand through ``python -m reports``; a missing OUT_DIR argument is a usage error."""
    out = make_out(tmp_path)
    proc = run([PY, "-m", "reports", "device-check", str(out)], 120, cwd=ROOT, env=child_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (out / "summary.md").read_text()
    proc = run([PY, "-m", "reports", "device-check"], 120, cwd=ROOT, env=child_env())
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [[], ["a", "b"], ["FILE"]])
def test_the_script_without_a_usable_out_exits_2_with_one_line(tmp_path, args):
    args = [str(tmp_path / "file") if a == "FILE" else a for a in args]
    (tmp_path / "file").write_text("x")
    proc = run(["bash", str(SCRIPT), *args], 30, cwd=tmp_path, env=child_env())
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "usage: .ci/device-check OUT_DIR" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.integration
@pytest.mark.slow
def test_the_short_cpu_form_passes_every_step(tmp_path):
    """The whole script, minimal grid, on the CPU: every step passes, the summary has its figures,
    and OUT_DIR's top holds summary.md, steps.json and the archive of the rest."""
    out = tmp_path / "dc"
    # a budget this busy 2-core machine cannot miss: the test checks every part, not the sizing
    env = child_env(ESPERF_DEVICE_CHECK_PLATFORM="cpu", ESPERF_DEVICE_CHECK_SHORT="1", PYTHON=PY,
                    ESPERF_DEVICE_CHECK_BUDGET_S="1200")
    proc = run(["bash", str(SCRIPT), str(out)], 600, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = (out / "summary.md").read_text()
    assert proc.stdout.endswith(text)
    assert sorted(p.name for p in out.iterdir()) == ["device-check.tar.gz", "steps.json", "summary.md"]
    with tarfile.open(out / "device-check.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"report/report.html", "probe.json", "doctor.json", "json/fork.json", "json/tests.xml",
            "logs/2-fork.log", "summary.md", "steps.json"} <= names
    steps = json.loads((out / "steps.json").read_text())
    parts = [p["part"] for p in steps["parts"]]
    assert parts == ["probe", *planning.ORDER, "summary"]
    assert [p["rc"] for p in steps["parts"]] == [0] * len(parts), steps["parts"]
    for n in range(0, 8):
        assert f"\n## {n}. " in text
    number = r"[0-9][0-9.]*"
    sec = rf"{number} (s|ms|µs)"  # reports.formatting.seconds picks the unit
    assert re.search(rf"\| cma_es Pendulum-v1 pop16 evals2 cpu:0 \| {number} \| {number} \| {number} \|", text)
    assert re.search(rf"\| process \| {number}, {number}, {number} \| {sec} \| {sec} \| {sec} \| "
                     rf"{number} \| (yes|no) \|", text)
    assert re.search(rf"\| none \| {number}, {number}, {number} \|", text)
    assert re.search(rf"\| openai_es \| 64 \| 2 \| {number} \| {number} [kM]? ?\| {number} \| {sec} \|", text)
    assert re.search(r"\| [0-9]+ \| [0-9]+ \| 0 \| 0 \| [0-9]+ \|", text)
    # the probe's figures, each part's workers, the worker's own platform choice with JAX_PLATFORMS unset
    assert re.search(rf"\| runtime-cma_es-Pendulum-v1-pop16-evals2-cpu:0 \| fork server \| {sec} \|", text)
    assert "| 2 | fork | passed | 0 |" in text and "| 1 of 1 cases | fork server |" in text
    assert "| interpreter (ESPERF_WORKER_START=interpreter) |" in text
    assert re.search(rf"\| cma_es Pendulum-v1 pop16 evals2 cpu:0 \| {number} \| {number} [kM]? ?\| cpu \|", text)


def test_large_populations_show_energy_clocks_and_flags_of_each_case(tmp_path, capsys):
    out = make_out(tmp_path)
    rows = fixture_rows("runtime")
    state = {"before": [{"sm_clock_mhz": 1980, "temperature_c": 40, "throttle_reasons": []}],
             "after": [{"sm_clock_mhz": 1755, "temperature_c": 61, "throttle_reasons": ["SwPowerCap"]}]}
    rows[0]["extra_info"].update(energy_j=45.0, env_steps_per_joule=1780.0, energy_source="nvml",
                                 device_state=[state, state], throttle_reasons=["SwPowerCap"],
                                 unstable=["throttled"], first_run_s=[0.5, 0.75], generation_memory_bytes=3 * 2**20)
    for r in rows[1:]:
        r["extra_info"].update(energy_j=None, energy_source=None,
                               energy_unavailable="no RAPL counters in /sys/class/powercap",
                               generation_memory_bytes=None,
                               generation_memory_worker_error="the memory worker failed: killed by SIGKILL")
    write_bench(out / "json" / "large.json", rows)
    code, text, _ = summarize(out, capsys)
    assert code == 0
    f = device_check.fmt
    cells = f"| {f(0.75, 's')} | 45 | {f(1780.0, 'rate')} | 1755 | 61 | SwPowerCap | throttled | 3 |"
    (line,) = [x for x in text.splitlines() if x.startswith(f"| {rows[0]['extra_info']['strategy']} | ")
               and cells in x]
    assert "Energy not measured: no RAPL counters in /sys/class/powercap." in text
    # a blank memory cell is never silent: the row's reason is said under the table
    assert "Generation memory not measured: the memory worker failed: killed by SIGKILL." in text


# -- the plan: grids and deadlines from the probe, within the budget ----------------------------

FAST_PROBE = {"server_start_s": 1.0, "worker_start_s": 0.5, "backend_init_s": 0.2, "compile_s": 1.0,
              "first_run_s": 0.01, "generation_s": 0.001, "probe_work": 16 * 2 * 20 * 48,
              "workers": {"start": "fork server"}, "case": "runtime-cma_es-Pendulum-v1-pop16-evals2-cpu:0",
              "wall_s": 2.7}
DEVICES = {"cpu:0": {"id": "cpu:0", "process_index": 0}, "gpu:0": {"id": "gpu:0", "process_index": 0}}


def options_of(args: list[str]) -> dict:
    """``--es-x VALUE`` pairs as grid_options keywords (es_x=VALUE)."""
    return {args[i].lstrip("-").replace("-", "_"): args[i + 1] for i in range(0, len(args), 2)}


@pytest.mark.parametrize("form", ["short", "cpu", "gpu"])
def test_the_plans_case_counts_are_what_pytest_bench_collects(form):
    """n of "timed out after k of n cases" is the plan's count: it must be pytest bench's."""
    from bench.plugin.grid import build_cases

    device = "gpu:0" if form == "gpu" else "cpu:0"
    seen = 0
    for part in planning.parts(form).values():
        for grid in part.grids:
            cases = build_cases(grid_options(**options_of(grid.args()), es_devices=device), DEVICES)
            assert len(cases) == grid.cases(), (part.name, grid)
            seen += 1
    assert seen >= 9


def test_bigger_grids_and_slower_starts_cost_more():
    costs = planning.Costs.of(FAST_PROBE, "cpu")
    slow = planning.Costs.of({**FAST_PROBE, "worker_start_s": 30.0}, "cpu")
    for form in ("cpu", "gpu"):
        for part in planning.parts(form).values():
            estimates = [planning.estimate_s(part, g, costs, form) for g in part.grids]
            assert estimates == sorted(estimates, reverse=True), part.name  # largest first
            if part.grids and part.start != "none":
                assert planning.estimate_s(part, part.grids[-1], slow, form) > estimates[-1] + 30
    # on a GPU a runtime case is 3 workers and the memory worker; a generation is the probe's (launch-bound)
    fork = planning.parts("gpu")["fork"]
    gpu = planning.Costs.of(FAST_PROBE, "gpu")
    grid = fork.grids[-1]  # cma_es pop 1000 runtime, 20 rounds: 1 + 7 generations per worker
    assert (grid.pops, grid.phases, grid.runtime_rounds, grid.workers) == ((1000,), ("runtime",), 20, None)
    pytest_start = 2 * 1.0 + 0.7
    worker = 0.7 + 1.0 + 0.01 + 8 * 0.001
    assert planning.estimate_s(fork, grid, gpu, "gpu") == pytest.approx(pytest_start + 3 * worker + 0.7 + 4 * 0.001)
    # on a CPU one worker, and a generation grows with pop x evals x steps x hidden
    gen = 0.001 * 1000 * 50 * 200 * 48 / FAST_PROBE["probe_work"]
    assert planning.estimate_s(fork, grid, costs, "gpu") == pytest.approx(pytest_start + 0.7 + 1.0 + 0.01 + 21 * gen)


def test_a_slow_worker_start_skips_the_parts_that_cannot_fit_with_a_line():
    fast = planning.allocate(list(planning.ORDER), "gpu", planning.Costs.of(FAST_PROBE, "gpu"), 420, {})
    assert all(d.run for d in fast)
    assert fast[2].part.name == "fork" and fast[2].grid_index == 0  # room for the largest grid
    # what the budget leaves over widens the deadlines: they add up to it
    assert sum(d.deadline for d in fast) + planning.SUMMARY_DEADLINE_S + planning.KILL_GRACE_S in range(405, 421)
    slow_probe = {**FAST_PROBE, "worker_start_s": 25.0}
    slow = planning.allocate(list(planning.ORDER), "gpu", planning.Costs.of(slow_probe, "gpu"), 420, {})
    by = {d.part.name: d for d in slow}
    skipped = [d.part.name for d in slow if not d.run]
    assert skipped and by["report"].run and by["doctor"].run and by["fork"].run
    # what runs fits the budget: every deadline, the report's, the summary's and a kill grace
    total = sum(d.deadline for d in slow if d.run)
    assert total + planning.SUMMARY_DEADLINE_S + planning.KILL_GRACE_S <= 420
    # the parts that matter most are kept before the comparisons
    kept = [d.part.name for d in slow if d.run and d.part.name != "report"]
    assert [n for n in planning.ORDER if n in kept] == kept
    assert planning.ORDER.index(skipped[0]) > planning.ORDER.index("fork")
    for name in skipped:
        assert re.fullmatch(r"skipped: needs \d+ s at its smallest grid, \d+ s of the budget left after the parts "
                            r"before it and the report", by[name].why), by[name].why
        need = int(by[name].why.split()[2])
        assert need == planning.deadline_for(planning.estimate_s(by[name].part, by[name].part.grids[-1] if
                                                                 by[name].part.grids else None,
                                                                 planning.Costs.of(slow_probe, "gpu"), "gpu"))


def test_an_overridden_deadline_is_taken_as_given_with_the_largest_grid():
    costs = planning.Costs.of(FAST_PROBE, "gpu")
    (fork, *_) = planning.allocate(planning.remaining("fork"), "gpu", costs, 420,
                                   {"ESPERF_DEVICE_CHECK_TIMEOUT_FORK": "25"})
    assert fork.run and fork.deadline == 25 and fork.grid_index == 0 and fork.cases == 8
    assert "ESPERF_DEVICE_CHECK_TIMEOUT_FORK" in fork.why
    (fork, *_) = planning.allocate(planning.remaining("fork"), "gpu", costs, 60,
                                   {"ESPERF_DEVICE_CHECK_TIMEOUT_FORK": "500"})
    assert not fork.run and "needs its 500 s (ESPERF_DEVICE_CHECK_TIMEOUT_FORK)" in fork.why
    for bad in ("0", "2.5", "x"):
        with pytest.raises(ValueError, match=f"ESPERF_DEVICE_CHECK_TIMEOUT_FORK={re.escape(bad)} is not allowed"):
            planning.allocate(["fork"], "gpu", costs, 420, {"ESPERF_DEVICE_CHECK_TIMEOUT_FORK": bad})


def test_the_platforms_unset_part_runs_without_jax_platforms():
    d = planning.allocate(["platforms-unset"], "gpu", planning.Costs.of(FAST_PROBE, "gpu"), 420, {})[0]
    argv = planning.command(d, "python3", "gpu:0", "/out", {"XLA_FLAGS": "--a"})
    assert argv[:2] == ["env", "-uJAX_PLATFORMS"] and "--es-devices=gpu:0" in argv
    d = planning.allocate(["command-buffer"], "gpu", planning.Costs.of(FAST_PROBE, "gpu"), 420, {})[0]
    argv = planning.command(d, "python3", "gpu:0", "/out", {"XLA_FLAGS": "--a"})
    assert argv[:2] == ["env", "XLA_FLAGS=--a --xla_gpu_enable_command_buffer=+WHILE"]


# -- the summary of a part cut at its deadline, and of the workers' start ------------------------

@pytest.mark.parametrize("rc, mark", [(124, {}), (137, {"timed_out": True})])  # SIGINT, or SIGKILL 15 s later
def test_a_part_cut_at_its_deadline_shows_its_finished_rows(tmp_path, capsys, rc, mark):
    """The plugin's own writer leaves json/fork.json.partial (a torn last line from the kill too):
    the summary shows its finished rows and "timed out after k of n cases"."""
    out = make_out(tmp_path, rc={"fork": rc})
    steps = json.loads((out / "steps.json").read_text())
    for p in steps["parts"]:
        if p["part"] == "fork":
            p.update(cases=8, start="fork server", **mark)
    (out / "steps.json").write_text(json.dumps(steps))
    (out / "json" / "fork.json").unlink()
    results = Results(out / "json" / "fork.json")
    results.start([])
    rows = fixture_rows("runtime")[:1] + fixture_rows("compile")[:1]
    for r in rows:
        results.append({"name": r["name"], "status": "passed", "benchmark": r})
    failed = {"name": "test_generation[runtime-x]", "error": "WorkerFailed: injected"}
    results.append({"name": failed["name"], "status": "failed", "failed": failed})
    with open(results.partial, "a") as fh:
        fh.write('{"name": "torn')
    code, text, _ = summarize(out, capsys)
    assert code == 1
    assert f"| 2 | fork | timed out after 3 of 8 cases | {rc} |" in text
    assert "- fork: timed out after 3 of 8 cases; the rows above are its finished cases (from json/fork.json.partial)" in text
    assert "- FAILED (fork) test_generation[runtime-x]: WorkerFailed: injected" in text
    cma = rows[0]
    assert f"| cma_es Pendulum-v1 pop16 evals2 cpu:0 | {cma['stats']['median'] * 1e3:.3g} |" in text
    assert "Compile cases of the quick grid (fork server): 1;" in text
    assert "| fork server (planned; no final JSON) |" in text


def test_a_fork_server_that_fell_back_is_named_per_step(tmp_path, capsys):
    out = make_out(tmp_path)
    steps = json.loads((out / "steps.json").read_text())
    for p in steps["parts"]:
        p["start"] = {"interpreter": "interpreter", "compile-none": "none"}.get(p["part"], "fork server")
    (out / "steps.json").write_text(json.dumps(steps))
    why = "the fork server had 3 threads after its imports"
    for name, workers in (("fork", {"start": "interpreter", "why": why}),
                          ("interpreter", {"start": "interpreter", "why": "ESPERF_WORKER_START=interpreter"}),
                          ("large", {"start": "fork server"})):
        data = json.loads((out / "json" / f"{name}.json").read_text())
        data["machine_info"]["workers"] = workers
        (out / "json" / f"{name}.json").write_text(json.dumps(data))
    code, text, _ = summarize(out, capsys)
    assert code == 0
    assert f"| 2 | fork | passed | 0 | 3 | 60 | - | FELL BACK to interpreter: {why} |" in text
    assert "| 2 | interpreter | passed | 0 | 3 | 60 | - | interpreter (ESPERF_WORKER_START=interpreter) |" in text
    assert "| 4 | large | passed | 0 | 3 | 60 | - | fork server |" in text
    assert "| 3 | compile-none | passed | 0 | 3 | 60 | - | in the pytest process (--es-isolate none) |" in text
    assert f"WARNING: the fork part's workers started as fresh interpreters ({why}): this step compares " \
           "interpreter with interpreter." in text


def test_the_summary_reads_the_archive_once_the_script_packed_the_files(tmp_path, capsys):
    out = make_out(tmp_path, rc={"large": 124})
    _, before, _ = summarize(out, capsys)
    with tarfile.open(out / "device-check.tar.gz", "w:gz") as tar:
        for name in ("json", "report", "doctor.json", "steps.json"):
            tar.add(out / name, arcname=name)
    for name in ("json", "report"):
        for f in (out / name).iterdir():
            f.unlink()
        (out / name).rmdir()
    (out / "doctor.json").unlink()
    code, after, _ = summarize(out, capsys)
    assert code == 1 and after == before


# -- the script, with a stand-in python ------------------------------------------------------------

def stand_in(tmp_path) -> str:
    """A ``python`` for the script: tests/device_check_stand_in.py under the real interpreter."""
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{PY}" "{TESTS / "device_check_stand_in.py"}" "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def run_script(tmp_path, probe: dict, **env) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "dc"
    proc = run(["bash", str(SCRIPT), str(out)], 240, cwd=ROOT,
               env=child_env(ESPERF_DEVICE_CHECK_PLATFORM="cpu", PYTHON=stand_in(tmp_path),
                             DC_PROBE=json.dumps(probe), **env))
    return proc, out


@pytest.mark.integration
def test_a_part_killed_at_its_deadline_keeps_its_finished_rows_and_everything_is_archived(tmp_path, capsys):
    """``ESPERF_DEVICE_CHECK_TIMEOUT_FORK=3`` and a fork part stuck after 2 of its 8 cases: exit 1,
    the 2 rows in step 2, "timed out after 2 of 8 cases"; the later parts run; OUT_DIR's top holds
    summary.md, steps.json and the archive, which holds the partial."""
    proc, out = run_script(tmp_path, FAST_PROBE, ESPERF_DEVICE_CHECK_TIMEOUT_FORK="3", DC_HANG="fork", DC_FINISH="2")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["device-check.tar.gz", "steps.json", "summary.md"]
    text = (out / "summary.md").read_text()
    assert proc.stdout.endswith(text)
    assert "FAILED: 1 part(s) failed (2-fork), 0 bench case(s) failed" in text
    assert "| 2 | fork | timed out after 2 of 8 cases | 124 |" in text
    assert "- fork: timed out after 2 of 8 cases; the rows above are its finished cases (from json/fork.json.partial)" in text
    median = fixture_rows("runtime")[-1]["stats"]["median"] * 1e3  # the stand-in's runtime row
    assert f"| cma_es Pendulum-v1 pop100 evals10 cpu:0 | {median:.3g} | {median:.3g} | 1.00 |" in text
    # a case the fork part never reached: only the interpreter's figure
    assert f"| openai_es Pendulum-v1 pop100 evals10 cpu:0 | - | {median:.3g} | - |" in text
    assert "Compile cases of the quick grid (fork server): 0;" in text  # runtime cases run first
    steps = json.loads((out / "steps.json").read_text())
    by = {p["part"]: p for p in steps["parts"]}
    assert by["fork"]["rc"] == 124 and by["fork"]["deadline_s"] == 3 and by["fork"]["cases"] == 8
    assert all(by[n]["rc"] == 0 for n in planning.ORDER if n != "fork"), steps["parts"]
    with tarfile.open(out / "device-check.tar.gz") as tar:
        names = set(tar.getnames())
        partial = tar.extractfile("json/fork.json.partial").read().decode().splitlines()
    assert {"logs/2-fork.log", "json/large.json", "probe.json", "doctor.json", "report/report.html",
            "json/tests.xml", "summary.md", "steps.json"} <= names
    assert len(partial) == 2
    # the summary again, from the archive: the same verdict and rows
    code, again, _ = summarize(out, capsys)
    assert code == 1 and "| 2 | fork | timed out after 2 of 8 cases | 124 |" in again


@pytest.mark.integration
def test_a_slow_worker_start_skips_parts_with_a_line_and_a_rerun_leaves_three_files(tmp_path):
    slow = {**FAST_PROBE, "worker_start_s": 60.0}
    proc, out = run_script(tmp_path, slow)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [x for x in proc.stdout.splitlines() if re.match(r"device-check: step \d \S+: skipped: needs \d+ s", x)]
    steps = json.loads((out / "steps.json").read_text())
    skipped = [p for p in steps["parts"] if p["rc"] is None]
    assert len(lines) == len(skipped) >= 3
    assert {p["part"] for p in skipped} >= {"fork", "compile-process"}
    ran = [p["part"] for p in steps["parts"] if p["rc"] is not None]
    assert ran[0] == "probe" and "report" in ran and ran[-1] == "summary"
    text = (out / "summary.md").read_text()
    assert f"PASSED: every part that ran passed; {len(skipped)} part(s) skipped for the budget (" in text
    assert re.search(r"\| 2 \| fork \| skipped: needs \d+ s at its smallest grid, \d+ s of the budget left", text)
    # a second run into the same OUT_DIR: still three files, the archive of this run only
    (out / "stray.log").write_text("the user's own file")
    proc, out = run_script(tmp_path, FAST_PROBE)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["device-check.tar.gz", "steps.json", "stray.log", "summary.md"]
    assert not [p for p in json.loads((out / "steps.json").read_text())["parts"] if p["rc"] is None]


@pytest.mark.parametrize("knob", ["ESPERF_DEVICE_CHECK_BUDGET_S=0", "ESPERF_DEVICE_CHECK_TIMEOUT_FORK=-1",
                                  "ESPERF_DEVICE_CHECK_TIMEOUT_PROBE=x"])
def test_a_bad_knob_is_one_line_and_exit_2(tmp_path, knob):
    name, value = knob.split("=")
    proc = run(["bash", str(SCRIPT), str(tmp_path / "dc")], 60, cwd=ROOT, env=child_env(**{name: value}))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"python -m bench.device_check: error: {knob} is not allowed; give whole seconds > 0"
    assert not (tmp_path / "dc").exists()


@pytest.mark.integration
def test_the_probe_times_a_slow_worker_start_and_the_plan_reads_its_figures(tmp_path):
    """The real probe, its worker slowed by 3 s before it starts (tests/esperf_faults.py): the
    start is in ``worker_start_s``, the JSON has every figure the plan needs, and the plan
    sizes the parts from it."""
    import esperf_faults

    path = tmp_path / "probe.json"
    env = child_env(tests=True, JAX_PLATFORMS="cpu", ESPERF_WORKER_HOOK="esperf_faults", ESPERF_FAULT="slow-start")
    proc = run([PY, "-m", "bench.device_check", "probe", "--device", "cpu:0", "--json", str(path), "--timeout", "120"],
               180, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    probe = json.loads(path.read_text())
    assert probe["worker_start_s"] >= esperf_faults.SLOW_START_S
    assert probe["workers"] == {"start": "fork server"} and probe["jax_platforms"] == "cpu"
    assert probe["wall_s"] >= probe["worker_start_s"] + probe["compile_s"] + probe["backend_init_s"]
    costs = planning.Costs.of(probe, "cpu")
    assert costs.source == "probe" and costs.worker_s >= esperf_faults.SLOW_START_S
    assert proc.stdout.startswith("probe on cpu:0 (fork server): server start ")
    # a probe that fails is one line and exit 1; the plan then uses the fallback figures and says so
    proc = run([PY, "-m", "bench.device_check", "probe", "--device", "cpu:0", "--json", str(tmp_path / "x.json"),
                "--timeout", "60"], 120, cwd=ROOT, env=child_env(tests=True, JAX_PLATFORMS="cpu",
                                                                  ESPERF_WORKER_HOOK="esperf_faults",
                                                                  ESPERF_FAULT="sigkill-pop16"))
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "the probe's worker failed on cpu:0: worker (pid" in proc.stderr and not (tmp_path / "x.json").exists()
    proc = run([PY, "-m", "bench.device_check", "plan", "--part", "fork", "--form", "gpu", "--left", "400",
                "--probe", str(tmp_path / "x.json"), "--device", "gpu:0", "--out", str(tmp_path)], 60, cwd=ROOT,
               env=child_env())
    assert proc.returncode == 0
    assert "sized by the fallback (no x.json: the probe failed) figures" in proc.stdout


@pytest.mark.parametrize("budget, probe", [("", 120), ("150", 50), ("60", 30)])
def test_check_env_gives_the_budget_and_a_probe_deadline_within_it(budget, probe):
    env = child_env(ESPERF_DEVICE_CHECK_BUDGET_S=budget)
    proc = run([PY, "-m", "bench.device_check", "check-env"], 60, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"budget={budget or 420}", f"probe_deadline={probe}", "summary_deadline=30",
                                        "kill_grace=15"]
