"""Is this machine fit to be measured? The checks of ``python -m bench.doctor``.

Each check is ``{"check", "status", "detail", "fix"}`` with ``status`` one of ``OK``,
``WARN`` (the figures measured now would be off, and ``fix`` says how to put it right) or
``INFO`` (it cannot be read here, and ``detail`` says why: no cpufreq in a VM's ``/sys``,
a GPU without ECC). In the spirit of ``pyperf system show``, for the devices esperf
measures: jax and the accelerators it misses; the CPU's governor, boost, load and the
other processes using it; free memory; the environment variables that change figures;
NVIDIA GPUs through NVML (``nvidia-ml-py``; :mod:`bench.system.gpu_checks`); libtpu's lock
file. No check raises: a check that fails is an ``INFO`` naming the error.
"""
from __future__ import annotations

import glob
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from bench.system.accelerators import BACKEND_PLATFORM, BACKENDS, plugins, warnings
from bench.system.caches import CACHE_FLAGS
from bench.system.check_result import STATUSES, check  # noqa: F401 -- STATUSES: part of this module's names
from bench.system.gpu_checks import nvml_checks

LOAD_INTERVAL_S = 1.0  # how long the other processes' CPU use is sampled (pyperf samples 1 s too)
QUICK_LOAD_INTERVAL_S = 0.25  # at the start of ``pytest bench``: long enough to see a busy process
BUSY_PROCESS = 0.5  # of one core: another process this busy slows a measurement
LOW_MEMORY = 0.10  # of RAM available
TOP_PROCESSES = 5
TPU_LOCKFILE = "/tmp/libtpu_lockfile"
GPU_MEMORY_VARS = ("XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION", "XLA_CLIENT_MEM_FRACTION",
                   "XLA_PYTHON_CLIENT_ALLOCATOR")
BLAS_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _safe(name: str, fn: Callable[[], list[dict]]) -> list[dict]:
    """``fn()``, or one INFO naming its error: a check that cannot read the machine says so."""
    try:
        return fn()
    except Exception as err:  # noqa: BLE001 -- no check may abort the doctor or a run
        return [check(name, "INFO", f"could not be read: {type(err).__name__}: {err}")]


def _read(path) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip()
    except OSError:
        return None


# -- jax and the accelerators --------------------------------------------------------------------

def jax_checks(found: Mapping) -> list[dict]:
    """Versions, the devices jax sees, the accelerators it does not use, backends that failed."""
    jax_part = found.get("jax") or {}
    versions = ", ".join(f"{k} {v}" for k, v in plugins().items()) or (
        f"jax {jax_part.get('jax_version')}, jaxlib {jax_part.get('jaxlib_version')}")
    out = [check("jax.versions", "OK", versions)]
    devices = jax_part.get("devices") or []
    kinds = {}
    for d in devices:
        kinds.setdefault(d["platform"], []).append(f"{d['id']} ({d['kind']})")
    if devices:
        out.append(check("jax.devices", "OK", "; ".join(f"{p}: {', '.join(v)}" for p, v in kinds.items())))
    else:
        out.append(check("jax.devices", "WARN", "jax sees no device at all", "see the backend errors below"))
    unused = found.get("unused_accelerators") or []
    for platform in dict.fromkeys(a["platform"] for a in unused):
        mine = [a for a in unused if a["platform"] == platform]
        fix = re.search(r"install (.+)$", mine[0]["why"])
        out.append(check(f"jax.unused.{platform}", "WARN", "; ".join(warnings(mine)),
                         fix.group(1) if fix else mine[0]["why"]))
    if not unused:
        shown = ", ".join(f"{a['name']}" for a in found.get("present") or []) or "none"
        out.append(check("jax.unused", "OK", f"jax uses every accelerator the OS shows (accelerators: {shown})"))
    covered = {a["platform"] for a in unused}
    for backend, error in (found.get("backend_errors") or {}).items():
        if BACKEND_PLATFORM.get(backend, backend) not in covered:
            out.append(check(f"jax.backend.{backend}", "WARN", f"jax's {backend} backend failed to start: {error}",
                             "read the error: a driver older than the plugin, or another process holding the device"))
    return out


