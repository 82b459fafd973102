"""The adapters against their libraries: ``evosax:<Name>`` asks and tells what evosax's own loop
does on the same keys, ``gymnax:<env-id>`` returns what gymnax's own step loop returns."""
from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import reference

evosax, needs_evosax = reference("evosax", "evosax (extra 'peers')")
gymnax, needs_gymnax = reference("gymnax", "gymnax (extra 'peers')")

N, POP, GENERATIONS = 6, 8, 3


def sphere(x):
    return jnp.sum((x - 0.5) ** 2, axis=1)


def assert_trees_equal(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert jax.tree.structure(a) == jax.tree.structure(b) and len(la) == len(lb)
    for x, y in zip(la, lb):
        if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# distribution-based (with std_init or std_schedule), population-based, and one of several particles
@pytest.mark.integration
@needs_evosax
@pytest.mark.parametrize("name, sigma", [("SNES", 0.3), ("Sep_CMA_ES", 0.3), ("CMA_ES", None), ("Open_ES", 0.2),
                                         ("SimpleGA", 0.3), ("PSO", None), ("SV_Open_ES", None)])
def test_evosax_adapter_asks_and_tells_what_evosax_does_on_the_same_keys(name, sigma):
    import optax
    from evosax.algorithms import algorithms

    from bench.plugins.resolve import make_strategy

    es = make_strategy(f"evosax:{name}", num_dims=N, popsize=POP, sigma_init=sigma)
    mean = jnp.linspace(-1.0, 1.0, N, dtype=jnp.float32)
    key = jax.random.key(42)
    # evosax's own loop, keys split as the adapter documents
    cls = algorithms[name]
    takes_schedule = "std_schedule" in inspect.signature(cls.__init__).parameters
    kwargs = {"std_schedule": optax.constant_schedule(sigma)} if sigma is not None and takes_schedule else {}
    if name == "SV_Open_ES":
        ref = cls(population_size=POP // 2, num_populations=2, solution=jnp.zeros(N), **kwargs)
    else:
        ref = cls(population_size=POP, solution=jnp.zeros(N), **kwargs)
    params = ref.default_params
    if sigma is not None and hasattr(params, "std_init"):
        params = params.replace(std_init=sigma)
    if name in ("SimpleGA", "PSO"):
        k_init, k_pop = jax.random.split(key)
        spread = sigma if sigma is not None else 1.0
        pop = mean + spread * jax.random.normal(k_pop, (POP, N))
        state = ref.init(k_init, pop, jnp.full((POP,), jnp.inf), params)
    elif name == "SV_Open_ES":
        state = ref.init(key, jnp.broadcast_to(mean, (2, N)), params)
    else:
        state = ref.init(key, mean, params)

    ours = es.init(key, mean)
    assert_trees_equal(ours.inner, state)
    for g in range(GENERATIONS):
        k = jax.random.fold_in(jax.random.key(7), g)
        k_ask, k_tell = jax.random.split(k)
        x_ref, state = ref.ask(k_ask, state, params)
        state, _ = ref.tell(k_tell, x_ref, sphere(x_ref), state, params)
        x, ours = es.ask(k, ours)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(x_ref).reshape(POP, N))
        ours = es.tell(ours, x, sphere(x))
        assert_trees_equal(ours.inner, state)
        assert int(ours.generation) == g + 1
    best = float(jnp.min(jnp.asarray(state.best_fitness)))
    assert float(ours.best_fitness) == best and np.isfinite(best)
    if name in ("SNES", "Sep_CMA_ES", "CMA_ES", "Open_ES"):
        np.testing.assert_array_equal(np.asarray(ours.mean), np.asarray(state.mean))


@needs_evosax
def test_evosax_adapter_sets_sigma_and_options_and_refuses_unknown_ones():
    from bench.plugins.resolve import make_strategy

    es = make_strategy("evosax:SNES", num_dims=N, popsize=POP, sigma_init=0.25, lr_std_init=0.5)
    state = es.init(jax.random.key(0), jnp.zeros(N))
    np.testing.assert_allclose(np.asarray(state.inner.std), 0.25)
    assert float(state.sigma) == pytest.approx(0.25) and float(state.inner.lr_std) == pytest.approx(0.5)
    assert es.algorithm.population_size == POP and es.algorithm.num_dims == N
    with pytest.raises(ValueError, match="unknown option 'learning_rate'; choose from std_init, weights, lr_std_init"):
        make_strategy("evosax:SNES", num_dims=N, popsize=POP, learning_rate=0.1)
    with pytest.raises(ValueError, match="'evosax:PSO' has no initial step size"):
        make_strategy("evosax:PSO", num_dims=N, popsize=POP, sigma_init=0.1)
    with pytest.raises(ValueError, match="popsize 9 is not a multiple of num_populations=2"):
        make_strategy("evosax:SV_CMA_ES", num_dims=N, popsize=9)


@needs_evosax
def test_every_evosax_strategy_keeps_the_protocol_on_shapes():
    from bench.adapters.evosax import names
    from bench.plugins.checks import check_strategy

    assert {"SNES", "Sep_CMA_ES", "CMA_ES", "SimpleGA", "SV_CMA_ES", "RandomSearch"} <= set(names())
    for name in names():
        check_strategy(f"evosax:{name}", N, POP)


def gymnax_returns(env_id, policy, flat, keys, length):
    """gymnax's own loop: env.step (with its auto-reset), rewards summed until the episode ends."""
    env, params = gymnax.make(env_id)
    out = np.zeros((flat.shape[0], len(keys)))
    for i in range(flat.shape[0]):
        p = policy.unflatten(flat[i])
        for j, key in enumerate(keys):
            k_reset, key = jax.random.split(key)
            obs, state = env.reset(k_reset, params)
            ret, alive = 0.0, True
            for _ in range(length):
                key, k = jax.random.split(key)
                action = policy.action(p, jnp.ravel(obs).astype(jnp.float32))
                if not policy.discrete:
                    action = action.reshape(env.action_space(params).shape)
                obs, state, reward, terminated, truncated, _ = env.step(k, state, action, params)
                ret += float(reward) if alive else 0.0
                alive = alive and not bool(terminated | truncated)
            out[i, j] = ret
    return out


@needs_gymnax
# Acrobot pays -1 a step until it swings up (not within 40 random steps): its returns test the
# discrete path and the step count; Pendulum's and CartPole's differ between members.
@pytest.mark.parametrize("env_id, length, varies", [("Acrobot-v1", 40, False), ("Pendulum-v1", 30, True),
                                                    ("CartPole-v1", 60, True)])
def test_gymnax_adapter_returns_what_gymnax_step_loop_returns(env_id, length, varies):
    from bench.plugins.checks import check_env
    from envs.policy import MLPPolicy
    from envs.rollout import population_returns

    env = check_env(f"gymnax:{env_id}")
    policy = MLPPolicy.for_env(env, 8)
    flat = 0.8 * jax.random.normal(jax.random.key(3), (3, policy.num_params))
    keys = jax.random.split(jax.random.key(5), 2)
    got = np.asarray(jax.jit(lambda f, k: population_returns(env, policy, f, k, length))(flat, keys))
    want = gymnax_returns(env_id, policy, flat, keys, length)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
    assert (np.ptp(want) > 0) == varies  # where members differ, a loop that ignored the policy would not pass


@needs_gymnax
def test_gymnax_adapter_describes_the_spaces():
    from bench.plugins.resolve import make_env

    acrobot, pendulum, breakout = (make_env(f"gymnax:{i}") for i in ("Acrobot-v1", "Pendulum-v1", "Breakout-MinAtar"))
    assert (acrobot.obs_size, acrobot.action_size, acrobot.discrete, acrobot.max_steps) == (6, 3, True, 500)
    assert (pendulum.obs_size, pendulum.action_size, pendulum.discrete, pendulum.max_steps) == (3, 1, False, 200)
    assert breakout.obs_size == 10 * 10 * 4 and breakout.discrete  # MinAtar's image, flattened
