"""OpenAI-ES (Salimans et al. 2017): mirrored sampling, centred ranks, gradient, weight decay, Adam."""
from __future__ import annotations

import pytest
import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.stats

import strategies
from strategies.openai_es import centered_ranks, gradient_estimate


def test_defaults_are_the_papers():
    es = strategies.make("openai_es", num_dims=7)
    assert (es.learning_rate, es.weight_decay, es.sigma_init) == (0.01, 0.005, 0.02)
    assert (es.b1, es.b2, es.eps) == (0.9, 0.999, 1e-8)
    assert es.popsize == 10  # 4 + floor(3 ln 7) = 9, rounded up to even


def test_mirrored_pairs():
    es = strategies.make("openai_es", num_dims=6, popsize=8, sigma_init=0.3)
    mean = jnp.arange(6.0)
    state = es.init(jax.random.PRNGKey(0), mean)
    x, _ = jax.jit(es.ask)(jax.random.PRNGKey(1), state)
    half = es.popsize // 2
    np.testing.assert_allclose(x[:half] + x[half:], 2 * np.broadcast_to(mean, (half, 6)), atol=1e-5)
    eps = (x[:half] - mean) / 0.3
    # The halves are genuine N(0, I) draws, not zeros, and pairwise distinct.
    assert np.all(np.abs(np.asarray(eps)).max(axis=1) > 0.05)
    np.testing.assert_allclose(eps, jax.random.normal(jax.random.PRNGKey(1), (half, 6)), rtol=1e-5, atol=1e-5)


def test_centered_ranks():
    f = jax.random.normal(jax.random.PRNGKey(0), (101,))
    F = np.asarray(centered_ranks(f))
    assert abs(F.sum()) < 1e-5
    assert F.min() == -0.5 and F.max() == 0.5
    assert np.argmin(F) == np.argmin(f) and np.argmax(F) == np.argmax(f)  # lower fitness = lower rank
    np.testing.assert_array_equal(np.argsort(F), np.argsort(np.asarray(f)))
    np.testing.assert_allclose(F, (scipy.stats.rankdata(f) - 1) / 100 - 0.5, atol=1e-6)
    # Ties share their average rank.
    np.testing.assert_allclose(centered_ranks(jnp.array([1.0, 1.0, 2.0, 3.0])), [-1 / 3, -1 / 3, 1 / 6, 1 / 2], atol=1e-6)
    np.testing.assert_array_equal(centered_ranks(jnp.zeros(6)), np.zeros(6))


