"""The device's own peak, measured (``--es-peak-flops auto``, ``python -m bench.peak``)."""
import json

import pytest

from bench.case import Settings
from bench.measure import peak
from bench.measure.rounds import rates
from helpers import PY, ROOT, TINY, child_env, run, run_bench

TINY_PEAK = {"ESPERF_PEAK_SIZES": "64,65536"}  # a 64 x 64 matmul and a 64 KiB copy: seconds, not minutes


PEAKS = [
    {"device": "cpu:0", "devices": ["cpu:0"], "cores": 1, "platform": "cpu", "matmul_flops_per_s": 8e9},
    {"device": "cpu:all", "devices": ["cpu:0", "cpu:1"], "cores": 2, "platform": "cpu", "matmul_flops_per_s": 14e9},
    {"device": "gpu:0", "devices": ["gpu:0"], "platform": "gpu", "matmul_flops_per_s": 50e12},
    {"device": "gpu:1", "devices": ["gpu:1"], "platform": "gpu", "matmul_flops_per_s": 40e12},
]


def _info(device, devices, platform="cpu"):
    return {"phase": "runtime", "env_steps": 10, "flops": 2e9, "device_kind": platform, "platform": platform,
            "device": device, "devices": devices, "num_devices": len(devices)}


def test_pct_of_peak_sets_each_row_against_its_own_device_sets_peak():
    """Like with like: cpu:0 against one core, cpu:all against the whole CPU, a GPU set against the
    sum of its GPUs, a partial CPU set against its cores times one core; a given value wins."""
    one = rates(_info("cpu:0", ["cpu:0"]), 0.5, Settings(), PEAKS)  # 4 GFLOP/s of one core's 8
    assert one["pct_of_peak"] == pytest.approx(50.0) and one["peak_source"] == "measured"
    assert one["peak_of"] == "cpu:0 (1 core)"
    whole = rates(_info("cpu:all", ["cpu:0", "cpu:1"]), 0.5, Settings(), PEAKS)
    assert whole["peak_flops"] == 14e9 and whole["peak_of"] == "cpu:all (2 cores)"
    part = rates(_info("cpu:0+1", ["cpu:0", "cpu:1"]), 0.5, Settings(), PEAKS[:1])
    assert part["peak_flops"] == 16e9 and part["peak_of"] == "2 x one core (cpu:0)"
    gpus = rates(_info("gpu:0+1", ["gpu:0", "gpu:1"], "gpu"), 0.5, Settings(), PEAKS)
    assert gpus["peak_flops"] == 90e12 and gpus["peak_of"] == "sum of gpu:0, gpu:1"
    given = rates(_info("cpu:0", ["cpu:0"]), 0.5, Settings(peak_flops={"cpu": 4e9}), PEAKS)
    assert given["pct_of_peak"] == pytest.approx(100.0) and given["peak_source"] == "given"
    # an older file's single cpu:0 entry (no cores: an all-core figure) is no one-core reference
    old = [{"device": "cpu:0", "platform": "cpu", "matmul_flops_per_s": 8e9}]
    assert rates(_info("cpu:0+1", ["cpu:0", "cpu:1"]), 0.5, Settings(), old)["pct_of_peak"] is None
    assert rates(_info("gpu:0", ["gpu:0"], "gpu"), 0.5, Settings(), PEAKS[:2])["pct_of_peak"] is None


def test_peak_requests_measure_one_core_pinned_and_the_whole_cpu_together():
    requests = peak.peak_requests([("cpu:all", ("cpu:0", "cpu:1")), ("cpu:0", ("cpu:0",)), ("gpu:0", ("gpu:0",)),
                                   ("gpu:all", None)])
    assert requests == [{"sets": [["cpu:0", ["cpu:0"]]], "one_core": True},
                        {"sets": [["cpu:all", ["cpu:0", "cpu:1"]]]},
                        {"devices": ["gpu:0", "gpu:all"]}]
    # one core only (taskset -c 0): the whole CPU is cpu:0, measured pinned
    assert peak.peak_requests([("cpu:all", ("cpu:0",))]) == [{"sets": [["cpu:0", ["cpu:0"]]], "one_core": True}]


def test_bad_peak_sizes_are_one_clear_line():
    assert peak.sizes_for("cpu", {"ESPERF_PEAK_SIZES": "64,4096"}) == (64, 4096)
    assert peak.sizes_for("cpu", {}) == peak.SIZES["cpu"]
    with pytest.raises(ValueError, match=r"ESPERF_PEAK_SIZES='64' is not allowed; give N,BYTES"):
        peak.sizes_for("cpu", {"ESPERF_PEAK_SIZES": "64"})


@pytest.mark.integration
def test_es_peak_flops_auto_fills_pct_of_peak_on_every_row(tmp_path):
    proc, data = run_bench(tmp_path, *TINY, "--es-devices", "cpu:0,cpu:all", "--es-cpu-cores", "2",
                           "--es-phases", "runtime", "--es-peak-flops", "auto", timeout=600, **TINY_PEAK)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    measured = data["machine_info"]["measured_peaks"]
    assert [(p["device"], p["devices"], p["cores"]) for p in measured] == [
        ("cpu:0", ["cpu:0"], 1), ("cpu:all", ["cpu:0", "cpu:1"], 2)]
    for p in measured:
        assert p["platform"] == "cpu" and p["kind"] and p["rounds"] == 5
        assert p["matmul_n"] == 64 and p["copy_bytes"] == 65536
        assert p["matmul_flops_per_s"] > 0 and p["copy_bytes_per_s"] > 0
        assert len(p["matmul_s"]) == len(p["copy_s"]) == 5
    by_device = {p["device"]: p["matmul_flops_per_s"] for p in measured}
    rows = data["benchmarks"]
    assert sorted(r["extra_info"]["device"] for r in rows) == ["cpu:0", "cpu:all"]
    for row in rows:
        e = row["extra_info"]
        assert e["peak_flops"] == by_device[e["device"]] and e["peak_source"] == "measured"
        assert e["pct_of_peak"] == pytest.approx(100 * e["flops_per_s"] / e["peak_flops"])
        assert e["bytes_accessed"] > 0


@pytest.mark.integration
def test_bench_peak_prints_a_table_or_json_and_exits_2_on_bad_input():
    env = child_env(JAX_PLATFORMS="cpu", **TINY_PEAK)
    proc = run([PY, "-m", "bench.peak", "--devices", "cpu:0", "--rounds", "3", "--json"], 300, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    (found,) = json.loads(proc.stdout)
    assert found["device"] == "cpu:0" and found["rounds"] == 3 and found["matmul_flops_per_s"] > 0
    proc = run([PY, "-m", "bench.peak", "--devices", "cpu:0", "--rounds", "3"], 300, cwd=ROOT, env=env)
    assert proc.returncode == 0 and proc.stdout.splitlines()[0].split()[:3] == ["device", "kind", "cores"]
    assert proc.stdout.splitlines()[1].startswith("cpu:0")
    for bad, needle in ((["--rounds", "0"], "--rounds=0"), (["--devices", "cpu:7"], "cpu:7"),
                        (["--rounds"], "expected one argument"),
                        # refused by the worker (it resolves the sets): a usage error all the same
                        (["--devices", "gpu:0"], "gpu:0 is not a visible device")):
        proc = run([PY, "-m", "bench.peak", *bad], 300, cwd=ROOT, env=env)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and needle in lines[-1], (bad, proc.stderr)
        assert lines[-1].startswith("python -m bench.peak: error: ")  # one error line (after argparse's usage)
        assert not any("Traceback" in line for line in lines)
