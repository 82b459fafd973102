"""Machine information for the JSON: host, CPU, memory, OS, software, devices.

psutil and platform for the host, jax for the devices -- nothing hand-parsed.
"""
from __future__ import annotations

import os
import platform
import socket

from results_format.version import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "device_info", "jax_info", "machine_info"]


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
        "process_index": getattr(device, "process_index", 0),
        # jax's allocator pool (75 % of a GPU's memory by default, XLA_PYTHON_CLIENT_MEM_FRACTION),
        # not the device's memory: named as what it is
        "allocator_limit_bytes": (stats or {}).get("bytes_limit"),
    }


def jax_info(devices) -> dict:
    """What only a process with jax's backends up can tell: versions and the devices.

    The pytest process of ``--es-isolate process`` never starts a backend: a short-lived
    worker computes this and sends it back as JSON.
    """
    import jax
    import jaxlib

    # platform_version names the CUDA/ROCm/TPU runtime behind each backend.
    return {
        "jax_version": jax.__version__,
        "jaxlib_version": jaxlib.__version__,
        "backend_platform_version": {d.platform: getattr(d.client, "platform_version", None) for d in devices},
        "process_index": jax.process_index(),
        "process_count": jax.process_count(),
        "devices": [device_info(d) for d in devices],
    }


# machine_info keys that describe one run (its system check, cache state, workers, processes),
# not the machine: --benchmark-compare leaves them out of its "machine_info is different" check.
RUN_STATE_KEYS = ("system_check", "cold_caches", "workers", "processes", "isolation", "measured_peaks",
                  "measured_peaks_error")


def machine_info(jax_part: dict) -> dict:
    """esperf's additions to pytest-benchmark's ``machine_info``: this host plus ``jax_part``."""
    import psutil

    return {
        "esperf_schema_version": SCHEMA_VERSION,
        "hostname": socket.gethostname(),
        "cpu_model": _cpu_model(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(logical=True),
        "ram_bytes": psutil.virtual_memory().total,
        "os": platform.platform(),
        "python": platform.python_version(),
        **jax_part,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "jax_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("JAX_")},
    }
