"""``python -m reports history``: a step found at its commit, none in noise, machines kept apart.

Fixtures derived from one real ``pytest bench`` run (tests/fixtures/real/vm-small.json: two
strategies, compile and runtime): one JSON file per commit with ``commit_info`` set, every
case's rounds resampled from its real rounds (the run-to-run noise of the real machine), and,
where a series has a step, one case's rounds scaled by a factor from a known commit on.
"""
from __future__ import annotations

import copy
import csv
import datetime as dt
import hashlib
import json
import re

import numpy as np
import pytest

from reports import history
from helpers import real_fixture, write_json

N_COMMITS = 10
STEP_AT = 7  # the step's first commit (0 = the oldest): the latest segment is commits 7, 8, 9
ROUNDS = 100  # runtime rounds per run at most, drawn from the real run's rounds (it has 161 and 891)
STEPPED = "runtime-cma_es"  # the case (by its benchmark name) that gets the step
T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone.utc)


def commit_id(host_seed: str, i: int) -> str:
    return hashlib.sha1(f"{host_seed}-{i}".encode()).hexdigest()


def write_runs(folder, host="vm", factor=1.0, step_at=STEP_AT, n=N_COMMITS, seed=0, repeat=(), cases=None):
    """One real-derived JSON per commit in ``folder`` (``repeat``: commits run twice, two files); the
    :data:`STEPPED` case's rounds scaled by ``factor`` from commit ``step_at`` on (or by ``factor(i)`` at
    commit ``i`` where it is a function). Returns the commit ids."""
    real = real_fixture()
    rng = np.random.default_rng(seed)
    ids = [commit_id("history", i) for i in range(n)]  # the same commits on every machine
    for i, cid in enumerate(ids):
        for k in range(2 if i in repeat else 1):
            data = copy.deepcopy(real)
            when = T0 + dt.timedelta(hours=i)
            data["commit_info"] = {**real["commit_info"], "id": cid, "time": when.isoformat(), "dirty": False}
            data["datetime"] = (when + dt.timedelta(minutes=10 + k)).isoformat()
            data["machine_info"]["hostname"] = data["machine_info"]["node"] = host
            benchmarks = []
            for b in data["benchmarks"]:
                if cases is not None and not any(c in b["name"] for c in cases):
                    continue
                rounds = np.asarray(b["stats"]["data"])
                size = min(len(rounds), ROUNDS)
                x = rng.choice(rounds, size=size, replace=True)
                if STEPPED in b["name"]:
                    x = x * (factor(i) if callable(factor) else factor if i >= step_at else 1.0)
                q1, med, q3 = np.percentile(x, [25, 50, 75])
                b["stats"].update(data=x.tolist(), rounds=size, median=med, q1=q1, q3=q3, iqr=q3 - q1,
                                  min=x.min(), max=x.max(), mean=x.mean())
                benchmarks.append(b)
            data["benchmarks"] = benchmarks
            write_json(folder / f"{host}-{i:02d}-{k}.json", data)
    return ids


def run_history(capsys, *argv):
    code = history.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def stepped(tmp_path_factory):
    """Two machines' runs of the same 10 commits: on ``vm`` the cma_es runtime case 30 % slower from
    commit 7 on, on ``vm-b`` only noise; and the history of both written once."""
    root = tmp_path_factory.mktemp("history")
    ids = write_runs(root / "runs", "vm", factor=1.3, seed=1, repeat=(3,))
    write_runs(root / "runs", "vm-b", factor=1.0, seed=2)
    out = root / "out"
    code = history.main([str(root / "runs"), "--out", str(out)])
    return root, ids, out, code


def test_a_slower_step_is_found_at_its_commit_and_exits_1(stepped, capsys):
    root, ids, out, code = stepped
    assert code == 1
    rows = read_csv(out / "history.csv")
    steps = [(r["host"], r["case"], r["commit"], r["step"]) for r in rows if r["step"]]
    assert len(steps) == 1, steps
    host, case, commit, verdict = steps[0]
    assert (host, commit, verdict) == ("vm", ids[STEP_AT], "slower")
    assert case.startswith("runtime cma_es Pendulum-v1")
    step_row = next(r for r in rows if r["step"])
    assert 1.2 < float(step_row["step_ratio"]) < 1.4


