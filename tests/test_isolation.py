"""Every case in its own process: per-case memory, crashes and hangs contained, no worker left
behind, an interrupted run resumable, and a pytest process that never starts a backend.

Each test runs ``pytest bench`` in a subprocess with a deadline (``helpers.run_bench``).
"""
import json
import os
import signal
import subprocess
import time

import psutil
import pytest

import helpers
from helpers import ROOT, TINY, bench_cmd, bench_env, run_bench

RUNTIME_CPU0 = ("--es-devices", "cpu:0", "--es-phases", "runtime")


def with_pops(pops: str) -> list[str]:
    return [a if a != "8" else pops for a in TINY]


def workers_alive(tmp_path) -> list[psutil.Process]:
    """Worker processes started by this test's runs (their environment carries its tag), alive."""
    tag = str(tmp_path)
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if ("bench.isolation.worker" in " ".join(p.info["cmdline"] or []) and p.status() != psutil.STATUS_ZOMBIE
                    and p.environ().get("ESPERF_TEST_TAG") == tag):
                found.append(p)
        except psutil.Error:
            pass
    return found


@pytest.mark.integration
def test_a_small_case_after_a_large_one_reports_its_own_memory(tmp_path):
    """Peak - baseline is per case: in one process a small case would inherit the large one's peak."""
    args = [*with_pops("100000,8"), "--es-strategies", "openai_es", "--es-hidden", "64", "--es-evals", "1",
            "--es-episode-length", "2", *RUNTIME_CPU0]
    proc, data = run_bench(tmp_path, *args)
    assert proc.returncode == 0, proc.stdout[-3000:]
    need = {b["extra_info"]["popsize"]: b["extra_info"]["peak_memory_bytes"] - b["extra_info"]["baseline_memory_bytes"]
            for b in data["benchmarks"]}
    # the population alone is 100000 x 321 float32 = 128 MB, and XLA plans several such buffers
    large_xla = data["benchmarks"][0]["extra_info"]["xla_temp_bytes"]
    assert need[100000] > large_xla / 2 > 100e6
    assert need[8] < need[100000] / 2, need


@pytest.mark.integration
def test_a_worker_killed_by_sigkill_fails_its_case_only(tmp_path):
    proc, data = run_bench(tmp_path, *with_pops("16,8"), *RUNTIME_CPU0, fault="sigkill-pop16")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert [b["extra_info"]["popsize"] for b in data["benchmarks"]] == [8]
    (failed,) = data["esperf"]["failed"]
    assert failed["extra_info"]["popsize"] == 16
    assert "killed by SIGKILL (out of memory?)" in failed["error"]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not workers_alive(tmp_path)


@pytest.mark.integration
def test_a_hung_worker_is_ended_at_the_case_timeout(tmp_path):
    """With workers started as new interpreters (a forked worker's deadline is the fork server test's)."""
    # (that the other cases go on after a failed one is the SIGKILL test's)
    proc, data = run_bench(tmp_path, *with_pops("16"), *RUNTIME_CPU0, "--es-case-timeout", "5", fault="hang-pop16",
                           ESPERF_WORKER_START="interpreter")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert data["machine_info"]["workers"] == {"start": "interpreter", "why": "ESPERF_WORKER_START=interpreter"}
    assert data["benchmarks"] == []
    (failed,) = data["esperf"]["failed"]
    assert "5 s deadline (--es-case-timeout)" in failed["error"]
    assert not workers_alive(tmp_path)


@pytest.mark.integration
def test_sigterm_keeps_the_finished_cases_and_resume_completes_the_run(tmp_path):
    out = tmp_path / "out.json"
    partial = tmp_path / "out.json.partial"
    args = [*with_pops("8,10,12"), *RUNTIME_CPU0]
    proc = subprocess.Popen(bench_cmd(out, *args), cwd=ROOT, env=bench_env(ESPERF_TEST_TAG=str(tmp_path)),
                            start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            # a case is done and the next one's worker is running: interrupt now
            if partial.exists() and len(partial.read_text().splitlines()) >= 1 and workers_alive(tmp_path):
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=120)
    finally:
        helpers.kill_group(proc)
    assert proc.returncode != 0
    assert "--es-resume" in output
    assert not workers_alive(tmp_path)
    assert not out.exists()
    before = [json.loads(line) for line in partial.read_text().splitlines()]
    assert 1 <= len(before) < 3 and all(r["status"] == "passed" for r in before)

    resumed, data = run_bench(tmp_path, *args, "--es-resume")
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert f"{len(before)} deselected" in resumed.stdout
    assert [b["extra_info"]["popsize"] for b in data["benchmarks"]] == [8, 10, 12]
    by_name = {b["name"]: b for b in data["benchmarks"]}
    for r in before:  # the earlier cases' samples and workers, unchanged
        assert by_name[r["name"]]["stats"]["data"] == r["benchmark"]["stats"]["data"]
        assert by_name[r["name"]]["extra_info"]["worker_pids"] == r["benchmark"]["extra_info"]["worker_pids"]
    assert not partial.exists()


