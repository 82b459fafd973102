"""Figures that hold from process to process: several fresh workers per runtime case, the first
run apart, and the stability flags (bench/measure/stability.py) with the end-of-run summary."""
from __future__ import annotations

import os
import types

import pytest

from bench.case import Settings
from bench.measure import energy, stability
from bench.measure.memory import GenerationMemory, merge_generation_memory
from bench.measure.rounds import runtime_figures, worker_shares
from bench.plugin.options import parse_run_options
from bench.system.caches import cold_caches
from helpers import TINY, grid_options, run_bench

STEADY = [1.0 + 0.001 * (i % 5) for i in range(20)]


# -- the rules -------------------------------------------------------------------------------

def test_a_steady_figure_of_enough_rounds_is_stable():
    assert stability.unstable(STEADY) == []
    assert stability.unstable(STEADY, [1.0, 1.02, 1.05]) == []  # workers within 10 %


@pytest.mark.parametrize("samples, medians, reasons", [
    ([1.0] * 10 + [1.3] * 10, None, ["iqr"]),  # IQR/median 0.3 / 1.15 = 0.26
    (STEADY[:19] + [2.5], None, ["spread"]),  # one round 2.5x the fastest; the quartiles hold
    (STEADY[:9], None, ["rounds"]),
    (STEADY, [1.0, 1.0, 1.2], ["workers"]),
    ([1.0, 1.3] * 2 + [3.0], [1.0, 1.3], ["iqr", "spread", "rounds", "workers"]),
])
def test_each_rule_fires_on_its_own(samples, medians, reasons):
    assert stability.unstable(samples, medians) == reasons


def test_the_thresholds_are_strict_and_as_documented():
    assert stability.IQR_RATIO == 0.10 and stability.SPREAD == 2 and stability.MIN_ROUNDS == 10
    assert stability.WORKER_SPREAD == 0.10
    assert stability.unstable([1.0] * 19 + [2.0]) == []  # max/min == 2 is not > 2
    assert stability.unstable(STEADY[:10]) == []  # 10 rounds are enough
    assert stability.unstable(STEADY, [1.0, 1.09]) == []  # 9 % is within 10 %


def test_describe_gives_the_figures_behind_each_reason():
    samples = [1.0, 1.3] * 2 + [3.0]
    line = stability.describe(samples, [1.0, 1.3], stability.unstable(samples, [1.0, 1.3]))
    assert line == ("iqr: IQR/median 0.23 > 0.10; spread: max/min 3.0 > 2; rounds: 5 < 10; "
                    "workers: medians differ by 30 % > 10 %")


# -- several workers -------------------------------------------------------------------------

def test_fixed_rounds_are_split_evenly_with_one_round_at_least():
    assert [s.runtime_rounds for s in worker_shares(Settings(runtime_rounds=10), 3)] == [4, 3, 3]
    assert [s.runtime_rounds for s in worker_shares(Settings(runtime_rounds=2), 3)] == [1, 1, 1]
    one = Settings(runtime_rounds=7)
    assert worker_shares(one, 1) == [one]


def test_calibrated_rounds_share_the_time_budget():
    (a, b, c) = worker_shares(Settings(max_time=1.5, min_runtime_rounds=20), 3)
    assert a == b == c and a.max_time == pytest.approx(0.5) and a.min_runtime_rounds == 7
    assert a.runtime_rounds is None


def test_runtime_figures_keep_every_round_and_each_workers_figures():
    results = [([1.0, 2.0, 3.0], {"executions": 5, "first_run_s": 9.0, "state_checksum": 1.5}),
               ([4.0, 6.0], {"executions": 4, "first_run_s": 8.0, "state_checksum": 2.5})]
    samples, info = runtime_figures(results)
    assert samples == [1.0, 2.0, 3.0, 4.0, 6.0]
    assert info == {"executions": 9, "first_run_s": [9.0, 8.0], "state_checksum": 1.5, "runtime_workers": 2,
                    "worker_medians": [2.0, 5.0], "worker_rounds": [3, 2],
                    # no worker read an energy counter: none for the case, and why
                    "energy_j": None, "energy_source": None, "energy_unavailable": "a worker had no energy reading"}


