"""Fault injection for the harness tests: a pytest plugin (``-p esperf_faults``) for the
pytest process, and a worker hook (``ESPERF_WORKER_HOOK=esperf_faults``) for the workers.

ESPERF_FAULT=fail-pop16     -> cases with popsize 16 raise while building their target
ESPERF_FAULT=sigkill-pop16  -> the process measuring a popsize-16 case kills itself with SIGKILL
ESPERF_FAULT=hang-pop16     -> the process measuring a popsize-16 case sleeps forever
ESPERF_FAULT=kill-server-pop16 -> the worker of a popsize-16 case SIGKILLs its fork server
ESPERF_FAULT=recompile      -> every runtime round also compiles a fresh function
ESPERF_FAULT=slow-start     -> every worker sleeps 3 s before it starts its request (a slow start)
ESPERF_FAULT=crash-memory-worker -> CPU runtime cases get a memory worker (as GPU/TPU ones do), and it
                               kills itself with SIGKILL once it has loaded the saved executable
ESPERF_FAULT=no-peers       -> evosax and gymnax cannot be imported (as without the peers extra)
ESPERF_FAULT_PROCESS=i      -> only process i of a distributed run (ESPERF_PROCESS_ID) gets the fault
ESPERF_BACKENDS_FILE=PATH   -> at the end, the pytest process writes the jax backends it started
ESPERF_REQUEST_LOG=PATH     -> the pytest process appends each worker request's mode and rounds to PATH
"""
import json
import os
import signal
import sys
import time

if os.environ.get("ESPERF_FAULT") == "no-peers":
    # None in sys.modules makes `import evosax` raise ImportError, installed or not
    sys.modules["evosax"] = sys.modules["evosax.algorithms"] = sys.modules["gymnax"] = None


SLOW_START_S = 3.0


def install_worker():
    """Patch esperf in this process according to ESPERF_FAULT."""
    fault = os.environ.get("ESPERF_FAULT", "")
    only = os.environ.get("ESPERF_FAULT_PROCESS")
    if only is not None and os.environ.get("ESPERF_PROCESS_ID") != only:
        return
    import bench.measure.targets
    import bench.measure.timing

    if fault == "slow-start":
        time.sleep(SLOW_START_S)
    elif fault.endswith("-pop16"):
        real = bench.measure.targets.make_target

        def make_target(case, settings, placement, **options):
            if case.popsize == 16:
                if fault == "fail-pop16":
                    raise MemoryError("RESOURCE_EXHAUSTED: injected out of memory at pop 16")
                if fault == "sigkill-pop16":
                    os.kill(os.getpid(), signal.SIGKILL)
                if fault == "hang-pop16":
                    time.sleep(3600)
                if fault == "kill-server-pop16":
                    os.kill(os.getppid(), signal.SIGKILL)
                    time.sleep(3600)  # PR_SET_PDEATHSIG ends this worker with its server
            return real(case, settings, placement, **options)

        bench.measure.targets.make_target = make_target
    elif fault == "crash-memory-worker":
        import bench.measure.memory
        import bench.measure.rounds

        bench.measure.memory.loads_saved_executable = lambda platform: True  # the pytest process's choice

        def crash(case, settings, path, rounds=3):
            assert os.path.getsize(path) > 0  # the runtime worker saved it; the crash is the worker's own
            os.kill(os.getpid(), signal.SIGKILL)

        bench.measure.rounds.measure_generation_memory = crash
    elif fault == "recompile":
        import jax
        import jax.numpy as jnp

        real_call = bench.measure.timing.ChainedRunner.__call__

        def call(self):
            jax.jit(lambda x: x + 1)(jnp.ones(2))  # a fresh function: a real compile
            return real_call(self)

        bench.measure.timing.ChainedRunner.__call__ = call


def log_requests(path: str) -> None:
    """Append one JSON line per worker request (mode, case id, rounds asked) to ``path``."""
    from bench.case import Case
    from bench.isolation.spawners import Workers

    real = Workers.run

    def run(self, request, timeout):
        settings = request.get("settings") or {}
        case = request.get("case")
        with open(path, "a") as fh:
            fh.write(json.dumps({"mode": request.get("mode"), "case": case and Case.from_json(case).id,
                                 "runtime_rounds": settings.get("runtime_rounds")}) + "\n")
        return real(self, request, timeout)

    Workers.run = run


def pytest_configure(config):
    install_worker()
    if os.environ.get("ESPERF_REQUEST_LOG"):
        log_requests(os.environ["ESPERF_REQUEST_LOG"])


def pytest_unconfigure(config):
    path = os.environ.get("ESPERF_BACKENDS_FILE")
    if path:
        from jax._src import xla_bridge

        with open(path, "w") as fh:
            json.dump(sorted(xla_bridge._backends), fh)
