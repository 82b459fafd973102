"""FLOPs of one execution of a compiled program, from XLA's cost analysis, with the library
calls it does not count added from their shapes.

XLA's cost analysis counts a custom call it does not know (a library call: a cuBLAS GEMM on
a GPU, a LAPACK or cuSOLVER ``eigh``) as -1 FLOP, or as 0 (jax-ml/jax#16008, #22249): a
program whose matmuls XLA hands to cuBLAS loses them from its count, and a program of
nothing else has a negative total. :func:`xla_flops` reads the compiled HLO: a GEMM call's
FLOPs are 2·M·N·K from its operands' shapes and its dot dimensions, added where XLA left
them out on this backend (:func:`xla_counts_library_gemms` asks the backend once); any other
library call stays uncounted and ``flops_error`` says the figure is partial, naming it.
:func:`xla_bytes_accessed` reads the cost analysis' ``bytes accessed`` (the denominator of the
roofline's arithmetic intensity) the same way, without a library correction.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Callable

import jax

# custom-call targets of a library GEMM: cuBLAS(Lt) on CUDA and ROCm (hipBLASLt keeps the
# names), oneDNN on CPU; "$f8" and other suffixes are variants of the same call
GEMM_TARGET = re.compile(r"^__(cublas|hipblas|onednn)\$.*(gemm|matmul)", re.IGNORECASE)
_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(\(.*?\)|[a-z]\w*\[[0-9,]*\](?:\{[^}]*\})?)\s+([\w\-]+)\((.*)$")
_SHAPE = re.compile(r"\b[a-z]\w*\[([0-9,]*)\]")
_TARGET = re.compile(r'custom_call_target="([^"]+)"')
_FIRST_OPERAND = re.compile(r"\s*([a-z]\w*\[[0-9,]*\](?:\{[^}]*\})?)?\s*%?([\w.\-]+)")


@dataclass(frozen=True)
class LibraryCall:
    """One custom call of a compiled program: its target and, for a GEMM, its FLOPs (None: not
    countable from its shapes)."""

    target: str
    flops: float | None


def _dims(shape_text: str) -> list[int]:
    """The dimensions of the first array shape in ``shape_text`` (``f32[64,128]{1,0}`` -> [64, 128])."""
    match = _SHAPE.search(shape_text)
    if match is None:
        return []
    return [int(d) for d in match.group(1).split(",") if d]


def _backend_config(line: str) -> dict:
    """The JSON ``backend_config={...}`` of an HLO instruction line ({} where it has none)."""
    start = line.find("backend_config={")
    if start < 0:
        return {}
    try:
        found, _ = json.JSONDecoder().raw_decode(line, start + len("backend_config="))
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _gemm_flops(line: str, result: str, lhs_shape: str | None) -> float | None:
    """2 x (elements of the result) x (the contracted size) of a GEMM custom call, from its
    ``dot_dimension_numbers`` and its first operand's shape; None where either is missing."""
    config = _backend_config(line)
    gemm = config.get("gemm_backend_config") or config.get("onednn_matmul_config") or config
    numbers = gemm.get("dot_dimension_numbers") if isinstance(gemm, dict) else None
    if not numbers or not lhs_shape:
        return None
    lhs = _dims(lhs_shape)
    contracting = [int(d) for d in numbers.get("lhs_contracting_dimensions", [])]
    out = _dims(result)
    if not lhs or not out or not contracting or max(contracting) >= len(lhs):
        return None
    return 2.0 * math.prod(out) * math.prod(lhs[d] for d in contracting)


