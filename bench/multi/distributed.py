"""esperf's benchmark as one distributed system of several processes (jax's multi-controller runtime).

One process per GPU, or per host, runs the same benchmark; together they form one jax system
(``jax.distributed``) whose global device list spans every process, so a global ``Mesh`` can
shard one population over all of them. This module is the thin layer the harness needs on top
of jax: where the system's address comes from (:func:`parse_spec`, :func:`spec_from`), joining it
with short timeouts (:func:`initialize`), and the few agreements the timing loop makes between
processes (:func:`barrier`, :func:`max_over_processes`, :func:`gather_json`,
:func:`broadcast_json`). All communication goes through ``jax.distributed`` and
``jax.experimental.multihost_utils``; in a single process every helper is a no-op or the
identity, and nothing here compiles anything.

Where the address comes from: the pytest option ``--es-distributed`` or, when that is absent,
the environment variable ``ESPERF_DISTRIBUTED`` (which ``python -m bench.launch`` sets for each
process it starts). The value is either

- ``auto``: jax's cluster auto-detection (Slurm, Open MPI, Cloud TPU pods, Kubernetes, mpi4py),
  i.e. ``jax.distributed.initialize()`` without addresses; or
- ``HOST:PORT,NUM_PROCESSES,PROCESS_ID``: the coordinator (process 0's host and a free port),
  the number of processes and this process's index, e.g. ``127.0.0.1:12345,2,0``.

Importing this module is cheap (no jax): jax is imported inside the functions.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import os
import re
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

ENV_VAR = "ESPERF_DISTRIBUTED"
FORMS = "auto or HOST:PORT,NUM_PROCESSES,PROCESS_ID (e.g. 127.0.0.1:12345,2,0)"
# Exit status of a process whose distributed system did not form in time (sysexits' EX_UNAVAILABLE).
INIT_TIMEOUT_EXIT_CODE = 69

_EXPLICIT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]+),(?P<n>[0-9]+),(?P<i>[0-9]+)$")


@dataclasses.dataclass(frozen=True)
class Spec:
    """Where this process's distributed system is: ``auto`` (all fields None) or explicit."""

    coordinator: str | None = None  # "HOST:PORT" of process 0's coordination service
    num_processes: int | None = None
    process_id: int | None = None

    @property
    def auto(self) -> bool:
        return self.coordinator is None

    def __str__(self) -> str:
        if self.auto:
            return "auto"
        return f"{self.coordinator},{self.num_processes},{self.process_id}"


def parse_spec(text: str) -> Spec:
    """The :class:`Spec` written as ``auto`` or ``HOST:PORT,NUM_PROCESSES,PROCESS_ID``.

    HOST is a name, an IPv4 address or a bracketed IPv6 address; PORT is in 1..65535;
    NUM_PROCESSES >= 1 and 0 <= PROCESS_ID < NUM_PROCESSES. Anything else is a ValueError that
    names the value and the allowed forms.
    """
    value = text.strip() if isinstance(text, str) else text
    if value == "auto":
        return Spec()
    match = _EXPLICIT.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not allowed; give {FORMS}")
    port, n, i = int(match["port"]), int(match["n"]), int(match["i"])
    if not 1 <= port <= 65535:
        raise ValueError(f"{text!r} is not allowed: port {port} is not in 1..65535; give {FORMS}")
    if n < 1:
        raise ValueError(f"{text!r} is not allowed: NUM_PROCESSES must be at least 1; give {FORMS}")
    if not 0 <= i < n:
        raise ValueError(f"{text!r} is not allowed: PROCESS_ID {i} is not in [0, {n}); give {FORMS}")
    return Spec(f"{match['host']}:{port}", n, i)


def spec_from(option: str | None, environ: Mapping[str, str] | None = None) -> Spec | None:
    """The spec from the ``--es-distributed`` value, else from ``$ESPERF_DISTRIBUTED``; None if neither.

    None (or an empty string) means a single process that joins no distributed system.
    """
    environ = os.environ if environ is None else environ
    text = option if option not in (None, "") else environ.get(ENV_VAR, "")
    return parse_spec(text) if text.strip() else None


def _supported_kwargs(fn) -> set[str]:
    return set(inspect.signature(fn).parameters)