# -- the CPU -------------------------------------------------------------------------------------

def governor_check(sysfs: str = "/sys") -> list[dict]:
    """The cpufreq governor of every CPU: ``performance`` keeps the clock up between rounds."""
    files = sorted(glob.glob(f"{sysfs}/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor"))
    if not files:
        return [check("cpu.governor", "INFO", f"no cpufreq in {sysfs} (a VM or a container): the governor cannot "
                      "be read here")]
    governors = [(_read(f) or "?") for f in files]
    counts = {g: governors.count(g) for g in dict.fromkeys(governors)}
    text = ", ".join(f"{g} on {n} of {len(files)} CPUs" for g, n in counts.items())
    if set(counts) == {"performance"}:
        return [check("cpu.governor", "OK", text)]
    return [check("cpu.governor", "WARN", f"{text}: the clock drops between rounds and ramps up within them",
                  "sudo cpupower frequency-set -g performance (or: python -m pyperf system tune)")]


def boost_check(sysfs: str = "/sys") -> list[dict]:
    """Turbo/boost: on, the clock follows temperature and the other cores' load (pyperf's advice:
    off for stable figures). intel_pstate's ``no_turbo`` or cpufreq's ``boost``."""
    no_turbo = _read(f"{sysfs}/devices/system/cpu/intel_pstate/no_turbo")
    boost = _read(f"{sysfs}/devices/system/cpu/cpufreq/boost")
    if no_turbo is None and boost is None:
        return [check("cpu.boost", "INFO", f"neither intel_pstate/no_turbo nor cpufreq/boost in {sysfs}: "
                      "boost cannot be read here")]
    on = no_turbo == "0" if no_turbo is not None else boost == "1"
    source = "intel_pstate/no_turbo" if no_turbo is not None else "cpufreq/boost"
    if not on:
        return [check("cpu.boost", "OK", f"turbo/boost is off ({source})")]
    fix = ("echo 1 | sudo tee /sys/devices/system/cpu/intel_pstate/no_turbo" if no_turbo is not None
           else "echo 0 | sudo tee /sys/devices/system/cpu/cpufreq/boost")
    return [check("cpu.boost", "WARN", f"turbo/boost is on ({source}): the clock follows temperature and load",
                  fix)]


def sample_cpu(interval: float, exclude_pids=()) -> list[tuple[float, int, str]]:
    """[(share of one core, pid, name)] of every other process over ``interval`` seconds,
    busiest first (psutil's ``cpu_percent`` between two reads). ``exclude_pids`` (this
    process and its parents) are not "other"."""
    import psutil

    exclude = set(exclude_pids) | {os.getpid()}
    procs = []
    for p in psutil.process_iter(["name"]):
        if p.pid in exclude:
            continue
        try:
            p.cpu_percent(None)  # the first call starts the interval
            procs.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    time.sleep(interval)
    used = []
    for p in procs:
        try:
            share = p.cpu_percent(None) / 100.0
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if share > 0:
            used.append((share, p.pid, p.info.get("name") or "?"))
    return sorted(used, reverse=True)


