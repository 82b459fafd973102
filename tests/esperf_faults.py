"""A pytest plugin for the harness tests (``-p esperf_faults``): injects faults into ``pytest bench``.

ESPERF_FAULT=fail-pop16   -> cases with popsize 16 raise while building their target
ESPERF_FAULT=recompile    -> every runtime round also compiles a fresh function
ESPERF_FAULT=no-peers     -> evosax and gymnax cannot be imported (as without the peers extra)
"""
import os
import sys

import jax
import jax.numpy as jnp

if os.environ.get("ESPERF_FAULT") == "no-peers":
    # None in sys.modules makes `import evosax` raise ImportError, installed or not
    sys.modules["evosax"] = sys.modules["evosax.algorithms"] = sys.modules["gymnax"] = None


def pytest_configure(config):
    fault = os.environ.get("ESPERF_FAULT", "")
    import bench.cases
    import bench.timing

    if fault == "fail-pop16":
        real = bench.cases.make_target

        def make_target(case, settings, sharding):
            if case.popsize == 16:
                raise MemoryError("RESOURCE_EXHAUSTED: injected out of memory at pop 16")
            return real(case, settings, sharding)

        bench.cases.make_target = make_target
    elif fault == "recompile":
        real_call = bench.timing.ChainedRunner.__call__

        def call(self):
            jax.jit(lambda x: x + 1)(jnp.ones(2))  # a fresh function: a real compile
            return real_call(self)

        bench.timing.ChainedRunner.__call__ = call