def test_another_unroll_is_another_series_not_a_step(tmp_path, capsys):
    """History pairs runs on the case key (results_format.identity.CASE_FIELDS): from commit 7 on the
    runs are unroll 4 and 30 % slower, which is another workload, not a regression of unroll 1."""
    ids = write_runs(tmp_path / "runs", "vm", factor=1.3, seed=1, cases=["runtime"])
    for path in sorted((tmp_path / "runs").glob("*.json")):
        if int(path.name.split("-")[1]) >= STEP_AT:
            data = json.loads(path.read_text())
            for b in data["benchmarks"]:
                b["extra_info"]["unroll"] = 4
            write_json(path, data)
    code, out, err = run_history(capsys, tmp_path / "runs", "--out", tmp_path / "out")
    assert code == 0, out + err
    rows = read_csv(tmp_path / "out" / "history.csv")
    assert not [r for r in rows if r["step"]]
    unrolled = {r["commit"] for r in rows if "unroll4" in r["case"]}
    plain = {r["commit"] for r in rows if "unroll4" not in r["case"]}
    assert unrolled == set(ids[STEP_AT:]) and plain == set(ids[:STEP_AT])


def test_the_step_line_is_printed(tmp_path, capsys):
    write_runs(tmp_path / "runs", "vm", factor=1.3, seed=1, cases=["runtime"])
    code, out, err = run_history(capsys, tmp_path / "runs", "--out", tmp_path / "out")
    assert code == 1, err
    lines = [x for x in out.splitlines() if x.startswith(("slower since", "faster since"))]
    assert len(lines) == 1, out
    m = re.fullmatch(r"slower since ([0-9a-f]{7}): \+(\d+) % \((.+) -> (.+), vm, (runtime cma_es Pendulum-v1 .*)\)",
                     lines[0])
    assert m, lines[0]
    assert m.group(1) == commit_id("history", STEP_AT)[:7]
    assert 25 <= int(m.group(2)) <= 35


def test_noise_alone_finds_no_step_and_exits_0(tmp_path, capsys):
    write_runs(tmp_path / "runs", "vm", factor=1.0, seed=3)
    code, out, err = run_history(capsys, tmp_path / "runs", "--out", tmp_path / "out")
    assert code == 0, out + err
    assert "since" not in out
    assert not [r for r in read_csv(tmp_path / "out" / "history.csv") if r["step"]]


@pytest.mark.parametrize("n", [2, 3])
def test_a_step_between_the_first_commits_of_a_short_history_is_found(tmp_path, capsys, n):
    """Two or three commits: the successive differences are mostly the step itself, so the noise
    penalty alone would hide it (two commits: sigma is the step); the threshold caps the penalty."""
    ids = write_runs(tmp_path / "runs", "vm", factor=1.3, step_at=n - 1, n=n, seed=5, cases=["runtime-cma_es"])
    code, out, err = run_history(capsys, tmp_path / "runs", "--out", tmp_path / "out")
    assert code == 1, out + err
    assert re.search(rf"slower since {ids[n - 1][:7]}: \+(29|30|31) % ", out), out  # 30 %, give or take the noise


def test_a_faster_step_is_found_and_exits_0(tmp_path, capsys):
    ids = write_runs(tmp_path / "runs", "vm", factor=1 / 1.3, seed=4, cases=["runtime"])
    code, out, err = run_history(capsys, tmp_path / "runs", "--out", tmp_path / "out")
    assert code == 0, out + err
    assert f"faster since {ids[STEP_AT][:7]}: -23 %" in out
    steps = [(r["commit"], r["step"]) for r in read_csv(tmp_path / "out" / "history.csv") if r["step"]]
    assert steps == [(ids[STEP_AT], "faster")]


def test_a_slowdown_undone_later_is_two_steps_and_exits_0(tmp_path, capsys):
    ids = write_runs(tmp_path / "runs", "vm", factor=lambda i: 1.3 if 3 <= i < 7 else 1.0, seed=5, cases=["runtime"])
    code, out, err = run_history(capsys, tmp_path / "runs", "--out", tmp_path / "out")
    assert code == 0, out + err  # the latest segment is faster than the one before it
    steps = [(r["commit"], r["step"]) for r in read_csv(tmp_path / "out" / "history.csv") if r["step"]]
    assert steps == [(ids[3], "slower"), (ids[7], "faster")]


def test_env_steps_per_s_turns_a_slower_step_into_fewer_steps_per_second(tmp_path, capsys):
    ids = write_runs(tmp_path / "runs", "vm", factor=1.3, seed=1, cases=["runtime"])
    code, out, err = run_history(capsys, tmp_path / "runs", "--out", tmp_path / "out", "--metric", "env_steps_per_s")
    assert code == 1, out + err
    assert f"slower since {ids[STEP_AT][:7]}: -23 % (" in out
    assert "env steps/s" in out


