"""bench.multi.distributed: the spec, the single-process helpers, and real multi-process runs on CPU.

The multi-process runs start jax processes through ``python -m bench.launch`` with
tests/distributed_worker.py: 2 processes x 2 CPU devices must compute what 1 process x 4 devices
computes, a missing process must end process 0 within the init timeout with one line, and a
process SIGKILLed after joining must end the whole run with a line naming it.
"""
import json
import re
import signal
import sys

import jax
import numpy as np
import pytest

import helpers
from helpers import ROOT, all_ok
from bench.multi import distributed
from bench.multi.distributed import Spec, parse_spec, spec_from
from bench.launch import free_port

WORKER = str(ROOT / "tests" / "distributed_worker.py")
# jax 0.4.30's gloo cannot run collectives with several CPU devices per process (its context
# setup times out); 0.5.0 can (checked by hand), so older jax runs one device per process.
PER_PROCESS = 2 if jax.__version_info__ >= (0, 5, 0) else 1


@pytest.mark.parametrize(
    "text, spec",
    [
        ("auto", Spec()),
        (" auto ", Spec()),
        ("127.0.0.1:12345,2,0", Spec("127.0.0.1:12345", 2, 0)),
        ("node-7.cluster:8476,16,15", Spec("node-7.cluster:8476", 16, 15)),
        ("[::1]:1234,1,0", Spec("[::1]:1234", 1, 0)),
    ],
)
def test_parse_spec_accepts(text, spec):
    assert parse_spec(text) == spec
    assert parse_spec(str(spec)) == spec


@pytest.mark.parametrize(
    "text, reason",
    [
        ("127.0.0.1,2,0", ""),
        ("127.0.0.1:12345,2", ""),
        ("127.0.0.1:12345,2,0,1", ""),
        ("", ""),
        ("AUTO", ""),
        ("127.0.0.1:12345,two,0", ""),
        ("127.0.0.1:12345,2,-1", ""),
        ("127.0.0.1:12345,2,2", ": PROCESS_ID 2 is not in [0, 2)"),
        ("127.0.0.1:12345,0,0", ": NUM_PROCESSES must be at least 1"),
        ("127.0.0.1:0,2,0", ": port 0 is not in 1..65535"),
        ("127.0.0.1:70000,2,0", ": port 70000 is not in 1..65535"),
    ],
)
def test_parse_spec_rejects_naming_value_and_forms(text, reason):
    with pytest.raises(ValueError) as err:
        parse_spec(text)
    assert str(err.value) == f"{text!r} is not allowed{reason}; give {distributed.FORMS}"


def test_spec_from_option_then_environment():
    env = {distributed.ENV_VAR: "127.0.0.1:1000,2,1"}
    assert spec_from("auto", env) == Spec()
    assert spec_from(None, env) == Spec("127.0.0.1:1000", 2, 1)
    assert spec_from("", env) == Spec("127.0.0.1:1000", 2, 1)
    assert spec_from(None, {}) is None
    assert spec_from(None, {distributed.ENV_VAR: " "}) is None
    with pytest.raises(ValueError, match="'bogus' is not allowed"):
        spec_from(None, {distributed.ENV_VAR: "bogus"})


def test_initialize_rejects_bad_timeouts_and_a_started_backend():
    spec = parse_spec("127.0.0.1:1,2,0")
    with pytest.raises(ValueError, match=r"^init_timeout_s=0 is not allowed; give a number of seconds > 0$"):
        distributed.initialize(spec, init_timeout_s=0)
    with pytest.raises(TypeError, match="spec must be a bench.multi.distributed.Spec"):
        distributed.initialize("127.0.0.1:1,2,0")
    jax.devices()  # the backend starts here, so it is too late to join a distributed system
    with pytest.raises(RuntimeError, match="must run before any other jax use"):
        distributed.initialize(spec)
    assert not distributed.is_distributed()


def test_single_process_helpers_are_trivial():
    assert not distributed.is_distributed()
    assert (distributed.process_index(), distributed.process_count()) == (0, 1)
    distributed.barrier("single")
    assert distributed.max_over_processes([0.5, 2, 1e-300]) == [0.5, 2.0, 1e-300]
    assert distributed.max_over_processes(np.array([3.0])) == [3.0]
    assert all_ok(True) is True and all_ok(False) is False
    assert distributed.gather_json({"a": (1, 2), "b": None}) == [{"a": [1, 2], "b": None}]
    assert distributed.broadcast_json({"cases": ["x"], "rounds": 3}) == {"cases": ["x"], "rounds": 3}
    with pytest.raises(ValueError, match="not JSON-able"):
        distributed.gather_json({"a": object()})
    with pytest.raises(ValueError, match="not JSON-able"):
        distributed.broadcast_json({1j})
    distributed.shutdown()  # no-op without a system


