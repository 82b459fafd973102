"""``python -m reports compare BASE NEW``: quiet on noise, loud on real slowdowns, strict on bad input.

Synthetic results: every case's rounds are lognormal around a case median (3% noise),
25 runtime rounds per file, 3 compile rounds per file (the compile side is pooled from
three files, as CI's interleaved pairs would give).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reports import compare

ROOT = Path(__file__).resolve().parents[1]
CASES = [
    (phase, strategy, pop, evals)
    for phase in ("runtime", "compile")
    for strategy in ("cma_es", "openai_es")
    for pop in (100, 1000, 10000)
    for evals in (10, 50)
]
SLOW_ONE = ("runtime", "openai_es", 1000, 50)


def _median(case) -> float:
    phase, strategy, pop, evals = case
    if phase == "compile":
        return 1.5 + 0.1 * np.log10(pop)
    return 1e-3 + 2e-8 * pop * evals * 200 * (1.0 if strategy == "cma_es" else 0.8)


def _benchmark(case, samples, device="cpu:0", kind="cpu"):
    phase, strategy, pop, evals = case
    return {
        "name": f"test_generation[{phase}-{strategy}-Pendulum-v1-pop{pop}-evals{evals}-{device}]",
        "extra_info": {"impl": "esperf", "part": "generation", "phase": phase, "strategy": strategy,
                       "env": "Pendulum-v1", "popsize": pop, "num_evals": evals, "hidden": 48,
                       "episode_length": 200, "device": device, "device_kind": kind, "platform": "cpu"},
        "stats": {"median": float(np.median(samples)), "rounds": len(samples), "data": [float(x) for x in samples]},
    }


def write_side(folder: Path, seed: int, factor=None, files=3, noise=0.03, cases=CASES, devices=(("cpu:0", "cpu"),),
               runtime_rounds=25, compile_rounds=3):
    """``files`` JSON files in ``folder``; ``factor(case, device)`` scales a case's true median."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(files):
        benchmarks = []
        for device, kind in devices:
            for case in cases:
                n = runtime_rounds if case[0] == "runtime" else compile_rounds
                if case[0] == "runtime" and i > 0:
                    continue  # runtime cases in the first file only; compile ones pooled over all files
                f = factor(case, device) if factor else 1.0
                samples = _median(case) * f * np.exp(rng.normal(0.0, noise, n))
                benchmarks.append(_benchmark(case, samples, device, kind))
        data = {"machine_info": {"esperf_schema_version": 1, "hostname": "ci-runner"}, "benchmarks": benchmarks,
                "esperf": {"schema_version": 1, "failed": []}}
        (folder / f"run{i}.json").write_text(json.dumps(data))
    return folder


