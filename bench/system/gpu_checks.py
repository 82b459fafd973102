"""The checks of NVIDIA GPUs through NVML (``nvidia-ml-py``), one part of ``python -m bench.doctor``
(:func:`bench.system.checks.run_checks`): per GPU, other processes on it, clocks, whether they are
locked, persistence mode, temperature, power limit, throttling and ECC errors. Each NVML query on
its own: one that fails or is not supported is an ``INFO``, the others still run."""
from __future__ import annotations

import os
from collections.abc import Callable

from bench.system.check_result import check

TEMPERATURE_MARGIN_C = 5  # this close to the slowdown threshold, the GPU is about to throttle


def _nvml_module():
    import pynvml

    return pynvml


def _reasons(nvml) -> dict[str, int]:
    """The throttle reasons that slow a measurement (idle, application clocks and sync boost do not)."""
    names = ("HwSlowdown", "HwThermalSlowdown", "HwPowerBrakeSlowdown", "SwThermalSlowdown", "SwPowerCap")
    return {n: getattr(nvml, f"nvmlClocksThrottleReason{n}") for n in names if hasattr(nvml, f"nvmlClocksThrottleReason{n}")}


def _gpu_checks(nvml, i: int, handle, exclude_pids) -> list[dict]:
    """One GPU's checks; each NVML query on its own, NotSupported an INFO."""
    name = f"gpu{i}"
    out = []

    def one(check_name: str, fn: Callable[[], dict]) -> None:
        try:
            out.append(fn())
        except nvml.NVMLError as err:
            not_supported = isinstance(err, getattr(nvml, "NVMLError_NotSupported", ()))
            out.append(check(f"{name}.{check_name}", "INFO", "not supported on this GPU" if not_supported
                             else f"NVML: {err}"))
        except Exception as err:  # noqa: BLE001 -- an odd NVML build must not stop the other checks
            out.append(check(f"{name}.{check_name}", "INFO", f"could not be read: {type(err).__name__}: {err}"))

    def processes():
        running = nvml.nvmlDeviceGetComputeRunningProcesses(handle)
        others = [p for p in running if p.pid not in set(exclude_pids) | {os.getpid()}]
        if not others:
            return check(f"{name}.processes", "OK", "no other process on this GPU")
        text = ", ".join(f"pid {p.pid} ({(p.usedGpuMemory or 0) / 2**20:.0f} MiB)" for p in others)
        return check(f"{name}.processes", "WARN", f"other processes on this GPU: {text}",
                     "stop them: they share the GPU's time and memory")

    def clocks():
        sm, mem = nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM), nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM)
        sm_max = nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM)
        mem_max = nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_MEM)
        return check(f"{name}.clocks", "OK", f"SM {sm} of {sm_max} MHz, memory {mem} of {mem_max} MHz now "
                     "(an idle GPU clocks down: the figure that counts is during the rounds)")

    def event_reasons() -> int:
        get = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or nvml.nvmlDeviceGetCurrentClocksThrottleReasons
        return int(get(handle))

    def locked():
        reasons = event_reasons()
        user = getattr(nvml, "nvmlClocksThrottleReasonUserDefinedClocks", 0)
        app = getattr(nvml, "nvmlClocksThrottleReasonApplicationsClocksSetting", 0)
        if reasons & (user | app):
            return check(f"{name}.locked", "OK", "clocks are locked or set by application clocks: stable figures")
        return check(f"{name}.locked", "OK", "clocks are not locked: they follow GPU Boost (for the most stable "
                     "figures: sudo nvidia-smi --lock-gpu-clocks=<MHz>)")

    def persistence():
        if nvml.nvmlDeviceGetPersistenceMode(handle):
            return check(f"{name}.persistence", "OK", "persistence mode is on")
        return check(f"{name}.persistence", "WARN", "persistence mode is off: the driver unloads between processes, "
                     "so each worker's start pays for loading it", "sudo nvidia-smi --persistence-mode=1")

    def temperature():
        now = nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
        try:
            slow = nvml.nvmlDeviceGetTemperatureThreshold(handle, nvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN)
        except nvml.NVMLError:
            slow = None
        if slow and now >= slow - TEMPERATURE_MARGIN_C:
            return check(f"{name}.temperature", "WARN", f"{now} C, slowdown at {slow} C",
                         "let it cool down, check its cooling")
        return check(f"{name}.temperature", "OK", f"{now} C" + (f" (slowdown at {slow} C)" if slow else ""))

    def power():
        limit = nvml.nvmlDeviceGetPowerManagementLimit(handle) / 1000
        default = nvml.nvmlDeviceGetPowerManagementDefaultLimit(handle) / 1000
        if limit < 0.95 * default:
            return check(f"{name}.power", "WARN", f"power limit {limit:.0f} W, below the default {default:.0f} W",
                         f"sudo nvidia-smi --power-limit={default:.0f}")
        return check(f"{name}.power", "OK", f"power limit {limit:.0f} W (default {default:.0f} W)")

    def throttle():
        reasons = event_reasons()
        active = [n for n, bit in _reasons(nvml).items() if reasons & bit]
        if active:
            return check(f"{name}.throttle", "WARN", f"throttling now: {', '.join(active)}",
                         "find the cause (temperature, power cap) before measuring")
        return check(f"{name}.throttle", "OK", "no thermal or power throttling now")

    def ecc():
        errors = nvml.nvmlDeviceGetTotalEccErrors(handle, nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, nvml.NVML_VOLATILE_ECC)
        if errors:
            return check(f"{name}.ecc", "WARN", f"{errors} uncorrected ECC errors since the driver loaded",
                         "reset the GPU (nvidia-smi -r) or have it serviced")
        return check(f"{name}.ecc", "OK", "no uncorrected ECC errors")

    for check_name, fn in (("processes", processes), ("clocks", clocks), ("locked", locked),
                           ("persistence", persistence), ("temperature", temperature), ("power", power),
                           ("throttle", throttle), ("ecc", ecc)):
        one(check_name, fn)
    return out


