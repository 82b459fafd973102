"""One process of the distributed tests (tests/test_distributed.py), run as a script.

    python tests/distributed_worker.py compute  -> process 0 prints one line RESULT {json}
    python tests/distributed_worker.py killed   -> process 1 SIGKILLs itself after joining

Joins the system named by $ESPERF_DISTRIBUTED (a single process without it), with the init
timeout $ESPERF_TEST_INIT_TIMEOUT (seconds, default 20).
"""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.multi import distributed  # noqa: E402
from helpers import all_ok  # noqa: E402


def main(mode: str) -> None:
    spec = distributed.spec_from(None)
    if spec is not None:
        distributed.initialize(spec, init_timeout_s=float(os.environ.get("ESPERF_TEST_INIT_TIMEOUT", "20")))
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    me = distributed.process_index()
    print(f"pid {os.getpid()} process {me} of {distributed.process_count()}", flush=True)
    if mode == "killed":
        jax.devices()  # the topology exchange: both processes are in the system now
        if me == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(300)  # process 0 waits for the launcher to end it
        return

    # A global 1-D mesh over every process's devices; x = 0..31 sharded across it.
    mesh = Mesh(np.array(jax.devices()), ("d",))
    data = np.arange(32, dtype=np.float32)
    x = jax.make_array_from_callback(data.shape, NamedSharding(mesh, PartitionSpec("d")), lambda idx: data[idx])
    replicated = NamedSharding(mesh, PartitionSpec())
    # sum(x^2) and the largest per-device partial sum: an all-reduce over every device of every process
    total, blockmax = jax.jit(
        lambda v: (jnp.sum(v * v), jnp.max(jnp.sum((v * v).reshape(len(jax.devices()), -1), axis=1))),
        out_shardings=(replicated, replicated),
    )(x)
    distributed.barrier("after-sum")
    result = {
        "process_count": distributed.process_count(),
        "device_count": jax.device_count(),
        "local_device_count": jax.local_device_count(),
        "sum_sq": float(np.asarray(total.addressable_data(0))),
        "block_max": float(np.asarray(blockmax.addressable_data(0))),
        "max": distributed.max_over_processes([0.25 + me, 10.0 - me, 1e-9 * (me + 1)]),
        "all_true": all_ok(True),
        "all_but_last": all_ok(me != distributed.process_count() - 1),
        "gathered": distributed.gather_json({"p": me, "devices": jax.local_device_count()}),
        "broadcast": distributed.broadcast_json({"from": me, "cases": ["a", "b"]} if me == 0 else None),
    }
    distributed.barrier("done")
    if me == 0:
        print("RESULT " + json.dumps(result, sort_keys=True), flush=True)
    distributed.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
