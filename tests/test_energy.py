"""Device state and energy around the timed rounds (bench/measure/energy.py): NVML on a stand-in
module, RAPL on a fake sysfs, the reasons when neither is there, and how workers combine."""
from __future__ import annotations

import types

import pytest

from bench.measure import energy, stability
from bench.measure.rounds import rates, runtime_figures
from bench.case import Settings
from helpers import NotSupported, fake_nvml, nvml_failing_at, nvml_recording

GPU0 = types.SimpleNamespace(platform="gpu", id=0, local_hardware_id=0)
CPU0 = types.SimpleNamespace(platform="cpu", id=0)


def around(meter, rounds=10):
    return meter.figures(meter.read(), meter.read(), rounds)


def test_nvml_energy_per_generation_clocks_and_no_throttling():
    found = around(energy.Meter([GPU0], nvml=fake_nvml()))
    assert found["energy_source"] == "nvml" and found["energy_j"] == pytest.approx((1450.0 - 1000.0) / 10)
    (before,), (after,) = found["device_state"]["before"], found["device_state"]["after"]
    assert before == {"sm_clock_mhz": 345, "mem_clock_mhz": 2619, "temperature_c": 31, "power_w": 450.0,
                      "throttle_reasons": []} == after
    assert found["throttle_reasons"] == [] and "energy_unavailable" not in found


@pytest.mark.parametrize("over, reasons", [
    (dict(reasons=0x20 | 0x1), ["SwThermalSlowdown"]),  # seen in a reading; GPU idle is not a slowdown
    (dict(violations=[0, 5_000_000]), ["SwPowerCap"]),  # NVML's power-violation time grew during the rounds
])
def test_thermal_or_power_throttling_is_seen_and_makes_the_figure_unstable(over, reasons):
    found = around(energy.Meter([GPU0], nvml=fake_nvml(**over)))
    assert found["throttle_reasons"] == reasons
    samples = [1.0] * 20
    assert stability.unstable(samples, None, found["throttle_reasons"]) == ["throttled"]
    assert stability.describe(samples, None, ["throttled"], reasons) == f"throttled: {reasons[0]}"


def test_a_gpu_without_an_energy_counter_says_why():
    found = around(energy.Meter([GPU0], nvml=fake_nvml(energy=NotSupported("Not Supported"))))
    assert found["energy_j"] is None and found["energy_source"] is None
    assert found["energy_unavailable"] == ("NVML gives no energy counter here "
                                           "(nvmlDeviceGetTotalEnergyConsumption raised NotSupported: Not Supported)")


