"""The whole CPU as one case (``cpu:all``: one CPU device per core, the population sharded over
them, each device's rows in blocks) beside ``cpu:0`` (one device, one core)."""
import json
import os

import pytest

import helpers
from bench.multi import cpu_cores
from bench.multi.devices import ensure_cpu_devices, forced_cpu_device_count
from bench.plugin.grid import build_cases
from helpers import PY, ROOT, TINY, bench_cmd, bench_env, grid_options, run_bench

ONE_CPU = {"cpu:0": {"id": "cpu:0", "process_index": 0}}
GPUS = {**ONE_CPU, **{f"gpu:{i}": {"id": f"gpu:{i}", "process_index": 0} for i in range(2)}}


def _topology(root, cpus: dict[int, tuple[int, int]]):
    """A stand-in sysfs: {cpu: (package, core)}."""
    for cpu, (package, core) in cpus.items():
        topo = root / f"cpu{cpu}" / "topology"
        topo.mkdir(parents=True)
        (topo / "physical_package_id").write_text(f"{package}\n")
        (topo / "core_id").write_text(f"{core}\n")
    return root


def test_cores_are_physical_cores_of_the_affinity_capped_by_the_cgroup_quota(tmp_path):
    # 4 CPUs: two cores of two hyperthreads each
    sysfs = _topology(tmp_path / "sys", {0: (0, 0), 1: (0, 1), 2: (0, 0), 3: (0, 1)})
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (cgroup / "cpu.max").write_text("max 100000\n")
    found = cpu_cores.usable_cores(cpus={0, 1, 2, 3}, sysfs=sysfs, cgroup=cgroup)
    assert found.count == 2 and "2 physical cores of the 4 CPUs" in found.how
    assert cpu_cores.usable_cores(cpus={0, 2}, sysfs=sysfs, cgroup=cgroup).count == 1  # one core's two threads
    (cgroup / "cpu.max").write_text("50000 100000\n")  # half a CPU: still one thread runs
    capped = cpu_cores.usable_cores(cpus={0, 1, 2, 3}, sysfs=sysfs, cgroup=cgroup)
    assert capped.count == 1 and "cgroup's CPU quota (0.5 CPUs)" in capped.how
    (cgroup / "cpu.max").write_text("150000 100000\n")  # 1.5 CPUs: two threads
    assert cpu_cores.usable_cores(cpus={0, 1, 2, 3}, sysfs=sysfs, cgroup=cgroup).count == 2
    no_topology = cpu_cores.usable_cores(cpus={0, 1, 2}, sysfs=tmp_path / "none", cgroup=tmp_path / "none")
    assert no_topology.count == 3 and "no core topology" in no_topology.how
    assert cpu_cores.usable_cores(16).to_json() == {"count": 16, "how": "--es-cpu-cores"}


