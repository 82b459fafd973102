"""The device comparison a user reads (issue 26): speedup over the whole CPU, crossover popsize, roofline.

The constructed file (``make_fixtures.build_whole_cpu``: a 16-core GPU host with ``cpu:0``,
``cpu:all`` and ``gpu:0`` rows at known medians, its measured peaks and each case's bytes
accessed) is built into a temporary folder; every value checked here is known in advance from
its medians, intensities and peaks. Older fixture files must give the speedups they gave
before the whole CPU became the reference: those values are pinned below as computed at the
commit before the change.
"""
from __future__ import annotations

import importlib.util
import json
import math
import re
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from helpers import ROOT
from reports import crossover, plots, render, roofline, tables
from reports import report as report_command
from reports.load import load

FIXTURES = ROOT / "tests" / "fixtures"
WHOLE = "whole CPU (16 cores)"


def _fixture_module():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MOD = _fixture_module()


def _write(tmp_path, data, name="gpu-host.json"):
    path = tmp_path / name
    path.write_text(json.dumps(MOD._round(data)))
    return path


def _built(tmp_path, change=None):
    """The constructed file, after ``change(data)`` where given, loaded: (results, summary)."""
    data = MOD.build_whole_cpu()
    if change:
        change(data)
    res = load([_write(tmp_path, data)])
    return res, tables.summary(res)


def _written_by_version_1(data):
    """``data`` as a file of schema version 1 says it is (its rows may lack what version 2 requires)."""
    data["machine_info"]["esperf_schema_version"] = data["esperf"]["schema_version"] = 1


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    return _built(tmp_path_factory.mktemp("whole"))


def _by(summary, device, strategy, col):
    rows = summary[summary["device"].eq(device) & summary["strategy"].eq(strategy)
                   & summary["phase"].eq("runtime")]
    return dict(zip(rows["popsize"].astype(int), rows[col]))


def _approx(got: dict, want: dict):
    assert sorted(got) == sorted(want)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-9), (k, got[k], v)


# --- speedup over the whole CPU --------------------------------------------------------------


def test_speedup_is_over_the_whole_cpu_and_names_it(whole):
    _, s = whole
    # gpu:0 over cpu:all (medians: cma_es cpu:all 0.004, 0.0125, 0.1, 1.0 s; gpu 0.02, 0.025, 0.02, 0.05 s)
    _approx(_by(s, "gpu:0", "cma_es", "speedup_vs_cpu"), {100: 0.2, 1000: 0.5, 10000: 5.0, 100000: 20.0})
    _approx(_by(s, "gpu:0", "openai_es", "speedup_vs_cpu"), {100: 0.2, 1000: 0.01 / 0.012, 10000: 0.08 / 0.084})
    assert set(_by(s, "gpu:0", "cma_es", "cpu_reference").values()) == {WHOLE}
    # and over one core (cpu:0: 0.01, 0.1, 1, 10 s)
    _approx(_by(s, "gpu:0", "cma_es", "speedup_vs_cpu0"), {100: 0.5, 1000: 4.0, 10000: 50.0, 100000: 200.0})
    # the whole CPU over one core; a CPU row has no speedup_vs_cpu and no reference of its own
    _approx(_by(s, "cpu:all", "cma_es", "speedup_vs_cpu0"), {100: 2.5, 1000: 8.0, 10000: 10.0, 100000: 10.0})
    _approx(_by(s, "cpu:all", "openai_es", "speedup_vs_cpu0"), {100: 4.0, 1000: 8.0, 10000: 10.0})
    cpus = s[s["platform"].eq("cpu")]
    assert cpus["speedup_vs_cpu"].isna().all() and cpus["cpu_reference"].fillna("").eq("").all()
    assert s[s["device"].eq("cpu:0")]["speedup_vs_cpu0"].isna().all()
    cols = list(s.columns)
    assert cols.index("speedup_vs_cpu0") < cols.index("cpu_reference") == cols.index("speedup_vs_cpu") - 1