def test_csv_has_one_row_per_machine_case_and_commit(stepped):
    root, ids, out, code = stepped
    rows = read_csv(out / "history.csv")
    for col in ("host", "case", "commit", "commit_time", "median", "q1", "q3", "rounds", "step"):
        assert col in rows[0]
    keys = [(r["host"], r["case"], r["commit"]) for r in rows]
    assert len(keys) == len(set(keys)) == 2 * 2 * N_COMMITS  # 2 machines x 2 runtime cases x 10 commits
    vm = [r for r in rows if r["host"] == "vm" and r["case"].startswith("runtime cma_es")]
    assert [r["commit"] for r in vm] == ids  # ordered by commit time
    assert [r["commit_time"] for r in vm] == sorted(r["commit_time"] for r in vm)
    # commit 3 ran twice on vm: its two files pool their rounds
    assert int(vm[3]["rounds"]) == 2 * int(vm[2]["rounds"]) and int(vm[3]["runs"]) == 2
    q1, med, q3 = (float(vm[0][c]) for c in ("q1", "median", "q3"))
    assert q1 <= med <= q3


def test_two_machines_are_kept_apart(stepped, capsys):
    root, ids, out, code = stepped
    rows = read_csv(out / "history.csv")
    assert {r["host"] for r in rows} == {"vm", "vm-b"}
    assert not [r for r in rows if r["host"] == "vm-b" and r["step"]]


def test_history_html_is_self_contained_with_one_plot_per_case(stepped):
    root, ids, out, code = stepped
    page = (out / "history.html").read_text()
    assert not re.search(r"""\b(src|href)\s*=\s*["'](?!data:|#)""", page), "reference to a file"
    figures = re.findall(r'<figure id="[^"]+"><img [^>]*src="data:image/png;base64,', page)
    assert len(figures) == 2  # runtime cma_es and runtime openai_es, both machines in each
    assert ids[STEP_AT][:7] in page
    assert len(list(out.glob("history-*.png"))) == 2


def test_a_run_without_commit_info_is_bad_input(tmp_path, capsys):
    write_runs(tmp_path / "runs", "vm", n=3, cases=["runtime-cma_es"])
    bad = real_fixture()
    del bad["commit_info"]
    write_json(tmp_path / "runs" / "no-commit.json", bad)
    code, out, err = run_history(capsys, tmp_path / "runs", "--out", tmp_path / "out")
    assert code == 2
    assert err.count("\n") == 1 and "no-commit.json" in err and "commit_info" in err, err
    assert not (tmp_path / "out").exists()


def test_a_run_outside_git_is_bad_input(tmp_path, capsys):
    bad = real_fixture()
    bad["commit_info"] = {"id": "unknown", "time": "unknown", "dirty": False, "error": "not a git repository"}
    code, out, err = run_history(capsys, write_json(tmp_path / "x.json", bad), "--out", tmp_path / "out")
    assert code == 2 and err.count("\n") == 1 and "'unknown'" in err and "not a git repository" in err, err


@pytest.mark.parametrize("argv, needle", [
    ([], "FILES_OR_DIRS"),
    (["{tmp}", "--metric", "speed"], "speed"),
    (["{tmp}", "--threshold", "-1"], "-1"),
])
def test_usage_errors_are_one_line_and_exit_2(tmp_path, capsys, argv, needle):
    with pytest.raises(SystemExit) as exc:
        history.main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and needle in err, err
    if "--metric" in argv:
        assert "runtime" in err and "env_steps_per_s" in err and "compile" in err


def test_an_empty_folder_is_bad_input(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, out, err = run_history(capsys, tmp_path / "empty", "--out", tmp_path / "out")
    assert code == 2 and err.count("\n") == 1 and "no *.json files" in err, err


def test_the_dispatcher_runs_history(tmp_path, capsys, monkeypatch):
    from reports.__main__ import main

    write_runs(tmp_path / "runs", "vm", n=3, cases=["runtime-cma_es"])
    monkeypatch.setattr("sys.argv", ["reports", "history", str(tmp_path / "runs"), "--out", str(tmp_path / "out")])
    assert main() == 0, capsys.readouterr().err
    assert "esperf history (runtime)" in capsys.readouterr().out
    assert (tmp_path / "out" / "history.html").exists()
