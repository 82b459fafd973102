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


def measure_peak(devices, rounds: int = ROUNDS, sizes: tuple[int, int] | None = None, name: str | None = None,
                 cores: int | None = None) -> dict:
    """The measured peaks of the jax ``devices`` together (``machine_info.measured_peaks`` names the keys).

    Each device multiplies its own ``(n, n)`` pair and copies its own ``copy bytes``, all at
    once (the arrays' leading axis sharded over the devices): the whole CPU's peak is its
    per-core devices working side by side, as a ``cpu:all`` case runs. ``name`` is the set's
    name (``cpu:all``; default the one device's id); ``cores`` the CPU cores it stands for.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    devices = list(devices)
    k = len(devices)
    n, copy_bytes = sizes or sizes_for(devices[0].platform)
    if k == 1:
        where = jax.sharding.SingleDeviceSharding(devices[0])
    else:
        from bench.multi.sharding import pop_mesh, pop_sharded

        where = pop_sharded(pop_mesh(devices))
    rng = np.random.default_rng(0)
    a = jax.device_put(rng.standard_normal((k, n, n), dtype=np.float32), where)
    b = jax.device_put(rng.standard_normal((k, n, n), dtype=np.float32), where)

    def matmul(a, b):
        return jnp.matmul(a, b, precision=jax.lax.Precision.HIGHEST)

    matmul_s = _timed(matmul, (a, b), rounds)
    del a, b
    elements = copy_bytes // 4
    x = jax.device_put(jnp.zeros((k, elements), jnp.float32), where)

    def copy(x):
        return (x + 1.0,)  # one read and one write of every element; "x * 1" would be simplified away

    copy_s = _timed(copy, (x,), rounds, chain=True)
    matmul_median, copy_median = statistics.median(matmul_s), statistics.median(copy_s)
    first = devices[0]
    out = {
        "device": name or f"{first.platform}:{first.id}",
        "devices": [f"{d.platform}:{d.id}" for d in devices],
        "kind": first.device_kind,
        "platform": first.platform,
        "matmul_flops_per_s": 2.0 * k * n**3 / matmul_median,
        "copy_bytes_per_s": 2.0 * k * elements * 4 / copy_median,
        "matmul_n": n,
        "copy_bytes": elements * 4,
        "rounds": rounds,
        "matmul_s": matmul_s,
        "copy_s": copy_s,
    }
    if cores is not None:
        out["cores"] = cores
    return out


def measure_peaks(sets, rounds: int = ROUNDS, cores: int | None = None) -> list[dict]:
    """:func:`measure_peak` of each device set, one after another, in the given order.

    ``sets`` are ``(name, device ids)`` pairs (``("cpu:all", ["cpu:0", "cpu:1"])``) or bare ids
    (``"gpu:0"``: the device alone). ``cores``: the CPU cores a one-device CPU set stands for
    (1 in a worker pinned to one core); a CPU set of k devices stands for k cores.
    """
    from bench.measure.placement import jax_devices

    out = []
    for item in sets:
        name, ids = (item, [item]) if isinstance(item, str) else (item[0], list(item[1]))
        devices = jax_devices(ids)
        cpu_cores = (cores if len(ids) == 1 and cores is not None else len(ids)) if devices[0].platform == "cpu" else None
        out.append(measure_peak(devices, rounds, name=name, cores=cpu_cores))
    return out


def peak_requests(sets, one_core_reference: bool = True) -> list[dict]:
    """The ``peak`` worker requests that measure what rows of the device sets ``sets`` are set against.

    ``sets``: ``(name, ids)`` pairs (a case's ``device`` and ``devices``; ids None: resolved by
    the worker, e.g. ``gpu:all``). A one-device CPU set is one core: measured in a worker
    pinned to one core (``one_core_reference``: every CPU set brings ``cpu:0``'s, the
    reference of a partial set such as ``cpu:0+1``); a CPU set of several devices (``cpu:all``)
    its per-core devices at once; an accelerator each of its devices alone (a set's peak is
    their sum). Each dict is a worker request without its ``mode`` and ``settings``.
    """
    one_core, together, accelerators = {}, {}, []
    for name, ids in sets:
        if name.startswith("cpu:"):
            if one_core_reference:
                one_core.setdefault("cpu:0", ["cpu:0"])
            if ids is not None and len(ids) == 1:
                one_core.setdefault(name if name == ids[0] else ids[0], list(ids))
            elif ids is not None:
                together.setdefault(name, list(ids))
        elif ids is None:
            accelerators.append(name)
        else:
            accelerators.extend(ids)
    requests = []
    if one_core:
        requests.append({"sets": [[n, i] for n, i in one_core.items()], "one_core": True})
    if together:
        requests.append({"sets": [[n, i] for n, i in together.items()]})
    if accelerators:
        requests.append({"devices": list(dict.fromkeys(accelerators))})
    return requests


def peak_for(info: dict, measured: list[dict] | None) -> tuple[float | None, str | None]:
    """(FLOP/s, which measured peak) of the measured peak that a case's row is set against.

    Like with like: the row's own device set where it was measured (``cpu:all``: the whole CPU,
    all its cores at once; ``cpu:0``: one core, measured in a worker pinned to one core); else
    the sum of its devices' own peaks (``gpu:0+1``); else, for a CPU set, its cores times the
    one-core peak. None where nothing measured fits.
    """
    by_name = {p["device"]: p for p in measured or []}
    spec = info.get("device")
    if spec in by_name:
        p = by_name[spec]
        cores = p.get("cores")
        return p["matmul_flops_per_s"], f"{spec}" + (f" ({cores} core{'s' * (cores != 1)})" if cores else "")
    devices = info.get("devices") or [spec]
    if all(d in by_name for d in devices) and not (info.get("platform") == "cpu" and len(devices) > 1):
        return sum(by_name[d]["matmul_flops_per_s"] for d in devices), "sum of " + ", ".join(devices)
    one = by_name.get("cpu:0")
    if info.get("platform") == "cpu" and one is not None and one.get("cores") == 1:
        return len(devices) * one["matmul_flops_per_s"], f"{len(devices)} x one core (cpu:0)"
    return None, None
