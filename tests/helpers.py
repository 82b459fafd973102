"""What the tests share: the checkout's root, one way to build a child's environment, subprocesses
with a deadline whose process group ends with them, ``pytest bench`` in a subprocess, and a
distributed-test collective."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import types
from pathlib import Path

from bench.processes import kill_group  # noqa: F401 -- the tests end their processes with it

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
PY = sys.executable


def child_env(*, tests: bool = False, drop: tuple[str, ...] = (), **extra: str) -> dict[str, str]:
    """This process's environment for a child: without ``drop``, with the checkout (and, with
    ``tests``, this folder: the fault-injection plugin) on PYTHONPATH, and ``extra`` set."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(TESTS)] if tests else [str(ROOT)])
    env.update(extra)
    return env


def run(cmd, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True)`` in a new session whose whole process
    group is killed on timeout, error or interrupt, and swept after a normal exit (so no child
    outlives the test). A timeout raises ``subprocess.TimeoutExpired`` after the kill."""
    proc = subprocess.Popen(cmd, stdout=kwargs.pop("stdout", subprocess.PIPE), stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        kill_group(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def gone(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` is no process at all (or a zombie nobody reaped yet: dead), within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def reference(module: str, what: str):
    """(the module, a skip mark): a test reference of the ``test`` extra (gymnasium, cma, cmaes)
    that a machine may lack (an accelerator host with preinstalled packages): the tests that
    compare against it skip, with the reason, and the module's other tests still run."""
    import importlib

    import pytest

    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError:
        found = None
    return found, pytest.mark.skipif(found is None, reason=f"{what} is not installed (extra 'test')")


# -- pytest bench in a subprocess ------------------------------------------------------------

TINY = [
    "--es-strategies", "cma_es", "--es-envs", "Pendulum-v1", "--es-pops", "8", "--es-evals", "2",
    "--es-hidden", "4", "--es-episode-length", "5", "--es-runtime-rounds", "3",
]


def bench_env(fault="", devices=2, **extra):
    """The environment of a ``pytest bench`` child: ``devices`` forced CPU devices, the fault
    ``fault`` injected into it and its workers (tests/esperf_faults.py)."""
    # a child of an xdist worker is no xdist worker: pytest bench would refuse to run
    return child_env(tests=True, drop=("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"),
                     **{"XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
                        "JAX_PLATFORMS": "cpu", "ESPERF_FAULT": fault,
                        "ESPERF_WORKER_HOOK": "esperf_faults", **extra})


def bench_cmd(out, *args):
    return [PY, "-m", "pytest", "bench", "-q", "-p", "no:cacheprovider", "-p", "esperf_faults",
            f"--benchmark-json={out}", *args]


def run_bench(tmp_path, *args, fault="", devices=2, timeout=600, **env):
    """``pytest bench`` in a subprocess; its workers carry ESPERF_TEST_TAG=tmp_path in their environment."""
    out = tmp_path / "out.json"
    env = bench_env(fault, devices, ESPERF_TEST_TAG=str(tmp_path), **env)
    proc = run(bench_cmd(out, *args), timeout, cwd=ROOT, env=env)
    data = json.loads(out.read_text()) if out.exists() and out.stat().st_size else None
    return proc, data


def grid_options(**given):
    """``getoption`` of ``pytest bench`` with the registered defaults and ``given`` values."""
    from bench.plugin.options import add_options

    defaults = {}

    class Group:
        def addoption(self, flag, default=None, action=None, help=None, **_):
            defaults[flag.lstrip("-").replace("-", "_")] = False if action == "store_true" else default

    class Parser:
        def getgroup(self, *args):
            return Group()

    add_options(Parser())
    values = {**defaults, "benchmark_min_rounds": None, "benchmark_max_time": None, "benchmark_disable": False,
              **given}
    return values.__getitem__


# -- distributed -----------------------------------------------------------------------------

def all_ok(ok: bool) -> bool:
    """True only if every process of the jax system passes True (logical AND over processes)."""
    from bench.multi import distributed

    if distributed.process_count() == 1:
        return bool(ok)
    import numpy as np
    from jax.experimental import multihost_utils

    flags = multihost_utils.process_allgather(np.asarray(1 if ok else 0, dtype=np.int32))
    return bool(np.all(np.asarray(flags) == 1))