def test_the_whole_cpu_is_named_by_cores_used_else_by_its_devices(tmp_path):
    def cores(n):
        def change(data):
            for b in data["benchmarks"]:
                if n is None:
                    _written_by_version_1(data)
                    b["extra_info"].pop("cores_used", None)  # a file written before cores_used
                elif b["extra_info"]["device"] == "cpu:all":
                    b["extra_info"]["cores_used"] = n
        return change

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, s = _built(tmp_path / "a", cores(None))
    assert set(_by(s, "gpu:0", "cma_es", "cpu_reference").values()) == {WHOLE}  # its 16 devices
    _, s = _built(tmp_path / "b", cores(2))
    assert set(_by(s, "gpu:0", "cma_es", "cpu_reference").values()) == {"whole CPU (2 cores)"}
    assert tables.cpu_reference_name("cpu:0", 1.0) == "cpu:0 (1 core)"


def test_a_machine_without_a_whole_cpu_row_keeps_cpu0_as_its_reference(tmp_path):
    def drop_whole(data):
        data["benchmarks"] = [b for b in data["benchmarks"] if b["extra_info"]["device"] != "cpu:all"]

    _, s = _built(tmp_path, drop_whole)
    _approx(_by(s, "gpu:0", "cma_es", "speedup_vs_cpu"), {100: 0.5, 1000: 4.0, 10000: 50.0, 100000: 200.0})
    assert set(_by(s, "gpu:0", "cma_es", "cpu_reference").values()) == {"cpu:0 (1 core)"}
    assert "speedup_vs_cpu0" not in s  # it would only repeat speedup_vs_cpu


def test_a_missing_whole_cpu_case_is_no_speedup_not_one_over_one_core(tmp_path):
    # the machine has a whole CPU: a case it lacks there gets no speedup, never one over cpu:0
    def drop_one(data):
        data["benchmarks"] = [b for b in data["benchmarks"] if not (
            b["extra_info"]["device"] == "cpu:all" and b["extra_info"]["popsize"] == 1000
            and b["extra_info"]["strategy"] == "cma_es")]

    _, s = _built(tmp_path, drop_one)
    got = _by(s, "gpu:0", "cma_es", "speedup_vs_cpu")
    assert math.isnan(got[1000]) and got[10000] == pytest.approx(5.0)
    assert _by(s, "gpu:0", "cma_es", "speedup_vs_cpu0")[1000] == pytest.approx(4.0)


def test_the_speedup_plot_draws_each_speedup_named_with_its_reference(whole):
    res, s = whole
    fig = plots.speedup_vs_cpu(s, plots.make_style(s, tables.failed(res)))
    try:
        want = Counter((float(p), float(f"{v:.9g}")) for dev, col in (("gpu:0", "speedup_vs_cpu"),
                                                                       ("cpu:all", "speedup_vs_cpu0"))
                       for strategy in ("cma_es", "openai_es") for p, v in _by(s, dev, strategy, col).items())
        assert sum(want.values()) == 14 and want[(10000.0, 5.0)] == 1 and want[(1000.0, 8.0)] == 2
        # every line but the parity line (y = 1 across each panel), point by point
        drawn = Counter((float(f"{x:.9g}"), float(f"{y:.9g}")) for ax in fig.axes for line in ax.get_lines()
                        if not np.all(np.asarray(line.get_ydata()) == 1.0) for x, y in line.get_xydata())
        assert drawn == want
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert "gpu-host / NVIDIA H200 over whole CPU (16 cores)" in legend
        assert "gpu-host / cpu [cpu:all] over cpu:0 (1 core)" in legend
    finally:
        plt.close(fig)


