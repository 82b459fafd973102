"""``python -m bench.doctor`` and the checks behind it (bench/system/checks.py).

The machine-wide ones run for real (a CPU hog next to the doctor must turn the load into a
WARN); those of hardware this machine lacks run on fakes: a sysfs tree, an environment,
a ``pynvml`` module, a held lock file."""
from __future__ import annotations

import fcntl
import json
import subprocess
import time
import types

import pytest

from bench.system import checks
from helpers import PY, ROOT, NVMLError, NotSupported, child_env, cuda_plugin_installed, fake_nvidia_smi, fake_nvml, kill_group, nvml_failing_at, run

STATUSES = {"OK", "WARN", "INFO"}
ALWAYS = {"jax.versions", "jax.devices", "cpu.governor", "cpu.boost", "cpu.load", "cpu.processes", "memory.free",
          "env.xla_flags", "env.jax", "env.compilation_cache", "env.gpu_memory", "env.cuda_visible_devices",
          "env.blas", "tpu.lock"}


def doctor(*args, timeout=120, **env):
    return run([PY, "-m", "bench.doctor", *args], timeout, cwd=ROOT, env=child_env(**env))


def by_name(found: list[dict]) -> dict[str, dict]:
    return {c["check"]: c for c in found}


# -- the command ----------------------------------------------------------------------------------

def test_json_lists_every_check_with_its_four_keys():
    proc = doctor("--json", "--quick")
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads(proc.stdout)
    assert all(set(c) == {"check", "status", "detail", "fix"} for c in found), found
    assert all(c["status"] in STATUSES and c["detail"] for c in found), found
    assert all((c["fix"] is not None) == (c["status"] == "WARN") for c in found), found
    assert ALWAYS <= set(by_name(found)), sorted(by_name(found))
    assert len(by_name(found)) == len(found)  # one line per check


def test_text_is_one_line_per_check_and_a_fix_under_each_warn():
    proc = doctor()
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.rstrip().splitlines()
    body, total = lines[:-2], lines[-1]
    heads = [x for x in body if not x.startswith(" ")]
    fixes = [x for x in body if x.startswith(" ")]
    assert all(x.split()[0] in STATUSES for x in heads), body
    assert all(x.split()[0] == "fix:" for x in fixes), body
    assert len(fixes) == sum(x.startswith("WARN") for x in heads)
    assert total.startswith(f"{len(heads)} checks: ")


def test_a_bad_argument_is_a_usage_error():
    proc = doctor("--bogus")
    assert proc.returncode == 2 and "unrecognized arguments: --bogus" in proc.stderr, proc.stderr


@pytest.mark.integration
def test_a_cpu_hog_next_to_the_doctor_turns_the_load_into_a_warn():
    hog = subprocess.Popen([PY, "-c", "while True: pass"], start_new_session=True)
    try:
        time.sleep(0.5)  # let it spin up
        proc = doctor("--json")
        assert proc.returncode == 0, proc.stderr[-2000:]
        found = by_name(json.loads(proc.stdout))
    finally:
        kill_group(hog)
    assert found["cpu.load"]["status"] == "WARN", found["cpu.load"]
    assert found["cpu.processes"]["status"] == "WARN", found["cpu.processes"]
    assert f"(pid {hog.pid})" in found["cpu.processes"]["detail"] and f"(pid {hog.pid})" in found["cpu.processes"]["fix"]