def test_workers_per_case_default_by_platform_and_follow_the_option():
    options = parse_run_options(grid_options(), False)
    assert [options.workers_for(p) for p in ("cpu", "gpu", "tpu")] == [1, 3, 3]
    options = parse_run_options(grid_options(es_runtime_workers="2"), False)
    assert [options.workers_for(p) for p in ("cpu", "gpu")] == [2, 2]
    options = parse_run_options(grid_options(es_isolate="none"), False)
    assert options.workers_for("gpu") == 1  # one process by design


def test_several_workers_under_distributed_is_a_usage_error_naming_why():
    with pytest.raises(ValueError) as err:
        parse_run_options(grid_options(es_runtime_workers="3"), True)
    assert "--es-runtime-workers: 3" in str(err.value) and "--es-distributed" in str(err.value)
    assert parse_run_options(grid_options(es_runtime_workers="1"), True).workers_for("cpu") == 1


# -- pytest bench ----------------------------------------------------------------------------

@pytest.mark.integration
def test_three_workers_per_runtime_case_and_the_unstable_summary(tmp_path):
    proc, data = run_bench(tmp_path, *TINY, "--es-runtime-rounds", "5", "--es-runtime-workers", "3",
                           "--es-devices", "cpu:0")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {b["extra_info"]["phase"]: b for b in data["benchmarks"]}
    x = rows["runtime"]["extra_info"]
    assert len(set(x["worker_pids"])) == 3 and x["runtime_workers"] == 3
    assert x["worker_rounds"] == [2, 2, 1] and len(rows["runtime"]["stats"]["data"]) == 5
    assert len(x["worker_medians"]) == 3 and all(m > 0 for m in x["worker_medians"])
    assert len(x["first_run_s"]) == 3 and all(t > 0 for t in x["first_run_s"])
    assert x["executions"] == 5 + 2 * 3  # each worker: a warm-up and a calibration round, untimed
    assert "rounds" in x["unstable"]
    (line,) = [s for s in proc.stdout.splitlines() if s.startswith("UNSTABLE ")]
    assert line.startswith(f"UNSTABLE {rows['runtime']['name']}: ") and "rounds: 5 < 10" in line
    # compile rows are as before: one worker per cold round, no runtime figures
    c = rows["compile"]["extra_info"]
    assert len(set(c["worker_pids"])) == 3 and not set(c) & {"worker_medians", "first_run_s", "unstable",
                                                              "runtime_workers"}
    assert not set(c["worker_pids"]) & set(x["worker_pids"])


@pytest.mark.integration
def test_one_worker_on_cpu_by_default_and_a_stable_case_is_not_listed(tmp_path):
    proc, data = run_bench(tmp_path, *TINY, "--es-runtime-rounds", "40", "--es-phases", "runtime",
                           "--es-devices", "cpu:0")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (row,) = data["benchmarks"]
    x = row["extra_info"]
    assert x["runtime_workers"] == 1 and len(x["worker_pids"]) == 1 and x["worker_rounds"] == [40]
    assert x["worker_medians"] == [pytest.approx(row["stats"]["median"])]
    assert x["unstable"] == stability.unstable(row["stats"]["data"])  # the JSON's rounds give the same verdict
    assert ("UNSTABLE " in proc.stdout) == bool(x["unstable"])
    # the rounds' own memory, apart from the compile's peak (Linux: the peak-RSS mark reset after the compile)
    assert x["generation_memory_source"] == "rss_hwm_reset"
    assert 0 <= x["generation_memory_bytes"] < x["peak_memory_bytes"] - x["baseline_memory_bytes"]
    # energy: RAPL where this machine exposes it, else null with the reason (this project's VMs)
    domains, why = energy.rapl_domains()
    if domains:
        assert x["energy_source"] == "rapl" and x["energy_j"] > 0 and x["env_steps_per_joule"] > 0
    else:
        assert x["energy_source"] is None and x["energy_j"] is None and x["energy_unavailable"] == why


