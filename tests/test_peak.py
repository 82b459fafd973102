"""The device's own peak, measured (``--es-peak-flops auto``, ``python -m bench.peak``)."""
import json

import pytest

from bench.case import Settings
from bench.measure import peak
from bench.measure.rounds import rates
from helpers import PY, ROOT, TINY, child_env, run, run_bench

TINY_PEAK = {"ESPERF_PEAK_SIZES": "64,65536"}  # a 64 x 64 matmul and a 64 KiB copy: seconds, not minutes


def test_pct_of_peak_uses_the_measured_peak_unless_one_is_given():
    info = {"phase": "runtime", "env_steps": 10, "flops": 2e9, "device_kind": "cpu", "platform": "cpu",
            "device": "cpu:0", "devices": ["cpu:0"], "num_devices": 1}
    measured = {"cpu:0": 8e9}
    out = rates(info, 0.5, Settings(), measured)  # 4 GFLOP/s of 8
    assert out["pct_of_peak"] == pytest.approx(50.0) and out["peak_source"] == "measured"
    out = rates(info, 0.5, Settings(peak_flops={"cpu": 4e9}), measured)  # the user's value wins
    assert out["pct_of_peak"] == pytest.approx(100.0) and out["peak_source"] == "given"
    pair = {**info, "device": "cpu:0+1", "devices": ["cpu:0", "cpu:1"], "num_devices": 2}
    out = rates(pair, 0.5, Settings(), {"cpu:0": 8e9, "cpu:1": 8e9})  # a set: the sum of its devices' peaks
    assert out["peak_flops"] == 16e9
    assert rates(pair, 0.5, Settings(), measured)["pct_of_peak"] is None  # cpu:1 not measured: no figure


def test_bad_peak_sizes_are_one_clear_line():
    assert peak.sizes_for("cpu", {"ESPERF_PEAK_SIZES": "64,4096"}) == (64, 4096)
    assert peak.sizes_for("cpu", {}) == peak.SIZES["cpu"]
    with pytest.raises(ValueError, match=r"ESPERF_PEAK_SIZES='64' is not allowed; give N,BYTES"):
        peak.sizes_for("cpu", {"ESPERF_PEAK_SIZES": "64"})


def test_es_peak_flops_auto_fills_pct_of_peak_on_every_row(tmp_path):
    proc, data = run_bench(tmp_path, *TINY, "--es-devices", "cpu:0,cpu:1", "--es-phases", "runtime",
                           "--es-peak-flops", "auto", timeout=600, **TINY_PEAK)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    measured = data["machine_info"]["measured_peaks"]
    assert [p["device"] for p in measured] == ["cpu:0", "cpu:1"]
    for p in measured:
        assert p["platform"] == "cpu" and p["kind"] and p["rounds"] == 5
        assert p["matmul_n"] == 64 and p["copy_bytes"] == 65536
        assert p["matmul_flops_per_s"] > 0 and p["copy_bytes_per_s"] > 0
        assert len(p["matmul_s"]) == len(p["copy_s"]) == 5
    by_device = peak.peak_by_device(measured)
    rows = data["benchmarks"]
    assert len(rows) == 2
    for row in rows:
        e = row["extra_info"]
        assert e["peak_flops"] == by_device[e["device"]] and e["peak_source"] == "measured"
        assert e["pct_of_peak"] == pytest.approx(100 * e["flops_per_s"] / e["peak_flops"])


def test_bench_peak_prints_a_table_or_json_and_exits_2_on_bad_input():
    env = child_env(JAX_PLATFORMS="cpu", **TINY_PEAK)
    proc = run([PY, "-m", "bench.peak", "--devices", "cpu:0", "--rounds", "3", "--json"], 300, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    (found,) = json.loads(proc.stdout)
    assert found["device"] == "cpu:0" and found["rounds"] == 3 and found["matmul_flops_per_s"] > 0
    proc = run([PY, "-m", "bench.peak", "--devices", "cpu:0", "--rounds", "3"], 300, cwd=ROOT, env=env)
    assert proc.returncode == 0 and proc.stdout.splitlines()[0].split()[:2] == ["device", "kind"]
    assert proc.stdout.splitlines()[1].startswith("cpu:0")
    for bad, needle in ((["--rounds", "0"], "--rounds=0"), (["--devices", "cpu:7"], "cpu:7"),
                        (["--rounds"], "expected one argument")):
        proc = run([PY, "-m", "bench.peak", *bad], 300, cwd=ROOT, env=env)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and needle in lines[-1], (bad, proc.stderr)
        assert lines[-1].startswith("python -m bench.peak: error: ")  # one error line (after argparse's usage)
        assert not any("Traceback" in line for line in lines)
