"""``python -m bench.train``: progress, the closing JSON line, bad input."""
import json
import sys

import pytest

import helpers
from helpers import ROOT



def run_bounded(cmd, timeout):
    return helpers.run(cmd, timeout, cwd=ROOT)


def train(*args):
    return run_bounded([sys.executable, "-m", "bench.train", *args], timeout=900)


@pytest.mark.integration
def test_short_run_prints_progress_and_a_json_last_line():
    proc = train("--strategy", "openai_es", "--env", "CartPole-v1", "--popsize", "8", "--evals", "2",
                 "--generations", "5", "--hidden", "4", "--log-every", "2", "--final-episodes", "10")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert [line.split()[1] for line in lines if line.startswith("gen ")] == ["2", "4", "5"]
    result = json.loads(lines[-1])
    for key in ("strategy", "env", "popsize", "evals", "generations", "final_return", "best_return", "wall_s",
                "env_steps_per_s", "compile_s", "run_s", "devices"):
        assert key in result
    assert result["generations"] == 5 and result["popsize"] == 8 and result["devices"] == ["cpu:0"]
    # Throughput is over execution only: the chunks of 2 and of 1 generation were compiled
    # before the run, so compile time sits in compile_s, not in run_s: jax reported no
    # compile event inside the timed generations (a chunk compiled lazily there would).
    assert result["run_compile_events"] == 0
    assert result["env_steps"] == 8 * 2 * 500 * 5
    assert result["env_steps_per_s"] == pytest.approx(result["env_steps"] / result["run_s"])
    assert 0 < result["compile_s"] and 0 < result["run_s"] and result["compile_s"] + result["run_s"] <= result["wall_s"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--strategy", "cmaes"], "cmaes"),
        (["--env", "Pendulum-v0"], "Pendulum-v0"),
        (["--popsize", "0"], "popsize=0"),
        (["--evals", "-3"], "evals=-3"),
        (["--strategy", "openai_es", "--popsize", "7"], "7"),
        (["--generations", "0"], "generations"),
        (["--devices", "cpu:4096"], "cpu:4096 is not a visible device; visible cpu devices: cpu:0"),
        (["--devices", "cpu"], "device set 'cpu' is not allowed"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle):
    proc = train(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.integration
@pytest.mark.slow
def test_blog_command_learns_pendulum():
    """The README's CMA-ES command reaches final_return >= -200 (the blog's best member: about -120)."""
    proc = train("--strategy", "cma_es", "--env", "Pendulum-v1", "--popsize", "100", "--evals", "50",
                 "--generations", "200", "--hidden", "48", "--sigma-init", "0.5", "--seed", "0")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["final_return"] >= -200, result


@pytest.mark.integration
@pytest.mark.slow
def test_readme_openai_es_command_solves_cartpole():
    """The README's OpenAI-ES command reaches final_return >= 475 on CartPole-v1 within 200 generations."""
    proc = train("--strategy", "openai_es", "--env", "CartPole-v1", "--popsize", "100", "--evals", "10",
                 "--generations", "200", "--sigma-init", "0.1", "--option", "learning_rate=0.03", "--seed", "0")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["final_return"] >= 475, result


@pytest.mark.parametrize(
    "args, needle",
    [(["--strategies", "cmaes"], "'cmaes'"), (["--pops", "100,-1"], "-1"), (["--rounds", "0"], "--rounds=0")],
)
def test_vs_peers_bad_input_is_one_line_and_exit_2(args, needle):
    proc = run_bounded([sys.executable, "-m", "bench.vs_peers", *args], timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr, proc.stderr
