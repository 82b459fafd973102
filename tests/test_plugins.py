"""A user's strategy and env by name (bench.plugins): ``module:attr`` and entry points, the
protocol checks when the grid is built, and ``pytest bench`` / ``bench.train`` on them.

The plugin package is ``tests/plugin_pkg`` (not part of esperf); its entry points come from a
dist-info folder written into a temporary folder on ``sys.path`` / ``PYTHONPATH``, which
``importlib.metadata`` reads as it reads any installed package's.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bench.plugins.checks import check_env, check_strategy
from bench.plugins.resolve import ENV, STRATEGY, make_env, make_strategy, resolve
from helpers import PY, ROOT, TESTS, TINY, child_env, grid_options, run, run_bench

GREEDY = "plugin_pkg.strategy:GreedyES"
POINT = "plugin_pkg.env:PointMass"
NOT_INSTALLED = "plugin_pkg (not installed: no version)"


def write_dist(folder) -> str:
    """An installed-package record of ``esperf-plugin-demo 0.1`` with esperf entry points; the folder."""
    info = folder / "esperf_plugin_demo-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: esperf-plugin-demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[esperf.strategies]\ngreedy_es = plugin_pkg.strategy:GreedyES\n\n"
        "[esperf.envs]\nPointMass-v0 = plugin_pkg.env:PointMass\n")
    (info / "top_level.txt").write_text("plugin_pkg\n")
    return str(folder)


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """The demo package's entry points visible to this process (its sys.path)."""
    path = write_dist(tmp_path / "site")
    monkeypatch.syspath_prepend(path)
    return path


def test_module_attr_names_a_class_or_a_factory():
    from plugin_pkg.strategy import GreedyES

    plugin = resolve(STRATEGY, GREEDY)
    assert plugin.factory is GreedyES and plugin.source == NOT_INSTALLED
    es = make_strategy(GREEDY, num_dims=7, popsize=12)
    assert (es.num_dims, es.popsize, es.sigma_init) == (7, 12, 0.1)  # no sigma_init given: the plugin's default
    assert make_strategy(GREEDY, num_dims=7, popsize=12, sigma_init=0.3).sigma_init == 0.3
    assert make_strategy("plugin_pkg.strategy:greedy_factory", num_dims=3, popsize=4).sigma_init == 0.05
    assert make_env(POINT).max_steps == 50 and resolve(ENV, POINT).source == NOT_INSTALLED
    assert resolve(STRATEGY, "cma_es").source == "builtin" and resolve(ENV, "CartPole-v1").source == "builtin"


def test_entry_points_are_found_with_their_package_and_version(installed):
    from plugin_pkg.env import PointMass
    from plugin_pkg.strategy import GreedyES

    strategy, env = resolve(STRATEGY, "greedy_es"), resolve(ENV, "PointMass-v0")
    assert strategy.factory is GreedyES and env.factory is PointMass
    assert strategy.source == env.source == "esperf-plugin-demo 0.1"
    check_strategy("greedy_es", 14, 8)
    assert check_env("PointMass-v0") == PointMass()


def test_without_the_package_the_entry_point_name_is_unknown():
    with pytest.raises(ValueError, match="unknown strategy 'greedy_es'; choose one of cma_es, openai_es"):
        resolve(STRATEGY, "greedy_es")


@pytest.mark.parametrize("kind, name, needles", [
    (STRATEGY, "cmaes", ["'cmaes'", "cma_es", "simple_ga", "evosax:<name>", "module:attr"]),
    (STRATEGY, "evosax:NoSuchES", ["'evosax:NoSuchES'", "evosax:SNES", "evosax:Sep_CMA_ES", "evosax:CMA_ES"]),
    (ENV, "gymnax:Acrobot-v0", ["'gymnax:Acrobot-v0'", "gymnax:Acrobot-v1", "gymnax:Breakout-MinAtar"]),
    (STRATEGY, "no_such_module:ES", ["'no_such_module:ES'", "cannot import module 'no_such_module'", "PYTHONPATH"]),
    (STRATEGY, "plugin_pkg.strategy:Nope", ["module 'plugin_pkg.strategy' has no attribute 'Nope'"]),
    (ENV, "plugin_pkg.env:jnp", ["'plugin_pkg.env:jnp'", "not a class or factory"]),
])
def test_a_name_that_does_not_resolve_says_what_is_allowed(kind, name, needles):
    library = name.partition(":")[0]
    if library in ("evosax", "gymnax") and importlib.util.find_spec(library) is None:
        # without the peers extra the adapter's name says what to install instead of its choices
        needles = [f"{library} is not installed", 'pip install -e ".[peers]"']
    with pytest.raises(ValueError) as err:
        resolve(kind, name)
    for needle in needles:
        assert needle in str(err.value), str(err.value)