# Pinned at the commit before the whole CPU became the reference (deea358): every speedup_vs_cpu
# the older fixture files gave, (host, device, part, strategy, popsize, evals) -> value; every other
# row NaN. tests/fixtures/real/vm-small.json (one CPU device) gave none.
OLD_SPEEDUPS = {
    ("gpu-box", "gpu:0", "ask", "cma_es", 1000, 50): 40.00000000000001,
    ("gpu-box", "gpu:0", "eval", "cma_es", 1000, 50): 40.00000000000001,
    ("gpu-box", "gpu:0", "generation", "cma_es", 100, 10): 10.38246282409255,
    ("gpu-box", "gpu:0", "generation", "cma_es", 100, 50): 20.1570955435724,
    ("gpu-box", "gpu:0", "generation", "cma_es", 1000, 10): 35.7496059434916,
    ("gpu-box", "gpu:0", "generation", "cma_es", 1000, 50): 40.0,
    ("gpu-box", "gpu:0", "generation", "cma_es", 10000, 10): 47.38560933737042,
    ("gpu-box", "gpu:0", "generation", "cma_es", 10000, 50): 47.764632143793236,
    ("gpu-box", "gpu:0", "generation", "openai_es", 100, 10): 3.9795918367428156,
    ("gpu-box", "gpu:0", "generation", "openai_es", 100, 50): 14.815384615361822,
    ("gpu-box", "gpu:0", "generation", "openai_es", 1000, 10): 22.623529411791324,
    ("gpu-box", "gpu:0", "generation", "openai_es", 1000, 50): 39.19591836733094,
    ("gpu-box", "gpu:0", "generation", "openai_es", 10000, 10): 43.15280898886102,
    ("gpu-box", "gpu:0", "tell", "cma_es", 1000, 50): 40.0,
}


@pytest.mark.parametrize("paths", [["results"], ["results/gpu-box.json"], ["results/laptop.json"],
                                   ["results/cpu-node.json"], ["real/vm-small.json"]])
def test_older_files_give_the_speedups_they_gave(paths):
    s = tables.summary(load([FIXTURES / p for p in paths]))
    got = {(r.host, r.device, r.part, r.strategy, int(r.popsize), int(r.num_evals)): r.speedup_vs_cpu
           for r in s.itertuples() if not pd.isna(r.speedup_vs_cpu)}
    want = {k: v for k, v in OLD_SPEEDUPS.items() if k[0] in set(s["host"])}
    assert sorted(got) == sorted(want)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-12), k
    assert set(s.loc[s["speedup_vs_cpu"].notna(), "cpu_reference"]) <= {"cpu:0 (1 core)"}


# --- crossover popsize -------------------------------------------------------------------------


def _cross(table, strategy, a, b):
    row = table[table["strategy"].eq(strategy) & table["device_a"].eq(a) & table["device_b"].eq(b)]
    assert len(row) == 1, (strategy, a, b)
    return row.iloc[0]


def test_crossover_popsize_and_its_interval(whole):
    res, _ = whole
    t = crossover.crossovers(res)
    assert len(t) == 6  # 3 pairs of devices x 2 strategies, one machine
    gpu = _cross(t, "cma_es", "cpu:all", "gpu:0")  # the whole CPU faster at 100 and 1000, the GPU from 10 000
    assert (gpu["faster"], gpu["slower"]) == ("gpu:0", "cpu:all")
    assert (gpu["crossover_popsize"], gpu["interval_low"], gpu["interval_high"]) == (10000, 1000, 10000)
    assert gpu["crossover"] == "from 10000 (between 1000 and 10000)"
    assert gpu["verdicts"] == "100: cpu:all; 1000: cpu:all; 10000: gpu:0; 100000: gpu:0"
    one = _cross(t, "cma_es", "cpu:0", "gpu:0")  # one core is slower already at 1000
    assert (one["faster"], one["crossover_popsize"], one["interval_low"]) == ("gpu:0", 1000, 100)
    cores = _cross(t, "cma_es", "cpu:0", "cpu:all")  # faster at every measured popsize: no lower end
    assert (cores["faster"], cores["crossover_popsize"]) == ("cpu:all", 100) and math.isnan(cores["interval_low"])
    assert cores["crossover"] == "at every measured popsize (from 100)"
    # openai_es: the GPU within 10 % of the whole CPU at 10 000 (no verdict by compare's rule)
    none = _cross(t, "openai_es", "cpu:all", "gpu:0")
    assert none["faster"] == "" and none["crossover"] == crossover.NOT_IN_RANGE
    assert math.isnan(none["crossover_popsize"]) and none["verdicts"] == "100: cpu:all; 1000: cpu:all; 10000: ="
    assert _cross(t, "openai_es", "cpu:0", "gpu:0")["crossover_popsize"] == 1000


