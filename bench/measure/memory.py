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


def _status_kib(field: str) -> int | None:
    """``field`` (VmHWM, VmRSS) of /proc/self/status in bytes, None where there is no such file."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class GenerationMemory:
    """The memory the timed rounds themselves need, apart from the compile's peak.

    A runtime worker's peak - baseline spans its compile too (the compiler's own memory on a
    CPU; autotuning scratch, redzone buffers, on a GPU). Built after the compile and warm-up,
    just before the timed rounds; :meth:`figures` after them:

    - CPU (Linux): the kernel's peak-RSS mark is reset (``/proc/self/clear_refs`` ``5``), so the
      peak after the rounds minus the RSS at the reset is what the rounds added
      (``generation_memory_source: "rss_hwm_reset"``);
    - GPU/TPU: the allocator's peak cannot be reset in a process; where the rounds raised it,
      the new peak minus the bytes in use before them is theirs (``"device_peak"``); where they
      did not, the rounds needed at most the earlier peak and the figure is ``None`` with
      ``generation_memory_unavailable`` saying so.
    """

    def __init__(self, devices):
        self.devices = devices
        self.peak_before = _device_stats(devices, "peak_bytes_in_use")
        self.why = None
        if self.peak_before is not None:
            self.in_use = _device_stats(devices, "bytes_in_use")
            return
        self.in_use = _status_kib("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError as err:
            self.why = f"the peak RSS mark cannot be reset here ({err.strerror or err})"
        if self.in_use is None:
            self.why = "no /proc/self/status on this system"

    def figures(self) -> dict:
        """``generation_memory_bytes`` and its source, or None with why."""
        if self.peak_before is not None:
            peak = _device_stats(self.devices, "peak_bytes_in_use")
            if peak is not None and peak > self.peak_before and self.in_use is not None:
                return {"generation_memory_bytes": peak - self.in_use, "generation_memory_source": "device_peak"}
            return {"generation_memory_bytes": None, "generation_memory_source": None,
                    "generation_memory_unavailable": "the rounds stayed below the compile's peak, which the device's "
                    "counter cannot reset in a process: they needed at most peak_memory_bytes - baseline"}
        hwm = _status_kib("VmHWM")
        if self.why or hwm is None:
            return {"generation_memory_bytes": None, "generation_memory_source": None,
                    "generation_memory_unavailable": self.why or "no VmHWM in /proc/self/status"}
        return {"generation_memory_bytes": max(0, hwm - self.in_use), "generation_memory_source": "rss_hwm_reset"}


def loads_saved_executable(platform: str) -> bool:
    """Whether a runtime case on ``platform`` measures its generation's memory in a worker of
    its own, which loads the executable the first runtime worker saved: on a GPU or TPU,
    whose allocator's peak cannot be reset in a process (on a CPU the kernel's peak-RSS mark
    can: the runtime workers measure it themselves)."""
    return platform != "cpu"


GENERATION_KEYS = ("generation_memory_bytes", "generation_memory_source", "generation_memory_unavailable",
                   "generation_memory_pid", "generation_memory_worker_error")


def merge_generation_memory(info: dict, loaded: dict | None = None, pid: int | None = None,
                            error: str | None = None) -> dict:
    """``info`` (a runtime case's extra_info) with its generation-memory keys set, in place,
    from the first runtime worker's own (already in ``info``) and its memory worker's
    (``loaded``, from the process ``pid``), or the reason there is none (``error``: the memory
    worker failed, or had no executable to load).

    The loaded figure wins where there is one; else the runtime worker's own where it has one;
    else the figure is null and ``generation_memory_unavailable`` gives every reason. Every
    key is set afresh: no reason stays beside a figure (a stale
    ``generation_memory_unavailable``). A memory worker that failed is named
    (``generation_memory_worker_error``) whatever the figure: it never fails the case, whose
    runtime figures stand.
    """
    own = {k: info.pop(k) for k in GENERATION_KEYS if k in info}
    if loaded is not None and loaded.get("generation_memory_bytes") is not None:
        info.update(generation_memory_bytes=loaded["generation_memory_bytes"],
                    generation_memory_source=loaded.get("generation_memory_source"), generation_memory_pid=pid)
    elif own.get("generation_memory_bytes") is not None:
        info.update(generation_memory_bytes=own["generation_memory_bytes"],
                    generation_memory_source=own.get("generation_memory_source"))
    else:
        theirs = (loaded or {}).get("generation_memory_unavailable")
        mine = own.get("generation_memory_unavailable")
        reasons = [error, theirs and f"the memory worker: {theirs}", mine and f"the runtime worker: {mine}"]
        info.update(generation_memory_bytes=None, generation_memory_source=None,
                    generation_memory_unavailable="; ".join(r for r in reasons if r) or "no figure and no reason given")
    if error:
        info["generation_memory_worker_error"] = error
    return info