def test_a_gpu_that_jax_does_not_use_is_a_warn_with_the_install_line(tmp_path):
    import os

    proc = doctor("--json", "--quick", PATH=f"{fake_nvidia_smi(tmp_path)}:{os.environ['PATH']}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    unused = by_name(json.loads(proc.stdout))["jax.unused.gpu"]
    assert unused["status"] == "WARN" and "1 NVIDIA GPU (NVIDIA H200) is present" in unused["detail"], unused
    if not cuda_plugin_installed():
        assert unused["fix"] == 'pip install -e ".[cuda13]"'


# -- the CPU, on a fake /sys ----------------------------------------------------------------------

def sysfs(tmp_path, governors=(), no_turbo=None, boost=None):
    root = tmp_path / "sys"
    cpu = root / "devices" / "system" / "cpu"
    for i, g in enumerate(governors):
        (cpu / f"cpu{i}" / "cpufreq").mkdir(parents=True)
        (cpu / f"cpu{i}" / "cpufreq" / "scaling_governor").write_text(g + "\n")
    if no_turbo is not None:
        (cpu / "intel_pstate").mkdir(parents=True)
        (cpu / "intel_pstate" / "no_turbo").write_text(no_turbo)
    if boost is not None:
        (cpu / "cpufreq").mkdir(parents=True, exist_ok=True)
        (cpu / "cpufreq" / "boost").write_text(boost)
    root.mkdir(parents=True, exist_ok=True)
    return str(root)


def test_governor_and_boost(tmp_path):
    (g,) = checks.governor_check(sysfs(tmp_path / "a", ["powersave", "performance"]))
    assert g["status"] == "WARN" and "powersave on 1 of 2 CPUs" in g["detail"] and "performance" in g["fix"]
    assert checks.governor_check(sysfs(tmp_path / "b", ["performance"] * 2))[0]["status"] == "OK"
    empty = sysfs(tmp_path / "c")
    assert checks.governor_check(empty)[0]["status"] == "INFO" and checks.boost_check(empty)[0]["status"] == "INFO"
    assert checks.boost_check(sysfs(tmp_path / "d", no_turbo="0"))[0]["status"] == "WARN"
    assert checks.boost_check(sysfs(tmp_path / "e", no_turbo="1"))[0]["status"] == "OK"
    assert checks.boost_check(sysfs(tmp_path / "f", boost="0"))[0]["status"] == "OK"


# -- the environment ------------------------------------------------------------------------------

def test_environment_that_changes_figures(tmp_path):
    def env(environ, nvidia=True, home=tmp_path):
        return by_name(checks.env_checks(environ, str(home), nvidia))

    clean = env({})
    assert {c["status"] for c in clean.values()} == {"OK"}, clean
    warm = env({"XLA_FLAGS": "--xla_gpu_per_fusion_autotune_cache_dir=/tmp/at --xla_gpu_autotune_level=4"})
    assert warm["env.xla_flags"]["status"] == "WARN" and "xla_gpu_per_fusion_autotune_cache_dir" in warm["env.xla_flags"]["fix"]
    assert env({"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})["env.xla_flags"]["status"] == "OK"
    cache = tmp_path / ".nv" / "ComputeCache" / "a"
    cache.mkdir(parents=True)
    (cache / "kernel").write_bytes(b"x" * 4096)
    # esperf's workers set CUDA_CACHE_DISABLE=1 (bench/system/caches.py) unless the user chose otherwise
    assert env({})["env.compilation_cache"]["status"] == "OK" and "not read" in env({})["env.compilation_cache"]["detail"]
    assert env({"CUDA_CACHE_DISABLE": "1"})["env.compilation_cache"]["status"] == "OK"
    assert env({"CUDA_CACHE_DISABLE": "0"})["env.compilation_cache"]["status"] == "WARN"
    assert env({}, nvidia=False)["env.compilation_cache"]["status"] == "OK"
    assert env({"XLA_PYTHON_CLIENT_ALLOCATOR": "platform"})["env.gpu_memory"]["status"] == "WARN"
    frac = env({"XLA_PYTHON_CLIENT_MEM_FRACTION": ".5"})["env.gpu_memory"]
    assert frac["status"] == "OK" and "XLA_PYTHON_CLIENT_MEM_FRACTION=.5" in frac["detail"]
    assert env({"CUDA_VISIBLE_DEVICES": ""})["env.cuda_visible_devices"]["status"] == "WARN"
    assert "OMP_NUM_THREADS=4" in env({"OMP_NUM_THREADS": "4"})["env.blas"]["detail"]


# -- NVIDIA GPUs, on a fake NVML ------------------------------------------------------------------

GPU_CHECKS = ["gpu0.name", "gpu0.processes", "gpu0.clocks", "gpu0.locked", "gpu0.persistence", "gpu0.temperature",
              "gpu0.power", "gpu0.throttle", "gpu0.ecc"]


def test_a_healthy_gpu_is_ok_on_every_check():
    found = checks.nvml_checks(True, nvml=fake_nvml())
    assert [c["check"] for c in found] == GPU_CHECKS
    assert {c["status"] for c in found} == {"OK"}, found
    assert by_name(found)["gpu0.clocks"]["detail"].startswith("SM 345 of 1980 MHz, memory 2619 of 2619 MHz")


def test_a_gpu_unfit_to_be_measured_warns_on_each_problem():
    other = types.SimpleNamespace(pid=999_999, usedGpuMemory=512 * 2**20)
    found = by_name(checks.nvml_checks(True, nvml=fake_nvml(
        processes=[other], reasons=0x40 | 0x4, persistence=0, temperature=88, power=400_000, ecc=3)))
    for name in ("processes", "persistence", "temperature", "power", "throttle", "ecc"):
        assert found[f"gpu0.{name}"]["status"] == "WARN" and found[f"gpu0.{name}"]["fix"], found[f"gpu0.{name}"]
    assert "pid 999999 (512 MiB)" in found["gpu0.processes"]["detail"]
    assert found["gpu0.throttle"]["detail"] == "throttling now: HwThermalSlowdown, SwPowerCap"
    assert "400 W, below the default 700 W" in found["gpu0.power"]["detail"]
    locked = by_name(checks.nvml_checks(True, nvml=fake_nvml(reasons=0x100)))["gpu0.locked"]
    assert "locked" in locked["detail"] and "not locked" not in locked["detail"]


def test_what_nvml_cannot_tell_is_info_and_no_check_raises():
    found = by_name(checks.nvml_checks(True, nvml=fake_nvml(ecc=NotSupported(), temperature=TypeError("odd"))))
    assert found["gpu0.ecc"] == {"check": "gpu0.ecc", "status": "INFO", "detail": "not supported on this GPU", "fix": None}
    assert found["gpu0.temperature"]["status"] == "INFO" and "TypeError: odd" in found["gpu0.temperature"]["detail"]
    assert found["gpu0.power"]["status"] == "OK"  # the others still ran

    def no_library():
        raise NVMLError("NVML Shared Library Not Found")

    (nvml,) = checks.nvml_checks(True, nvml=types.SimpleNamespace(nvmlInit=no_library))
    assert nvml["check"] == "gpu.nvml" and nvml["status"] == "INFO" and "Not Found" in nvml["detail"]
    broken = by_name(checks.run_checks({}, quick=True, environ={}, nvml=types.SimpleNamespace()))  # no survey, no NVML
    assert ALWAYS <= set(broken) and broken["gpu.nvml"]["status"] == "INFO", sorted(broken)
    assert broken["jax.devices"]["status"] == "WARN" and all(c["status"] in STATUSES for c in broken.values())


@pytest.mark.parametrize("call", ["nvmlDeviceGetCount", "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetName"])
def test_nvml_not_supported_on_count_handle_or_name_is_info_not_an_internal_error(call):
    found = by_name(checks.nvml_checks(True, nvml=nvml_failing_at(call)))
    name = {"nvmlDeviceGetCount": "gpu.nvml", "nvmlDeviceGetHandleByIndex": "gpu0.nvml"}.get(call, "gpu0.name")
    assert found[name]["status"] == "INFO" and found[name]["detail"] == f"{call} raised NotSupported: Not Supported"
    if call == "nvmlDeviceGetName":
        assert found["gpu0.power"]["status"] == "OK"  # the GPU's other checks still ran


# -- TPUs -----------------------------------------------------------------------------------------

def test_a_held_libtpu_lock_is_a_warn(tmp_path):
    lock = tmp_path / "libtpu_lockfile"
    assert checks.tpu_lock_check(True, str(lock))[0]["status"] == "OK"
    lock.write_text("")
    with open(lock) as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        (c,) = checks.tpu_lock_check(True, str(lock))
    assert c["status"] == "WARN" and str(lock) in c["detail"], c
    assert checks.tpu_lock_check(True, str(lock))[0]["status"] == "OK"  # released: nobody holds it
    assert checks.tpu_lock_check(False, str(tmp_path / "none"))[0]["status"] == "INFO"


def test_quick_samples_the_load_for_a_quarter_second():
    found = by_name(checks.run_checks({}, quick=True, environ={}, nvml=types.SimpleNamespace()))
    assert "(sampled 0.25 s)" in found["cpu.load"]["detail"], found["cpu.load"]