def load_checks(interval: float, exclude_pids=()) -> list[dict]:
    """``cpu.load``: the other processes' CPU use now and the load average, against the cores;
    ``cpu.processes``: the busiest other processes (a WARN for each using half a core or more)."""
    import psutil

    cores = psutil.cpu_count(logical=True) or 1
    used = sample_cpu(interval, exclude_pids)
    others = sum(u for u, _, _ in used)
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    limit = max(BUSY_PROCESS, 0.1 * cores)
    text = (f"other processes use {others:.2f} of {cores} cores now (sampled {interval:g} s)"
            + (f"; load average {load1:.2f} (1 min) on {cores} cores" if load1 is not None else ""))
    busy = others > limit or (load1 is not None and load1 > cores)
    out = [check("cpu.load", "WARN" if busy else "OK", text,
                 "stop the other work or wait for it: it competes with the measurement for the cores")]
    top = ", ".join(f"{name} (pid {pid}) {u:.0%}" for u, pid, name in used[:TOP_PROCESSES]) or "none"
    hogs = [(u, pid, name) for u, pid, name in used if u >= BUSY_PROCESS]
    if hogs:
        out.append(check("cpu.processes", "WARN", f"busiest other processes: {top}",
                         "stop " + ", ".join(f"{name} (pid {pid})" for _, pid, name in hogs)))
    else:
        out.append(check("cpu.processes", "OK", f"no other process uses half a core; busiest: {top}"))
    return out


def memory_check() -> list[dict]:
    """Free memory: a run short of it swaps or is killed."""
    import psutil

    vm = psutil.virtual_memory()
    text = f"{vm.available / 2**30:.1f} of {vm.total / 2**30:.1f} GiB available"
    if vm.available < LOW_MEMORY * vm.total:
        return [check("memory.free", "WARN", text, "free memory: large populations need GBs of host memory")]
    return [check("memory.free", "OK", text)]


# -- the environment -----------------------------------------------------------------------------

def env_checks(environ: Mapping[str, str], home: str, nvidia: bool) -> list[dict]:
    """The environment variables (and the CUDA driver's JIT cache) that change what is measured."""
    out = []
    flags = environ.get("XLA_FLAGS", "").strip()
    cached = [f for f in CACHE_FLAGS if f in flags]
    if cached:
        out.append(check("env.xla_flags", "WARN", f"XLA_FLAGS={flags}: {', '.join(cached)} let a fresh process "
                         "start warm (esperf's workers drop them: machine_info.cold_caches; any other jax program "
                         "here starts warm)", f"remove {', '.join(cached)} from XLA_FLAGS"))
    elif flags:
        out.append(check("env.xla_flags", "OK", f"XLA_FLAGS={flags} (recorded in machine_info.xla_flags)"))
    else:
        out.append(check("env.xla_flags", "OK", "XLA_FLAGS is not set"))

    jax_vars = {k: v for k, v in sorted(environ.items()) if k.startswith("JAX_")}
    out.append(check("env.jax", "OK", ", ".join(f"{k}={v}" for k, v in jax_vars.items()) + " (recorded in "
                     "machine_info.jax_env)" if jax_vars else "no JAX_* variable is set"))

    cache = Path(home) / ".nv" / "ComputeCache"
    size = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file()) if cache.is_dir() else 0
    text = ("jax's persistent compilation cache is off in esperf's workers"
            + (f"; JAX_COMPILATION_CACHE_DIR={environ['JAX_COMPILATION_CACHE_DIR']} is not read"
               if environ.get("JAX_COMPILATION_CACHE_DIR") else ""))
    if size and nvidia and environ.get("CUDA_CACHE_DISABLE", "1") != "1":
        out.append(check("env.compilation_cache", "WARN", f"{text}; the CUDA driver's JIT cache {cache} holds "
                         f"{size / 2**20:.1f} MiB and CUDA_CACHE_DISABLE={environ['CUDA_CACHE_DISABLE']}: a fresh "
                         "worker may load kernels from it", f"unset CUDA_CACHE_DISABLE, or rm -rf {cache}"))
    elif size and nvidia:
        out.append(check("env.compilation_cache", "OK", f"{text}; the CUDA driver's JIT cache {cache} holds "
                         f"{size / 2**20:.1f} MiB, not read: esperf's workers run with CUDA_CACHE_DISABLE=1"))
    else:
        out.append(check("env.compilation_cache", "OK", text + (f"; {cache} is empty or absent" if nvidia else "")))

    memory = {k: environ[k] for k in GPU_MEMORY_VARS if k in environ}
    if memory.get("XLA_PYTHON_CLIENT_ALLOCATOR") == "platform":
        out.append(check("env.gpu_memory", "WARN", "XLA_PYTHON_CLIENT_ALLOCATOR=platform: every allocation goes "
                         "to the driver, slowly", "unset XLA_PYTHON_CLIENT_ALLOCATOR"))
    elif memory:
        out.append(check("env.gpu_memory", "OK", ", ".join(f"{k}={v}" for k, v in memory.items())
                         + ": the device memory figures follow them"))
    else:
        out.append(check("env.gpu_memory", "OK", "jax's defaults (75 % of GPU memory preallocated)"))

    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and not visible.strip() and nvidia:
        out.append(check("env.cuda_visible_devices", "WARN", "CUDA_VISIBLE_DEVICES is empty: it hides every GPU",
                         "unset CUDA_VISIBLE_DEVICES"))
    elif visible is not None:
        out.append(check("env.cuda_visible_devices", "OK", f"CUDA_VISIBLE_DEVICES={visible}: jax sees only those"))
    else:
        out.append(check("env.cuda_visible_devices", "OK", "CUDA_VISIBLE_DEVICES is not set"))

    blas = {k: environ[k] for k in BLAS_VARS if k in environ}
    text = "esperf's workers size the BLAS pools themselves (--es-blas-threads, threadpoolctl)"
    out.append(check("env.blas", "OK", (", ".join(f"{k}={v}" for k, v in blas.items()) + "; " if blas else "") + text))
    return out



