"""The workload, defined once: shapes, common random numbers, fitness sign, bad input."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import strategies
from bench.workload import Workload
from envs.rollout import rollout


def test_generation_shapes_and_state_carry():
    wl = Workload(strategy="cma_es", env="Pendulum-v1", popsize=6, evals=3, hidden=5, episode_length=10)
    state = wl.init(jax.random.key(0))
    nxt, returns = jax.jit(wl.generation)(state)
    assert returns.shape == (6,)
    assert wl.env_steps == 6 * 3 * 10
    assert wl.num_params == (3 + 1) * 5 + (5 + 1) * 1
    assert int(nxt.es_state.generation) == 1
    assert not np.array_equal(np.asarray(nxt.es_state.mean), np.asarray(state.es_state.mean))
    # the key advances: the next generation meets new episodes
    assert not np.array_equal(jax.random.key_data(nxt.key), jax.random.key_data(state.key))


def test_all_members_meet_the_same_episodes():
    wl = Workload(strategy="openai_es", env="Pendulum-v1", popsize=4, evals=5, hidden=3, episode_length=20)
    x = jnp.tile(jnp.linspace(-1, 1, wl.num_params), (4, 1))  # identical members
    returns = wl.evaluate(x, jax.random.key(7))
    np.testing.assert_array_equal(np.asarray(returns), np.full(4, float(returns[0])))
    other = wl.evaluate(x, jax.random.key(8))
    assert float(other[0]) != float(returns[0])


def test_tell_gets_negated_returns():
    wl = Workload(strategy="cma_es", env="Pendulum-v1", popsize=6, evals=1, hidden=2, episode_length=2)
    state = wl.init(jax.random.key(0))
    x, _, after_ask = wl.ask(state)
    returns = jnp.arange(6.0)
    told = wl.tell(after_ask, x, returns)
    # the best member is the one with the HIGHEST return
    np.testing.assert_array_equal(np.asarray(told.es_state.best_member), np.asarray(x[5]))
    assert float(told.es_state.best_fitness) == -5.0


@pytest.mark.parametrize("name", strategies.names())
def test_every_strategy_runs_a_jitted_generation(name):
    wl = Workload(strategy=name, env="CartPole-v1", popsize=8, evals=2, hidden=4, episode_length=15)
    state = wl.init(jax.random.key(1))
    _, returns = jax.jit(wl.generation)(state)
    # the same members, each on the same episodes, rolled out one by one (envs.rollout.rollout)
    x, k_eval, _ = wl.ask(state)
    keys = jax.random.split(k_eval, wl.evals)
    one = lambda flat, key: rollout(wl.env_obj, wl.policy, flat, key, wl.episode_length)  # noqa: E731
    expected = jax.vmap(lambda flat: jax.vmap(lambda k: one(flat, k))(keys).mean())(x.astype(jnp.float32))
    np.testing.assert_allclose(np.asarray(returns), np.asarray(expected), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(popsize=0), "popsize=0"),
        (dict(evals=-1), "evals=-1"),
        (dict(hidden=0), "hidden=0"),
        (dict(episode_length=0), "episode_length=0"),
        (dict(strategy="cmaes"), "cmaes"),
        (dict(env="Pendulum-v0"), "Pendulum-v0"),
    ],
)
def test_bad_workload_is_a_clear_error(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        Workload(**kwargs)


def test_compile_time_does_not_grow_with_popsize():
    """The jaxpr of a generation has the same size at pop 10 and pop 10 000: nothing unrolls."""
    sizes = []
    for pop in (10, 10_000):
        wl = Workload(strategy="cma_es", popsize=pop, evals=2, hidden=4, episode_length=5)
        state = wl.init(jax.random.key(0))
        # one " = " per equation, sub-jaxprs included (line wrapping varies with shapes)
        sizes.append(str(jax.make_jaxpr(wl.generation)(state)).count(" = "))
    assert sizes[0] == sizes[1], sizes


def test_generation_fn_on_a_one_device_mesh_equals_the_plain_generation():
    """The sharded path (constraints, shardings, placement) on the one device this process has."""
    from bench.multi import sharding

    wl = Workload(strategy="simple_ga", env="Pendulum-v1", popsize=6, evals=2, hidden=3, episode_length=5)
    state = wl.init(jax.random.key(3))
    ref_state, ref_returns = jax.jit(wl.generation_fn())(state)
    mesh = sharding.pop_mesh(jax.devices()[:1])
    in_s, out_s = sharding.generation_shardings(mesh)
    new_state, returns = jax.jit(wl.generation_fn(mesh), in_shardings=in_s, out_shardings=out_s)(
        sharding.place(state, mesh)
    )
    np.testing.assert_array_equal(np.asarray(returns), np.asarray(ref_returns))
    np.testing.assert_array_equal(np.asarray(new_state.es_state.parents), np.asarray(ref_state.es_state.parents))
    assert returns.sharding.spec == sharding.pop_sharded(mesh).spec
    assert wl.generation_fn() is not wl.generation_fn()  # fresh functions: a new jit cache entry each


@pytest.mark.integration
@pytest.mark.parametrize("strategy", ["cma_es", "openai_es"])
def test_a_chunked_generation_equals_the_unchunked_one_exactly(strategy):
    """pop_chunk changes how the rollout is scheduled, not what a generation computes."""
    kwargs = dict(strategy=strategy, env="Pendulum-v1", popsize=10, evals=4, hidden=4, episode_length=50)
    whole, chunked = Workload(**kwargs), Workload(**kwargs, pop_chunk=4)
    assert chunked.pop_blocks == (3, 4) and whole.pop_blocks == (1, 10)
    state = whole.init(jax.random.key(5))
    ref_state, ref_returns = jax.jit(whole.generation)(state)
    new_state, returns = jax.jit(chunked.generation)(state)
    np.testing.assert_array_equal(np.asarray(returns), np.asarray(ref_returns))
    for a, b in zip(jax.tree.leaves(new_state.es_state), jax.tree.leaves(ref_state.es_state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_on_a_mesh_each_device_loops_over_its_own_blocks():
    """With blocks on a mesh, the block loop runs inside ``shard_map``, over each device's own
    rows (a loop over the sharded axis itself would make the partitioner gather the population);
    without blocks the mesh program has no block loop at all."""
    from dataclasses import replace

    from bench.multi import sharding

    wl = Workload(strategy="openai_es", popsize=8, evals=2, hidden=3, episode_length=5, pop_chunk=3)
    state = jax.eval_shape(wl.init, jax.random.key(0))
    mesh = sharding.pop_mesh(jax.devices()[:1])
    text = {name: str(jax.make_jaxpr(fn)(state))
            for name, fn in (("single", wl.generation_fn()), ("mesh", wl.generation_fn(mesh)),
                             ("mesh whole", replace(wl, pop_chunk=None).generation_fn(mesh)))}
    loops = {name: t.count("scan[") for name, t in text.items()}
    assert loops["single"] == loops["mesh"] == loops["mesh whole"] + 1, loops
    inner = text["mesh"][text["mesh"].index("shard_map["):]
    assert inner.count("scan[") >= 2, "the block loop and the episode loop run inside shard_map"
    assert "shard_map[" not in text["mesh whole"]