def test_crossover_needs_every_larger_popsize():
    pops = [100.0, 1000.0, 10000.0, 100000.0]
    assert crossover.crossover_of(pops, ["b", "a", "b", "b"]) == ("b", 2)  # faster at 100 does not count
    assert crossover.crossover_of(pops, ["a", "a", "", "a"]) == ("a", 3)
    assert crossover.crossover_of(pops, ["b", "b", "b", ""]) == ("", None)
    assert crossover.crossover_of(pops, ["a", "a", "a", "a"]) == ("a", 0)


def test_crossover_pairs_need_two_shared_popsizes_and_raw_samples(tmp_path):
    def thin(data):
        # gpu:0 runs only pop 100 000 of cma_es; openai_es's gpu rows lose their raw samples
        keep = []
        for b in data["benchmarks"]:
            e = b["extra_info"]
            if e["device"] == "gpu:0" and e["strategy"] == "cma_es" and e["popsize"] != 100000:
                continue
            if e["device"] == "gpu:0" and e["strategy"] == "openai_es":
                del b["stats"]["data"]  # version 1 allows rows with a median only; version 2 rows have their samples
            keep.append(b)
        data["benchmarks"] = keep
        _written_by_version_1(data)

    res, _ = _built(tmp_path, thin)
    t = crossover.crossovers(res)
    assert sorted(zip(t["strategy"], t["device_a"], t["device_b"])) == [
        ("cma_es", "cpu:0", "cpu:all"), ("openai_es", "cpu:0", "cpu:all")]


def test_crossover_table_names_each_machines_own_devices(tmp_path):
    # gpu:0 is an H100 on gpu-box and an H200 on gpu-host: each row names its own machine's kind
    res = load([_write(tmp_path, MOD.build_whole_cpu()), FIXTURES / "results" / "gpu-box.json"])
    table = render.crossover_table(crossover.crossovers(res))
    faster = dict(zip(zip(table["host"], table["case"], table["devices"]), table["faster from the crossover"]))
    assert faster[("gpu-box", "cma_es Pendulum-v1 50 evals", "cpu:0 vs gpu:0 (NVIDIA H100 80GB HBM3)")] == \
        "gpu:0 (NVIDIA H100 80GB HBM3)"
    assert faster[("gpu-host", "cma_es Pendulum-v1 10 evals", "cpu:all vs gpu:0 (NVIDIA H200)")] == "gpu:0 (NVIDIA H200)"
    assert faster[("gpu-host", "cma_es Pendulum-v1 10 evals", "cpu:0 vs cpu:all")] == "cpu:all"
    assert faster[("gpu-host", "openai_es Pendulum-v1 10 evals", "cpu:all vs gpu:0 (NVIDIA H200)")] == "neither"


# --- roofline ----------------------------------------------------------------------------------


def _roof(table, device, strategy, pop):
    row = table[table["device"].eq(device) & table["strategy"].eq(strategy) & table["popsize"].eq(pop)]
    assert len(row) == 1, (device, strategy, pop)
    return row.iloc[0]