def test_tell_is_the_formula():
    """mean' = mean + adam(1/(N sigma) sum_j (F_j^+ - F_j^-) eps_j + wd mean), computed independently."""
    with jax.enable_x64(True):
        n, N, sigma, wd, lr = 5, 12, 0.2, 0.05, 0.03
        es = strategies.make("openai_es", num_dims=n, popsize=N, sigma_init=sigma, weight_decay=wd, learning_rate=lr)
        mean = jnp.linspace(-1.0, 2.0, n)
        state = es.init(jax.random.PRNGKey(0), mean)
        ref_tx = optax.adam(lr)
        ref_opt = ref_tx.init(mean)
        ref_mean = mean
        for g in range(3):
            key = jax.random.PRNGKey(10 + g)
            x, state = es.ask(key, state)
            f = np.sin(np.asarray(x)).sum(axis=1) + np.asarray(x)[:, 0] ** 2
            state = es.tell(state, x, jnp.asarray(f))

            eps = np.asarray(jax.random.normal(key, (N // 2, n), jnp.float64))
            F = (scipy.stats.rankdata(f) - 1) / (N - 1) - 0.5
            grad = ((F[: N // 2] - F[N // 2 :])[:, None] * eps).sum(axis=0) / (N * sigma) + wd * np.asarray(ref_mean)
            upd, ref_opt = ref_tx.update(jnp.asarray(grad), ref_opt, ref_mean)
            ref_mean = optax.apply_updates(ref_mean, upd)
            np.testing.assert_allclose(state.mean, ref_mean, rtol=1e-10, atol=1e-12)
        assert state.mean.dtype == jnp.float64
        assert int(state.generation) == 3
        assert not np.allclose(state.mean, mean)


def test_adam_options_reach_the_step():
    """Each tell is a hand-written numpy Adam step (non-default b1, b2, eps, lr, weight decay)
    on the strategy's own gradient estimate; Adam's bias correction makes the first step
    independent of b1/b2, so the moments are followed over several tells."""
    with jax.enable_x64(True):
        n, N, sigma = 4, 10, 0.3
        lr, wd, b1, b2, eps = 0.07, 0.03, 0.6, 0.85, 0.05
        options = dict(learning_rate=lr, weight_decay=wd, b1=b1, b2=b2, eps=eps)
        es = strategies.make("openai_es", num_dims=n, popsize=N, sigma_init=sigma, **options)
        state = es.init(jax.random.PRNGKey(0), jnp.array([0.5, -1.0, 2.0, 0.1]))
        mean = np.asarray(state.mean)
        m = v = np.zeros(n)
        eps_effect = 0.0
        for t in range(1, 5):
            x, state = es.ask(jax.random.PRNGKey(t), state)
            f = np.asarray(jnp.sum(jnp.cos(3 * x) + x**2, axis=1))
            g = np.asarray(gradient_estimate(x, state.mean, centered_ranks(jnp.asarray(f)), sigma)) + wd * mean
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
            mean = mean - lr * m_hat / (np.sqrt(v_hat) + eps)
            without_eps = lr * m_hat / np.sqrt(v_hat)
            eps_effect = max(eps_effect, float(np.max(np.abs(without_eps - lr * m_hat / (np.sqrt(v_hat) + eps)))))
            state = es.tell(state, x, jnp.asarray(f))
            np.testing.assert_allclose(state.mean, mean, rtol=1e-12, atol=1e-14)
        # eps is not negligible here: without it a step would be this much longer.
        assert eps_effect > 1e-3 * lr


def test_step_goes_downhill_on_linear_function():
    n = 5
    a = jnp.array([3.0, -1.0, 0.5, -2.0, 1.0])
    es = strategies.make("openai_es", num_dims=n, popsize=1000, sigma_init=0.1, weight_decay=0.0, learning_rate=0.01)
    state = es.init(jax.random.PRNGKey(0), jnp.ones(n))
    x, state = es.ask(jax.random.PRNGKey(1), state)
    fitness = x @ a
    g = gradient_estimate(x, state.mean, centered_ranks(fitness), es.sigma_init)
    cosine = float(g @ a / (jnp.linalg.norm(g) * jnp.linalg.norm(a)))
    assert cosine > 0.9  # g estimates an ascent direction of f
    new = es.tell(state, x, fitness)
    step = np.asarray(new.mean - state.mean)
    assert float(step @ np.asarray(a)) < 0
    # Adam's first step is -lr * sign(g) per coordinate.
    np.testing.assert_allclose(step, -0.01 * np.sign(a), rtol=1e-3)


def test_weight_decay_shrinks_mean_on_flat_function():
    n = 4
    start = jnp.array([1.0, -2.0, 0.5, 3.0])

    def run(wd):
        es = strategies.make("openai_es", num_dims=n, popsize=10, sigma_init=0.1, weight_decay=wd, learning_rate=0.05)
        state = es.init(jax.random.PRNGKey(0), start)
        norms = []
        for i in range(10):
            x, state = es.ask(jax.random.PRNGKey(i), state)
            state = es.tell(state, x, jnp.full(es.popsize, 7.0))
            norms.append(float(jnp.linalg.norm(state.mean)))
        return state, norms

    state, norms = run(0.01)
    assert np.all(np.diff(norms) < 0) and norms[0] < float(jnp.linalg.norm(start))
    # Every coordinate moved towards 0, by roughly lr per step (Adam normalises the step).
    shrink = np.abs(np.asarray(start)) - np.abs(np.asarray(state.mean))
    assert np.all(shrink > 0.4) and np.all(shrink < 0.55), shrink
    # Without decay a flat function gives a zero gradient (ties share ranks): the mean stays put.
    state0, _ = run(0.0)
    np.testing.assert_array_equal(state0.mean, start)


@pytest.mark.integration
def test_optimizes_sphere():
    n, seeds, gens = 10, 4, 300
    es = strategies.make("openai_es", num_dims=n, popsize=50, sigma_init=0.1, learning_rate=0.05)

    def generation(state, key):
        x, state = es.ask(key, state)
        return es.tell(state, x, jnp.sum(x * x, axis=1)), None

    @jax.jit
    def solve(keys):
        states = jax.vmap(es.init)(keys, jnp.full((seeds, n), 3.0))
        run = lambda s, k: jax.lax.scan(generation, s, jax.random.split(k, gens))[0]
        return jax.vmap(run)(states, keys)

    final = solve(jax.vmap(jax.random.PRNGKey)(jnp.arange(seeds)))
    f_mean = np.sum(np.asarray(final.mean) ** 2, axis=1)
    assert np.all(f_mean < 1e-3), f_mean  # from f = 90
    assert np.all(np.asarray(final.best_fitness) < 0.1)
