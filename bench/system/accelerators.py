"""The accelerators this machine has, and those jax's backends do not show: what, why, the fix.

:func:`present` looks at the operating system only (no jax): NVIDIA GPUs from
``nvidia-smi -L`` where it is on PATH, else ``/proc/driver/nvidia/gpus/``; AMD GPUs from
``/dev/kfd`` (named from the KFD topology); TPUs from ``/dev/accel*`` and ``/dev/vfio/<n>``
(Google's PCI vendor id where ``/sys`` shows it). :func:`unused` holds that list against
the platforms jax started and says, for each accelerator of a platform jax does not show,
why -- a CPU-only jaxlib and the install line, ``JAX_PLATFORMS`` leaving it out, or the
backend's own start-up error. :func:`survey` does both in a process that may start jax's
backends (the device-listing worker of ``pytest bench``, ``python -m bench.doctor``).
"""
from __future__ import annotations

import glob
import os
import re
from importlib import metadata
from pathlib import Path

from bench.processes import run_command

COMMAND_TIMEOUT_S = 10.0  # nvidia-smi answers in well under a second; a hung driver must not hang a run
CUDA13_MIN_DRIVER = 580  # CUDA 13 needs an NVIDIA driver >= 580; CUDA 12 one >= 525
GOOGLE_PCI_VENDOR = "0x1ae0"
INSTALL_DOCS = "https://docs.jax.dev/en/latest/installation.html"

# The jax backend behind each platform esperf names, by vendor, and the distribution that brings it.
BACKENDS = {"NVIDIA": "cuda", "AMD": "rocm", "Google": "tpu"}
BACKEND_PLATFORM = {"cuda": "gpu", "rocm": "gpu", "tpu": "tpu", "cpu": "cpu"}
PLUGINS = {"cuda": r"jax-cuda\d+-plugin", "rocm": r"jax-rocm\d+-plugin", "tpu": r"libtpu(-nightly)?"}
# jax_platforms names that select each backend ("gpu" is jax's alias for cuda and rocm)
SELECTS = {"cuda": {"cuda", "gpu"}, "rocm": {"rocm", "gpu"}, "tpu": {"tpu"}}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# -- what the OS shows -------------------------------------------------------------------------

def _nvidia() -> list[dict]:
    """NVIDIA GPUs: ``nvidia-smi -L`` (``GPU 0: NVIDIA H200 (UUID: ...)``), else the driver's /proc."""
    smi = _which("nvidia-smi")
    if smi:
        answer = run_command([smi, "-L"], COMMAND_TIMEOUT_S)
        if answer is not None and answer[0] == 0:
            names = [m.group(1).strip() for m in re.finditer(r"^GPU \d+: (.+?)(?: \(UUID:.*)?$", answer[1], re.MULTILINE)]
            if names:
                return [{"platform": "gpu", "vendor": "NVIDIA", "name": n, "source": "nvidia-smi -L"} for n in names]
    found = []
    for info in sorted(glob.glob("/proc/driver/nvidia/gpus/*/information")):
        text = _read(info) or ""
        model = re.search(r"^Model:\s*(.+)$", text, re.MULTILINE)
        found.append({"platform": "gpu", "vendor": "NVIDIA", "name": model.group(1).strip() if model else "NVIDIA GPU",
                      "source": "/proc/driver/nvidia/gpus"})
    return found


def _amd() -> list[dict]:
    """AMD GPUs: ``/dev/kfd`` (ROCm's driver), one per KFD topology node with a GPU id."""
    if not os.path.exists("/dev/kfd"):
        return []
    found = []
    for node in sorted(glob.glob("/sys/class/kfd/kfd/topology/nodes/*")):
        gpu_id = (_read(f"{node}/gpu_id") or "0").strip()
        if gpu_id not in ("", "0"):
            name = (_read(f"{node}/name") or "").strip()
            found.append({"platform": "gpu", "vendor": "AMD", "name": f"AMD GPU {name}".strip(), "source": "/dev/kfd"})
    return found or [{"platform": "gpu", "vendor": "AMD", "name": "AMD GPU", "source": "/dev/kfd"}]