def test_roofline_points_against_each_devices_own_roofs(whole):
    res, s = whole
    t = roofline.roofline(s, res.machines)
    assert len(t) == 20  # 21 runtime cases, one without bytes_accessed
    assert set(zip(t["strategy"], t["intensity"])) == {("cma_es", 50.0), ("openai_es", 10.0)}
    # flops of a generation: 600 per env step x pop x 10 evals x 200 steps
    for device, strategy, pop, achieved, roof, pct, bound, ridge in (
        ("cpu:0", "openai_es", 1000, 1.5e10, 1e11, 15.0, "compute", 5.0),  # one core: 1e11 FLOP/s, 20 GB/s
        ("cpu:all", "openai_es", 1000, 1.2e11, 1e12, 12.0, "memory", 16.0),  # 16 cores: 1.6e12, 100 GB/s
        ("cpu:all", "cma_es", 1000, 9.6e10, 1.6e12, 6.0, "compute", 16.0),
        ("gpu:0", "cma_es", 10000, 6e11, 5e13, 1.2, "compute", 25.0),  # the GPU: 5e13, 2 TB/s
        ("gpu:0", "openai_es", 1000, 1e11, 2e13, 0.5, "memory", 25.0),
    ):
        r = _roof(t, device, strategy, pop)
        assert r["flops_per_s"] == pytest.approx(achieved, rel=1e-9)
        assert r["roof_flops_per_s"] == pytest.approx(roof, rel=1e-9)
        assert r["pct_of_roof"] == pytest.approx(pct, rel=1e-9)
        assert (r["bound"], r["peak_entry"]) == (bound, device)
        assert r["ridge_intensity"] == pytest.approx(ridge, rel=1e-12)
    assert roofline.note(s, res.machines) == ("Roofline: 1 of 21 runtime case(s) left out: 1 without bytes_accessed "
                                              "(XLA's cost analysis gave none, or the file predates it).")


def test_roofline_of_a_device_set_without_its_own_entry(tmp_path):
    def per_core(data):  # no all-core entry: the whole CPU's roofs are its 16 cores' summed
        peaks = [p for p in data["machine_info"]["measured_peaks"] if p["device"] != "cpu:all"]
        peaks += [{**peaks[0], "device": f"cpu:{i}"} for i in range(1, 16)]
        data["machine_info"]["measured_peaks"] = peaks

    res, s = _built(tmp_path, per_core)
    r = _roof(roofline.roofline(s, res.machines), "cpu:all", "openai_es", 1000)
    assert r["peak_entry"] == "sum of " + ", ".join(f"cpu:{i}" for i in range(16))
    assert (r["matmul_flops_per_s"], r["copy_bytes_per_s"]) == pytest.approx((1.6e12, 3.2e11))
    assert r["roof_flops_per_s"] == pytest.approx(1.6e12) and r["bound"] == "compute"  # ridge 5: 10 is right of it


def test_an_older_files_single_cpu_entry_is_cpu0s_and_a_device_without_peaks_is_left_out(tmp_path):
    def old_peaks(data):  # one cpu:0 entry without "cores" (files before the all-core peak), no GPU entry
        (cpu0,) = [p for p in data["machine_info"]["measured_peaks"] if p["device"] == "cpu:0"]
        del cpu0["cores"]
        data["machine_info"]["measured_peaks"] = [cpu0]

    res, s = _built(tmp_path, old_peaks)
    t = roofline.roofline(s, res.machines)
    assert set(t["device"]) == {"cpu:0"} and len(t) == 7
    assert _roof(t, "cpu:0", "cma_es", 100)["pct_of_roof"] == pytest.approx(12.0)
    assert roofline.note(s, res.machines) == (
        "Roofline: 14 of 21 runtime case(s) left out: 1 without bytes_accessed (XLA's cost analysis gave none, "
        "or the file predates it); 13 without a measured peak of their device (gpu-host / cpu [cpu:all], "
        "gpu-host / NVIDIA H200; pytest bench --es-peak-flops auto measures it).")