@pytest.mark.parametrize("check, needles", [
    (lambda: check_strategy("plugin_pkg.strategy:NoTell", 5, 8),
     ["'plugin_pkg.strategy:NoTell'", NOT_INSTALLED, "strategies.api.Strategy", "NoTell misses tell"]),
    (lambda: check_strategy("plugin_pkg.strategy:OneShort", 5, 8),
     ["OneShort", "ask returns a population of shape (7, 5)", "(8, 5)"]),
    (lambda: check_strategy(GREEDY, 5, 8, learning_rate=0.1),
     ["building it with num_dims=5, popsize=8 failed", "learning_rate"]),
    (lambda: check_env("plugin_pkg.env:NotElementwise"),
     ["'plugin_pkg.env:NotElementwise'", "not elementwise", "(2,)", "(2, 2)"]),
])
def test_the_protocol_check_names_the_plugin_and_what_is_wrong(check, needles):
    with pytest.raises(ValueError) as err:
        check()
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_the_grid_checks_plugins_with_the_policy_size_of_each_env():
    from bench.plugin.grid import build_cases

    cases = build_cases(grid_options(es_strategies=f"{GREEDY},cma_es", es_envs=f"{POINT},Pendulum-v1", es_pops="6",
                                     es_evals="2", es_hidden="4", es_devices="cpu:0"), {"cpu:0": {"id": "cpu:0"}})
    assert {(c.strategy, c.env) for c in cases} == {(s, e) for s in (GREEDY, "cma_es") for e in (POINT, "Pendulum-v1")}
    assert {c.id for c in cases if c.strategy == "cma_es" and c.env == "Pendulum-v1"} == {
        "compile-cma_es-Pendulum-v1-pop6-evals2-cpu:0", "runtime-cma_es-Pendulum-v1-pop6-evals2-cpu:0"}
    assert f"runtime-{GREEDY}-{POINT}-pop6-evals2-cpu:0" in {c.id for c in cases}
    # the evosax peer is esperf's own strategies and envs written in evosax + gymnax: no peer of a plugin
    with_peer = build_cases(grid_options(es_strategies=f"{GREEDY},cma_es", es_envs=f"{POINT},Pendulum-v1", es_pops="6",
                                         es_evals="2", es_hidden="4", es_impls="esperf,evosax", es_devices="cpu:0"),
                            {"cpu:0": {"id": "cpu:0"}})
    assert {(c.strategy, c.env) for c in with_peer if c.impl == "evosax"} == {("cma_es", "Pendulum-v1")}
    assert len([c for c in with_peer if c.impl == "esperf"]) == len(cases)
    with pytest.raises(ValueError, match=r"--es-strategies: strategy 'plugin_pkg.strategy:NoTell' .* misses tell"):
        build_cases(grid_options(es_strategies="plugin_pkg.strategy:NoTell", es_pops="6"), {"cpu:0": {"id": "cpu:0"}})


@pytest.mark.integration
def test_the_workload_rolls_out_a_plugin_env_as_its_own_step_loop():
    from bench.workload import Workload
    from envs.rollout import rollout

    wl = Workload(strategy=GREEDY, env=POINT, popsize=4, evals=3, hidden=5, episode_length=20)
    state = wl.init(jax.random.key(0))
    x, k_eval, _ = wl.ask(state)
    got = wl.evaluate(x, k_eval)
    env, keys = PointMassRef(), jax.random.split(k_eval, 3)
    want = [np.mean([float(rollout(env, wl.policy, x[i], k, 20)) for k in keys]) for i in range(4)]
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)
    nxt, returns = jax.jit(wl.generation)(state)
    assert int(nxt.es_state.generation) == 1 and returns.shape == (4,)
    # GreedyES's tell: the mean is the member with the best (highest) return
    x1, _, _ = jax.jit(wl.ask)(state)
    np.testing.assert_array_equal(np.asarray(nxt.es_state.mean), np.asarray(x1[int(jnp.argmax(returns))]))


def PointMassRef():
    from plugin_pkg.env import PointMass

    return PointMass()


@pytest.mark.integration
def test_pytest_bench_writes_rows_of_the_names_as_given(tmp_path):
    site = write_dist(tmp_path / "site")
    args = ["--es-strategies", f"{GREEDY},greedy_es", "--es-envs", "PointMass-v0", "--es-pops", "16", "--es-evals", "2",
            "--es-episode-length", "10", "--es-hidden", "4", "--es-runtime-rounds", "3"]
    proc, data = run_bench(tmp_path, *args, devices=1, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS), site]))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {(b["extra_info"]["phase"], b["extra_info"]["strategy"]): b["extra_info"] for b in data["benchmarks"]}
    assert set(rows) == {(p, s) for p in ("compile", "runtime") for s in (GREEDY, "greedy_es")}
    for (phase, strategy), info in rows.items():
        assert info["env"] == "PointMass-v0" and info["env_source"] == "esperf-plugin-demo 0.1"
        # module:attr too: the installed package holds plugin_pkg (its top_level.txt)
        assert info["strategy_source"] == "esperf-plugin-demo 0.1"
        assert info["env_steps"] == 16 * 2 * 10
    names = {b["name"] for b in data["benchmarks"]}
    # the default devices: the whole CPU, the plugin's population sharded over its cores
    assert f"test_generation[runtime-{GREEDY}-PointMass-v0-pop16-evals2-cpu:all]" in names