def run(capsys, *argv):
    code = compare.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def verdicts(out: str) -> dict[str, str]:
    """case label -> verdict, parsed from the printed table."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("----"))
    result = {}
    for line in lines[start + 1:]:
        if not line.strip() or line[0].isdigit() or line.startswith("note"):
            break
        for v in ("only in base", "only in new", "unchanged (too few samples)", "unchanged", "slower", "faster"):
            if line.rstrip().endswith(v):
                result[line.split("  ")[0].strip()] = v
                break
    return result


def label(case, device_kind="cpu"):
    phase, strategy, pop, evals = case
    return f"{phase} {strategy} Pendulum-v1 pop{pop} evals{evals} h48 {device_kind}"


@pytest.mark.parametrize("seed", range(8))
def test_same_distribution_is_quiet(tmp_path, capsys, seed):
    base = write_side(tmp_path / "base", seed=2 * seed)
    new = write_side(tmp_path / "new", seed=2 * seed + 1)
    code, out, _ = run(capsys, base, new)
    v = verdicts(out)
    assert code == 0, out
    assert len(v) == len(CASES)
    assert set(v.values()) == {"unchanged"}, out
    assert f"0 slower, 0 faster, {len(CASES)} unchanged" in out


def test_uniform_20_percent_slowdown_flags_every_case(tmp_path, capsys):
    base = write_side(tmp_path / "base", seed=1)
    new = write_side(tmp_path / "new", seed=2, factor=lambda c, d: 1.2)
    code, out, _ = run(capsys, base, new)
    assert code == 1
    v = verdicts(out)
    assert len(v) == len(CASES) and set(v.values()) == {"slower"}, out


def test_slowdown_of_one_case_flags_that_case_only(tmp_path, capsys):
    base = write_side(tmp_path / "base", seed=3)
    new = write_side(tmp_path / "new", seed=4, factor=lambda c, d: 1.2 if c == SLOW_ONE else 1.0)
    code, out, _ = run(capsys, base, new)
    assert code == 1
    v = verdicts(out)
    assert v.pop(label(SLOW_ONE)) == "slower"
    assert set(v.values()) == {"unchanged"}
    # the slower case is listed first (nothing is faster)
    first = out.splitlines()[3]
    assert first.startswith(label(SLOW_ONE)), out


def test_speedup_is_reported_and_passes(tmp_path, capsys):
    base = write_side(tmp_path / "base", seed=5)
    new = write_side(tmp_path / "new", seed=6, factor=lambda c, d: 1 / 1.2 if c == SLOW_ONE else 1.0)
    code, out, _ = run(capsys, base, new)
    assert code == 0
    assert verdicts(out)[label(SLOW_ONE)] == "faster"


def test_both_conditions_are_needed():
    rng = np.random.default_rng(0)
    base = np.exp(rng.normal(0, 0.005, 30))
    # 5% slower with tiny noise: significant, but within the 10% threshold
    r = compare.compare_samples(base, 1.05 * np.exp(rng.normal(0, 0.005, 30)), threshold=0.10, alpha=0.01)
    assert r["p"] < 1e-6 and r["ratio"] > 1.04 and r["verdict"] == "unchanged"
    # 25% slower but three wildly noisy rounds a side: beyond the threshold, not significant
    noisy = np.array([1.0, 0.6, 1.5])
    r = compare.compare_samples(noisy, 1.25 * noisy[::-1] * np.array([1.1, 0.9, 1.0]), threshold=0.10, alpha=0.01)
    assert r["ratio"] > 1.1 and r["p"] >= 0.01 and r["verdict"] == "unchanged"
    # both: slower
    r = compare.compare_samples(base, 1.2 * np.exp(rng.normal(0, 0.005, 30)), threshold=0.10, alpha=0.01)
    assert r["verdict"] == "slower"


def test_ratio_and_confidence_interval():
    rng = np.random.default_rng(11)
    base = 0.02 * np.exp(rng.normal(0, 0.03, 40))
    new = 1.2 * 0.02 * np.exp(rng.normal(0, 0.03, 40))
    r = compare.compare_samples(base, new, threshold=0.1, alpha=0.01)
    assert r["ratio"] == pytest.approx(np.median(new) / np.median(base))
    assert r["ci_low"] < 1.2 < r["ci_high"]
    assert r["ci_high"] - r["ci_low"] < 0.06
    assert r["ci_low"] < r["ratio"] < r["ci_high"]


def test_samples_across_files_are_pooled(tmp_path):
    base = compare.load_side([str(write_side(tmp_path / "base", seed=7, files=3))], "BASE")
    new = compare.load_side([str(write_side(tmp_path / "new", seed=8, files=2))], "NEW")
    df = compare.compare(base, new)
    compile_rows = df[df["phase"] == "compile"]
    runtime_rows = df[df["phase"] == "runtime"]
    assert (compile_rows["n_base"] == 9).all() and (compile_rows["n_new"] == 6).all()
    assert (runtime_rows["n_base"] == 25).all() and (runtime_rows["n_new"] == 25).all()


def test_table_order_faster_slower_unchanged_only(tmp_path, capsys):
    cases = [c for c in CASES if c[0] == "runtime"]
    slower, faster = cases[1], cases[2]
    # cases[0] only in base, cases[-1] only in new
    base = write_side(tmp_path / "base", seed=9, cases=cases[:-1], files=1)
    new = write_side(tmp_path / "new", seed=10, cases=cases[1:], files=1,
                     factor=lambda c, d: {faster: 0.7, slower: 1.3}.get(c, 1.0))
    code, out, _ = run(capsys, base, new)
    assert code == 1
    order = list(verdicts(out).items())
    assert order[0] == (label(faster), "faster")
    assert order[1] == (label(slower), "slower")
    kinds = [v for _, v in order]
    assert kinds[2:-2] == ["unchanged"] * (len(cases) - 4)
    assert sorted(kinds[-2:]) == ["only in base", "only in new"]
    assert dict(order)[label(cases[0])] == "only in base" and dict(order)[label(cases[-1])] == "only in new"
    assert "1 slower, 1 faster" in out and "2 only in one side" in out


def test_threshold_option(tmp_path, capsys):
    base = write_side(tmp_path / "base", seed=12)
    new = write_side(tmp_path / "new", seed=13, factor=lambda c, d: 1.2)
    assert run(capsys, base, new, "--threshold", "0.3")[0] == 0
    assert run(capsys, base, new, "--threshold", "0.1")[0] == 1
    assert run(capsys, base, new, "--alpha", "1e-30")[0] == 0  # nothing can be that significant


def test_several_devices_of_one_kind_are_kept_apart(tmp_path, capsys):
    devices = (("cpu:0", "cpu"), ("cpu:1", "cpu"))
    cases = [c for c in CASES if c[0] == "runtime"]
    base = write_side(tmp_path / "base", seed=14, cases=cases, devices=devices, files=1)
    new = write_side(tmp_path / "new", seed=15, cases=cases, devices=devices, files=1,
                     factor=lambda c, d: 1.25 if d == "cpu:1" else 1.0)
    code, out, _ = run(capsys, base, new)
    assert code == 1
    v = verdicts(out)
    assert len(v) == 2 * len(cases)
    assert {k for k, x in v.items() if x == "slower"} == {f"{label(c)} cpu:1" for c in cases}


def test_command_line_exit_code(tmp_path):
    base = write_side(tmp_path / "base", seed=16, files=1)
    new = write_side(tmp_path / "new", seed=17, files=1, factor=lambda c, d: 1.2 if c == SLOW_ONE else 1.0)
    proc = subprocess.run([sys.executable, "-m", "reports", "compare", str(base), str(new)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "1 slower, 0 faster" in proc.stdout
    head = proc.stdout.splitlines()[1].split()
    assert head[:3] == ["case", "base", "median"] and "ratio" in head and "p" in head and "verdict" in head


# --- bad input ---------------------------------------------------------------------------------


def _one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_bad_file_exits_2_with_one_line(tmp_path, capsys):
    base = write_side(tmp_path / "base", seed=1, files=1)
    bad = tmp_path / "new.json"
    bad.write_text((base / "run0.json").read_text()[:500])
    code, out, err = run(capsys, base, bad)
    assert code == 2 and out == ""
    assert _one_line(err).startswith(f"reports: {bad}: not valid JSON (truncated?")


def test_no_matching_cases_exits_2(tmp_path, capsys):
    runtime = [c for c in CASES if c[0] == "runtime"]
    base = write_side(tmp_path / "base", seed=1, files=1, cases=[c for c in runtime if c[1] == "cma_es"])
    new = write_side(tmp_path / "new", seed=2, files=1, cases=[c for c in runtime if c[1] == "openai_es"])
    code, out, err = run(capsys, base, new)
    assert code == 2 and out == ""
    assert "no case of BASE matches a case of NEW" in _one_line(err)


def test_missing_raw_samples_exit_2(tmp_path, capsys):
    base = write_side(tmp_path / "base", seed=1, files=1)
    data = json.loads((base / "run0.json").read_text())
    del data["benchmarks"][0]["stats"]["data"]
    nodata = tmp_path / "nodata.json"
    nodata.write_text(json.dumps(data))
    code, _, err = run(capsys, nodata, base)
    assert code == 2
    line = _one_line(err)
    assert line.startswith(f"reports: {nodata}: benchmark #0") and "no stats.data" in line


def test_other_schema_version_exit_2(tmp_path, capsys):
    base = write_side(tmp_path / "base", seed=1, files=1)
    data = json.loads((base / "run0.json").read_text())
    data["machine_info"]["esperf_schema_version"] = 3
    other = tmp_path / "v3.json"
    other.write_text(json.dumps(data))
    code, _, err = run(capsys, base, other)
    assert code == 2 and "esperf_schema_version 3 is not supported" in _one_line(err)


def test_bad_options_are_usage_errors(tmp_path):
    for argv in (["only-one"], ["a", "b", "--threshold", "-1"], ["a", "b", "--alpha", "2"], ["a", "b", "--nope"]):
        with pytest.raises(SystemExit) as exc:
            compare.main(argv)
        assert exc.value.code == 2


def test_ci_script_is_valid_bash():
    proc = subprocess.run(["bash", "-n", str(ROOT / ".ci" / "compare")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def write_runs(folder: Path, rng, runs=3, rounds=20, run_noise=0.07, noise=0.03, factor=1.0):
    """``runs`` files, each with its own machine state: one lognormal offset per run, shared by its rounds."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = [c for c in CASES if c[0] == "runtime"]
    for i in range(runs):
        offset = np.exp(rng.normal(0.0, run_noise))
        benchmarks = [_benchmark(c, _median(c) * factor * offset * np.exp(rng.normal(0.0, noise, rounds))) for c in cases]
        data = {"machine_info": {"esperf_schema_version": 1, "hostname": "ci-runner"}, "benchmarks": benchmarks,
                "esperf": {"schema_version": 1, "failed": []}}
        (folder / f"run{i}.json").write_text(json.dumps(data))
    return folder