# -- TPUs ----------------------------------------------------------------------------------------

def tpu_lock_check(tpu: bool, lockfile: str = TPU_LOCKFILE) -> list[dict]:
    """Whether another process holds libtpu's lock file (then this one cannot open the TPU)."""
    import fcntl

    if not os.path.exists(lockfile):
        return [check("tpu.lock", "OK" if tpu else "INFO", f"no {lockfile}" + ("" if tpu else ": no TPU here"))]
    try:
        with open(lockfile) as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fh, fcntl.LOCK_UN)
    except BlockingIOError:
        return [check("tpu.lock", "WARN", f"another process holds {lockfile}: it has the TPU",
                      f"stop it (lsof {lockfile} names it)")]
    return [check("tpu.lock", "OK", f"{lockfile} exists but no process holds it")]


# -- all of them ---------------------------------------------------------------------------------

def run_checks(found: Mapping, *, quick: bool = False, exclude_pids=(), sysfs: str = "/sys",
               environ: Mapping[str, str] | None = None, home: str | None = None, nvml=None) -> list[dict]:
    """Every check, in order, for a machine whose jax survey is ``found``
    (:func:`bench.system.accelerators.survey`). ``quick`` (the start of ``pytest bench``)
    samples the load for 0.25 s instead of 1 s; ``exclude_pids`` are not "other" processes
    (the run's own tree). ``sysfs``, ``environ``, ``home`` and ``nvml`` replace this
    machine's, for tests."""
    environ = os.environ if environ is None else environ
    home = os.path.expanduser("~") if home is None else home
    vendors = {a["vendor"] for a in found.get("present") or []}
    nvidia, tpu = "NVIDIA" in vendors, any(BACKENDS.get(v) == "tpu" for v in vendors)
    interval = QUICK_LOAD_INTERVAL_S if quick else LOAD_INTERVAL_S
    out = []
    for name, fn in (
        ("jax", lambda: jax_checks(found)),
        ("cpu.governor", lambda: governor_check(sysfs)),
        ("cpu.boost", lambda: boost_check(sysfs)),
        ("cpu.load", lambda: load_checks(interval, exclude_pids)),
        ("memory.free", memory_check),
        ("env", lambda: env_checks(environ, home, nvidia)),
        ("gpu.nvml", lambda: nvml_checks(nvidia, exclude_pids, nvml)),
        ("tpu.lock", lambda: tpu_lock_check(tpu)),
    ):
        out.extend(_safe(name, fn))
    return out