@pytest.mark.integration
@pytest.mark.parametrize("strategy, needle", [
    ("plugin_pkg.strategy:NoTell", "NoTell misses tell"),
    ("no_such_module:ES", "cannot import module 'no_such_module'"),
    ("evosax:NoSuchES", "evosax:SNES"),
])
def test_a_bad_plugin_is_a_usage_error_in_one_line(tmp_path, strategy, needle):
    if strategy.startswith("evosax:") and importlib.util.find_spec("evosax") is None:
        needle, strategy = 'evosax is not installed', "--es-strategies"  # the line names the option and the fix
    proc, _ = run_bench(tmp_path, "--es-strategies", strategy if strategy != "--es-strategies" else "evosax:NoSuchES",
                        "--es-pops", "8", timeout=300)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if strategy in line]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.integration
def test_train_runs_a_plugin_strategy_on_a_plugin_env(tmp_path):
    cmd = [PY, "-m", "bench.train", "--strategy", GREEDY, "--env", POINT, "--popsize", "8", "--evals", "2",
           "--generations", "4", "--log-every", "2", "--hidden", "4", "--final-episodes", "4"]
    proc = run(cmd, 300, cwd=ROOT, env=child_env(tests=True, JAX_PLATFORMS="cpu"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["strategy"] == GREEDY and result["strategy_source"] == NOT_INSTALLED
    assert result["env_source"] == NOT_INSTALLED and result["env_steps"] == 8 * 2 * 50 * 4
    bad = run([PY, "-m", "bench.train", "--strategy", "plugin_pkg.strategy:NoTell"], 300, cwd=ROOT,
              env=child_env(tests=True, JAX_PLATFORMS="cpu"))
    assert bad.returncode == 2 and "NoTell misses tell" in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


@pytest.mark.integration
def test_a_pytest_process_that_measures_nothing_checks_plugins_on_its_cpu_only():
    # a plugin's import may start jax's backends (gymnax's does); on a GPU host the pytest process
    # would take the GPU's memory: after checks_on_cpu only the CPU's starts
    code = ("import jax; from bench.plugins.checks import checks_on_cpu; checks_on_cpu(); "
            "before = jax.config.jax_platforms; import jax.numpy as jnp; jnp.zeros(1).block_until_ready(); "
            "from jax._src import xla_bridge; print(before, sorted(xla_bridge._backends))")
    proc = run([PY, "-c", code], 120, cwd=ROOT, env=child_env(drop=("JAX_PLATFORMS",)))
    assert proc.returncode == 0 and proc.stdout.split() == ["cpu", "['cpu']"], proc.stdout + proc.stderr
    started = ("import jax, jax.numpy as jnp; jnp.zeros(1).block_until_ready(); from bench.plugins.checks import "
               "checks_on_cpu; checks_on_cpu(); print(repr(jax.config.jax_platforms))")
    proc = run([PY, "-c", started], 120, cwd=ROOT, env=child_env(drop=("JAX_PLATFORMS",)))
    assert proc.returncode == 0 and proc.stdout.split() in (["None"], ["''"]), proc.stdout + proc.stderr  # too late: left alone


@pytest.mark.integration
def test_the_report_draws_plugin_rows_beside_builtin_ones(tmp_path):
    """``python -m reports`` keys and draws a plugin's rows by their names, as any strategy's."""
    import pandas as pd

    from reports import report as report_command

    data = json.loads((ROOT / "tests" / "fixtures" / "results" / "laptop.json").read_text())
    for b in data["benchmarks"]:
        info = b["extra_info"]
        if info["strategy"] == "openai_es":
            b["name"] = b["name"].replace("openai_es", "evosax:SNES").replace("Pendulum-v1", "gymnax:Acrobot-v1")
            info.update(strategy="evosax:SNES", env="gymnax:Acrobot-v1", strategy_source="evosax 0.3.2",
                        env_source="gymnax 1.0.1")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "laptop.json").write_text(json.dumps(data))
    assert report_command.main([str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    plugin = summary[summary["strategy"] == "evosax:SNES"]
    assert set(summary["strategy"]) == {"cma_es", "evosax:SNES"} and len(plugin) == 12
    assert set(plugin["env"]) == {"gymnax:Acrobot-v1"} and set(plugin["strategy_source"]) == {"evosax 0.3.2"}
    html = (tmp_path / "out" / "report.html").read_text()
    assert "gymnax:Acrobot-v1" in html and "cma_es" in html
