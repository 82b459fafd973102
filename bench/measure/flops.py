"""FLOPs and bytes accessed of one execution of a compiled program, from XLA's cost analysis."""
from __future__ import annotations

from typing import Callable

import jax


def xla_flops(compiled, key: str = "flops") -> tuple[float | None, str | None]:
    """FLOPs XLA's cost analysis counts for one execution, or (None, why) where it has none.

    ``key``: another entry of the cost analysis, e.g. ``"bytes accessed"`` (the bytes the
    program's operations read and write: the denominator of its arithmetic intensity).
    """
    try:
        cost = compiled.cost_analysis()
    except Exception as err:  # noqa: BLE001 -- some backends do not implement it; say which error
        return None, f"cost_analysis() raised {type(err).__name__}: {err}"[:300]
    if isinstance(cost, (list, tuple)):  # older jax returns one dict per computation
        cost = cost[0] if cost else None
    flops = (cost or {}).get(key)
    if flops is None:
        return None, f"cost_analysis() has no {key!r} entry on this backend"
    if not flops >= 0:
        return None, f"cost_analysis() gave {key}={flops!r}"
    return float(flops), None


def scan_flops_fn(length: int, unroll: int, scan_step, device=None, blocks: int = 1, shards: int = 1,
                  key: str = "flops") -> Callable[[object], tuple[float | None, str | None]]:
    """A ``flops_fn`` for a program whose episodes are one ``lax.scan`` of ``length`` steps
    (per population block, ``blocks`` blocks one after another).

    ``shards``: the program is one device's part of a generation sharded over that many
    devices (XLA's cost analysis of a partitioned program is one device's): each device
    runs ``blocks`` blocks of its own rows, and the generation's FLOPs are ``shards`` times
    one device's (the replicated ``tell`` counted on every device that executes it).
    ``key``: the cost analysis entry summed (``"bytes accessed"`` the same way).

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
        total, why = xla_flops(compiled, key)
        if total is None:
            return None, why
        if not step_cost:
            fn, args = scan_step()
            placed = {} if device is None else {"in_shardings": jax.sharding.SingleDeviceSharding(device)}
            step_cost.append(xla_flops(jax.jit(fn, **placed).lower(*args).compile(), key))
        step, why = step_cost[0]
        if step is None:
            return None, f"scan step: {why}"
        return shards * (total + max(0, blocks * length - unroll) * step), None

    return flops_fn