def test_cuda_visible_devices_maps_the_ordinal_to_nvml(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert energy.nvml_index(types.SimpleNamespace(id=1, local_hardware_id=1)) == 3
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-0f2d")
    assert energy.nvml_index(GPU0) == "GPU-0f2d"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert energy.nvml_index(types.SimpleNamespace(id=5, local_hardware_id=None)) == 5


def rapl(tmp_path, top=1000.0):
    """A fake /sys/class/powercap with one package domain (counter at 0 J, wrapping at ``top`` J)."""
    domain = tmp_path / "intel-rapl:0"
    (domain / "intel-rapl:0:0").mkdir(parents=True)  # a subdomain: not summed
    (domain / "max_energy_range_uj").write_text(str(int(top * 1e6)))
    (domain / "energy_uj").write_text("0")
    return domain


def test_rapl_energy_per_generation_and_a_wrapped_counter(tmp_path):
    domain = rapl(tmp_path)
    meter = energy.Meter([CPU0], powercap=str(tmp_path))
    for first, second, used in ((100.0, 130.0, 30.0), (990.0, 10.0, 20.0)):  # the second wraps at 1000 J
        (domain / "energy_uj").write_text(str(int(first * 1e6)))
        before = meter.read()
        (domain / "energy_uj").write_text(str(int(second * 1e6)))
        found = meter.figures(before, meter.read(), 10)
        assert found == {"energy_j": pytest.approx(used / 10), "energy_source": "rapl"}


def test_no_rapl_counters_is_a_reason_not_a_failure(tmp_path):
    found = around(energy.Meter([CPU0], powercap=str(tmp_path / "none")))
    assert found == {"energy_j": None, "energy_source": None,
                     "energy_unavailable": f"no RAPL counters in {tmp_path / 'none'}"}
    tpu = around(energy.Meter([types.SimpleNamespace(platform="tpu", id=0)]))
    assert tpu["energy_unavailable"] == "no energy counter esperf reads on tpu"


def test_workers_energy_is_per_generation_over_every_round_and_gives_steps_per_joule():
    a = {"executions": 5, "first_run_s": 1.0, "energy_j": 2.0, "energy_source": "nvml",
         "device_state": {"before": [], "after": []}, "throttle_reasons": []}
    b = {**a, "energy_j": 4.0, "throttle_reasons": ["SwPowerCap"]}
    _, info = runtime_figures([([1.0] * 3, a), ([1.0], b)])
    assert info["energy_j"] == pytest.approx(2.5) and info["throttle_reasons"] == ["SwPowerCap"]
    assert info["device_state"] == [a["device_state"], b["device_state"]]
    _, info = runtime_figures([([1.0], a), ([1.0], {**a, "energy_j": None, "energy_unavailable": "gone"})])
    assert info["energy_j"] is None and info["energy_unavailable"] == "gone"
    out = rates({"phase": "runtime", "env_steps": 1000, "energy_j": 2.5}, 0.5, Settings())
    assert out["env_steps_per_s"] == 2000 and out["env_steps_per_joule"] == 400


# -- every NVML call guarded: NotSupported (a VM, MIG) on each call in turn ---------------------

# every NVML function the meter calls (the stand-in has no ClocksEventReasons: the older name)
ENERGY_CALLS = ["nvmlInit", "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetTotalEnergyConsumption"]
STATE_CALLS = {"nvmlDeviceGetCurrentClocksThrottleReasons": "throttle_reasons", "nvmlDeviceGetClockInfo": "sm_clock_mhz",
               "nvmlDeviceGetTemperature": "temperature_c", "nvmlDeviceGetPowerUsage": "power_w",
               "nvmlDeviceGetViolationStatus": None}


def test_the_list_holds_every_nvml_call_the_meter_makes():
    calls = []
    found = around(energy.Meter([GPU0], nvml=nvml_recording(calls)))
    assert set(calls) == set(ENERGY_CALLS) | set(STATE_CALLS), sorted(set(calls))
    assert found["energy_j"] == pytest.approx(45.0)


@pytest.mark.parametrize("call", ENERGY_CALLS + list(STATE_CALLS))
def test_nvml_not_supported_on_any_call_measures_the_case_and_names_the_call(call):
    found = around(energy.Meter([GPU0], nvml=nvml_failing_at(call)))  # raises nothing
    if call in ENERGY_CALLS:
        assert found["energy_j"] is None and found["energy_source"] is None
        assert call in found["energy_unavailable"] and "NotSupported" in found["energy_unavailable"]
        return
    # the energy counter still counts; the state field NVML would not give is null, and named
    assert found["energy_j"] == pytest.approx(45.0) and "energy_unavailable" not in found
    assert found["device_state_unavailable"] == f"{call} raised NotSupported: Not Supported"
    field = STATE_CALLS[call]
    if field:
        (before,) = found["device_state"]["before"]
        assert before[field] in (None, [])
    assert found["throttle_reasons"] == []


def test_an_nvml_without_a_function_or_with_another_error_is_no_failure():
    old = fake_nvml()
    del old.nvmlDeviceGetViolationStatus  # an nvidia-ml-py without it: AttributeError
    found = around(energy.Meter([GPU0], nvml=old))
    assert found["energy_j"] == pytest.approx(45.0)
    assert found["device_state_unavailable"].startswith("nvmlDeviceGetViolationStatus raised AttributeError")
    lost = around(energy.Meter([GPU0], nvml=nvml_failing_at("nvmlDeviceGetHandleByIndex", RuntimeError("GPU is lost"))))
    assert lost["energy_unavailable"] == ("NVML does not know the case's GPUs "
                                          "(nvmlDeviceGetHandleByIndex(0) raised RuntimeError: GPU is lost)")


def test_a_counter_that_did_not_move_gives_no_figure_and_says_why():
    found = energy.Meter([GPU0], nvml=fake_nvml(energy=[1_000_000])).figures(*[{"energy_j": 5.0, "state": []}] * 2,
                                                                                 10, 1.25)
    assert found["energy_j"] is None and found["energy_window_s"] == 1.25
    assert found["energy_unavailable"] == "the NVML energy counter moved by 0 J over 10 generation(s) in the 1.25 s window"
    out = rates({"phase": "runtime", "env_steps": 1000, "energy_j": 0.0}, 0.5, Settings())
    assert out["env_steps_per_joule"] is None and "counter did not move" in out["energy_unavailable"]


# -- the energy window: long enough for the counter --------------------------------------------

class CountingRunner:
    def __init__(self, seconds):
        self.seconds, self.calls = seconds, 0

    def __call__(self):
        import time

        time.sleep(self.seconds)
        self.calls += 1


def test_the_energy_window_repeats_the_generation_until_it_is_long_enough(monkeypatch):
    import time

    from bench.measure.rounds import fill_energy_window

    monkeypatch.setattr(energy, "WINDOW_S", 0.3)
    runner = CountingRunner(0.01)
    started = time.perf_counter()
    extra = fill_energy_window(runner, started, [0.01] * 3)
    assert time.perf_counter() - started >= 0.3 and extra == runner.calls and 15 <= extra <= 40
    assert fill_energy_window(CountingRunner(0.01), time.perf_counter(), [0.01], wanted=False) == 0

    class Sync:  # process 0's count wins, agreed once: every process runs as many generations
        asked = []

        def rounds(self, n):
            self.asked.append(n)
            return 7

    runner = CountingRunner(0.0)
    assert fill_energy_window(runner, time.perf_counter(), [0.01], sync=Sync()) == 7 == runner.calls
    assert len(Sync.asked) == 1


@pytest.mark.integration
@pytest.mark.parametrize("call", [None, "nvmlDeviceGetTotalEnergyConsumption", "nvmlDeviceGetClockInfo"])
def test_a_runtime_case_on_a_failing_nvml_is_measured_over_a_full_energy_window(monkeypatch, call):
    """A real runtime case (on the CPU) whose meter reads a stand-in GPU's NVML: the case is
    measured whatever call fails, and the readings span at least energy.WINDOW_S."""
    from bench.case import Case
    from bench.measure import rounds

    nvml = fake_nvml() if call is None else nvml_failing_at(call)
    real = energy.Meter
    monkeypatch.setattr(rounds.energy, "Meter", lambda devices: real([GPU0], nvml=nvml))
    case = Case("runtime", "openai_es", "Pendulum-v1", 8, 1, 4, 5, "cpu:0")
    samples, info = rounds.measure_runtime(case, Settings(runtime_rounds=3))
    assert len(samples) == 3 and info["state_checksum"] is not None
    if call == "nvmlDeviceGetTotalEnergyConsumption":  # no counter: no window is run for it
        assert info["energy_j"] is None and call in info["energy_unavailable"]
        assert "energy_window_s" not in info and "energy_window_rounds" not in info
    else:  # 450 J between the stand-in's two readings, per generation between them
        assert info["energy_window_s"] >= energy.WINDOW_S
        assert info["energy_window_rounds"] > 3  # the timed rounds last ms: more generations fill the window
        assert info["energy_j"] == pytest.approx(450.0 / info["energy_window_rounds"])
    assert (call == "nvmlDeviceGetClockInfo") == ("device_state_unavailable" in info)


def test_workers_energy_is_weighted_by_the_generations_in_each_window():
    a = {"executions": 5, "first_run_s": 1.0, "energy_j": 2.0, "energy_source": "nvml",
         "energy_window_s": 1.0, "energy_window_rounds": 100}
    b = {**a, "energy_j": 4.0, "energy_window_s": 1.5, "energy_window_rounds": 300}
    _, info = runtime_figures([([1.0] * 3, a), ([1.0], b)])
    assert info["energy_j"] == pytest.approx((2.0 * 100 + 4.0 * 300) / 400)  # not by the 3 and 1 timed rounds
    assert info["energy_window_s"] == [1.0, 1.5] and info["energy_window_rounds"] == [100, 300]


def test_a_violation_counter_read_in_one_reading_only_is_no_throttling():
    nvml = fake_nvml(violations=[5_000_000])
    meter = energy.Meter([GPU0], nvml=nvml)
    real = nvml.nvmlDeviceGetViolationStatus
    nvml.nvmlDeviceGetViolationStatus = nvml_failing_at("nvmlDeviceGetViolationStatus").nvmlDeviceGetViolationStatus
    before = meter.read()  # NotSupported this time: no counter in the first reading
    nvml.nvmlDeviceGetViolationStatus = real
    found = meter.figures(before, meter.read(), 10)  # 5 s of power violation since boot, read once
    assert found["throttle_reasons"] == [] and "nvmlDeviceGetViolationStatus" in found["device_state_unavailable"]