def initialize(
    spec: Spec,
    *,
    init_timeout_s: float = 60,
    heartbeat_timeout_s: float = 20,
    shutdown_timeout_s: float = 60,
    local_device_ids: Sequence[int] | None = None,
) -> None:
    """Join the distributed system ``spec`` with ``jax.distributed.initialize``.

    Must run before any other jax use in the process (jax.devices(), jit, any array op):
    jax fixes its device list when its backend starts. A RuntimeError says so if the backend
    has already started.

    Timeouts (seconds): ``init_timeout_s`` for every process to connect; ``heartbeat_timeout_s``
    after which jax declares a silent peer dead (jax >= 0.7, and the surviving processes then
    abort); ``shutdown_timeout_s`` that :func:`shutdown` waits for the others (jax >= 0.8.1).
    Older jax has only the first (0.4.30 accepts ``initialization_timeout`` alone); a timeout
    the running jax lacks is not passed.

    A system that does not form within ``init_timeout_s`` (a process never started, or died
    before initializing) ends this process with one line on stderr naming the expected number
    of processes and the coordinator, and exit status :data:`INIT_TIMEOUT_EXIT_CODE`: jax itself
    names no missing process, and does not raise either (jax 0.10 aborts the process with a
    check-failure trace some seconds after its deadline, jax 0.4.30 waits for the service's
    registration deadline, an hour by default), so a watchdog thread ends the process at
    ``init_timeout_s`` while jax's own, looser deadline stays as a backstop.

    ``local_device_ids`` restricts this process to those local accelerators (jax's own option;
    ``python -m bench.launch --gpus-per-process`` uses CUDA_VISIBLE_DEVICES instead).
    On CPU, cross-process collectives use gloo (jax 0.4.30's default is none).
    Other failures raise RuntimeError with one line.
    """
    import jax

    if not isinstance(spec, Spec):
        raise TypeError(f"spec must be a bench.multi.distributed.Spec (from parse_spec), not {spec!r}")
    for name, value in (
        ("init_timeout_s", init_timeout_s),
        ("heartbeat_timeout_s", heartbeat_timeout_s),
        ("shutdown_timeout_s", shutdown_timeout_s),
    ):
        if not value > 0:
            raise ValueError(f"{name}={value!r} is not allowed; give a number of seconds > 0")
    if _backends_started():
        raise RuntimeError(
            "bench.multi.distributed.initialize must run before any other jax use in the process "
            "(jax's backend has already started, e.g. by jax.devices(), jit or an array op)"
        )
    if is_distributed():
        raise RuntimeError("bench.multi.distributed.initialize was already called in this process")

    supported = _supported_kwargs(jax.distributed.initialize)
    # jax's own deadline is a backstop behind the watchdog, which must speak first.
    kwargs: dict[str, Any] = {"initialization_timeout": int(init_timeout_s) + 30}
    if "heartbeat_timeout_seconds" in supported:
        kwargs["heartbeat_timeout_seconds"] = max(1, round(heartbeat_timeout_s))
    if "shutdown_timeout_seconds" in supported:
        kwargs["shutdown_timeout_seconds"] = max(1, round(shutdown_timeout_s))
    if local_device_ids is not None:
        kwargs["local_device_ids"] = list(local_device_ids)
    if not spec.auto:
        kwargs.update(
            coordinator_address=spec.coordinator, num_processes=spec.num_processes, process_id=spec.process_id
        )
        if "cluster_detection_method" in supported:
            kwargs["cluster_detection_method"] = "deactivate"
    # CPU processes need a cross-process collectives implementation; jax 0.4.30 defaults to none.
    if jax.config.values.get("jax_cpu_collectives_implementation") == "none":
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    # jax's preemption service catches SIGTERM as a preemption notice and keeps running; a
    # benchmark has no preemption sync points, and SIGTERM from a launcher or a scheduler must end
    # it. Off where jax lets it be turned off (the flag exists in recent jax, not in 0.4.30).
    if "jax_enable_preemption_service" in jax.config.values:
        jax.config.update("jax_enable_preemption_service", False)

    where = (
        "an auto-detected cluster"
        if spec.auto
        else f"{spec.num_processes} processes at coordinator {spec.coordinator} (this is process {spec.process_id})"
    )
    done = threading.Event()

    def watchdog() -> None:
        if not done.wait(init_timeout_s):
            sys.stderr.write(
                f"bench.multi.distributed: the distributed system of {where} did not form within "
                f"{init_timeout_s:g} s: a process never started or died before initializing "
                "(jax does not say which); ending this process\n"
            )
            sys.stderr.flush()
            os._exit(INIT_TIMEOUT_EXIT_CODE)

    threading.Thread(target=watchdog, name="esperf-init-watchdog", daemon=True).start()
    try:
        jax.distributed.initialize(**kwargs)
    except Exception as err:  # jax raises ValueError/RuntimeError/XlaRuntimeError; keep the first line
        first = str(err).strip().splitlines()[0].rstrip(".") if str(err).strip() else type(err).__name__
        hint = (
            "; no cluster was detected: give HOST:PORT,NUM_PROCESSES,PROCESS_ID instead of auto"
            if spec.auto
            else ""
        )
        raise RuntimeError(f"jax.distributed.initialize failed for {where} ({spec}): {first}{hint}") from None
    finally:
        done.set()


def _backends_started() -> bool:
    try:
        from jax._src import xla_bridge
    except ImportError:  # private module moved: let jax.distributed.initialize complain itself
        return False
    started = getattr(xla_bridge, "backends_are_initialized", None)
    return bool(started()) if started is not None else False