def test_resume_needs_the_json_path(tmp_path):
    cmd = [a for a in bench_cmd(tmp_path / "x.json", *TINY, "--es-resume") if not a.startswith("--benchmark-json")]
    proc = helpers.run(cmd, 120, cwd=ROOT, env=bench_env())
    assert proc.returncode == 4
    assert "--es-resume needs --benchmark-json" in proc.stderr


@pytest.mark.integration
def test_workers_fork_from_a_server_without_backend_or_thread_and_outlive_no_deadline(monkeypatch):
    """The fork server: no jax backend and one thread after its imports; a fresh child per request;
    a hung child is ended at its deadline while the server goes on; nothing is left after close."""
    from bench.case import Case
    from bench.isolation.spawners import WorkerFailed, Workers

    monkeypatch.setenv("PYTHONPATH", helpers.child_env(tests=True)["PYTHONPATH"])
    monkeypatch.setenv("ESPERF_WORKER_HOOK", "esperf_faults")
    monkeypatch.setenv("ESPERF_FAULT", "hang-pop16")
    monkeypatch.delenv("ESPERF_WORKER_START", raising=False)
    workers = Workers(blas_threads=1, start_timeout=120)
    assert workers.describe() == {"start": "fork server"}
    hung = Case(phase="compile", strategy="cma_es", env="Pendulum-v1", popsize=16, evals=2, hidden=4,
                episode_length=5, device="cpu:0")
    try:
        first = workers.run({"mode": "devices", "settings": {}}, 120)
        server = workers.server
        assert server.ready["threads"] == 1 and server.ready["backends"] == []
        with pytest.raises(WorkerFailed, match=r"ran past the 3 s deadline"):
            workers.run({"mode": "compile", "case": hung.to_json(), "settings": {}}, 3)
        second = workers.run({"mode": "devices", "settings": {}}, 120)
        assert workers.server is server and server.alive()
        assert len({first["pid"], second["pid"], server.proc.pid, os.getpid()}) == 4
        assert first["jax"]["devices"] == second["jax"]["devices"]
        children = [c.pid for c in psutil.Process(server.proc.pid).children(recursive=True)]
        assert children == [], children  # the hung child was ended and reaped
    finally:
        workers.close()
    assert helpers.gone(server.proc.pid)


def test_the_fork_server_is_optional():
    from bench.isolation.spawners import Workers

    assert Workers(blas_threads=None).describe()["start"] == "interpreter"
    assert "--es-blas-threads 0" in Workers(blas_threads=None).describe()["why"]
    assert Workers(blas_threads=1, fork=False).describe() == {"start": "interpreter"}


def test_a_fork_server_fallback_is_recorded_in_each_row_it_touched(monkeypatch):
    """A fork server that is unsafe after its imports (a thread started) gives way to fresh
    interpreters: each result, and so each row (``worker_start``, ``worker_start_why``), says so."""
    from bench.isolation import spawners

    class UnsafeServer:
        def __init__(self, start_timeout):
            self.ready = {"threads": 3, "backends": []}

        def close(self):
            pass

    monkeypatch.setattr(spawners, "ForkServer", UnsafeServer)
    monkeypatch.setattr(spawners.Interpreter, "run", lambda self, request, timeout: {"ok": True, "pid": 11})
    workers = spawners.Workers(blas_threads=1)
    assert workers.start == "fork server"  # until the first worker starts
    result = workers.run({"mode": "devices"}, 10)
    assert result["worker_start"] == "interpreter" and workers.start == "interpreter"
    assert workers.start_of([result, result]) == {
        "worker_start": "interpreter", "worker_start_why": "the fork server had 3 threads after its imports"}
    mixed = workers.start_of([{"worker_start": "fork server"}, {"worker_start": "interpreter"}])
    assert mixed["worker_start"] == "fork server, then interpreter"


def test_the_warm_up_matmul_is_a_library_gemm_size():
    """The worker's warm-up pays the GEMM library's set-up: its dot is WARM_UP_N x WARM_UP_N
    float32 (>= 128), far above XLA:GPU's rewrite threshold (a 4 x 4 dot stayed an XLA loop)."""
    import jax
    import numpy as np

    from bench.isolation import worker

    assert worker.WARM_UP_N >= 128
    x = np.linspace(0, 1, worker.WARM_UP_N ** 2, dtype=np.float32)
    text = jax.jit(worker._warm_up).lower(x).as_text()
    n = worker.WARM_UP_N
    dots = [line for line in text.splitlines() if "dot_general" in line]
    assert any(f"tensor<{n}x{n}xf32>, tensor<{n}x{n}xf32>" in line for line in dots), dots
    assert np.isfinite(float(jax.jit(worker._warm_up)(x)))


@pytest.mark.integration
def test_a_case_whose_worker_kills_the_fork_server_fails_alone(tmp_path):
    """The next case starts a new fork server."""
    proc, data = run_bench(tmp_path, *with_pops("16,8"), *RUNTIME_CPU0, fault="kill-server-pop16")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert data["machine_info"]["workers"] == {"start": "fork server"}
    assert [b["extra_info"]["popsize"] for b in data["benchmarks"]] == [8]
    (failed,) = data["esperf"]["failed"]
    assert failed["extra_info"]["popsize"] == 16
    assert "the fork server stopped" in failed["error"] and "killed by SIGKILL" in failed["error"]
    assert not workers_alive(tmp_path)