def library_calls(hlo_text: str) -> list[LibraryCall]:
    """Every custom call in ``hlo_text`` (a compiled program's ``as_text()``), once per
    instruction as XLA's cost analysis visits them (a loop body's once)."""
    shapes: dict[str, str] = {}
    calls = []
    for line in hlo_text.splitlines():
        match = _INSTRUCTION.match(line)
        if match is not None:
            shapes[match.group(1)] = match.group(2)
        if "custom-call(" not in line:
            continue
        target = _TARGET.search(line)
        target = target.group(1) if target else "?"
        flops = None
        if match is not None and match.group(3) == "custom-call" and GEMM_TARGET.match(target):
            # the first operand: ``f32[64,256]{1,0} %a`` (shapes printed) or ``%a`` (looked up)
            first = _FIRST_OPERAND.match(match.group(4))
            lhs = first and (first.group(1) or shapes.get(first.group(2)))
            flops = _gemm_flops(line, match.group(2), lhs)
        calls.append(LibraryCall(target, flops))
    return calls


PROBE_N = 256  # a dot this size goes to the GEMM library on a GPU (XLA's rewrite threshold is far lower)
_PROBED: dict = {}


def _probe_compiled(device):
    """A lone ``PROBE_N`` x ``PROBE_N`` float32 dot compiled for ``device`` (abstract inputs: nothing allocated)."""
    spec = jax.ShapeDtypeStruct((PROBE_N, PROBE_N), jax.numpy.float32)
    placed = {} if device is None else {"in_shardings": jax.sharding.SingleDeviceSharding(device)}
    return jax.jit(lambda a, b: a @ b, **placed).lower(spec, spec).compile()


def xla_counts_library_gemms(device=None, compile_probe: Callable = _probe_compiled) -> bool | None:
    """Whether XLA's cost analysis on ``device``'s backend counts a library GEMM's FLOPs: True,
    False (it counts -1 or 0), or None where a lone dot there is no library call (nothing to
    correct, or nothing to learn from). Asked once per backend and device kind, from a probe
    program (``compile_probe(device)``)."""
    key = (getattr(device, "platform", None), getattr(device, "device_kind", None))
    if key not in _PROBED:
        probe = compile_probe(device)
        gemms = [c for c in library_calls(probe.as_text()) if c.flops is not None]
        if not gemms:
            _PROBED[key] = None
        else:
            counted, _ = _cost_flops(probe)
            _PROBED[key] = counted is not None and counted >= 0.5 * sum(c.flops for c in gemms)
    return _PROBED[key]


def _cost_flops(compiled, key: str = "flops") -> tuple[float | None, str | None]:
    """The ``flops`` (or another ``key``) entry of XLA's cost analysis, or (None, why)."""
    try:
        cost = compiled.cost_analysis()
    except Exception as err:  # noqa: BLE001 -- some backends do not implement it; say which error
        return None, f"cost_analysis() raised {type(err).__name__}: {err}"[:300]
    if isinstance(cost, (list, tuple)):  # older jax returns one dict per computation
        cost = cost[0] if cost else None
    flops = (cost or {}).get(key)
    if flops is None:
        return None, f"cost_analysis() has no {key!r} entry on this backend"
    return float(flops), None


def xla_bytes_accessed(compiled) -> tuple[float | None, str | None]:
    """The bytes one execution of ``compiled`` reads and writes by XLA's cost analysis
    (``bytes accessed``; a library call's own traffic is not in it), or (None, why)."""
    found, why = _cost_flops(compiled, "bytes accessed")
    if found is not None and not found >= 0:
        return None, f"cost_analysis() gave bytes accessed={found!r}"
    return found, why


def _device_of(compiled):
    """The first device ``compiled`` takes its inputs on (None where it says none)."""
    try:
        for sharding in jax.tree.leaves(compiled.input_shardings):
            for device in sharding.device_set:
                return device
    except Exception:  # noqa: BLE001 -- a stand-in or an odd executable: the default backend's
        return None
    return None