def is_distributed() -> bool:
    """True when this process has joined a distributed system (jax.distributed is initialized)."""
    if "jax" not in sys.modules:
        return False
    import jax

    is_initialized = getattr(jax.distributed, "is_initialized", None)
    if is_initialized is not None:
        return bool(is_initialized())
    from jax._src import distributed as _state  # jax 0.4.30 has no is_initialized

    return _state.global_state.client is not None


def shutdown() -> None:
    """Leave the distributed system (waits up to ``shutdown_timeout_s`` for the others); no-op if none."""
    if is_distributed():
        import jax

        jax.distributed.shutdown()


def process_index() -> int:
    """This process's index in [0, process_count()) (0 without a distributed system)."""
    import jax

    return jax.process_index()


def process_count() -> int:
    """How many processes form the system (1 without a distributed system)."""
    import jax

    return jax.process_count()


def barrier(name: str) -> None:
    """Wait until every process reaches the barrier ``name`` and its devices are idle (untimed).

    ``multihost_utils.sync_global_devices``: an all-gather of the name's CRC32 on every device,
    which also checks that all processes passed the same name. No-op in a single process.
    """
    if process_count() == 1:
        return
    from jax.experimental import multihost_utils

    multihost_utils.sync_global_devices(name)



def _allgather_bytes(payload: bytes | None) -> list[bytes]:
    """Every process's byte string, in process order, on every process (None: this one failed).

    Two ``process_allgather`` calls: the lengths (-1 marks a process that failed to encode,
    so that all raise together before the payload collective), then the payloads padded to the
    longest as uint8 rows (uint8 survives jax's 32-bit default where float64 would not).
    """
    import numpy as np
    from jax.experimental import multihost_utils

    length = -1 if payload is None else len(payload)
    lengths = np.asarray(multihost_utils.process_allgather(np.asarray(length, dtype=np.int32))).reshape(-1)
    failed = [int(p) for p in np.flatnonzero(lengths < 0)]
    if failed:
        raise ValueError(f"process(es) {failed} could not encode their value as JSON")
    width = max(1, int(lengths.max()))
    row = np.zeros(width, dtype=np.uint8)
    row[: len(payload)] = np.frombuffer(payload, dtype=np.uint8)
    rows = np.asarray(multihost_utils.process_allgather(row)).reshape(len(lengths), width)
    return [rows[p, : int(lengths[p])].tobytes() for p in range(len(lengths))]


def _encode(obj: Any) -> bytes | None:
    try:
        return json.dumps(obj, sort_keys=True).encode()
    except (TypeError, ValueError):
        return None


def max_over_processes(values: Sequence[float]) -> list[float]:
    """Element-wise maximum of ``values`` over processes (the slowest process's time per round).

    Every process must pass the same number of values (a ValueError on all of them otherwise).
    The float64 values travel as bytes, so the result is exact. Identity in a single process.
    """
    import numpy as np

    local = np.asarray(values, dtype=np.float64).reshape(-1)
    if process_count() == 1:
        return [float(v) for v in local]
    rows = [np.frombuffer(b, dtype=np.float64) for b in _allgather_bytes(local.tobytes())]
    sizes = sorted({len(r) for r in rows})
    if len(sizes) != 1:
        raise ValueError(f"max_over_processes got {[len(r) for r in rows]} values per process; all must be equal")
    return [float(v) for v in np.max(np.stack(rows), axis=0)]


def gather_json(obj: Any) -> list:
    """Every process's JSON-able ``obj`` (e.g. its machine info), in process order, on every process.

    A value that is not JSON-able on any process is a ValueError on all of them.
    In a single process: ``[obj]`` after a JSON round trip.
    """
    payload = _encode(obj)
    if process_count() == 1:
        if payload is None:
            raise ValueError(f"gather_json: {obj!r} is not JSON-able")
        return [json.loads(payload)]
    return [json.loads(b) for b in _allgather_bytes(payload)]


def broadcast_json(obj: Any) -> Any:
    """Process 0's JSON-able ``obj`` on every process (the others' ``obj`` is ignored).

    E.g. the case list and round counts, so that all processes run the same cases with the
    same rounds. ``multihost_utils.broadcast_one_to_all`` of the length, then of the bytes.
    If process 0's value is not JSON-able, every process raises ValueError.
    In a single process: ``obj`` after a JSON round trip.
    """
    payload = _encode(obj) if process_index() == 0 else b""
    if process_count() == 1:
        if payload is None:
            raise ValueError(f"broadcast_json: {obj!r} is not JSON-able")
        return json.loads(payload)
    import numpy as np
    from jax.experimental import multihost_utils

    length = -1 if payload is None else len(payload)
    length = int(np.asarray(multihost_utils.broadcast_one_to_all(np.asarray([length], dtype=np.int32)))[0])
    if length < 0:
        raise ValueError("broadcast_json: process 0's value is not JSON-able")
    row = np.zeros(length, dtype=np.uint8)
    if process_index() == 0:
        row[:] = np.frombuffer(payload, dtype=np.uint8)
    out = np.asarray(multihost_utils.broadcast_one_to_all(row), dtype=np.uint8)
    return json.loads(out.tobytes())