def test_run_to_run_noise_does_not_flag_unchanged_code(tmp_path, capsys):
    """Rounds of one run share its machine state (10% run-to-run noise here): still quiet."""
    rng = np.random.default_rng(11)
    flagged = 0
    for seed in range(10):
        base = write_runs(tmp_path / f"b{seed}", rng, run_noise=0.10)
        new = write_runs(tmp_path / f"n{seed}", rng, run_noise=0.10)
        code, out, _ = run(capsys, base, new)
        flagged += sum(v == "slower" for v in verdicts(out).values())
        assert code == 0
    assert flagged == 0, flagged


def test_runs_that_disagree_are_not_a_regression():
    """Pooled rounds say 'slower', but one new run is as fast as a base run: not flagged."""
    rng = np.random.default_rng(0)
    base_runs = [1.0, 1.0, 1.0]
    new_runs = [1.3, 1.3, 0.99]
    base = np.concatenate([m * np.exp(rng.normal(0, 0.01, 20)) for m in base_runs])
    new = np.concatenate([m * np.exp(rng.normal(0, 0.01, 20)) for m in new_runs])
    pooled = compare.compare_samples(base, new, 0.10, 0.01)
    assert pooled["verdict"] == "slower" and pooled["p"] < 1e-4
    ruled = compare.compare_samples(base, new, 0.10, 0.01, base_runs=base_runs, new_runs=new_runs)
    assert ruled["verdict"] == "unchanged"
    agreeing = compare.compare_samples(base, new, 0.10, 0.01, base_runs=base_runs, new_runs=[1.3, 1.3, 1.2])
    assert agreeing["verdict"] == "slower"


def test_a_consistent_slowdown_is_still_flagged_despite_run_noise(tmp_path, capsys):
    rng = np.random.default_rng(12)
    flagged = total = 0
    for seed in range(5):
        base = write_runs(tmp_path / f"b{seed}", rng)
        new = write_runs(tmp_path / f"n{seed}", rng, factor=1.3)
        code, out, _ = run(capsys, base, new)
        v = verdicts(out)
        flagged += sum(x == "slower" for x in v.values())
        total += len(v)
        assert code == 1
    assert flagged >= 0.9 * total, (flagged, total)
