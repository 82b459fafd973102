"""One generation over several devices (forced CPU host devices) and several processes
(``python -m bench.launch`` with jax.distributed), through ``pytest bench`` end to end.

Forced CPU devices prove the harness's logic and the sharded program's correctness, not
speed. Every subprocess has a deadline and its process group is killed with it.
"""
import sys

import pytest

import helpers
from helpers import ROOT, TINY, bench_cmd, bench_env, run_bench

pytestmark = pytest.mark.integration  # every test here runs `pytest bench` in a subprocess

# in the pytest process: the grid's device sets are under test here, the isolation elsewhere
RUNTIME = ("--es-phases", "runtime", "--es-runtime-rounds", "3", "--es-isolate", "none")


def rows(data):
    return {b["extra_info"]["device"]: b["extra_info"] for b in data["benchmarks"]}


def test_strong_scaling_shards_each_popsize_over_1_2_4_devices(tmp_path):
    proc, data = run_bench(tmp_path, *TINY, *RUNTIME, "--es-devices", "cpu:all", "--es-cpu-cores", "4",
                           "--es-scaling", "strong", devices=4)
    assert proc.returncode == 0, proc.stdout[-3000:]
    got = rows(data)
    assert set(got) == {"cpu:0", "cpu:0+1", "cpu:all"}
    for spec, ids in {"cpu:0": ["cpu:0"], "cpu:0+1": ["cpu:0", "cpu:1"],
                      "cpu:all": ["cpu:0", "cpu:1", "cpu:2", "cpu:3"]}.items():
        info = got[spec]
        assert info["devices"] == ids and info["num_devices"] == len(ids)
        assert info["popsize"] == 8 and info["popsize_per_device"] == 8 // len(ids)
        assert info["scaling"] == "strong" and info["num_processes"] == 1
        assert info["env_steps"] == 8 * 2 * 5
    names = [b["name"] for b in data["benchmarks"]]
    assert "test_generation[runtime-cma_es-Pendulum-v1-pop8-evals2-cpu:all]" in names


def test_weak_scaling_treats_pops_as_per_device(tmp_path):
    args = [a if a != "8" else "4" for a in TINY]
    proc, data = run_bench(tmp_path, *args, *RUNTIME, "--es-devices", "cpu:0+1", "--es-scaling", "weak", devices=2)
    assert proc.returncode == 0, proc.stdout[-3000:]
    got = rows(data)
    assert {k: (v["popsize"], v["popsize_per_device"]) for k, v in got.items()} == {"cpu:0": (4, 4), "cpu:all": (8, 4)}


def launch(tmp_path, *args, n=2, local=2, timeout=240, fault_env=None):
    """``bench.launch`` of ``pytest bench``: the launcher's own deadline is ``timeout - 20`` s, this
    test's (helpers.run: TimeoutExpired, the group killed) ``timeout``."""
    out = tmp_path / "out.json"
    cmd = [sys.executable, "-m", "bench.launch", "-n", str(n), "--local-devices", str(local), "--timeout",
           str(timeout - 20), "--grace", "2", "--", *bench_cmd(out, *args)]
    env = bench_env(devices=1, ESPERF_WORKER_HOOK="", **(fault_env or {}))
    env.pop("XLA_FLAGS")  # the launcher gives each process its devices
    return helpers.run(cmd, timeout, cwd=ROOT, env=env), out


def test_two_processes_of_two_devices_run_the_sharded_case_like_one_process_of_four(tmp_path):
    import json

    # OpenAI-ES: its state after a few generations is a smooth function of the cross-device sums.
    # (CMA-ES's is not: near its start C is close to a multiple of I, so its eigenvectors B turn
    # at will under a last-bit change of C, gloo's sum order against XLA's, and the samples follow.)
    args = [*[a if a != "cma_es" else "openai_es" for a in TINY], *RUNTIME, "--es-devices", "cpu:all"]
    proc, out = launch(tmp_path, *args, "--es-distributed-timeouts", "60,20,30")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "[p0]" in proc.stdout and "[p1]" in proc.stdout
    multi = json.loads(out.read_text())
    (info,) = [b["extra_info"] for b in multi["benchmarks"]]
    assert info["num_devices"] == 4 and info["num_processes"] == 2 and info["popsize_per_device"] == 2
    processes = multi["machine_info"]["processes"]
    assert [p["process_index"] for p in processes] == [0, 1]
    # every device of the case is one that some process owns, two each
    owners = {d["id"]: d["process_index"] for d in multi["machine_info"]["devices"]}
    assert sorted(owners[d] for d in info["devices"]) == [0, 0, 1, 1]
    assert multi["machine_info"]["isolation"] == "none"

    single_proc, single = run_bench(tmp_path, *args, "--es-cpu-cores", "4", devices=4)
    assert single_proc.returncode == 0, single_proc.stdout[-3000:]
    (one,) = [b["extra_info"] for b in single["benchmarks"]]
    same = ("strategy", "env", "popsize", "num_evals", "hidden", "episode_length", "num_devices", "env_steps",
            "num_params", "popsize_per_device", "executions")
    assert {k: info[k] for k in same} == {k: one[k] for k in same}
    assert one["num_processes"] == 1
    # and both computed the same generations: the carried state after the same 5 executions
    # agrees up to the rounding of the cross-device sums (gloo between processes, XLA within one)
    assert info["executions"] == 5
    assert info["state_checksum"] == pytest.approx(one["state_checksum"], rel=1e-5)


def test_a_killed_process_ends_the_distributed_run_with_a_clear_error(tmp_path):
    args = [a if a != "8" else "16" for a in TINY]
    # a deadline, not a timed assertion: past 80 s the run raises TimeoutExpired (the launcher's own is 60 s)
    proc, out = launch(tmp_path, *args, *RUNTIME, "--es-devices", "cpu:all", "--es-distributed-timeouts", "60,10,10",
                       timeout=80, fault_env={"ESPERF_FAULT": "sigkill-pop16", "ESPERF_FAULT_PROCESS": "1"})
    assert proc.returncode != 0
    assert "launch: process 1" in proc.stderr and "killed by SIGKILL" in proc.stderr, proc.stderr[-2000:]