def test_cgroup_v1_quota(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("200000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cpu_cores.cgroup_quota(tmp_path) == 2.0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cpu_cores.cgroup_quota(tmp_path) is None


def _devices(cases):
    return [(c.device, c.devices, c.fields()["cores_used"]) for c in cases]


@pytest.mark.parametrize("token", ["all", "cpu", "cpu:all"])
def test_the_whole_cpu_is_one_case_of_one_device_per_core_whatever_jax_shows(token):
    """jax shows one CPU device by default: cpu:all still has one per core, and per-core devices
    never become separate cases; each accelerator is a case of its own."""
    opts = dict(es_strategies="cma_es", es_pops="8", es_phases="runtime", es_cpu_cores="4", es_devices=token)
    got = _devices(build_cases(grid_options(**opts), GPUS))
    whole = ("cpu:all", ("cpu:0", "cpu:1", "cpu:2", "cpu:3"), 4)
    assert got == ([whole, ("gpu:0", ("gpu:0",), None), ("gpu:1", ("gpu:1",), None)] if token == "all" else [whole])


def test_one_core_and_the_whole_cpu_side_by_side():
    opts = dict(es_strategies="cma_es", es_pops="8", es_phases="runtime", es_devices="cpu:0,cpu:all")
    assert _devices(build_cases(grid_options(**opts, es_cpu_cores="2"), ONE_CPU)) == [
        ("cpu:0", ("cpu:0",), 1), ("cpu:all", ("cpu:0", "cpu:1"), 2)]
    # one core (taskset -c 0): the whole CPU is that core, and stays a case of its own name
    assert _devices(build_cases(grid_options(**opts, es_cpu_cores="1"), ONE_CPU)) == [
        ("cpu:0", ("cpu:0",), 1), ("cpu:all", ("cpu:0",), 1)]
    # a part of the whole CPU is a set of its own; the whole of it is named cpu:all
    part = dict(opts, es_devices="cpu:0+1,cpu:0+1+2+3")
    assert [d for d, _, _ in _devices(build_cases(grid_options(**part, es_cpu_cores="4"), ONE_CPU))] == [
        "cpu:0+1", "cpu:all"]


def test_a_worker_starts_the_cpu_devices_a_case_needs(monkeypatch):
    import jax

    asked = []
    monkeypatch.setattr(jax.config, "update", lambda name, value: asked.append((name, value)))
    assert forced_cpu_device_count({"XLA_FLAGS": "--xla_force_host_platform_device_count=3 --foo"}) == 3
    assert forced_cpu_device_count({}) == 1
    assert ensure_cpu_devices(["cpu:0"], {}) is None and asked == []
    assert ensure_cpu_devices(["cpu:0", "cpu:1", "cpu:2"], {}) == 3
    assert asked == [("jax_num_cpu_devices", 3)]
    # the user's forced count already has them: left as it is
    assert ensure_cpu_devices(["cpu:0", "cpu:1"], {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}) is None


@pytest.fixture(scope="module")
def side_by_side(tmp_path_factory):
    """cpu:0 and cpu:all in workers whose jax shows one CPU device by default (no forced count)."""
    tmp = tmp_path_factory.mktemp("whole")
    # OpenAI-ES: its state is a smooth function of the cross-device sums (CMA-ES's eigenvectors
    # turn at will under a last-bit change near its start: tests/test_scale_out.py)
    tiny = [a if a != "cma_es" else "openai_es" for a in TINY]
    proc, data = run_bench(tmp, *tiny, "--es-devices", "cpu:0,cpu:all", "--es-cpu-cores", "2", "--es-phases",
                           "runtime", "--es-pop-chunk", "2", devices=1)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {b["extra_info"]["device"]: b["extra_info"] for b in data["benchmarks"]}, data["machine_info"]


@pytest.mark.integration
def test_rows_record_the_cores_and_devices_each_case_used(side_by_side):
    rows, machine = side_by_side
    one, whole = rows["cpu:0"], rows["cpu:all"]
    assert (one["cores_used"], one["num_devices"], one["devices"]) == (1, 1, ["cpu:0"])
    assert (whole["cores_used"], whole["num_devices"], whole["devices"]) == (2, 2, ["cpu:0", "cpu:1"])
    assert machine["cpu_cores"] == {"count": 2, "how": "--es-cpu-cores"}
    # each device evaluates its own 4 rows in blocks of 2, as one device evaluates its 8
    assert (whole["pop_chunk"], whole["pop_blocks"], whole["pop_chunk_source"]) == (2, 2, "given per device")
    assert (one["pop_chunk"], one["pop_blocks"]) == (2, 4)
    # the same generations: the carried state agrees up to the rounding of the cross-device sums
    assert whole["executions"] == one["executions"]
    assert whole["state_checksum"] == pytest.approx(one["state_checksum"], rel=1e-5)
    # the same rollouts, and the replicated tell once more on the second device (a tiny case: the
    # tell is much of it): more than one device's FLOPs, less than twice
    assert one["flops"] < whole["flops"] < 2 * one["flops"]
    assert one["bytes_accessed"] > 0 and whole["bytes_accessed"] > 0


@pytest.mark.integration
def test_under_one_core_the_whole_cpu_is_that_core(tmp_path):
    """``taskset -c 0``: cpu:all has cores_used 1 (no invented cores) and runs like cpu:0."""
    out = tmp_path / "out.json"
    pin = ("import os, sys; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
           "os.execv(sys.executable, [sys.executable] + sys.argv[1:])")
    cmd = [PY, "-c", pin, *bench_cmd(out, *TINY, "--es-devices", "cpu:all", "--es-phases", "runtime")[1:]]
    proc = helpers.run(cmd, 600, cwd=ROOT, env=bench_env(devices=1, ESPERF_TEST_TAG=str(tmp_path)))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    (row,) = [b["extra_info"] for b in data["benchmarks"]]
    assert (row["device"], row["devices"], row["cores_used"], row["num_devices"]) == ("cpu:all", ["cpu:0"], 1, 1)
    assert data["machine_info"]["cpu_cores"]["count"] == 1


@pytest.mark.integration
def test_a_cpu_case_of_k_devices_is_pinned_to_k_distinct_cores(tmp_path, monkeypatch):
    """cpu:0's worker runs on one core (XLA:CPU would spread one device's work over all of them);
    hyperthread siblings come last, so k CPUs are k physical cores."""
    sysfs = _topology(tmp_path, {0: (0, 0), 1: (0, 1), 2: (0, 0), 3: (0, 1)})
    assert cpu_cores.one_cpu_per_core({0, 1, 2, 3}, sysfs) == [0, 1, 2, 3]
    sysfs2 = _topology(tmp_path / "b", {0: (0, 0), 1: (0, 0), 2: (0, 1), 3: (0, 1)})
    assert cpu_cores.one_cpu_per_core({0, 1, 2, 3}, sysfs2) == [0, 2, 1, 3]
    pinned = []
    monkeypatch.setattr(cpu_cores.os, "sched_setaffinity", lambda pid, cpus: pinned.append(sorted(cpus)))
    assert cpu_cores.pin_to_cores(2, {0, 1, 2, 3}, sysfs2) == [0, 2] and pinned == [[0, 2]]
    assert cpu_cores.pin_to_cores(4, {0, 1, 2, 3}, sysfs2) is None  # the whole CPU: left as it is


@pytest.mark.integration
def test_rows_say_which_cpus_each_case_ran_on(side_by_side):
    rows, _ = side_by_side
    assert len(rows["cpu:0"]["cpu_affinity"]) == 1
    assert len(rows["cpu:all"]["cpu_affinity"]) == min(2, len(os.sched_getaffinity(0)))  # not pinned: every CPU


def test_an_uneven_population_on_the_whole_cpu_is_padded_not_refused():
    """The whole CPU's cores are the machine's, not the user's choice: pop 6 on 4 cores is 2 rows
    a device (2 padding rows); a set the user chose must still divide the population."""
    opts = dict(es_strategies="cma_es", es_pops="6", es_phases="runtime", es_cpu_cores="4")
    (case,) = build_cases(grid_options(**opts, es_devices="cpu:all"), ONE_CPU)
    assert (case.device, len(case.devices), case.fields()["popsize_per_device"]) == ("cpu:all", 4, 2)
    with pytest.raises(ValueError, match="popsize 6 is not divisible by the 4 devices of cpu:0[+]1[+]2[+]3"):
        build_cases(grid_options(**{**opts, "es_cpu_cores": "8"}, es_devices="cpu:0+1+2+3"), ONE_CPU)


def test_the_evosax_peer_is_compared_on_one_device_like_for_like():
    """evosax runs on one device: with the whole CPU asked for, esperf also gets that one device's
    case, so that each peer row has an esperf row of the same device beside it."""
    opts = dict(es_strategies="cma_es", es_pops="8", es_phases="runtime", es_cpu_cores="2", es_devices="cpu:all",
                es_impls="esperf,evosax")
    got = [(c.device, c.devices, c.impl) for c in build_cases(grid_options(**opts), ONE_CPU)]
    assert got == [("cpu:all", ("cpu:0", "cpu:1"), "esperf"), ("cpu:0", ("cpu:0",), "esperf"),
                   ("cpu:0", ("cpu:0",), "evosax")]
