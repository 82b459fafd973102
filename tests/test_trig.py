"""envs.trig.sincos against float64 numpy, and the envs' use of it."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.trig import sincos


def reference(x):
    x64 = np.asarray(x, np.float32).astype(np.float64)
    return np.sin(x64), np.cos(x64)


@pytest.mark.parametrize("bound", [np.pi / 4, np.pi, 100.0, 1e4])
def test_sincos_error_is_at_float32_rounding(bound):
    x = np.random.default_rng(0).uniform(-bound, bound, 200_000).astype(np.float32)
    s, c = jax.jit(sincos)(x)
    s_ref, c_ref = reference(x)
    assert np.max(np.abs(np.asarray(s, np.float64) - s_ref)) <= 1e-7
    assert np.max(np.abs(np.asarray(c, np.float64) - c_ref)) <= 1e-7
    assert s.dtype == c.dtype == jnp.float32


def test_sincos_quadrant_edges_and_signs():
    # multiples of pi/4 on both sides of every quadrant boundary, and the exact zeros
    k = np.arange(-16, 17)
    x = np.concatenate([k * np.pi / 4, k * np.pi / 4 + 1e-6, k * np.pi / 4 - 1e-6, [0.0, -0.0]]).astype(np.float32)
    s, c = sincos(x)
    s_ref, c_ref = reference(x)
    np.testing.assert_allclose(np.asarray(s), s_ref, rtol=0, atol=1e-7)
    np.testing.assert_allclose(np.asarray(c), c_ref, rtol=0, atol=1e-7)
    assert float(sincos(jnp.float32(0.0))[0]) == 0.0 and float(sincos(jnp.float32(0.0))[1]) == 1.0


def test_sincos_of_non_finite_is_nan():
    s, c = sincos(jnp.array([np.inf, -np.inf, np.nan], jnp.float32))
    assert np.all(np.isnan(np.asarray(s))) and np.all(np.isnan(np.asarray(c)))


@pytest.mark.parametrize("name", envs.names())
def test_env_step_lowers_without_libm_sin_or_cos(name):
    # XLA:CPU calls scalar libm for sine/cosine ops; the envs' steps must be plain
    # arithmetic so the rollout's step fuses into vector code.
    env = envs.make(name)
    obs, state = env.reset(jax.random.key(0))
    action = jnp.zeros((env.action_size,)) if not env.discrete else jnp.int32(0)
    hlo = jax.jit(env.step).lower(state, action).as_text()
    reset_hlo = jax.jit(env.reset).lower(jax.random.key(0)).as_text()
    for text in (hlo, reset_hlo):
        assert "stablehlo.sine" not in text and "stablehlo.cosine" not in text