def _run(cmd, env, timeout):
    """Run ``cmd`` in its own process group, killed past ``timeout``: (returncode, stdout, stderr)."""
    proc = helpers.run(cmd, timeout, cwd=ROOT, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def _env(**extra):
    return helpers.child_env(drop=(distributed.ENV_VAR, "XLA_FLAGS"), JAX_PLATFORMS="cpu",
                             JAX_ENABLE_COMPILATION_CACHE="false", **extra)


def _result(out):
    (line,) = [line for line in out.splitlines() if "RESULT " in line]
    return json.loads(line.split("RESULT ", 1)[1])


@pytest.mark.integration
def test_two_processes_compute_what_one_process_computes():
    n_dev = 2 * PER_PROCESS
    launched = [sys.executable, "-m", "bench.launch", "-n", "2", "--local-devices", str(PER_PROCESS)]
    rc, out, err = _run(
        [*launched, "--timeout", "90", "--grace", "1", "--", sys.executable, WORKER, "compute"], _env(), timeout=120
    )
    assert rc == 0, err[-3000:]
    assert all(line.startswith(("[p0] ", "[p1] ")) for line in out.splitlines())
    multi = _result(out)
    rc, out, err = _run(
        [sys.executable, WORKER, "compute"],
        _env(XLA_FLAGS=f"--xla_force_host_platform_device_count={n_dev}"),
        timeout=120,
    )
    assert rc == 0, err[-3000:]
    single = _result(out)

    squares = np.arange(32, dtype=np.float64) ** 2
    for r in (multi, single):
        assert r["device_count"] == n_dev
        assert r["sum_sq"] == squares.sum()  # 10416: exact in float32
        assert r["block_max"] == squares.reshape(n_dev, -1).sum(axis=1).max()
        assert r["all_true"] is True and r["all_but_last"] is False
        assert r["broadcast"] == {"from": 0, "cases": ["a", "b"]}
    assert (multi["process_count"], multi["local_device_count"]) == (2, PER_PROCESS)
    assert (single["process_count"], single["local_device_count"]) == (1, n_dev)
    # element-wise max over processes of [0.25 + p, 10 - p, 1e-9 (p + 1)]: exact float64
    assert multi["max"] == [1.25, 10.0, 2e-9] and single["max"] == [0.25, 10.0, 1e-9]
    assert multi["gathered"] == [{"p": 0, "devices": PER_PROCESS}, {"p": 1, "devices": PER_PROCESS}]
    assert single["gathered"] == [{"p": 0, "devices": n_dev}]


@pytest.mark.integration
def test_a_process_that_never_starts_ends_the_others_within_the_init_timeout():
    port = free_port()
    env = _env(ESPERF_DISTRIBUTED=f"127.0.0.1:{port},2,0", ESPERF_TEST_INIT_TIMEOUT="2")
    rc, out, err = _run([sys.executable, WORKER, "compute"], env, timeout=60)
    assert rc == distributed.INIT_TIMEOUT_EXIT_CODE
    assert "RESULT" not in out
    assert err.strip().splitlines()[-1] == (
        f"bench.multi.distributed: the distributed system of 2 processes at coordinator 127.0.0.1:{port} "
        "(this is process 0) did not form within 2 s: a process never started or died before "
        "initializing (jax does not say which); ending this process"
    )


@pytest.mark.integration
def test_a_killed_process_ends_the_run_and_leaves_no_process():
    cmd = [sys.executable, "-m", "bench.launch", "-n", "2", "--timeout", "90", "--grace", "1"]
    rc, out, err = _run([*cmd, "--", sys.executable, WORKER, "killed"], _env(), timeout=120)
    assert rc == 128 + signal.SIGKILL, err[-3000:]
    pids = dict(re.findall(r"^\[p(\d)\] pid (\d+) process", out, re.M))
    assert sorted(pids) == ["0", "1"], out
    assert err.strip().splitlines()[-1] == (
        f"launch: process 1 (pid {pids['1']}) was killed by SIGKILL; ended the other 1 process(es)"
    )
    assert all(helpers.gone(int(pid)) for pid in pids.values())
