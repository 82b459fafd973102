"""Simple GA (Such et al. 2017): elitism, truncation selection, Gaussian mutation, sigma decay."""
from __future__ import annotations

import pytest
import jax
import jax.numpy as jnp
import numpy as np

import strategies


def sphere(x):
    return jnp.sum(x * x, axis=-1)


def test_elitism():
    """Row 0 of every population is the best member so far, unmutated; best_fitness never increases."""
    n = 6
    es = strategies.make("simple_ga", num_dims=n, popsize=16, sigma_init=0.5)
    ask, tell = jax.jit(es.ask), jax.jit(es.tell)
    state = es.init(jax.random.PRNGKey(0), jnp.full(n, 2.0))
    history = []
    improved = 0
    for i in range(40):
        x, state = ask(jax.random.PRNGKey(i), state)
        np.testing.assert_array_equal(x[0], state.best_member)
        f = sphere(x)
        new = tell(state, x, f)
        assert float(new.best_fitness) <= float(state.best_fitness)
        assert float(new.best_fitness) == float(jnp.min(jnp.append(f, state.best_fitness)))
        assert float(sphere(new.best_member)) == float(new.best_fitness)
        np.testing.assert_array_equal(new.mean, new.best_member)
        improved += float(new.best_fitness) < float(state.best_fitness)
        state = new
        history.append(float(state.best_fitness))
    assert improved >= 5  # the elite really changed along the way
    # A generation that is worse everywhere loses nothing.
    x, state = ask(jax.random.PRNGKey(99), state)
    after = tell(state, x + 100.0, jnp.full(es.popsize, 1e9))
    np.testing.assert_array_equal(after.best_member, state.best_member)
    assert float(after.best_fitness) == history[-1]
    x2, _ = ask(jax.random.PRNGKey(100), after)
    np.testing.assert_array_equal(x2[0], state.best_member)


def test_truncation_selection():
    """Parents are exactly the T best rows; every child descends from one of them."""
    n, N = 3, 40
    es = strategies.make("simple_ga", num_dims=n, popsize=N, sigma_init=1e-3, elite_ratio=0.125)
    assert es.num_parents == 5
    state = es.init(jax.random.PRNGKey(0), jnp.zeros(n))
    x = jnp.asarray(np.arange(N)[:, None] * 10.0 + np.arange(n))  # rows 10 apart
    fitness = jax.random.permutation(jax.random.PRNGKey(1), jnp.arange(N, dtype=jnp.float32))
    state = es.tell(state, x, fitness)
    top = np.argsort(np.asarray(fitness))[:5]
    assert sorted(map(tuple, np.asarray(state.parents))) == sorted(map(tuple, np.asarray(x)[top]))

    children, _ = es.ask(jax.random.PRNGKey(2), state)
    d = np.linalg.norm(np.asarray(children)[:, None, :] - np.asarray(x)[None, :, :], axis=-1)  # (N, N)
    nearest = d.argmin(axis=1)
    assert set(nearest[1:]) <= set(top)
    assert set(nearest[1:]) == set(top)  # each of the T parents was drawn
    assert np.all(d[np.arange(N), nearest] < 10 * 1e-3 * np.sqrt(n))
    # Mutation is sigma * N(0, I), not a copy.
    diff = np.asarray(children)[1:] - np.asarray(x)[nearest[1:]]
    assert 0.5e-3 < diff.std() < 1.5e-3
    np.testing.assert_array_equal(children[0], state.best_member)
    np.testing.assert_array_equal(state.best_member, x[int(np.argmin(np.asarray(fitness)))])


def test_sigma_decay():
    es = strategies.make("simple_ga", num_dims=2, popsize=4, sigma_init=1.0, sigma_decay=0.5, sigma_min=0.1)
    state = es.init(jax.random.PRNGKey(0), jnp.zeros(2))
    sigmas = []
    for i in range(5):
        x, state = es.ask(jax.random.PRNGKey(i), state)
        state = es.tell(state, x, sphere(x))
        sigmas.append(float(state.sigma))
    np.testing.assert_allclose(sigmas, [0.5, 0.25, 0.125, 0.1, 0.1])
    fixed = strategies.make("simple_ga", num_dims=2, popsize=4, sigma_init=1.0)
    s = fixed.init(jax.random.PRNGKey(0), jnp.zeros(2))
    x, s = fixed.ask(jax.random.PRNGKey(0), s)
    assert float(fixed.tell(s, x, sphere(x)).sigma) == 1.0


@pytest.mark.integration
def test_optimizes_sphere():
    n, seeds, gens = 10, 4, 200
    es = strategies.make("simple_ga", num_dims=n, popsize=100, sigma_init=0.1)

    def generation(state, key):
        x, state = es.ask(key, state)
        return es.tell(state, x, sphere(x)), None

    @jax.jit
    def solve(keys):
        states = jax.vmap(es.init)(keys, jnp.full((seeds, n), 3.0))
        run = lambda s, k: jax.lax.scan(generation, s, jax.random.split(k, gens))[0]
        return jax.vmap(run)(states, keys)

    final = solve(jax.vmap(jax.random.PRNGKey)(jnp.arange(seeds)))
    best = np.asarray(final.best_fitness)
    assert np.all(best < 0.05), best  # from f = 90
    np.testing.assert_allclose(np.asarray(sphere(final.mean)), best, rtol=1e-6)
