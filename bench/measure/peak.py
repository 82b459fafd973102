"""The device's own peak, measured: float32 matmul FLOP/s and the bandwidth of a large copy.

``--es-peak-flops auto`` and ``python -m bench.peak`` run :func:`measure_peaks` in a fresh
worker (:mod:`bench.isolation`). On each device: a float32 ``(n, n) @ (n, n)`` matmul at
``precision=HIGHEST`` (true float32 arithmetic, no TF32 or bf16 passes: 2 n^3 FLOPs) and a
copy ``x + 1`` of a large float32 array (each byte read once and written once: 2 x bytes
moved), each compiled cold (``jax.clear_caches()``, a fresh function), run once untimed,
then timed ``rounds`` times (the copy in place: its input donated, a chain of rounds) (:mod:`bench.measure.timing`, blocked until ready); the
figure is the median. The matmul's FLOP/s is what ``pct_of_peak`` divides by, the copy's
bytes/s the second limit a memory-bound generation meets.

Sizes: :data:`SIZES` per platform, large enough that a round takes milliseconds and the
copy misses every cache; ``ESPERF_PEAK_SIZES=N,BYTES`` (the matmul's n and the copy's
bytes) overrides them for every platform -- the tests' tiny sizes.
"""
from __future__ import annotations

import os
import statistics

# platform -> (matmul n, copy bytes). CPU: 2048^3 x 2 = 17 GFLOP, 256 MiB (8x a 32 MiB L3).
SIZES = {"cpu": (2048, 256 * 1024**2), "gpu": (8192, 2 * 1024**3), "tpu": (8192, 2 * 1024**3)}
ROUNDS = 5
SIZES_ENV = "ESPERF_PEAK_SIZES"


def sizes_for(platform: str, environ=None) -> tuple[int, int]:
    """(matmul n, copy bytes) on ``platform``: ``ESPERF_PEAK_SIZES=N,BYTES`` if set, else :data:`SIZES`."""
    environ = os.environ if environ is None else environ
    text = environ.get(SIZES_ENV, "").strip()
    if not text:
        return SIZES.get(platform, SIZES["gpu"])
    parts = text.split(",")
    try:
        n, size = (int(p) for p in parts)
    except ValueError:
        n = size = 0
    if len(parts) != 2 or n <= 0 or size < 4:
        raise ValueError(f"{SIZES_ENV}={text!r} is not allowed; give N,BYTES: the matmul's n and the copy's "
                         "bytes, positive ints (e.g. 64,1048576)")
    return n, size


def _timed(fn, args, rounds: int, chain: bool = False) -> list[float]:
    """Seconds of ``rounds`` runs of ``fn`` compiled cold for ``args`` (after one untimed run).

    ``chain``: ``fn(x) -> (x',)`` with ``x`` donated, each round's output the next round's
    input, so that no round allocates (a fresh output of hundreds of MB would time the
    kernel's page faults, not the memory).
    """
    import jax

    from bench.measure import timing

    jax.clear_caches()
    compiled = jax.jit(fn, donate_argnums=(0,) if chain else ()).lower(*args).compile()
    runner = timing.ChainedRunner(compiled, args[0]) if chain else timing.RepeatRunner(compiled, args)
    timing.time_rounds(runner, 1)  # first execution: allocation and set-up
    return timing.time_rounds(runner, rounds)


def measure_peak(device, rounds: int = ROUNDS, sizes: tuple[int, int] | None = None) -> dict:
    """The measured peaks of one jax ``device`` (``machine_info.measured_peaks`` names the keys)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    n, copy_bytes = sizes or sizes_for(device.platform)
    a = jax.device_put(np.random.default_rng(0).standard_normal((n, n), dtype=np.float32), device)
    b = jax.device_put(np.random.default_rng(1).standard_normal((n, n), dtype=np.float32), device)

    def matmul(a, b):
        return jnp.matmul(a, b, precision=jax.lax.Precision.HIGHEST)

    matmul_s = _timed(matmul, (a, b), rounds)
    del a, b
    x = jax.device_put(jnp.zeros(copy_bytes // 4, jnp.float32), device)

    def copy(x):
        return (x + 1.0,)  # one read and one write of every element; "x * 1" would be simplified away

    copy_s = _timed(copy, (x,), rounds, chain=True)
    matmul_median, copy_median = statistics.median(matmul_s), statistics.median(copy_s)
    return {
        "device": f"{device.platform}:{device.id}",
        "kind": device.device_kind,
        "platform": device.platform,
        "matmul_flops_per_s": 2.0 * n**3 / matmul_median,
        "copy_bytes_per_s": 2.0 * (copy_bytes // 4) * 4 / copy_median,
        "matmul_n": n,
        "copy_bytes": (copy_bytes // 4) * 4,
        "rounds": rounds,
        "matmul_s": matmul_s,
        "copy_s": copy_s,
    }


def measure_peaks(device_ids, rounds: int = ROUNDS) -> list[dict]:
    """:func:`measure_peak` of each device id (``cpu:0``), one after another, in the given order."""
    from bench.measure.placement import jax_devices

    return [measure_peak(d, rounds) for d in jax_devices(device_ids)]


def peak_by_device(measured: list[dict] | None) -> dict[str, float]:
    """{device id: measured matmul FLOP/s} from ``machine_info.measured_peaks``."""
    return {p["device"]: p["matmul_flops_per_s"] for p in measured or []}
