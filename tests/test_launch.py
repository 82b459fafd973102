"""``python -m bench.launch``: process logic alone, without jax (children are tiny python -c scripts).

Prefixed output, the environment each child gets, exit codes, the deadline, ending the other
children when one fails, SIGTERM to the launcher, and that no process outlives a run.
"""
import os
import re
import selectors
import signal
import subprocess
import sys
import time

import pytest

import helpers
from bench.processes import signal_group
from helpers import PY, ROOT
from bench import launch



def _env(**extra):
    return helpers.child_env(**extra)


def run_launcher(args, timeout=30, env=None):
    """Run ``python -m bench.launch ARGS`` to the end (its own process group, killed past ``timeout``)."""
    proc = helpers.run([PY, "-m", "bench.launch", *args], timeout, cwd=ROOT, env=env or _env())
    return proc.returncode, proc.stdout, proc.stderr


def start_launcher(args, stderr=subprocess.PIPE):
    """``python -m bench.launch ARGS`` started in its own process group (binary pipes)."""
    return subprocess.Popen([PY, "-m", "bench.launch", *args], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=stderr, start_new_session=True)


def _pids(text):
    return [int(p) for p in re.findall(r"pid (\d+)", text)]


def _read_pids(proc, count, timeout=20.0):
    """The first ``count`` pids that the launcher's children print ("pid N") on its stdout."""
    pids, buf = [], b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while len(pids) < count and time.monotonic() < deadline:
            if sel.select(timeout=0.5):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                pids = _pids(buf.decode())
    assert len(pids) == count, buf
    return pids


CHILD = "import os, sys, time, signal; i = int(os.environ['ESPERF_PROCESS_ID']); "


def test_prefixes_environment_and_success():
    code = CHILD + (
        "print('out', i, os.environ['ESPERF_DISTRIBUTED']); print('err', i, file=sys.stderr); "
        "print('xla', os.environ['XLA_FLAGS']); sys.stdout.write('no newline')"
    )
    rc, out, err = run_launcher(
        ["-n", "2", "--local-devices", "3", "--port", "23517", "--", PY, "-c", code],
        env=_env(XLA_FLAGS="--xla_cpu_foo=1"),
    )
    assert rc == 0, err
    for i in (0, 1):
        assert f"[p{i}] out {i} 127.0.0.1:23517,2,{i}\n" in out
        assert f"[p{i}] xla --xla_cpu_foo=1 --xla_force_host_platform_device_count=3\n" in out
        assert f"[p{i}] no newline\n" in out
        assert f"[p{i}] err {i}\n" in err
    assert "err" not in out and "out" not in err
    assert "launch:" not in err


def test_free_port_is_chosen_when_none_is_given():
    rc, out, err = run_launcher(["-n", "2", "--", PY, "-c", "import os; print(os.environ['ESPERF_DISTRIBUTED'])"])
    assert rc == 0, err
    specs = sorted(line.split(" ", 1)[1] for line in out.splitlines())
    port = specs[0].split(",")[0].split(":")[1]
    assert 0 < int(port) < 65536
    assert specs == [f"127.0.0.1:{port},2,0", f"127.0.0.1:{port},2,1"]


def test_gpus_per_process_splits_the_visible_gpus():
    code = "import os; print(os.environ['CUDA_VISIBLE_DEVICES'])"
    rc, out, err = run_launcher(
        ["-n", "2", "--gpus-per-process", "2", "--", PY, "-c", code], env=_env(CUDA_VISIBLE_DEVICES="4,5,6,7")
    )
    assert rc == 0, err
    assert "[p0] 4,5\n" in out and "[p1] 6,7\n" in out
    assert launch.gpu_groups(3, 1, None) == ["0", "1", "2"]


def test_failure_ends_the_others_and_returns_its_code():
    # process 1 exits 3; process 0 would sleep for 5 minutes
    code = CHILD + "print('pid', os.getpid()); time.sleep(0.3) if i == 1 else time.sleep(300); sys.exit(3)"
    rc, out, err = run_launcher(["-n", "2", "--", PY, "-c", code])
    assert rc == 3
    pids = dict(re.findall(r"\[p(\d)\] pid (\d+)", out))
    assert re.search(
        rf"^launch: process 1 \(pid {pids['1']}\) exited with code 3; ended the other 1 process\(es\)$", err, re.M
    ), err
    assert all(helpers.gone(int(p)) for p in pids.values())