def _tpu() -> list[dict]:
    """TPU chips: ``/dev/accel<n>`` (v2-v4) or ``/dev/vfio/<n>`` groups (v5e and later), where
    ``/sys`` shows Google PCI devices (or cannot be read); vfio alone is no TPU."""
    accel = sorted(p for p in glob.glob("/dev/accel*") if re.fullmatch(r"/dev/accel\d+", p))
    vfio = sorted(p for p in glob.glob("/dev/vfio/*") if re.fullmatch(r"/dev/vfio/\d+", p))
    vendors = [(_read(v) or "").strip() for v in glob.glob("/sys/bus/pci/devices/*/vendor")]
    google = vendors.count(GOOGLE_PCI_VENDOR)
    if vendors and not google:
        return []
    if not accel and not (vfio and google):
        return []
    count = len(accel) or min(len(vfio), google)
    return [{"platform": "tpu", "vendor": "Google", "name": "Google TPU", "source": (accel or vfio)[0].rsplit("/", 1)[0]
             + "/" + ("accel*" if accel else "vfio")} for _ in range(count)]


def present() -> list[dict]:
    """Every accelerator the OS shows, as ``{"platform", "vendor", "name", "source"}`` (no jax)."""
    return _nvidia() + _amd() + _tpu()


def _which(name: str) -> str | None:
    from shutil import which

    return which(name)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return None


# -- what jax shows, and why not -----------------------------------------------------------------

def plugins() -> dict[str, str]:
    """{distribution: version} of jax, jaxlib and the installed backend plugins (cuda, rocm, libtpu)."""
    wanted = re.compile(r"jax|jaxlib|" + "|".join(PLUGINS.values()) + r"|jax-cuda\d+-pjrt|jax-rocm\d+-pjrt")
    found = {}
    for dist in metadata.distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"] or "").lower()
        if wanted.fullmatch(name):
            found[name] = dist.version
    return dict(sorted(found.items()))


def nvidia_driver() -> str | None:
    """The NVIDIA kernel driver's version (``580.82.07``): the driver's /proc file, else nvidia-smi."""
    text = _read("/proc/driver/nvidia/version") or ""
    match = re.search(r"Kernel Module\s+(\d+(?:\.\d+)+)", text)
    if match:
        return match.group(1)
    smi = _which("nvidia-smi")
    answer = run_command([smi, "--query-gpu=driver_version", "--format=csv,noheader"], COMMAND_TIMEOUT_S) if smi else None
    if answer and answer[0] == 0 and re.match(r"\d+(\.\d+)+", answer[1].strip()):
        return answer[1].strip().splitlines()[0]
    return None


def install_line(backend: str, driver: str | None = None) -> str:
    """What to run (from the checkout) so that jax gets ``backend``: the extra of pyproject.toml."""
    if backend == "cuda":
        if driver and int(driver.split(".")[0]) < CUDA13_MIN_DRIVER:
            return f'pip install -e ".[cuda12]" (driver {driver} is older than CUDA 13\'s {CUDA13_MIN_DRIVER})'
        if driver:
            return 'pip install -e ".[cuda13]"'
        return f'pip install -e ".[cuda13]" (".[cuda12]" for an NVIDIA driver older than {CUDA13_MIN_DRIVER})'
    if backend == "tpu":
        return 'pip install -e ".[tpu]"'
    return f"jax's ROCm plugin, as {INSTALL_DOCS} says"


def _why(backend: str, installed: dict, errors: dict, jax_platforms: str, driver: str | None) -> str:
    """Why jax shows no device of ``backend``, with the fix, in one line."""
    plugin = [n for n in installed if re.fullmatch(PLUGINS[backend], n)]
    if not plugin:
        jaxlib = installed.get("jaxlib", "?")
        what = f"jaxlib {jaxlib} is CPU-only" if backend != "tpu" else f"libtpu is not installed (jaxlib {jaxlib})"
        return f"{what}; install {install_line(backend, driver)}"
    names = {p.strip() for p in jax_platforms.split(",") if p.strip()}
    if names and not names & SELECTS[backend]:
        return f"JAX_PLATFORMS={jax_platforms} leaves {backend} out; unset it or add {backend}"
    if backend in errors:
        return f"jax's {backend} backend failed to start: {errors[backend]}"[:1000]
    versions = ", ".join(f"{p} {installed[p]}" for p in plugin)
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES" if backend == "cuda" else "HIP_VISIBLE_DEVICES")
    return f"{versions} is installed but started no device" + (f" (CUDA_VISIBLE_DEVICES={hidden})" if hidden is not None
                                                              and backend == "cuda" else "")