# -- caches from outside ---------------------------------------------------------------------

def test_cold_caches_disable_the_cuda_jit_cache_and_drop_xla_cache_flags():
    environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2 --xla_gpu_per_fusion_autotune_cache_dir=/c "
                            "--xla_gpu_autotune_level=4"}
    assert cold_caches(environ) == ["CUDA_CACHE_DISABLE=1",
                                    "XLA_FLAGS without --xla_gpu_per_fusion_autotune_cache_dir=/c"]
    assert environ == {"XLA_FLAGS": "--xla_force_host_platform_device_count=2 --xla_gpu_autotune_level=4",
                       "CUDA_CACHE_DISABLE": "1"}
    user = {"CUDA_CACHE_DISABLE": "0"}
    assert cold_caches(user) == [] and user == {"CUDA_CACHE_DISABLE": "0"}  # the user's own choice stays


@pytest.mark.integration
def test_workers_start_without_the_cache_flags_and_machine_info_says_so(tmp_path):
    flags = "--xla_force_host_platform_device_count=2 --xla_gpu_load_autotune_results_from=/nowhere/at.pb"
    proc, data = run_bench(tmp_path, *TINY, "--es-phases", "runtime", "--es-devices", "cpu:1", XLA_FLAGS=flags)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    cuda = [] if "CUDA_CACHE_DISABLE" in os.environ else ["CUDA_CACHE_DISABLE=1"]  # the user's value stays
    assert data["machine_info"]["cold_caches"] == cuda + [
        "XLA_FLAGS without --xla_gpu_load_autotune_results_from=/nowhere/at.pb"]
    assert data["benchmarks"][0]["extra_info"]["device"] == "cpu:1"  # the other flags still hold: 2 devices


# -- the generation's own memory on an accelerator --------------------------------------------

def test_device_memory_of_the_rounds_is_theirs_only_where_they_raised_the_peak():
    stats = {"bytes_in_use": 100, "peak_bytes_in_use": 900}  # the compile's (autotuning) peak: 900
    device = types.SimpleNamespace(memory_stats=lambda: dict(stats))
    below = GenerationMemory([device])
    stats["peak_bytes_in_use"] = 900  # the rounds needed less than the compile did
    found = below.figures()
    assert found["generation_memory_bytes"] is None and "cannot reset" in found["generation_memory_unavailable"]
    above = GenerationMemory([device])
    stats["peak_bytes_in_use"] = 1500
    assert above.figures() == {"generation_memory_bytes": 1400, "generation_memory_source": "device_peak"}


def test_a_worker_that_only_loads_the_executable_measures_the_generations_memory(tmp_path):
    """On a GPU or TPU the first runtime worker saves its executable and another loads it (no
    compile, no autotuning before the rounds); here the same two steps on the CPU, in this process."""
    from bench.case import Case
    from bench.measure.rounds import measure_generation_memory, measure_runtime

    case = Case("runtime", "openai_es", "Pendulum-v1", 64, 2, 8, 20, "cpu:0")
    path = tmp_path / "generation.exe"
    samples, info = measure_runtime(case, Settings(runtime_rounds=3, save_executable=str(path)))
    assert "executable_not_saved" not in info and path.stat().st_size > 0 and len(samples) == 3
    found = measure_generation_memory(case, Settings(), str(path))
    assert found["generation_memory_source"] == "loaded_executable, rss_hwm_reset"
    assert 0 <= found["generation_memory_bytes"] < 2**30


