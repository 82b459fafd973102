"""``.ci/device-check OUT_DIR`` and its summary, ``python -m reports device-check OUT_DIR``.

The summary's tests build a small OUT_DIR from the rows of a real pytest bench JSON
(tests/fixtures/real/vm-small.json); one test runs the script's short cpu form end to end
(``ESPERF_DEVICE_CHECK_PLATFORM=cpu ESPERF_DEVICE_CHECK_SHORT=1``, about 90 s on 2 cores).
"""
import copy
import json
import re
from pathlib import Path

import pytest

from helpers import PY, ROOT, child_env, run
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


@pytest.mark.slow
def test_the_short_cpu_form_passes_every_step(tmp_path):
    """The whole script, minimal grid, on the CPU: every step passes and the summary has its figures."""
    out = tmp_path / "dc"
    env = child_env(ESPERF_DEVICE_CHECK_PLATFORM="cpu", ESPERF_DEVICE_CHECK_SHORT="1", PYTHON=PY)
    proc = run(["bash", str(SCRIPT), str(out)], 400, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = (out / "summary.md").read_text()
    assert proc.stdout.endswith(text)
    assert (out / "report" / "report.html").is_file()
    rcs = {p.name: p.read_text().split()[0] for p in (out / "logs").glob("*.rc")}
    assert len(rcs) == 13 and set(rcs.values()) == {"0"}, rcs
    steps = json.loads((out / "steps.json").read_text())
    assert [p["rc"] for p in steps["parts"]] == [0] * 13  # the 12 parts and the summary
    for n in range(1, 8):
        assert f"\n## {n}. " in text
    number = r"[0-9][0-9.]*"
    sec = rf"{number} (s|ms|µs)"  # reports.formatting.seconds picks the unit
    assert re.search(rf"\| cma_es Pendulum-v1 pop16 evals2 cpu:0 \| {number} \| {number} \| {number} \|", text)
    assert re.search(rf"\| process \| {number}, {number}, {number} \| {sec} \| {sec} \| {sec} \| "
                     rf"{number} \| (yes|no) \|", text)
    assert re.search(rf"\| none \| {number}, {number}, {number} \|", text)
    assert re.search(rf"\| openai_es \| 64 \| 2 \| {number} \| {number} [kM]? ?\| {number} \| {sec} \|", text)
    assert re.search(r"\| [0-9]+ \| [0-9]+ \| 0 \| 0 \| [0-9]+ \|", text)


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
                               energy_unavailable="no RAPL counters in /sys/class/powercap")
    write_bench(out / "json" / "large.json", rows)
    code, text, _ = summarize(out, capsys)
    assert code == 0
    f = device_check.fmt
    cells = f"| {f(0.75, 's')} | 45 | {f(1780.0, 'rate')} | 1755 | 61 | SwPowerCap | throttled | 3 |"
    (line,) = [x for x in text.splitlines() if x.startswith(f"| {rows[0]['extra_info']['strategy']} | ")
               and cells in x]
    assert "Energy not measured: no RAPL counters in /sys/class/powercap." in text