def jax_platforms_for(platforms) -> str | None:
    """The ``jax_platforms`` value that starts only the backends of ``platforms`` (``cpu``,
    ``gpu``, ``tpu``) and the CPU's: ``cpu``, ``cuda,cpu``, ``tpu,cpu``. None where no
    installed plugin brings a GPU backend (jax's ``gpu`` alias would also try the missing
    ones, loudly): the case then fails on its devices, with jax's reason."""
    names = []
    for platform in sorted(set(platforms) - {"cpu"}):
        if platform == "gpu":
            installed = plugins()
            backend = next((b for b in ("cuda", "rocm") if any(re.fullmatch(PLUGINS[b], n) for n in installed)), None)
            if backend is None:
                return None
            names.append(backend)
        else:
            names.append(platform)
    return ",".join([*names, "cpu"])


def unused(found: list[dict], platforms, errors: dict[str, str], *, installed: dict | None = None,
           jax_platforms: str | None = None, driver: str | None = None) -> list[dict]:
    """Every accelerator of ``found`` (:func:`present`) whose platform is not among ``platforms``
    (those jax started: ``cpu``, ``gpu``, ``tpu``), as ``{"platform", "name", "why"}``.

    ``errors`` are the backends' start-up errors ({backend: message}); ``installed`` the
    distributions (:func:`plugins`), ``jax_platforms`` the user's ``JAX_PLATFORMS`` and
    ``driver`` the NVIDIA driver's version, each read from this machine when None.
    """
    platforms = set(platforms)
    missing = [a for a in found if a["platform"] not in platforms]
    if not missing:
        return []
    installed = plugins() if installed is None else installed
    jax_platforms = os.environ.get("JAX_PLATFORMS", "") if jax_platforms is None else jax_platforms
    if driver is None and any(a["vendor"] == "NVIDIA" for a in missing):
        driver = nvidia_driver()
    out = []
    for a in missing:
        why = _why(BACKENDS[a["vendor"]], installed, errors, jax_platforms, driver)
        out.append({"platform": a["platform"], "name": a["name"], "why": why})
    return out


def warnings(unused_list: list[dict]) -> list[str]:
    """One sentence per platform and reason: ``1 NVIDIA GPU (NVIDIA H200) is present but jax
    sees no gpu: jaxlib 0.10.2 is CPU-only; install pip install -e ".[cuda13]"``."""
    groups: dict[tuple[str, str], list[str]] = {}
    for a in unused_list:
        groups.setdefault((a["platform"], a["why"]), []).append(a["name"])
    lines = []
    for (platform, why), names in groups.items():
        kinds = ", ".join(dict.fromkeys(names))
        vendor = "NVIDIA " if any("NVIDIA" in n for n in names) else "AMD " if any("AMD" in n for n in names) else ""
        noun = {"gpu": "GPU", "tpu": "TPU chip"}.get(platform, platform)
        plural = "s" if len(names) > 1 else ""
        lead = f"{len(names)} {vendor}{noun}{plural} ({kinds})" if platform == "gpu" else f"{len(names)} {noun}{plural}"
        lines.append(f"{lead} {'are' if plural else 'is'} present but jax sees no {platform}: {why}")
    return lines


def survey() -> dict:
    """Start jax's backends in this process and say what it sees and what it misses.

    Returns ``{"jax": jax part of machine_info, "backend_errors": {backend: error},
    "present": [...], "unused_accelerators": [...]}``. A backend's error is kept where it
    raised, or where jax tried it quietly and its hardware is present (every machine's jax
    tries the TPU quietly: that is no error on a machine without one).
    """
    from bench.measure.machine import jax_info
    from bench.multi.devices import discover, quiet_errors

    devices, errors = discover()
    found = present()
    backends_present = {BACKENDS[a["vendor"]] for a in found}
    errors.update({b: e for b, e in quiet_errors().items() if b in backends_present and b not in errors})
    platforms = {name.split(":", 1)[0] for name in devices}
    return {
        "jax": jax_info(list(devices.values())),
        "backend_errors": errors,
        "present": found,
        "unused_accelerators": unused(found, platforms, errors),
    }