def fake_nvidia_smi(folder, name="NVIDIA H200", driver="580.82.07"):
    """An ``nvidia-smi`` in ``folder`` that lists one GPU and a driver version; returns the folder."""
    smi = folder / "nvidia-smi"
    smi.write_text(f"""#!/bin/sh
case "$*" in
  *-L*) echo "GPU 0: {name} (UUID: GPU-0f2d-fake)";;
  *driver_version*) echo "{driver}";;
  *) echo "fake nvidia-smi"; exit 1;;
esac
""")
    smi.chmod(0o755)
    return folder


def cuda_plugin_installed() -> bool:
    """Whether a jax CUDA plugin is installed here (then a fake NVIDIA GPU is not 'CPU-only')."""
    from bench.system import accelerators as acc

    return any(re.fullmatch(acc.PLUGINS["cuda"], n) for n in acc.plugins())


# -- a stand-in for NVML (pynvml) ------------------------------------------------------------

class NVMLError(Exception):
    pass


class NotSupported(NVMLError):
    pass


def fake_nvml(**over):
    """A ``pynvml`` stand-in with one GPU; ``over`` replaces its answers (a callable or a value)."""
    answers = dict(
        name="NVIDIA H200", processes=[], sm=345, mem=2619, sm_max=1980, mem_max=2619, reasons=0x1,
        persistence=1, temperature=31, slowdown=90, power=700_000, default_power=700_000, ecc=0,
        energy=[1_000_000, 1_450_000], usage=450_000, violations=[0, 0],
    )
    answers.update(over)

    def answer(key):
        def get(*_):
            value = answers[key]
            if isinstance(value, Exception):
                raise value
            return value
        return get

    def series(key):  # the next of the answers on each call, then the last one again
        calls = []

        def get(*_):
            values = answers[key]
            if isinstance(values, Exception):
                raise values
            calls.append(1)
            return values[min(len(calls), len(values)) - 1]
        return get

    violation = series("violations")
    m = types.SimpleNamespace(
        NVMLError=NVMLError, NVMLError_NotSupported=NotSupported,
        NVML_CLOCK_SM=0, NVML_CLOCK_MEM=2, NVML_TEMPERATURE_GPU=0, NVML_TEMPERATURE_THRESHOLD_SLOWDOWN=1,
        NVML_MEMORY_ERROR_TYPE_UNCORRECTED=1, NVML_VOLATILE_ECC=0,
        nvmlClocksThrottleReasonGpuIdle=0x1, nvmlClocksThrottleReasonApplicationsClocksSetting=0x2,
        nvmlClocksThrottleReasonSwPowerCap=0x4, nvmlClocksThrottleReasonHwSlowdown=0x8,
        nvmlClocksThrottleReasonUserDefinedClocks=0x100, nvmlClocksThrottleReasonSwThermalSlowdown=0x20,
        nvmlClocksThrottleReasonHwThermalSlowdown=0x40, nvmlClocksThrottleReasonHwPowerBrakeSlowdown=0x80,
        nvmlInit=lambda: None, nvmlShutdown=lambda: None, nvmlDeviceGetCount=lambda: 1,
        nvmlDeviceGetHandleByIndex=lambda i: f"h{i}", nvmlDeviceGetName=lambda h: answers["name"].encode(),
        nvmlDeviceGetComputeRunningProcesses=answer("processes"),
        nvmlDeviceGetClockInfo=lambda h, kind: answers["sm" if kind == 0 else "mem"],
        nvmlDeviceGetMaxClockInfo=lambda h, kind: answers["sm_max" if kind == 0 else "mem_max"],
        nvmlDeviceGetCurrentClocksThrottleReasons=answer("reasons"),
        nvmlDeviceGetPersistenceMode=answer("persistence"), nvmlDeviceGetTemperature=answer("temperature"),
        nvmlDeviceGetTemperatureThreshold=answer("slowdown"),
        nvmlDeviceGetPowerManagementLimit=answer("power"),
        nvmlDeviceGetPowerManagementDefaultLimit=answer("default_power"),
        nvmlDeviceGetTotalEccErrors=answer("ecc"),
        nvmlDeviceGetTotalEnergyConsumption=series("energy"), nvmlDeviceGetPowerUsage=answer("usage"),
        NVML_PERF_POLICY_POWER=0, NVML_PERF_POLICY_THERMAL=1,
        nvmlDeviceGetViolationStatus=lambda h, policy: types.SimpleNamespace(
            violationTime=violation() if policy == 0 else 0),
        nvmlDeviceGetHandleByUUID=lambda uuid: f"h-{uuid}",
    )
    return m


