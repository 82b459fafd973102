"""Accelerators the machine has and jax does not use: found, explained, warned about, recorded.

A fake ``nvidia-smi`` on PATH plays an NVIDIA machine whose jaxlib is CPU-only (this one)."""
from __future__ import annotations

import json
import os

import pytest

from bench.plugin import grid
from bench.system import accelerators as acc
from helpers import PY, ROOT, bench_cmd, bench_env, child_env, cuda_plugin_installed, fake_nvidia_smi, run

H200 = {"platform": "gpu", "vendor": "NVIDIA", "name": "NVIDIA H200", "source": "nvidia-smi -L"}
TPU = {"platform": "tpu", "vendor": "Google", "name": "Google TPU", "source": "/dev/accel*"}
CPU_ONLY = {"jax": "0.10.2", "jaxlib": "0.10.2"}
WITH_CUDA = {**CPU_ONLY, "jax-cuda13-plugin": "0.10.2", "jax-cuda13-pjrt": "0.10.2"}
SPEC_LINE = ('1 NVIDIA GPU (NVIDIA H200) is present but jax sees no gpu: jaxlib 0.10.2 is CPU-only; '
             'install pip install -e ".[cuda13]"')


def unused(found, platforms=("cpu",), errors=None, installed=CPU_ONLY, jax_platforms="", driver="580.82.07"):
    return acc.unused(found, platforms, errors or {}, installed=installed, jax_platforms=jax_platforms, driver=driver)


# -- why jax does not show it ---------------------------------------------------------------------

def test_cpu_only_jaxlib_gives_the_install_line_and_the_spec_sentence():
    found = unused([H200])
    assert found == [{"platform": "gpu", "name": "NVIDIA H200",
                      "why": 'jaxlib 0.10.2 is CPU-only; install pip install -e ".[cuda13]"'}]
    assert acc.warnings(found) == [SPEC_LINE]


def test_an_old_driver_points_to_cuda12():
    (a,) = unused([H200], driver="535.104.05")
    assert 'pip install -e ".[cuda12]"' in a["why"] and "535.104.05" in a["why"], a


def test_jax_platforms_that_leave_the_gpu_out_are_named():
    (a,) = unused([H200], installed=WITH_CUDA, jax_platforms="cpu")
    assert a["why"] == "JAX_PLATFORMS=cpu leaves cuda out; unset it or add cuda"


def test_a_backend_start_up_error_is_the_reason():
    error = "INTERNAL: CUDA error: CUDA_ERROR_SYSTEM_DRIVER_MISMATCH"
    (a,) = unused([H200], errors={"cuda": error}, installed=WITH_CUDA)
    assert a["why"] == f"jax's cuda backend failed to start: {error}"


def test_nothing_is_unused_where_jax_shows_the_platform():
    assert unused([H200], platforms=("cpu", "gpu")) == []
    assert unused([]) == []


def test_tpu_without_libtpu_and_several_gpus_in_one_sentence():
    assert 'pip install -e ".[tpu]"' in unused([TPU])[0]["why"]
    two = unused([H200, H200])
    assert acc.warnings(two) == [SPEC_LINE.replace("1 NVIDIA GPU (", "2 NVIDIA GPUs (").replace(" is present", " are present")]


def test_jax_platforms_for_a_case_starts_only_its_backends(monkeypatch):
    assert acc.jax_platforms_for({"cpu"}) == "cpu"
    assert acc.jax_platforms_for({"tpu", "cpu"}) == "tpu,cpu"
    monkeypatch.setattr(acc, "plugins", lambda: WITH_CUDA)
    assert acc.jax_platforms_for({"gpu"}) == "cuda,cpu"
    monkeypatch.setattr(acc, "plugins", lambda: CPU_ONLY)
    assert acc.jax_platforms_for({"gpu"}) is None  # no plugin: jax's own error says why the case cannot run


def test_es_devices_names_why_a_present_platform_is_absent():
    why = acc.warnings(unused([H200]))[0]
    with pytest.raises(ValueError) as err:
        grid.resolve_devices("gpu", {"cpu:0": {}}, absent={"gpu": why})
    assert why in str(err.value) and "no gpu device is visible" in str(err.value)
    with pytest.raises(ValueError, match=r"gpu:0 is not a visible device.*pip install -e \"\.\[cuda13\]\""):
        grid.resolve_devices("gpu:0", {"cpu:0": {}}, absent={"gpu": why})
    with pytest.raises(ValueError) as plain:  # a machine with no GPU at all: as before
        grid.resolve_devices("gpu", {"cpu:0": {}}, absent={})
    assert str(plain.value).startswith("--es-devices: no gpu device is visible; choose "), plain.value


# -- what the OS shows ----------------------------------------------------------------------------

