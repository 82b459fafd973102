"""The benchmark harness's own logic: devices, cold compiles, guarded rounds, JSON, usage errors.

``pytest bench`` runs in a subprocess with two forced host devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=2``) on a tiny grid.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from bench import timing

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--es-strategies", "cma_es", "--es-envs", "Pendulum-v1", "--es-pops", "8", "--es-evals", "2",
    "--es-hidden", "4", "--es-episode-length", "5", "--es-runtime-rounds", "3",
]


def run_bench(tmp_path, *args, fault="", devices=2):
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
    env["ESPERF_FAULT"] = fault
    out = tmp_path / "out.json"
    cmd = [sys.executable, "-m", "pytest", "bench", "-q", "-p", "no:cacheprovider", "-p", "esperf_faults",
           f"--benchmark-json={out}", *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    data = json.loads(out.read_text()) if out.exists() and out.stat().st_size else None
    return proc, data


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    proc, data = run_bench(tmp_path_factory.mktemp("tiny"), *TINY, "--es-devices", "all", "--es-breakdown")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return data


EXTRA_KEYS = {
    "phase", "strategy", "env", "popsize", "num_evals", "episode_length", "hidden", "num_params", "device",
    "device_kind", "platform", "env_steps", "env_steps_per_s", "impl", "part",
}
COMPILE_KEYS = {"trace_s", "lower_s", "compile_s"}
RUNTIME_KEYS = {"compile_events", "peak_memory_bytes", "memory_source", "flops", "flops_per_s"}
MACHINE_KEYS = {
    "hostname", "cpu_model", "physical_cores", "logical_cores", "ram_bytes", "os", "python", "jax_version",
    "jaxlib_version", "backend_platform_version", "devices", "xla_flags", "jax_env", "esperf_schema_version",
    "blas_threads",
}


def test_all_devices_yield_one_case_each_with_results_there(tiny_run):
    gens = [b for b in tiny_run["benchmarks"] if b["extra_info"]["part"] == "generation"]
    names = {b["name"] for b in gens}
    for dev in ("cpu:0", "cpu:1"):
        for phase in ("compile", "runtime"):
            assert f"test_generation[{phase}-cma_es-Pendulum-v1-pop8-evals2-{dev}]" in names
    assert {b["extra_info"]["device"] for b in gens} == {"cpu:0", "cpu:1"}
    assert [d["id"] for d in tiny_run["machine_info"]["devices"]] == ["cpu:0", "cpu:1"]


def test_json_has_every_documented_key(tiny_run):
    assert MACHINE_KEYS <= set(tiny_run["machine_info"])
    assert "--xla_force_host_platform_device_count=2" in tiny_run["machine_info"]["xla_flags"]
    blas = tiny_run["machine_info"]["blas_threads"]
    assert blas and all(p["threads"] == 1 for p in blas), blas
    assert tiny_run["esperf"] == {"schema_version": 1, "failed": []}
    for b in tiny_run["benchmarks"]:
        info = b["extra_info"]
        assert EXTRA_KEYS <= set(info), b["name"]
        assert len(b["stats"]["data"]) == b["stats"]["rounds"] >= 3
        if info["phase"] == "compile":
            assert COMPILE_KEYS <= set(info)
            assert len(info["compile_s"]) == b["stats"]["rounds"]
            # the timed value is the sum of the three stages (plus a little bookkeeping)
            for i, t in enumerate(b["stats"]["data"]):
                stages = info["trace_s"][i] + info["lower_s"][i] + info["compile_s"][i]
                assert stages <= t <= stages + 0.05
        else:
            assert RUNTIME_KEYS <= set(info)
            assert info["compile_events"] == 0
            assert info["peak_memory_bytes"] > 0 and info["memory_source"] == "process_peak_rss"
        if info["part"] in ("generation", "eval"):
            assert info["env_steps"] == 8 * 2 * 5
        if info["part"] in ("generation", "eval") and info["phase"] == "runtime":
            assert info["env_steps_per_s"] == pytest.approx(info["env_steps"] / b["stats"]["median"])
            assert info["flops"] > 0
            assert info["flops_per_s"] == pytest.approx(info["flops"] / b["stats"]["median"])
        else:
            assert info["env_steps_per_s"] is None
    parts = {(b["extra_info"]["part"], b["extra_info"]["phase"]) for b in tiny_run["benchmarks"]}
    assert parts == {(p, ph) for p in ("generation", "ask", "eval", "tell") for ph in ("compile", "runtime")}


def test_every_compile_round_is_cold(tiny_run):
    for b in tiny_run["benchmarks"]:
        if b["extra_info"]["phase"] == "compile":
            data = b["stats"]["data"]
            assert all(n >= 1 for n in b["extra_info"]["backend_compiles"])
            assert min(data[1:]) >= 0.3 * data[0], data


def test_repeated_cold_compile_takes_real_time_in_process():
    from bench.workload import Workload

    wl = Workload(popsize=8, evals=2, hidden=4, episode_length=5)
    state = wl.init(jax.random.key(0))
    first = timing.cold_compile(wl.generation_fn, (state,)).total_s
    second = timing.cold_compile(wl.generation_fn, (state,)).total_s
    assert second >= 0.3 * first


def test_recompilation_inside_guarded_rounds_raises():
    def rounds():
        for _ in range(3):
            jax.jit(lambda x: x * 2)(jnp.ones(3)).block_until_ready()

    with pytest.raises(timing.RecompilationError, match="compilation event"):
        timing.guarded_rounds(rounds)
    compiled = jax.jit(lambda x: x * 2).lower(jnp.ones(3)).compile()
    _, events = timing.guarded_rounds(lambda: [compiled(jnp.ones(3)).block_until_ready() for _ in range(3)])
    assert events == 0


def test_forced_recompilation_fails_the_case_and_is_listed(tmp_path):
    proc, data = run_bench(tmp_path, *TINY, "--es-devices", "cpu:0", "--es-phases", "runtime", fault="recompile")
    assert proc.returncode == 1
    assert "RecompilationError" in proc.stdout
    (failed,) = data["esperf"]["failed"]
    assert failed["extra_info"]["phase"] == "runtime" and "compilation event" in failed["error"]


def test_evosax_rows_without_the_peers_extra_are_a_usage_error(tmp_path):
    proc, data = run_bench(tmp_path, *TINY, "--es-impls", "esperf,evosax", fault="no-peers")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "'evosax'" in proc.stderr and 'pip install -e ".[peers]"' in proc.stderr
    assert "Traceback" not in proc.stderr and data is None


def test_failed_case_is_recorded_and_the_others_are_still_written(tmp_path):
    args = [a if a != "8" else "8,16" for a in TINY]
    proc, data = run_bench(tmp_path, *args, "--es-devices", "cpu:0", "--es-phases", "runtime", fault="fail-pop16")
    assert proc.returncode == 1
    assert [b["extra_info"]["popsize"] for b in data["benchmarks"]] == [8]
    (failed,) = data["esperf"]["failed"]
    assert failed["extra_info"]["popsize"] == 16 and "RESOURCE_EXHAUSTED" in failed["error"]


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--es-devices", "gpu:3"], ["'gpu:3'", "cpu:0", "cpu:1"]),
        (["--es-grid", "huge"], ["'huge'", "quick", "seed", "full"]),
        (["--es-pops", "100,0"], ["--es-pops", "0", "positive"]),
        (["--es-strategies", "cmaes"], ["'cmaes'", "cma_es", "openai_es", "simple_ga"]),
        (["--es-envs", "Pendulum-v0"], ["'Pendulum-v0'", "Pendulum-v1", "CartPole-v1"]),
        (["--es-phases", "warmup"], ["'warmup'", "compile", "runtime"]),
        (["--es-strategies", "openai_es", "--es-pops", "7"], ["7", "even"]),
        (["--es-hidden", "many"], ["--es-hidden", "'many'"]),
    ],
)
def test_bad_options_are_usage_errors_naming_the_value(tmp_path, args, needles):
    proc, _ = run_bench(tmp_path, *args)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    message = proc.stderr
    for needle in needles:
        assert needle in message, message
    assert "Traceback" not in message


def test_rounds_fill_max_time_but_stay_within_bounds():
    assert timing.rounds_for(0.05, 1.0, 20) == 20  # 1 s / 0.05 s = 20
    assert timing.rounds_for(0.001, 1.0, 20) == 1000  # capped
    assert timing.rounds_for(0.2, 1.0, 20) == 20  # the floor of the quick grid
    assert timing.rounds_for(30.0, 1.0, 20) == 5  # a huge case keeps 5 samples, not 20 x 30 s
    assert timing.rounds_for(10.0, 1.0, 20) == 12  # 120 s budget / 10 s


def test_flops_count_every_scanned_step():
    """XLA's cost analysis counts a loop body once; the recorded FLOPs count all L steps."""
    from bench.cases import Settings, _flops, make_target
    from bench.grid import Case

    sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    pop, evals, hidden = 16, 3, 8
    counted = {}
    for length in (50, 100):
        case = Case("runtime", "openai_es", "Pendulum-v1", pop, evals, hidden, length, "cpu:0")
        target = make_target(case, Settings(), sharding)
        compiled = timing.compile_stages(target.make_fn(), target.args, sharding).compiled
        counted[length] = (_flops(compiled), target.flops_fn(compiled))
    uncorrected, flops = counted[50]
    # the MLP's matmul FLOPs alone, every step of every episode of every member
    policy = 2 * pop * evals * 50 * (3 * hidden + hidden * 1)
    assert uncorrected < policy <= flops, (uncorrected, policy, flops)
    # the scanned steps dominate: twice the episode length, nearly twice the FLOPs
    # (ask and tell do not grow with it); an uncorrected count would not grow at all
    assert 1.8 <= counted[100][1] / flops <= 2.0, counted