def nvml_failing_at(call: str, error: Exception | None = None, **over):
    """:func:`fake_nvml` whose ``call`` (an ``nvml*`` function name) raises ``error``
    (``NotSupported``, as NVML answers on a VM or under MIG, unless given); "nvmlInit" too."""
    m = fake_nvml(**over)
    error = error if error is not None else NotSupported("Not Supported")

    def fail(*_):
        raise error

    setattr(m, call, fail)
    return m


def nvml_recording(calls: list, **over):
    """:func:`fake_nvml` that appends the name of each ``nvml*`` function called to ``calls``."""
    inner = fake_nvml(**over)

    class Recording(types.SimpleNamespace):
        def __getattribute__(self, name):
            value = getattr(inner, name)
            if name.startswith("nvml") and callable(value):
                def record(*args):
                    calls.append(name)
                    return value(*args)
                return record
            return value

    return Recording()


# -- report inputs -----------------------------------------------------------------------------

REAL_FIXTURE = ROOT / "tests" / "fixtures" / "real" / "vm-small.json"


def real_fixture() -> dict:
    """A fresh copy of a real ``pytest bench`` JSON of this project's VM (tests/fixtures/real)."""
    return json.loads(REAL_FIXTURE.read_text())


def write_json(path, data: dict):
    """``data`` as JSON at ``path`` (its folder made); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def set_samples(row: dict, samples) -> None:
    """A benchmark row's rounds set to ``samples`` (data, median and rounds agree)."""
    import numpy as np

    row["stats"]["data"] = [float(x) for x in samples]
    row["stats"]["median"] = float(np.median(samples))
    row["stats"]["rounds"] = len(samples)


def with_popsizes(data: dict) -> dict:
    """``data`` (the real fixture) plus cma_es runtime rows at popsize 32 and 64 (rounds 2x and 4x
    longer), so that a line of the runtime plot has three points."""
    import copy

    cma = next(b for b in data["benchmarks"]
               if b["extra_info"]["phase"] == "runtime" and b["extra_info"]["strategy"] == "cma_es")
    for factor, pop in ((2.0, 32), (4.0, 64)):
        b = copy.deepcopy(cma)
        b["name"] = b["name"].replace("pop16", f"pop{pop}")
        b["extra_info"]["popsize"] = pop
        set_samples(b, [float(x) * factor for x in cma["stats"]["data"]])
        data["benchmarks"].append(b)
    return data


def report_each(folder: Path, inputs: dict[str, dict]) -> dict:
    """``python -m reports`` of each input JSON alone: {name: (terminal messages, output folder)}."""
    from reports import report as report_command

    out = {}
    for name, data in inputs.items():
        src = write_json(folder / "in" / name / "vm.json", data)
        out[name] = (report_command.make_report([str(src)], folder / f"out-{name}", {}), folder / f"out-{name}")
    return out


def internal_error_line(line: str, exc_type: str) -> str:
    """The ``<prog>: internal error: ...`` part of a command's exit-3 line, once the file its
    ``(traceback: PATH)`` names is checked to hold the traceback of ``exc_type`` (then removed)."""
    match = re.fullmatch(r"(.*) \(traceback: (/\S+\.traceback\.txt)\)", line.strip())
    assert match, line
    path = Path(match.group(2))
    text = path.read_text()
    assert "Traceback (most recent call last)" in text and exc_type in text, text
    path.unlink()
    return match.group(1)