def test_nvidia_smi_on_path_is_found(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{fake_nvidia_smi(tmp_path)}:{os.environ['PATH']}")
    assert [a for a in acc.present() if a["vendor"] == "NVIDIA"][:1] == [H200]
    if not os.path.exists("/proc/driver/nvidia/version"):  # a real driver's own file wins
        assert acc.nvidia_driver() == "580.82.07"


def test_a_backend_that_fails_to_start_is_reported_and_the_cpu_still_found():
    code = ("import json; from bench.multi.devices import discover; d, e = discover(); "
            "print(json.dumps({'devices': sorted(d), 'errors': e}))")
    proc = run([PY, "-c", code], 120, cwd=ROOT, env=child_env(JAX_PLATFORMS="cpu,rocm"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "cpu:0" in found["devices"]
    assert "rocm" in found["errors"] and found["errors"]["rocm"], found


def test_a_listed_backend_that_fails_before_the_cpu_is_dropped_and_the_cpu_still_starts():
    """JAX_PLATFORMS=rocm,cpu (as cuda,cpu on a GPU machine whose CUDA does not start): jax starts
    the backends in the order given and raises at the first, every time, before the CPU's; the
    failing one is dropped from jax_platforms, the CPU starts and the error says what was done."""
    code = ("import json, jax; from bench.multi.devices import discover; from bench.measure.placement import "
            "jax_devices; d, e = discover(); cpu = jax_devices(['cpu:0']); "
            "print(json.dumps({'devices': sorted(d), 'errors': e, 'platforms': jax.config.jax_platforms}))")
    proc = run([PY, "-c", code], 120, cwd=ROOT, env=child_env(JAX_PLATFORMS="rocm,cpu"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["devices"] == ["cpu:0"] and found["platforms"] == "cpu"
    assert found["errors"]["rocm"].endswith("[dropped from JAX_PLATFORMS=rocm,cpu: went on with cpu]"), found
    assert "not in the list of known backends" in found["errors"]["rocm"]


def test_dropping_a_backend_keeps_the_other_entries():
    from bench.multi.devices import _without

    assert _without("cuda,cpu", "cuda") == "cpu"
    assert _without("gpu,cpu", "cuda") == "cpu"  # jax's alias: gpu starts cuda (or rocm)
    assert _without("cuda", "cuda") == ""  # nothing left: the error stands, nothing is dropped


# -- a pytest bench run on a "GPU machine" with a CPU-only jaxlib ---------------------------------

TINY_RUN = ["--es-strategies", "cma_es", "--es-envs", "Pendulum-v1", "--es-pops", "8", "--es-evals", "2",
            "--es-hidden", "4", "--es-episode-length", "5", "--es-runtime-rounds", "3", "--es-phases", "runtime"]


@pytest.fixture(scope="module")
def gpu_host_env(tmp_path_factory):
    """A bench child's environment with the fake nvidia-smi first on PATH and no JAX_PLATFORMS
    (each worker then chooses its own platforms)."""
    folder = fake_nvidia_smi(tmp_path_factory.mktemp("fakebin"))
    env = bench_env(devices=1)
    env.pop("JAX_PLATFORMS")
    env["PATH"] = f"{folder}:{env['PATH']}"
    return env


@pytest.mark.integration
def test_pytest_bench_warns_records_and_its_workers_start_only_the_cpu(tmp_path, gpu_host_env):
    out = tmp_path / "out.json"
    proc = run(bench_cmd(out, *TINY_RUN, "--es-devices", "cpu:0"), 600, cwd=ROOT, env=gpu_host_env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next((x for x in proc.stdout.splitlines() if "is present but jax sees no gpu" in x), None)
    assert line is not None and line.startswith("esperf: WARNING: 1 NVIDIA GPU (NVIDIA H200)"), proc.stdout[-3000:]
    said = [x for x in proc.stdout.splitlines() if "is present but jax sees no gpu" in x]
    assert said == [line], said  # once: the system check of the same fact is not repeated
    data = json.loads(out.read_text())
    (a,) = data["machine_info"]["unused_accelerators"]
    assert a["platform"] == "gpu" and a["name"] == "NVIDIA H200" and a["why"] in line
    if not cuda_plugin_installed():
        assert line == f"esperf: WARNING: {SPEC_LINE.replace('0.10.2', data['machine_info']['jaxlib_version'])}"
    (row,) = data["benchmarks"]
    assert row["extra_info"]["jax_platforms"] == "cpu"  # the CPU case's worker never started another backend


@pytest.mark.integration
def test_es_devices_gpu_names_what_is_present_and_the_install_line(tmp_path, gpu_host_env):
    proc = run(bench_cmd(tmp_path / "out.json", *TINY_RUN, "--es-devices", "gpu"), 300, cwd=ROOT, env=gpu_host_env)
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    (error,) = [x for x in proc.stderr.splitlines() if "no gpu device is visible" in x]
    assert "1 NVIDIA GPU (NVIDIA H200) is present" in error, error
    if not cuda_plugin_installed():
        assert 'install pip install -e ".[cuda13]"' in error, error