# -- the memory worker (GPU/TPU): never fails the case, never leaves a stale reason ------------

@pytest.mark.integration
def test_a_crashed_memory_worker_leaves_the_runtime_figures_and_names_why(tmp_path):
    """The memory worker of a runtime case (here forced on the CPU) is killed by SIGKILL: the
    case passes with its three runtime workers' rounds, and the row says why it has no figure."""
    proc, data = run_bench(tmp_path, *TINY, "--es-phases", "runtime", "--es-devices", "cpu:0",
                           "--es-runtime-workers", "3", fault="crash-memory-worker")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (row,) = data["benchmarks"]
    x = row["extra_info"]
    assert x["runtime_workers"] == 3 and len(row["stats"]["data"]) == 3 and len(x["worker_pids"]) == 3
    assert x["generation_memory_worker_error"].startswith("the memory worker failed: worker (pid ")
    assert "killed by SIGKILL" in x["generation_memory_worker_error"]
    # the first runtime worker's own figure (the CPU's peak-RSS mark) stands, with no reason beside it
    assert x["generation_memory_source"] == "rss_hwm_reset" and x["generation_memory_bytes"] >= 0
    assert "generation_memory_unavailable" not in x and "generation_memory_pid" not in x
    assert x["worker_start"] == "fork server" and "worker_start_why" not in x


STALE = {"generation_memory_bytes": None, "generation_memory_source": None,
         "generation_memory_unavailable": "the rounds stayed below the compile's peak"}


def test_a_loaded_figure_replaces_a_stale_reason():
    info = merge_generation_memory({"env_steps": 10, **STALE},
                                   {"generation_memory_bytes": 4096, "generation_memory_source": "loaded_executable, device_peak"},
                                   pid=42)
    assert info == {"env_steps": 10, "generation_memory_bytes": 4096, "generation_memory_pid": 42,
                    "generation_memory_source": "loaded_executable, device_peak"}


def test_a_failed_or_missing_memory_worker_gives_every_reason_and_no_figure():
    info = merge_generation_memory(dict(STALE), error="the memory worker failed: worker (pid 7) was killed by SIGKILL")
    assert info == {"generation_memory_bytes": None, "generation_memory_source": None,
                    "generation_memory_unavailable": "the memory worker failed: worker (pid 7) was killed by SIGKILL; "
                    "the runtime worker: the rounds stayed below the compile's peak",
                    "generation_memory_worker_error": "the memory worker failed: worker (pid 7) was killed by SIGKILL"}
    own = {"generation_memory_bytes": 100, "generation_memory_source": "device_peak"}
    kept = merge_generation_memory(dict(own), {**STALE, "generation_memory_unavailable": "peak not raised"}, pid=3)
    assert kept == own  # the runtime worker's own figure beats a loaded reason; no reason beside it


def test_an_executable_that_could_not_be_saved_says_so_in_the_row(monkeypatch, tmp_path):
    """executable_not_saved: no memory worker runs, and generation_memory_unavailable says why."""
    from bench.plugin.policy import generation_memory

    ran = []
    workers = types.SimpleNamespace(run=lambda *a: ran.append(a))
    info = {**STALE, "executable_not_saved": "ValueError: `LessThan` is not serializable"}
    generation_memory(workers, {}, info, str(tmp_path / "missing.exe"), 10.0)
    assert ran == [] and info["generation_memory_bytes"] is None
    assert info["generation_memory_unavailable"].startswith(
        "no memory worker: the runtime worker could not save its executable (ValueError: `LessThan` is not serializable)")


def test_an_executable_xla_cannot_serialize_leaves_no_file(tmp_path):
    from bench.measure.rounds import save_executable

    class Unserializable:
        pass

    path = tmp_path / "generation.exe"
    with pytest.raises(Exception):
        save_executable(Unserializable(), str(path))
    assert not path.exists() and not (tmp_path / "generation.exe.tmp").exists()
