"""Device state and energy around a runtime case's timed rounds, read before and after them.

Never a sampling thread: it would compete with the rounds for the host. Two readings, one
before the first timed round and one after the last, give

- ``energy_j``: the energy counter's difference divided by the rounds (joules per generation)
  and ``env_steps_per_joule``; ``energy_source`` says which counter (``"nvml"``:
  ``nvmlDeviceGetTotalEnergyConsumption`` summed over the case's GPUs; ``"rapl"``: the
  package domains of ``/sys/class/powercap/intel-rapl:*``, the whole CPU package, not this
  process alone), or ``null`` with ``energy_unavailable`` naming why;
- ``device_state`` (NVIDIA GPUs): per reading and GPU the SM and memory clocks (MHz),
  temperature (C), power draw (W) and active throttle reasons; ``throttle_reasons``: the
  thermal or power reasons seen in either reading or accumulated in NVML's violation
  counters between them (``nvmlDeviceGetViolationStatus``) -- a reason of
  ``extra_info.unstable`` (``throttled``).
"""
from __future__ import annotations

import os
from pathlib import Path

POWERCAP = "/sys/class/powercap"
# throttle reasons that slow a measurement (idle, application clocks and sync boost do not)
THROTTLE = ("HwSlowdown", "HwThermalSlowdown", "HwPowerBrakeSlowdown", "SwThermalSlowdown", "SwPowerCap")
VIOLATIONS = {"POWER": "SwPowerCap", "THERMAL": "SwThermalSlowdown"}  # NVML_PERF_POLICY_<x>: the reason


def nvml_module():
    """(pynvml started, None) or (None, why not)."""
    try:
        import pynvml
    except ImportError:
        return None, "nvidia-ml-py is not installed (the cuda12/cuda13 extras bring it)"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as err:
        return None, f"NVML did not start ({err})"
    return pynvml, None


def nvml_index(device) -> int | str:
    """The NVML index (or UUID) of a jax GPU device: its CUDA ordinal, through
    ``CUDA_VISIBLE_DEVICES`` where that renumbers the GPUs (CUDA and NVML agree on the order
    of a machine's GPUs of one model, the machines esperf measures)."""
    ordinal = getattr(device, "local_hardware_id", None)
    ordinal = device.id if ordinal is None else ordinal
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    if visible and ordinal < len(visible):
        entry = visible[ordinal]
        return int(entry) if entry.isdigit() else entry
    return ordinal


def rapl_domains(powercap: str = POWERCAP) -> tuple[list[Path], str | None]:
    """The readable RAPL package counters (``intel-rapl:N/energy_uj``), or why there are none."""
    root = Path(powercap)
    packages = sorted(p for p in root.glob("intel-rapl:*") if p.name.count(":") == 1)
    if not packages:
        return [], f"no RAPL counters in {powercap}"
    readable = [p for p in packages if os.access(p / "energy_uj", os.R_OK)]
    if not readable:
        return [], f"the RAPL counters in {powercap} are not readable by this user (root only on this kernel)"
    return readable, None


class Meter:
    """Two readings around the timed rounds of one case on ``devices`` (jax devices of one platform).

    ``nvml`` replaces the pynvml module (tests); ``powercap`` the sysfs folder of RAPL."""

    def __init__(self, devices, *, nvml=None, powercap: str = POWERCAP):
        self.platform = devices[0].platform
        self.handles, self.domains, self.why = [], [], None
        self.nvml = nvml
        if self.platform == "gpu":
            if nvml is None:
                self.nvml, self.why = nvml_module()
            elif hasattr(nvml, "nvmlInit"):
                nvml.nvmlInit()
            if self.nvml is not None:
                try:
                    self.handles = [self._handle(d) for d in devices]
                except self.nvml.NVMLError as err:
                    self.handles, self.why = [], f"NVML does not know the case's GPUs ({err})"
        elif self.platform == "cpu":
            self.domains, self.why = rapl_domains(powercap)
        else:
            self.why = f"no energy counter esperf reads on {self.platform}"

    def _handle(self, device):
        index = nvml_index(device)
        if isinstance(index, str):
            return self.nvml.nvmlDeviceGetHandleByUUID(index)
        return self.nvml.nvmlDeviceGetHandleByIndex(index)

    def read(self) -> dict:
        """One reading: {"energy_j": total joules or None, "state": [per GPU], "violations": {...}}."""
        if self.domains:
            return {"energy_j": sum(int((d / "energy_uj").read_text()) for d in self.domains) / 1e6,
                    "wraps": [int((d / "max_energy_range_uj").read_text()) / 1e6 for d in self.domains]}
        if not self.handles:
            return {"energy_j": None}
        nvml, states, energy, violations = self.nvml, [], 0.0, {}
        for h in self.handles:
            states.append(self._state(h))
            try:
                energy += nvml.nvmlDeviceGetTotalEnergyConsumption(h) / 1e3  # mJ since the driver loaded
            except nvml.NVMLError as err:
                energy, self.why = None, f"NVML gives no energy counter here ({err})"
            for policy, reason in VIOLATIONS.items():
                try:
                    v = nvml.nvmlDeviceGetViolationStatus(h, getattr(nvml, f"NVML_PERF_POLICY_{policy}"))
                    violations[reason] = violations.get(reason, 0) + int(v.violationTime)
                except (nvml.NVMLError, AttributeError):
                    pass
            if energy is None:
                break
        return {"energy_j": energy, "state": states, "violations": violations}

    def _state(self, h) -> dict:
        nvml = self.nvml
        get = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or nvml.nvmlDeviceGetCurrentClocksThrottleReasons
        bits = int(get(h))
        return {"sm_clock_mhz": nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM),
                "mem_clock_mhz": nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_MEM),
                "temperature_c": nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU),
                "power_w": nvml.nvmlDeviceGetPowerUsage(h) / 1e3,
                "throttle_reasons": [n for n in THROTTLE if bits & getattr(nvml, f"nvmlClocksThrottleReason{n}", 0)]}

    def figures(self, before: dict, after: dict, rounds: int) -> dict:
        """extra_info of the two readings around ``rounds`` timed generations."""
        out = {"energy_j": None, "energy_source": None}
        if before["energy_j"] is not None and after["energy_j"] is not None and rounds > 0:
            used = after["energy_j"] - before["energy_j"]
            if used < 0 and "wraps" in before:  # a RAPL counter wrapped once during the rounds
                used += sum(before["wraps"])
            out.update(energy_j=used / rounds, energy_source="rapl" if self.domains else "nvml")
        else:
            out["energy_unavailable"] = self.why or "the energy counter gave no reading"
        if "state" in before:
            seen = {r for s in before["state"] + after["state"] for r in s["throttle_reasons"]}
            seen |= {r for r, t in after.get("violations", {}).items() if t > before.get("violations", {}).get(r, 0)}
            out.update(device_state={"before": before["state"], "after": after["state"]},
                       throttle_reasons=[r for r in THROTTLE if r in seen])
        return out
