"""Machine information for the JSON: host, CPU, memory, OS, software, devices.

psutil and platform for the host, jax for the devices -- nothing hand-parsed.
"""
from __future__ import annotations

import os
import platform
import socket

SCHEMA_VERSION = 1


def _cpu_model() -> str:
    # /proc/cpuinfo names the model on Linux; platform.processor() is often empty there.
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info(device) -> dict:
    """id, kind, platform and memory of one jax device (memory_stats where the backend has it)."""
    stats = None
    try:
        stats = device.memory_stats()
    except Exception:  # noqa: BLE001 -- CPU backends may not implement it
        stats = None
    return {
        "id": f"{device.platform}:{device.id}",
        "kind": device.device_kind,
        "platform": device.platform,
        "memory_bytes": (stats or {}).get("bytes_limit"),
    }


def machine_info(devices) -> dict:
    """esperf's additions to pytest-benchmark's ``machine_info``."""
    import jax
    import jaxlib
    import psutil

    # platform_version names the CUDA/ROCm/TPU runtime behind each backend.
    backend_versions = {d.platform: getattr(d.client, "platform_version", None) for d in devices}
    return {
        "esperf_schema_version": SCHEMA_VERSION,
        "hostname": socket.gethostname(),
        "cpu_model": _cpu_model(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(logical=True),
        "ram_bytes": psutil.virtual_memory().total,
        "os": platform.platform(),
        "python": platform.python_version(),
        "jax_version": jax.__version__,
        "jaxlib_version": jaxlib.__version__,
        "backend_platform_version": backend_versions,
        "devices": [device_info(d) for d in devices],
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "jax_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("JAX_")},
    }


def memory_in_use(device) -> tuple[int | None, str]:
    """Peak bytes in use: the device's own count on GPU/TPU, the process's on CPU.

    GPU/TPU: ``memory_stats()["peak_bytes_in_use"]``. CPU: the process's peak resident
    set (``ru_maxrss``, the kernel's high-water mark), falling back to psutil's current
    RSS where the platform has no peak. Both are peaks since the process started, so
    they only grow over a run; XLA's planned per-case sizes are in ``xla_*_bytes``.
    """
    try:
        stats = device.memory_stats()
    except Exception:  # noqa: BLE001
        stats = None
    if stats and "peak_bytes_in_use" in stats:
        return int(stats["peak_bytes_in_use"]), "device_memory_stats"
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # Linux reports KiB, macOS bytes.
        return int(peak if platform.system() == "Darwin" else peak * 1024), "process_peak_rss"
    except (ImportError, OSError):
        import psutil

        return int(psutil.Process().memory_info().rss), "process_rss"
