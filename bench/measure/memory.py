"""Memory of a case: what XLA plans for its executable, and what the process or devices use.

In a fresh worker process the peak minus the baseline taken after backend start-up is the
case's own (:mod:`bench.isolation.worker`).
"""
from __future__ import annotations

import platform


def memory_analysis(compiled) -> dict:
    """Bytes XLA plans for the executable (arguments, outputs, temporaries), or why there are none."""
    try:
        m = compiled.memory_analysis()
    except Exception as err:  # noqa: BLE001 -- some backends do not implement it; record why
        return {"xla_memory_error": f"memory_analysis() raised {type(err).__name__}: {err}"[:300]}
    if m is None:
        return {"xla_memory_error": "memory_analysis() returned None on this backend"}
    return {
        "xla_argument_bytes": int(m.argument_size_in_bytes),
        "xla_output_bytes": int(m.output_size_in_bytes),
        "xla_temp_bytes": int(m.temp_size_in_bytes),
    }


def _device_stats(devices, key: str) -> int | None:
    """Sum of ``memory_stats()[key]`` over ``devices``; None where a backend has no such count."""
    total = 0
    for d in devices:
        try:
            stats = d.memory_stats()
        except Exception:  # noqa: BLE001 -- CPU backends may not implement it
            stats = None
        if not stats or key not in stats:
            return None
        total += int(stats[key])
    return total


def memory_now(devices) -> tuple[int, str]:
    """Bytes in use now: the devices' own count on GPU/TPU, the process's resident set on CPU."""
    used = _device_stats(devices, "bytes_in_use")
    if used is not None:
        return used, "device_memory_stats"
    import psutil

    return int(psutil.Process().memory_info().rss), "process_rss"


def memory_peak(devices) -> tuple[int, str]:
    """Peak bytes in use since the process started: the devices' on GPU/TPU, the process's on CPU.

    GPU/TPU: the sum of ``memory_stats()["peak_bytes_in_use"]`` over the case's devices.
    CPU: the process's peak resident set (``ru_maxrss``, the kernel's high-water mark),
    falling back to psutil's current RSS where the platform has no peak. In a fresh
    worker process the peak minus the baseline after backend start-up is the case's own.
    """
    peak = _device_stats(devices, "peak_bytes_in_use")
    if peak is not None:
        return peak, "device_memory_stats"
    try:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # Linux reports KiB, macOS bytes.
        return int(rss if platform.system() == "Darwin" else rss * 1024), "process_peak_rss"
    except (ImportError, OSError):
        import psutil

        return int(psutil.Process().memory_info().rss), "process_rss"