def test_files_without_roofline_data_get_no_roofline_and_no_note():
    res = load([FIXTURES / "results"])
    s = tables.summary(res)
    assert roofline.roofline(s, res.machines).empty and roofline.note(s, res.machines) == ""
    assert "roofline" not in [p.name for p in plots.plots_for(s, {"roofline": roofline.roofline(s, res.machines)})]


def test_the_roofline_plot_draws_the_table(whole):
    res, s = whole
    t = roofline.roofline(s, res.machines)
    fig = plots.roofline_plot(t, plots.make_style(s, tables.failed(res)))
    try:
        panels = [ax for ax in fig.axes if ax.get_visible()]
        assert len(panels) == 3
        for ax in panels:
            label = ax.get_title(loc="left").splitlines()[0]
            rows = t[t["device_label"].eq(label)]
            matmul, copy = rows["matmul_flops_per_s"].iloc[0], rows["copy_bytes_per_s"].iloc[0]
            (roof,) = [ln for ln in ax.get_lines() if ln.get_gid() == "roof"]
            x, y = roof.get_xdata(), roof.get_ydata()
            assert np.allclose(y, np.minimum(matmul, copy * x), rtol=1e-12)
            points = {(float(f"{a:.9g}"), float(f"{b:.9g}")) for ln in ax.get_lines() if ln.get_gid() != "roof"
                      and ln.get_linestyle() == "None" for a, b in ln.get_xydata()}
            assert points == {(float(f"{a:.9g}"), float(f"{b:.9g}")) for a, b in zip(rows["intensity"], rows["flops_per_s"])}
    finally:
        plt.close(fig)


# --- the report ---------------------------------------------------------------------------------


def test_the_report_has_the_crossover_and_roofline_tables(tmp_path, capsys):
    src = _write(tmp_path, MOD.build_whole_cpu())
    out = tmp_path / "out"
    assert report_command.main([str(src), "--out", str(out)]) == 0
    capsys.readouterr()
    cross = pd.read_csv(out / "crossover.csv")
    assert len(cross) == 6 and set(cross["crossover"]) >= {crossover.NOT_IN_RANGE, "from 10000 (between 1000 and 10000)"}
    roof = pd.read_csv(out / "roofline.csv")
    assert len(roof) == 20 and set(roof["bound"]) == {"memory", "compute"}
    summary = pd.read_csv(out / "summary.csv")
    gpu = summary[summary["device"].eq("gpu:0") & summary["strategy"].eq("cma_es") & summary["popsize"].eq(10000)]
    assert gpu["speedup_vs_cpu"].iloc[0] == pytest.approx(5.0) and gpu["cpu_reference"].iloc[0] == WHOLE
    md = (out / "report.md").read_text()
    assert ("| gpu-host | cma_es Pendulum-v1 10 evals | cpu:all vs gpu:0 (NVIDIA H200) | gpu:0 (NVIDIA H200) | "
            "from 10000 (between 1000 and 10000) | 100: cpu:all; 1000: cpu:all; 10000: gpu:0; 100000: gpu:0 |") in md
    assert "| gpu-host / cpu [cpu:all] | openai_es Pendulum-v1 10 evals | 1000 | 10 | 120 GFLOP/s | 1 TFLOP/s | 12% | memory |" in md
    assert "Roofline: 1 of 21 runtime case(s) left out" in md
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert refs.index("roofline.png") == refs.index("pct_of_peak_vs_popsize.png") + 1
    page = (out / "report.html").read_text()
    assert 'id="crossover"' in page and 'id="roofline"' in page and "<td>whole CPU (16 cores)</td>" in page
    cases = render.cases_table(tables.summary(load([src])))
    assert list(cases.columns[-3:]) == ["speedup vs CPU", "CPU reference", "speedup vs cpu:0"]
