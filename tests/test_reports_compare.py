"""``python -m reports compare BASE NEW``: quiet on noise, loud on real slowdowns, strict on bad input.

Synthetic results: every case's rounds are lognormal around a case median (3% noise),
25 runtime rounds per file, 3 compile rounds per file (the compile side is pooled from
three files, as CI's interleaved pairs would give).
"""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import importlib.util

import numpy as np
import pytest

from reports import compare, verdict
import helpers
from helpers import ROOT
from results_format.version import SCHEMA_VERSION


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


def _fixtures():
    spec = importlib.util.spec_from_file_location("make_fixtures", ROOT / "tests" / "fixtures" / "make_fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


FIXTURES = _fixtures()


def _benchmark(case, samples, device="cpu:0", kind="cpu", episode_length=200, version=SCHEMA_VERSION, **extra):
    """One benchmark entry as pytest bench writes it (every key of ``version``; make_fixtures.writer_row);
    of version 1, an old-style row (no unroll, no num_devices unless ``extra`` gives them)."""
    phase, strategy, pop, evals = case
    entry = {
        "name": f"test_generation[{phase}-{strategy}-Pendulum-v1-pop{pop}-evals{evals}-{device}]",
        "extra_info": {"impl": "esperf", "part": "generation", "phase": phase, "strategy": strategy,
                       "env": "Pendulum-v1", "popsize": pop, "num_evals": evals, "hidden": 48,
                       "episode_length": episode_length, "device": device, "device_kind": kind, "platform": "cpu",
                       **extra},
        "stats": {"median": float(np.median(samples)), "rounds": len(samples), "data": [float(x) for x in samples]},
    }
    return entry if version == 1 else FIXTURES.writer_row(entry, entry["stats"]["data"])


def _file(host: str, benchmarks: list, version=SCHEMA_VERSION) -> dict:
    """A results file of ``version`` (version 2 on: machine_info and the esperf block as pytest bench writes them)."""
    if version == 1:
        return {"machine_info": {"esperf_schema_version": 1, "hostname": host}, "benchmarks": benchmarks,
                "esperf": {"schema_version": 1, "failed": []}}
    return {"machine_info": FIXTURES.writer_machine_info({"hostname": host}), "benchmarks": benchmarks,
            "esperf": {"schema_version": version, "run": "measured", "failed": []}}


def write_side(folder: Path, seed: int, factor=None, files=3, noise=0.03, cases=CASES, devices=(("cpu:0", "cpu"),),
               runtime_rounds=25, compile_rounds=3, host="ci-runner", lengths=(200,), extra=None,
               version=SCHEMA_VERSION):
    """``files`` JSON files in ``folder``; ``factor(case, device)`` (or ``factor(case, device, length)``
    where ``lengths`` has several episode lengths) scales a case's true median."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(files):
        benchmarks = []
        for device, kind in devices:
            for case in cases:
                for length in lengths:
                    n = runtime_rounds if case[0] == "runtime" else compile_rounds
                    if case[0] == "runtime" and i > 0:
                        continue  # runtime cases in the first file only; compile ones pooled over all files
                    f = (factor(case, device, length) if len(lengths) > 1 else factor(case, device)) if factor else 1.0
                    samples = _median(case) * f * np.exp(rng.normal(0.0, noise, n))
                    benchmarks.append(_benchmark(case, samples, device, kind, length, version, **(extra or {})))
        data = _file(host, benchmarks, version)
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
    r = verdict.compare_samples(base, 1.05 * np.exp(rng.normal(0, 0.005, 30)), threshold=0.10, alpha=0.01)
    assert r["p"] < 1e-6 and r["ratio"] > 1.04 and r["verdict"] == "unchanged"
    # 25% slower but three wildly noisy rounds a side: beyond the threshold, not significant
    noisy = np.array([1.0, 0.6, 1.5])
    r = verdict.compare_samples(noisy, 1.25 * noisy[::-1] * np.array([1.1, 0.9, 1.0]), threshold=0.10, alpha=0.01)
    assert r["ratio"] > 1.1 and r["p"] >= 0.01 and r["verdict"] == "unchanged"
    # both: slower
    r = verdict.compare_samples(base, 1.2 * np.exp(rng.normal(0, 0.005, 30)), threshold=0.10, alpha=0.01)
    assert r["verdict"] == "slower"


def test_ratio_and_confidence_interval():
    rng = np.random.default_rng(11)
    base = 0.02 * np.exp(rng.normal(0, 0.03, 40))
    new = 1.2 * 0.02 * np.exp(rng.normal(0, 0.03, 40))
    r = verdict.compare_samples(base, new, threshold=0.1, alpha=0.01)
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
    proc = helpers.run([sys.executable, "-m", "reports", "compare", str(base), str(new)], cwd=ROOT, timeout=120)
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
    data["machine_info"]["esperf_schema_version"] = SCHEMA_VERSION + 1
    other = tmp_path / "v3.json"
    other.write_text(json.dumps(data))
    code, _, err = run(capsys, base, other)
    assert code == 2 and f"esperf_schema_version {SCHEMA_VERSION + 1} is not supported" in _one_line(err)


def test_bad_options_are_usage_errors(tmp_path, capsys):
    # one line each, naming the bad value and what is allowed
    for argv, want in ((["only-one"], "the following arguments are required: NEW"),
                       (["a", "b", "--threshold", "-1"], "argument --threshold: -1 is outside [0, 10]"),
                       (["a", "b", "--alpha", "2"], "argument --alpha: 2 is outside (0, 1)"),
                       (["a", "b", "--alpha", "x"], "argument --alpha: 'x' is not a number"),
                       (["a", "b", "--nope"], "unrecognized arguments: --nope; options are --help, --threshold, "
                                              "--alpha, --cross-machine")):
        with pytest.raises(SystemExit) as exc:
            compare.main(argv)
        assert exc.value.code == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert _one_line(err) == f"reports: {want} (see python -m reports compare --help)"


def test_ci_script_is_valid_bash():
    proc = helpers.run(["bash", "-n", str(ROOT / ".ci" / "compare")], timeout=60)
    assert proc.returncode == 0, proc.stderr


def write_runs(folder: Path, rng, runs=3, rounds=20, run_noise=0.07, noise=0.03, factor=1.0):
    """``runs`` files, each with its own machine state: one lognormal offset per run, shared by its rounds."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = [c for c in CASES if c[0] == "runtime"]
    for i in range(runs):
        offset = np.exp(rng.normal(0.0, run_noise))
        benchmarks = [_benchmark(c, _median(c) * factor * offset * np.exp(rng.normal(0.0, noise, rounds))) for c in cases]
        data = _file("ci-runner", benchmarks)
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
    pooled = verdict.compare_samples(base, new, 0.10, 0.01)
    assert pooled["verdict"] == "slower" and pooled["p"] < 1e-4
    ruled = verdict.compare_runs(np.split(base, 3), np.split(new, 3), 0.10, 0.01)
    assert ruled["verdict"] == "unchanged"
    agreeing_new = np.concatenate([m * np.exp(rng.normal(0, 0.01, 20)) for m in [1.3, 1.3, 1.2]])
    agreeing = verdict.compare_runs(np.split(base, 3), np.split(agreeing_new, 3), 0.10, 0.01)
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


# --- real-sized runs, one case key, machines, clustered CI, exit codes ---------------------------


def test_min_p_value_in_log_space():
    assert verdict.min_p_value(3, 3) == pytest.approx(2 / math.comb(6, 3), rel=1e-12)
    assert verdict.min_p_value(10, 7) == pytest.approx(2 / math.comb(17, 7), rel=1e-12)
    assert verdict.min_p_value(1, 1) == 1.0
    assert verdict.min_p_value(1000, 1000) == 0.0  # 2 / C(2000, 1000) underflows; no OverflowError
    assert verdict.min_p_value(0, 5) == 1.0


def test_thousand_rounds_per_case(tmp_path, capsys):
    cases = [c for c in CASES if c[0] == "runtime"][:4]
    kw = dict(files=1, cases=cases, runtime_rounds=1000)
    base = write_side(tmp_path / "base", seed=21, **kw)
    same = write_side(tmp_path / "same", seed=22, **kw)
    slow = write_side(tmp_path / "slow", seed=23, factor=lambda c, d: 1.2 if c == cases[1] else 1.0, **kw)
    code, out, err = run(capsys, base, same)
    assert code == 0 and err == "", err
    assert set(verdicts(out).values()) == {"unchanged"}
    code, out, err = run(capsys, base, slow)
    assert code == 1 and err == "", err
    v = verdicts(out)
    assert v.pop(label(cases[1])) == "slower" and set(v.values()) == {"unchanged"}
    # 1000 vs 1000 rounds 20% apart: scipy's p underflows to 0.0; the table prints its honest bound
    slow_line = next(line for line in out.splitlines() if line.startswith(label(cases[1])))
    assert slow_line.split("]")[1].split() == ["<", "1e-300", "slower"], slow_line


def test_episode_lengths_are_kept_apart(tmp_path, capsys):
    cases = [c for c in CASES if c[0] == "runtime"][:3]
    base = write_side(tmp_path / "base", seed=24, files=1, cases=cases, lengths=(200, 500))
    new = write_side(tmp_path / "new", seed=25, files=1, cases=cases, lengths=(200, 500),
                     factor=lambda c, d, length: 1.25 if length == 500 else 1.0)
    code, out, _ = run(capsys, base, new)
    assert code == 1
    v = verdicts(out)
    assert len(v) == 2 * len(cases)
    for c in cases:
        short = label(c).replace(" cpu", "")
        assert v[f"{short} len500 cpu"] == "slower" and v[f"{short} len200 cpu"] == "unchanged"


def test_old_rows_match_rows_with_unroll_and_num_devices_1(tmp_path, capsys):
    cases = [c for c in CASES if c[0] == "runtime"][:3]
    base = write_side(tmp_path / "base", seed=26, files=1, cases=cases, version=1)  # no unroll, no num_devices
    new = write_side(tmp_path / "new", seed=27, files=1, cases=cases, extra={"unroll": 1, "num_devices": 1})
    code, out, _ = run(capsys, base, new)
    assert code == 0 and set(verdicts(out).values()) == {"unchanged"}
    other = write_side(tmp_path / "other", seed=27, files=1, cases=cases, extra={"unroll": 4, "num_devices": 2},
                       version=1)
    code, out, err = run(capsys, base, other)
    assert code == 2 and "no case of BASE matches" in err
    # the line says which settings differ, with both sides' values
    assert "(the settings differ: unroll 1 (BASE) vs 4 (NEW); num_devices 1 (BASE) vs 2 (NEW))" in _one_line(err)


def test_an_unroll_1_run_and_an_unroll_4_run_pair_no_case(tmp_path, capsys):
    """The case key holds every setting (results_format.identity.CASE_FIELDS): a workload of
    another unroll is another case, never a regression of this one."""
    cases = [c for c in CASES if c[0] == "runtime"][:3]
    base = write_side(tmp_path / "base", seed=30, files=1, cases=cases)
    four = write_side(tmp_path / "four", seed=31, files=1, cases=cases, extra={"unroll": 4}, factor=lambda c, d: 3.0)
    assert {b["extra_info"]["unroll"] for b in json.loads((four / "run0.json").read_text())["benchmarks"]} == {4}
    code, out, err = run(capsys, base, four)
    assert code == 2 and out == ""
    assert _one_line(err) == (f"reports: {base} vs {four}: no case of BASE matches a case of NEW "
                              "(the settings differ: unroll 1 (BASE) vs 4 (NEW))")
    blocks = write_side(tmp_path / "blocks", seed=31, files=1, cases=cases, extra={"pop_chunk_setting": "16"})
    code, _, err = run(capsys, base, blocks)
    assert code == 2 and "(the settings differ: pop_chunk_setting auto (BASE) vs 16 (NEW))" in _one_line(err)
    code, out, _ = run(capsys, blocks, blocks)  # a setting off its default is in the case's label
    assert code == 0 and set(verdicts(out)) == {label(c).replace(" cpu", " chunk16 cpu") for c in cases}


def test_different_machines_are_refused_unless_cross_machine(tmp_path, capsys):
    cases = [c for c in CASES if c[0] == "runtime"][:3]
    base = write_side(tmp_path / "base", seed=28, files=1, cases=cases, host="box-a")
    new = write_side(tmp_path / "new", seed=29, files=1, cases=cases, host="box-b",
                     factor=lambda c, d: 1.3 if c == cases[0] else 1.0)
    code, out, err = run(capsys, base, new)
    assert code == 2 and out == ""
    line = _one_line(err)
    assert "different machines" in line and "BASE: host box-a; devices cpu" in line
    assert "NEW: host box-b; devices cpu" in line and "--cross-machine" in line
    code, out, err = run(capsys, base, new, "--cross-machine")
    assert code == 1
    assert "hardware, not code" in _one_line(err) and "box-a" in err and "box-b" in err
    v = verdicts(out)
    assert v[label(cases[0])] == "slower" and len(v) == len(cases)  # matched across hosts


def test_other_device_kinds_or_process_hosts_are_another_machine(tmp_path, capsys):
    cases = [c for c in CASES if c[0] == "runtime"][:2]
    base = write_side(tmp_path / "base", seed=30, files=1, cases=cases)
    gpu = write_side(tmp_path / "gpu", seed=31, files=1, cases=cases, devices=(("cpu:0", "cpu"), ("gpu:0", "H100")))
    code, _, err = run(capsys, base, gpu)
    assert code == 2 and "NEW: host ci-runner; devices H100, cpu" in _one_line(err)
    multi = write_side(tmp_path / "multi", seed=32, files=1, cases=cases)
    data = json.loads((multi / "run0.json").read_text())
    data["machine_info"]["processes"] = [{"hostname": "ci-runner"}, {"hostname": "ci-runner-2"}]
    (multi / "run0.json").write_text(json.dumps(data))
    code, _, err = run(capsys, base, multi)
    assert code == 2 and "NEW: host ci-runner, ci-runner-2; devices cpu" in _one_line(err)


def test_clustered_ci_is_wider_than_pooled_rounds_when_runs_differ():
    rng = np.random.default_rng(5)

    def side(medians):
        return [m * np.exp(rng.normal(0.0, 0.01, 30)) for m in medians]

    base_runs, new_runs = side([1.0, 1.06, 0.95]), side([1.02, 0.96, 1.07])
    pooled = verdict.compare_samples(np.concatenate(base_runs), np.concatenate(new_runs), 0.1, 0.01)
    clustered = verdict.compare_runs(base_runs, new_runs, 0.1, 0.01)
    assert clustered["ratio"] == pooled["ratio"]
    assert clustered["ci_high"] - clustered["ci_low"] > 2 * (pooled["ci_high"] - pooled["ci_low"])
    # the clustered interval spans the spread of the run medians, the pooled one does not
    assert clustered["ci_low"] < 0.95 and clustered["ci_high"] > 1.05
    assert pooled["ci_low"] > 0.95 and pooled["ci_high"] < 1.05


def test_an_internal_error_exits_3_with_one_line(tmp_path, capsys, monkeypatch):
    base = write_side(tmp_path / "base", seed=33, files=1)
    new = write_side(tmp_path / "new", seed=34, files=1)

    def boom(*a, **k):
        raise ZeroDivisionError("float division\nby zero")

    monkeypatch.setattr(compare, "compare_runs", boom)
    code, out, err = run(capsys, base, new)
    assert code == 3 and out == ""
    assert helpers.internal_error_line(_one_line(err), "ZeroDivisionError") == \
        "reports: internal error: ZeroDivisionError: float division by zero"


def test_internal_error_and_closed_stdout_from_the_command_line(tmp_path):
    base = write_side(tmp_path / "base", seed=35, files=1)
    new = write_side(tmp_path / "new", seed=36, files=1, factor=lambda c, d: 1.3)  # would be 1 (slower)
    inject = ("import sys, runpy, reports.compare as c\n"
              "def boom(*a, **k): raise KeyError('injected')\n"
              "c.compare_runs = boom\n"
              f"sys.argv = ['reports', 'compare', {str(base)!r}, {str(new)!r}]\n"
              "runpy.run_module('reports', run_name='__main__')\n")
    proc = helpers.run([sys.executable, "-c", inject], cwd=ROOT, timeout=120)
    assert proc.returncode == 3
    assert helpers.internal_error_line(_one_line(proc.stderr), "KeyError") == "reports: internal error: KeyError: 'injected'"
    read, write = os.pipe()
    os.close(read)  # like `... | head` that has already exited: the verdict cannot be delivered
    try:
        proc = helpers.run([sys.executable, "-m", "reports", "compare", str(base), str(new)], cwd=ROOT, timeout=120,
                         stdout=write)
    finally:
        os.close(write)
    assert proc.returncode == 141, proc.stderr
    assert "Traceback" not in proc.stderr