def xla_flops(compiled, gemms_counted: Callable[[object], bool | None] = xla_counts_library_gemms
              ) -> tuple[float | None, str | None]:
    """FLOPs of one execution of ``compiled``: XLA's count with the library calls it leaves out
    added, or (None, why) where it has none. A figure with a reason (the second element not
    None) is partial: library calls that cannot be counted from their shapes are named.

    ``gemms_counted(device)`` says whether XLA counts library GEMMs on the program's backend
    (:func:`xla_counts_library_gemms`; asked only where the program has a GEMM call).
    """
    flops, why = _cost_flops(compiled)
    if flops is None:
        return None, why
    try:
        calls = library_calls(compiled.as_text())
    except Exception as err:  # noqa: BLE001 -- no HLO text: XLA's count, said to be unchecked
        if not flops >= 0:
            return None, f"cost_analysis() gave flops={flops!r}"
        return flops, f"partial: the compiled HLO could not be read to count its library calls ({type(err).__name__})"
    gemms = [c for c in calls if c.flops is not None]
    others = [c for c in calls if c.flops is None]
    notes = []
    counted = gemms_counted(_device_of(compiled)) if gemms else None
    if gemms and counted is None:
        notes.append(f"{len(gemms)} library GEMM call(s) left as XLA counts them (could not tell whether it "
                     "counts them on this backend)")
    elif gemms and not counted:
        flops += sum(c.flops for c in gemms) + len(gemms)  # + 1 each: XLA's -1 for an unknown call
    flops += len(others)  # XLA's -1 for each call it does not know, taken back
    if others:
        named = {}
        for c in others:
            named[c.target] = named.get(c.target, 0) + 1
        notes.append("library calls XLA does not count and esperf cannot count from their shapes: "
                     + ", ".join(f"{t} x{n}" for t, n in named.items()))
    if not flops >= 0:
        return None, f"cost_analysis() gave flops={flops - len(others)!r}"
    return flops, ("partial: " + "; ".join(notes)) if notes else None


def scan_flops_fn(length: int, unroll: int, scan_step, device=None, blocks: int = 1, shards: int = 1,
                  measure: Callable | None = None) -> Callable[[object], tuple[float | None, str | None]]:
    """A ``flops_fn`` for a program whose episodes are one ``lax.scan`` of ``length`` steps
    (per population block, ``blocks`` blocks one after another).

    ``shards``: the program is one device's part of a generation sharded over that many
    devices (XLA's cost analysis of a partitioned program is one device's): each device runs
    ``blocks`` blocks of its own rows, and the generation's figure is ``shards`` times one
    device's (the replicated ``tell`` counted on every device that executes it). ``measure``:
    what is summed (default :func:`xla_flops`; :func:`xla_bytes_accessed` the same way).

    XLA's cost analysis counts a while loop's body once, whatever its trip count (the
    block loop's too): the returned function adds the (blocks x length - unroll) scanned
    steps it left out, each costed on its own (``scan_step`` is one block's step). A
    block's own set-up outside its episode loop (its start carry) is counted once, not
    per block: a few operations per episode against the loop's thousands. ``scan_step()`` gives (fn, args): one step of every episode of every
    member, with its carry as an argument; it is compiled once, on first use, for
    ``device`` (the case's: unplaced, it would be costed by the default backend -- a GPU's
    cost model for a CPU case on a GPU host).
    """
    step_cost: list[tuple[float | None, str | None]] = []

    def flops_fn(compiled):
        count = measure or xla_flops  # looked up at call time (the tests' spies replace it)
        total, why = count(compiled)
        if total is None:
            return None, why
        if not step_cost:
            fn, args = scan_step()
            placed = {} if device is None else {"in_shardings": jax.sharding.SingleDeviceSharding(device)}
            step_cost.append(count(jax.jit(fn, **placed).lower(*args).compile()))
        step, step_why = step_cost[0]
        if step is None:
            return None, f"scan step: {step_why}"
        partial = [w for w in (why, step_why and f"scan step: {step_why}") if w]
        return shards * (total + max(0, blocks * length - unroll) * step), "; ".join(partial) or None

    return flops_fn
