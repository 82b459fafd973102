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
  ``extra_info.unstable`` (``throttled``); ``device_state_unavailable`` names the NVML calls
  that failed (NotSupported on a VM or under MIG), whose fields are null;
- ``energy_window_s``: the seconds between the two readings. The counters move in steps
  (NVML's every few tens of ms; H100s sample power only part of the time), so a runtime
  worker repeats the generation after its timed rounds until the window lasts
  :data:`WINDOW_S` (:func:`bench.measure.rounds.measure_runtime`).
"""
from __future__ import annotations

import os
from pathlib import Path

POWERCAP = "/sys/class/powercap"
# throttle reasons that slow a measurement (idle, application clocks and sync boost do not)
THROTTLE = ("HwSlowdown", "HwThermalSlowdown", "HwPowerBrakeSlowdown", "SwThermalSlowdown", "SwPowerCap")
WINDOW_S = 1.0  # the shortest energy window: many steps of NVML's counter, a few of RAPL's
VIOLATIONS = {"POWER": "SwPowerCap", "THERMAL": "SwThermalSlowdown"}  # NVML_PERF_POLICY_<x>: the reason


def nvml_module():
    """(pynvml started, None) or (None, why not)."""
    try:
        import pynvml
    except ImportError:
        return None, "nvidia-ml-py is not installed (the cuda12/cuda13 extras bring it)"
    try:
        pynvml.nvmlInit()
    except Exception as err:  # noqa: BLE001 -- NVMLError_LibraryNotFound, DriverNotLoaded, an odd build
        return None, f"NVML did not start (nvmlInit raised {_text(err)})"
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

    ``nvml`` replaces the pynvml module (tests); ``powercap`` the sysfs folder of RAPL.

    Every NVML call is guarded: on a VM, under MIG or with an old driver NVML answers
    ``NVMLError_NotSupported`` (or another ``NVMLError``) for some queries, and a reading must
    never fail the case. A failed start, handle or energy query leaves ``energy_j`` null with
    ``energy_unavailable`` naming the call and its error; a failed device-state query (clocks,
    temperature, power, throttle reasons, violation counters) leaves that field null and
    ``device_state_unavailable`` naming the calls, while the energy figure stands.
    """

    def __init__(self, devices, *, nvml=None, powercap: str = POWERCAP):
        self.platform = devices[0].platform
        self.handles, self.domains, self.why = [], [], None
        self.state_errors: dict[str, str] = {}  # device-state calls that failed: {call: its error}
        self.nvml = nvml
        if self.platform == "gpu":
            if nvml is None:
                self.nvml, self.why = nvml_module()
            elif hasattr(nvml, "nvmlInit"):
                try:
                    nvml.nvmlInit()
                except Exception as err:  # noqa: BLE001 -- any NVML failure: no energy, the case goes on
                    self.nvml, self.why = None, f"NVML did not start (nvmlInit raised {_text(err)})"
            if self.nvml is not None:
                try:
                    self.handles = [self._handle(d) for d in devices]
                except Exception as err:  # noqa: BLE001 -- NotSupported, NotFound, an odd build
                    self.handles, self.why = [], f"NVML does not know the case's GPUs ({err})"
        elif self.platform == "cpu":
            self.domains, self.why = rapl_domains(powercap)
        else:
            self.why = f"no energy counter esperf reads on {self.platform}"

    @property
    def counts(self) -> bool:
        """Whether there is an energy counter to read (a window around the rounds is worth it)."""
        return bool(self.domains or self.handles)

    def _handle(self, device):
        index = nvml_index(device)
        name = "nvmlDeviceGetHandleByUUID" if isinstance(index, str) else "nvmlDeviceGetHandleByIndex"
        try:
            return getattr(self.nvml, name)(index)
        except Exception as err:  # noqa: BLE001 -- re-raised with the call's name
            raise RuntimeError(f"{name}({index!r}) raised {_text(err)}") from None

    def _state_call(self, name: str, *args):
        """``nvml.<name>(*args)``, or None with the call's failure kept for ``device_state_unavailable``."""
        try:
            return getattr(self.nvml, name)(*args)
        except Exception as err:  # noqa: BLE001 -- NotSupported on a VM / under MIG: the field stays null
            self.state_errors.setdefault(name, _text(err))
            return None

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
            if energy is not None:
                try:
                    energy += nvml.nvmlDeviceGetTotalEnergyConsumption(h) / 1e3  # mJ since the driver loaded
                except Exception as err:  # noqa: BLE001 -- NotSupported (older GPUs, VMs, MIG)
                    energy, self.why = None, ("NVML gives no energy counter here "
                                              f"(nvmlDeviceGetTotalEnergyConsumption raised {_text(err)})")
            for policy, reason in VIOLATIONS.items():
                constant = getattr(nvml, f"NVML_PERF_POLICY_{policy}", None)
                if constant is None:
                    continue  # an NVML without violation counters: the readings' reasons still count
                v = self._state_call("nvmlDeviceGetViolationStatus", h, constant)
                time_ns = getattr(v, "violationTime", None)
                if time_ns is not None:
                    violations[reason] = violations.get(reason, 0) + int(time_ns)
        return {"energy_j": energy, "state": states, "violations": violations}

    def _state(self, h) -> dict:
        nvml, call = self.nvml, self._state_call
        # nvidia-ml-py 12.535+ names it ClocksEventReasons; older ones only ClocksThrottleReasons
        reasons = ("nvmlDeviceGetCurrentClocksEventReasons" if hasattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons")
                   else "nvmlDeviceGetCurrentClocksThrottleReasons")
        bits = call(reasons, h)
        power = call("nvmlDeviceGetPowerUsage", h)
        return {"sm_clock_mhz": call("nvmlDeviceGetClockInfo", h, nvml.NVML_CLOCK_SM),
                "mem_clock_mhz": call("nvmlDeviceGetClockInfo", h, nvml.NVML_CLOCK_MEM),
                "temperature_c": call("nvmlDeviceGetTemperature", h, nvml.NVML_TEMPERATURE_GPU),
                "power_w": None if power is None else power / 1e3,
                "throttle_reasons": [] if bits is None else
                [n for n in THROTTLE if int(bits) & getattr(nvml, f"nvmlClocksThrottleReason{n}", 0)]}

    def figures(self, before: dict, after: dict, rounds: int, window_s: float | None = None) -> dict:
        """extra_info of the two readings around ``rounds`` generations (``window_s`` seconds apart).

        A counter that did not move (0 J over the window: too short for its resolution, or a
        counter that is not updated on this device) gives no figure and says so: 0.0 would
        read as a free generation and drop steps/J without a word."""
        out = {"energy_j": None, "energy_source": None}
        if window_s is not None and before["energy_j"] is not None:
            out["energy_window_s"] = window_s
        if before["energy_j"] is not None and after["energy_j"] is not None and rounds > 0:
            used = after["energy_j"] - before["energy_j"]
            if used < 0 and "wraps" in before:  # a RAPL counter wrapped once during the rounds
                used += sum(before["wraps"])
            if used > 0:
                out.update(energy_j=used / rounds, energy_source="rapl" if self.domains else "nvml")
            else:
                span = "" if window_s is None else f" in the {window_s:.3g} s window"
                out["energy_unavailable"] = (f"the {'RAPL' if self.domains else 'NVML'} energy counter moved by "
                                             f"{used:g} J over {rounds} generation(s){span}")
        else:
            out["energy_unavailable"] = self.why or "the energy counter gave no reading"
        if "state" in before:
            seen = {r for s in before["state"] + after["state"] for r in s["throttle_reasons"]}
            # a counter read in both readings only: one NVML failed to give once is no violation
            was = before.get("violations", {})
            seen |= {r for r, t in after.get("violations", {}).items() if r in was and t > was[r]}
            out.update(device_state={"before": before["state"], "after": after["state"]},
                       throttle_reasons=[r for r in THROTTLE if r in seen])
        if self.state_errors:
            out["device_state_unavailable"] = "; ".join(f"{c} raised {e}" for c, e in sorted(self.state_errors.items()))
        return out


def _text(err: BaseException) -> str:
    """An NVML error in one line: its class where its text is empty (``NVMLError_NotSupported``)."""
    text = " ".join(str(err).split())
    name = type(err).__name__
    return f"{name}: {text}" if text and text != name else name
