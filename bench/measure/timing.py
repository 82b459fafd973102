"""The one place esperf times JAX: cold compiles by stage, and guarded runtime rounds.

Honesty rules (see docs/methodology.md):

* compile: every round starts from ``jax.clear_caches()`` and a FRESH Python function,
  so neither jax's tracing/lowering caches nor its executable cache can answer; the
  persistent compilation cache is switched off. ``trace``, ``lower`` and ``compile``
  are timed separately with ``jax.jit(f).trace(...).lower().compile()``.
* runtime: the executable is compiled and warmed up first; each timed round blocks
  until the outputs are ready, and a ``jax.monitoring`` listener counts compilations
  during the rounds -- any compilation there is an error, never a silent number.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import jax

# jax's own event names (jax/_src/dispatch.py): a cold compile emits all three; a backend
# compile is the expensive one, a jaxpr trace betrays retracing even when the executable
# cache answers.
JAXPR_TRACE_EVENT = "/jax/core/compile/jaxpr_trace_duration"
LOWER_EVENT = "/jax/core/compile/jaxpr_to_mlir_module_duration"
BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
COMPILE_EVENTS = {JAXPR_TRACE_EVENT: "trace", LOWER_EVENT: "lower", BACKEND_COMPILE_EVENT: "backend_compile"}


class RecompilationError(RuntimeError):
    """JAX traced or compiled during rounds that must only execute."""


def disable_persistent_cache() -> None:
    """Keep the persistent compilation cache out of every measurement."""
    jax.config.update("jax_enable_compilation_cache", False)


_BLAS_LIMIT = None


def limit_blas_threads(threads: int | None = 1) -> list[dict]:
    """Cap the BLAS/LAPACK thread pools (threadpoolctl) that XLA's CPU custom calls use.

    On CPU, jax's ``eigh`` (CMA-ES's eigendecomposition) calls LAPACK from the OpenBLAS
    that scipy ships. After each call OpenBLAS's worker threads keep spinning, taking
    cores from XLA's own thread pool during the rollout that follows: measured on a
    2-core machine, an eval+tell program ran 5 ms (12%) slower than eval and tell apart;
    with one BLAS thread the difference vanished. A 241 x 241 eigh gains nothing from
    more threads. ``None`` leaves the pools as they are. Returns the pools afterwards,
    for the JSON's machine information. Applies to every implementation in the process.
    """
    global _BLAS_LIMIT
    import scipy.linalg  # noqa: F401 -- loads the OpenBLAS that jax's LAPACK calls use, so the cap reaches it
    import threadpoolctl

    if threads is not None:
        _BLAS_LIMIT = threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
    return [
        {"api": p["internal_api"], "threads": p["num_threads"], "library": os.path.basename(p["filepath"])}
        for p in threadpoolctl.threadpool_info()
        if p["user_api"] == "blas"
    ]


@dataclass
class CompileStages:
    """Seconds spent in each stage of one cold compile, and the executable it produced."""

    trace_s: float
    lower_s: float
    compile_s: float
    compiled: Any

    @property
    def total_s(self) -> float:
        return self.trace_s + self.lower_s + self.compile_s


def compile_stages(fn: Callable, args: tuple, in_shardings=None, out_shardings=None) -> CompileStages:
    """Trace, lower and compile ``jax.jit(fn)`` for ``args``, timing each stage.

    ``in_shardings``/``out_shardings`` (a ``SingleDeviceSharding``, or a pytree of
    ``NamedSharding`` over a mesh) pin inputs and outputs, so the executable runs on the
    devices under test and nowhere else; None leaves that side to jax.
    """
    pins = {}
    if in_shardings is not None:
        pins["in_shardings"] = in_shardings
    if out_shardings is not None:
        pins["out_shardings"] = out_shardings
    jitted = jax.jit(fn, **pins)
    t0 = time.perf_counter()
    traced = jitted.trace(*args)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2 = time.perf_counter()
    compiled = lowered.compile()
    t3 = time.perf_counter()
    return CompileStages(t1 - t0, t2 - t1, t3 - t2, compiled)


def cold_compile(make_fn: Callable[[], Callable], args: tuple, in_shardings=None, out_shardings=None):
    """One cold compile: clear jax's in-memory caches, build a fresh function, compile it.

    Returns ``(CompileStages, events)``: ``events`` counts jax's own compile events of the
    round ({"trace": n, "lower": n, "backend_compile": n}); a cold round has each >= 1.
    """
    jax.clear_caches()
    fn = make_fn()
    with CompileCounter() as counter:
        stages = compile_stages(fn, args, in_shardings, out_shardings)
    return stages, counter.counts()


class CompileCounter:
    """Counts jax compile events (trace or backend compile) while active.

    ``jax.monitoring`` listeners are process-global; this one only counts events from
    the thread that opened it, so a compile elsewhere cannot fail a measurement.
    """

    def __init__(self):
        self.events: list[tuple[str, float]] = []
        self._thread = None
        self._active = False

    def _listener(self, event: str, duration: float, **_):
        if self._active and event in COMPILE_EVENTS and threading.get_ident() == self._thread:
            self.events.append((event, duration))

    def __enter__(self):
        self._thread = threading.get_ident()
        self._active = True
        jax.monitoring.register_event_duration_secs_listener(self._listener)
        return self

    def __exit__(self, *exc):
        self._active = False
        jax.monitoring.unregister_event_duration_listener(self._listener)
        return False

    @property
    def count(self) -> int:
        return len(self.events)

    def counts(self) -> dict[str, int]:
        """Events by stage: {"trace": n, "lower": n, "backend_compile": n}."""
        out = dict.fromkeys(COMPILE_EVENTS.values(), 0)
        for event, _ in self.events:
            out[COMPILE_EVENTS[event]] += 1
        return out


class ChainedRunner:
    """Runs ``executable`` as a chain: each round's first output is the next round's input.

    ``executable(carry) -> (carry, *rest)``; every call blocks until all outputs are
    ready, so a round's wall time is the device's time for one generation (plus
    dispatch), not the time to enqueue it.
    """

    def __init__(self, executable: Callable, carry):
        self.executable = executable
        self.carry = carry
        self.last = None

    def __call__(self):
        out = self.executable(self.carry)
        jax.block_until_ready(out)
        self.carry = out[0]
        self.last = out


class RepeatRunner:
    """Runs ``executable(*args)`` on the same inputs each round, blocking until ready."""

    def __init__(self, executable: Callable, args: tuple):
        self.executable = executable
        self.args = args
        self.last = None

    def __call__(self):
        out = self.executable(*self.args)
        jax.block_until_ready(out)
        self.last = out


def time_rounds(runner: Callable[[], Any], rounds: int, before_round: Callable[[], Any] | None = None) -> list[float]:
    """Seconds of each of ``rounds`` calls of ``runner`` (which blocks until its outputs are ready).

    ``before_round()`` runs untimed before each round (a barrier across processes, say).
    """
    samples = []
    for _ in range(rounds):
        if before_round is not None:
            before_round()
        t0 = time.perf_counter()
        runner()
        samples.append(time.perf_counter() - t0)
    return samples


def guarded_rounds(run_rounds: Callable[[], Any]) -> tuple[Any, int]:
    """Call ``run_rounds()`` under a :class:`CompileCounter`; raise if anything compiled.

    Returns ``(result, compile_events)`` where compile_events is 0 on success.
    """
    with CompileCounter() as counter:
        result = run_rounds()
    if counter.count:
        names = sorted({e for e, _ in counter.events})
        raise RecompilationError(
            f"{counter.count} compilation event(s) ({', '.join(names)}) during timed runtime rounds; "
            "the runtime figure would include compile time and is discarded"
        )
    return result, counter.count


def rounds_for(
    seconds_per_round: float,
    max_time: float,
    min_rounds: int,
    max_rounds: int = 1000,
    case_budget: float = 120.0,
    floor_rounds: int = 5,
) -> int:
    """Rounds to fill ``max_time`` seconds at ``seconds_per_round``, within [min_rounds, max_rounds].

    A case whose ``min_rounds`` alone would take longer than ``case_budget`` seconds (a
    pop-100 000 generation on a CPU takes tens of seconds) gets what fits in the budget,
    but never fewer than ``floor_rounds``: a median and an IQR still need samples.
    """
    if seconds_per_round <= 0:
        return max_rounds
    if seconds_per_round * min_rounds > case_budget:
        return max(floor_rounds, int(case_budget / seconds_per_round))
    return int(min(max_rounds, max(min_rounds, round(max_time / seconds_per_round))))