def test_killed_by_signal_is_128_plus_signal_and_sigterm_is_escalated():
    # process 1 SIGTERMs itself; process 2 ignores SIGTERM, so only the SIGKILL after --grace ends it
    code = CHILD + (
        "print('pid', os.getpid(), flush=True)\n"
        "if i == 2: signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "if i == 1: time.sleep(0.3); os.kill(os.getpid(), signal.SIGTERM)\n"
        "time.sleep(300)"
    )
    rc, out, err = run_launcher(["-n", "3", "--grace", "0.5", "--", PY, "-c", code])
    assert rc == 128 + signal.SIGTERM
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(r"launch: process 1 \(pid \d+\) was killed by SIGTERM; ended the other 2 process\(es\)", last)
    pids = _pids(out)
    assert len(pids) == 3 and all(helpers.gone(p) for p in pids)


def test_deadline_ends_every_group_including_grandchildren():
    # each child leaves a grandchild in its group, then sleeps past the deadline
    code = (
        "import os, subprocess, sys, time; "
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); "
        "print('pid', os.getpid(), 'pid', g.pid, flush=True); time.sleep(300)"
    )
    rc, out, err = run_launcher(["-n", "2", "--timeout", "1.5", "--grace", "0.5", "--", PY, "-c", code])
    assert rc == launch.DEADLINE_EXIT_CODE
    assert err.strip().splitlines()[-1] == "launch: deadline of 1.5 s passed; ended 2 running process(es)"
    pids = _pids(out)
    assert len(pids) == 4 and all(helpers.gone(p) for p in pids)


def test_grandchild_left_by_a_successful_child_is_ended():
    code = (
        "import os, subprocess, sys; "
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); print('pid', g.pid)"
    )
    rc, out, err = run_launcher(["-n", "1", "--grace", "0.5", "--", PY, "-c", code])
    assert rc == 0, err
    (pid,) = _pids(out)
    assert helpers.gone(pid)


def test_sigterm_to_the_launcher_ends_the_children():
    code = CHILD + "print('pid', os.getpid(), flush=True); time.sleep(300)"
    proc = start_launcher(["-n", "2", "--", PY, "-c", code])
    try:
        pids = _read_pids(proc, 2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        helpers.kill_group(proc)
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.decode().strip().splitlines()[-1] == "launch: got SIGTERM; ended 2 running process(es)"
    assert all(helpers.gone(p) for p in pids)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_children_die_with_a_sigkilled_launcher():
    code = CHILD + "print('pid', os.getpid(), flush=True); time.sleep(300)"
    proc = start_launcher(["-n", "2", "--", PY, "-c", code], stderr=subprocess.DEVNULL)
    try:
        pids = _read_pids(proc, 2)
        os.kill(proc.pid, signal.SIGKILL)  # no cleanup of its own can run
        proc.wait(timeout=20)
    finally:
        helpers.kill_group(proc)
        proc.communicate()
    alive = [p for p in pids if not helpers.gone(p)]
    for p in alive:  # the test's own cleanup: the children are in groups of their own
        signal_group(p, signal.SIGKILL)
    assert alive == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["-n", "0", "--", "true"], "launch: -n 0 is not allowed; give at least 1 process"),
        (["-n", "2"], "launch: give the command after --, e.g. python -m bench.launch -n 2 -- pytest bench"),
        (["-n", "2", "--"], "launch: no command after --"),
        (["-n", "x", "--", "true"], "launch: argument -n/--num-processes: invalid int value: 'x'"),
        (["-n", "2", "--bogus", "--", "true"], "launch: unrecognized arguments: --bogus"),
        (["-n", "2", "--timeout", "0", "--", "true"], "launch: --timeout 0 is not allowed; give seconds > 0"),
        (["-n", "2", "--port", "70000", "--", "true"], "launch: --port 70000 is not allowed; give 1..65535"),
        (
            ["-n", "2", "--local-devices", "0", "--", "true"],
            "launch: --local-devices 0 is not allowed; give at least 1",
        ),
        (
            ["-n", "2", "--gpus-per-process", "2", "--", "true"],
            "launch: -n 2 --gpus-per-process 2 needs 4 GPUs; CUDA_VISIBLE_DEVICES='0,1' has 2",
        ),
    ],
)
def test_bad_arguments_one_line_exit_2(args, message):
    rc, out, err = run_launcher(args, env=_env(CUDA_VISIBLE_DEVICES="0,1"))
    assert (rc, out, err) == (2, "", message + "\n")


def test_command_not_found_exits_127():
    rc, out, err = run_launcher(["-n", "2", "--", "/nonexistent/esperf-command"])
    assert rc == 127
    assert err == "launch: cannot start '/nonexistent/esperf-command': No such file or directory\n"