def nvml_checks(nvidia: bool, exclude_pids=(), nvml=None) -> list[dict]:
    """Every NVIDIA GPU's checks through NVML (``nvml``: the ``pynvml`` module of nvidia-ml-py)."""
    if nvml is None:
        try:
            nvml = _nvml_module()
        except ImportError:
            why = ("nvidia-ml-py is not installed (the cuda12/cuda13 extras bring it: pip install -e \".[cuda13]\")"
                   if nvidia else "no NVIDIA GPU here, and nvidia-ml-py is not installed")
            return [check("gpu.nvml", "INFO", why)]
    try:
        nvml.nvmlInit()
    except Exception as err:  # noqa: BLE001 -- NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return [check("gpu.nvml", "INFO", f"NVML did not start ({err})" + ("" if nvidia else ": no NVIDIA GPU here"))]
    try:
        try:
            count = nvml.nvmlDeviceGetCount()
        except Exception as err:  # noqa: BLE001 -- NotSupported on a VM / under MIG: the doctor goes on
            return [check("gpu.nvml", "INFO", f"nvmlDeviceGetCount raised {type(err).__name__}: {err}")]
        if not count:
            return [check("gpu.nvml", "INFO", "NVML sees no GPU")]
        out = []
        for i in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(i)
            except Exception as err:  # noqa: BLE001 -- one GPU NVML cannot open: the others still checked
                out.append(check(f"gpu{i}.nvml", "INFO", f"nvmlDeviceGetHandleByIndex raised {type(err).__name__}: {err}"))
                continue
            try:
                out.append(check(f"gpu{i}.name", "OK", _text(nvml.nvmlDeviceGetName(handle))))
            except Exception as err:  # noqa: BLE001 -- the name is the least of it
                out.append(check(f"gpu{i}.name", "INFO", f"nvmlDeviceGetName raised {type(err).__name__}: {err}"))
            out.extend(_gpu_checks(nvml, i, handle, exclude_pids))
        return out
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 -- shutting down what started is best effort
            pass


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
