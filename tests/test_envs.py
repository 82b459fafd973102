"""Pendulum-v1 and CartPole-v1 against gymnasium (the test-only reference)."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from helpers import reference

gym, needs_gym = reference("gymnasium", "gymnasium (the reference envs)")

RNG = np.random.default_rng(0)
N = 1000


def gym_env(name):
    env = gym.make(name)
    env.reset(seed=0)
    return env


def jax_step(env):
    return jax.jit(env.step)


# ------------------------------------------------------------------ Pendulum
def pendulum_states(n):
    theta = RNG.uniform(-4 * np.pi, 4 * np.pi, n)
    theta_dot = np.concatenate([RNG.uniform(-8, 8, n - 20), [8.0, -8.0, 7.99, -7.99] * 5])
    action = RNG.uniform(-3, 3, n)  # beyond +-2: the clip is tested too
    return theta, theta_dot, action


@needs_gym
def test_pendulum_one_step_matches_gymnasium():
    env, ref = envs.make("Pendulum-v1"), gym_env("Pendulum-v1")
    step = jax_step(env)
    theta, theta_dot, action = pendulum_states(N)
    state = envs.PendulumState(jnp.float32(theta), jnp.float32(theta_dot), jnp.zeros(N, jnp.int32))
    obs, new, reward, term, trunc = jax.vmap(step)(state, jnp.float32(action)[:, None])
    errs = {"theta": 0.0, "theta_dot": 0.0, "obs": 0.0, "reward": 0.0}
    for i in range(N):
        ref.unwrapped.state = np.array([np.float32(theta[i]), np.float32(theta_dot[i])], dtype=np.float64)
        o, r, te, tr, _ = ref.step(np.array([np.float32(action[i])]))
        errs["theta"] = max(errs["theta"], abs(float(new.theta[i]) - ref.unwrapped.state[0]))
        errs["theta_dot"] = max(errs["theta_dot"], abs(float(new.theta_dot[i]) - ref.unwrapped.state[1]))
        errs["obs"] = max(errs["obs"], float(np.max(np.abs(np.asarray(obs[i]) - o))))
        errs["reward"] = max(errs["reward"], abs(float(reward[i]) - r))
        assert bool(term[i]) == te
    assert errs["theta"] <= 3e-5 and errs["theta_dot"] <= 1e-5, errs
    assert errs["obs"] <= 2e-5 and errs["reward"] <= 1e-4, errs
    assert obs.dtype == jnp.float32 and reward.dtype == jnp.float32
    assert not bool(jnp.any(trunc))


@needs_gym
def test_pendulum_trajectory_matches_gymnasium_for_25_steps():
    env, ref = envs.make("Pendulum-v1"), gym_env("Pendulum-v1")
    step = jax_step(env)
    worst = 0.0
    for trial in range(20):
        theta0, thdot0 = np.float32(RNG.uniform(-np.pi, np.pi)), np.float32(RNG.uniform(-1, 1))
        actions = RNG.uniform(-2, 2, 25).astype(np.float32)
        ref.unwrapped.state = np.array([theta0, thdot0], dtype=np.float64)
        state = envs.PendulumState(jnp.float32(theta0), jnp.float32(thdot0), jnp.int32(0))
        for a in actions:
            obs, state, r, _, _ = step(state, jnp.array([a]))
            o, r_ref, _, _, _ = ref.step(np.array([a]))
        worst = max(worst, float(np.max(np.abs(np.asarray(obs) - o))),
                    abs(float(state.theta) - ref.unwrapped.state[0]),
                    abs(float(state.theta_dot) - ref.unwrapped.state[1]))
    assert worst <= 1e-4, worst


@needs_gym
def test_pendulum_truncates_at_200_like_timelimit():
    env, ref = envs.make("Pendulum-v1"), gym.make("Pendulum-v1")
    ref.reset(seed=1)
    obs, state = env.reset(jax.random.key(0))
    step = jax_step(env)
    for t in range(1, 201):
        _, state, _, term, trunc = step(state, jnp.zeros(1))
        _, _, te_ref, tr_ref, _ = ref.step(np.zeros(1, np.float32))
        assert bool(trunc) == tr_ref == (t == 200) and bool(term) == te_ref is False


# ------------------------------------------------------------------ CartPole
def cartpole_states(n):
    # wide ranges, many near the termination thresholds
    x = np.concatenate([RNG.uniform(-2.6, 2.6, n // 2), RNG.choice([-1, 1], n - n // 2) * RNG.uniform(2.3, 2.45, n - n // 2)])
    th_lim = 12 * 2 * math.pi / 360
    theta = np.concatenate([RNG.uniform(-0.25, 0.25, n // 2), RNG.choice([-1, 1], n - n // 2) * RNG.uniform(th_lim - 0.01, th_lim + 0.01, n - n // 2)])
    RNG.shuffle(theta)
    return (x, RNG.uniform(-3, 3, n), theta, RNG.uniform(-3, 3, n), RNG.integers(0, 2, n))


@needs_gym
def test_cartpole_one_step_matches_gymnasium():
    env, ref = envs.make("CartPole-v1"), gym_env("CartPole-v1")
    step = jax_step(env)
    x, x_dot, theta, theta_dot, action = cartpole_states(N)
    f32 = [np.float32(v) for v in (x, x_dot, theta, theta_dot)]
    state = envs.CartPoleState(*map(jnp.asarray, f32), jnp.zeros(N, jnp.int32))
    obs, new, reward, term, trunc = jax.vmap(step)(state, jnp.int32(action))
    worst_state = worst_obs = worst_r = 0.0
    n_term = 0
    for i in range(N):
        ref.unwrapped.state = np.array([v[i] for v in f32], dtype=np.float64)
        ref.unwrapped.steps_beyond_terminated = None
        o, r, te, tr, _ = ref.step(int(action[i]))
        ours = np.array([float(new.x[i]), float(new.x_dot[i]), float(new.theta[i]), float(new.theta_dot[i])])
        worst_state = max(worst_state, float(np.max(np.abs(ours - ref.unwrapped.state))))
        worst_obs = max(worst_obs, float(np.max(np.abs(np.asarray(obs[i]) - o))))
        worst_r = max(worst_r, abs(float(reward[i]) - r))
        assert bool(term[i]) == te, (i, ours, ref.unwrapped.state)
        n_term += te
    assert worst_state <= 1e-5 and worst_obs <= 2e-5 and worst_r <= 1e-6, (worst_state, worst_obs, worst_r)
    assert 100 < n_term < N - 100  # both flags really occur


@needs_gym
def test_cartpole_trajectory_matches_gymnasium_for_50_steps():
    env, ref = envs.make("CartPole-v1"), gym_env("CartPole-v1")
    step = jax_step(env)
    worst, compared = 0.0, 0
    for trial in range(20):
        s0 = RNG.uniform(-0.05, 0.05, 4).astype(np.float32)
        ref.unwrapped.state = s0.astype(np.float64)
        ref.unwrapped.steps_beyond_terminated = None
        state = envs.CartPoleState(*map(jnp.float32, s0), jnp.int32(0))
        for t in range(50):
            # a balancing controller keeps the pole up long enough to compare 50 steps
            a = int(ref.unwrapped.state[2] + 0.5 * ref.unwrapped.state[3] > 0)
            obs, state, r, te, _ = step(state, jnp.int32(a))
            o, r_ref, te_ref, _, _ = ref.step(a)
            assert bool(te) == te_ref and float(r) == r_ref
            if te_ref:
                break
        compared += t == 49
        worst = max(worst, float(np.max(np.abs(np.asarray(obs) - o))))
    assert compared >= 15 and worst <= 1e-5, (compared, worst)


@needs_gym
def test_cartpole_truncates_at_500_like_timelimit():
    env = envs.make("CartPole-v1")
    _, state = env.reset(jax.random.key(0))
    state = state._replace(t=jnp.int32(498))
    _, state, _, _, trunc = env.step(state, jnp.int32(0))
    assert not bool(trunc)
    _, state, _, _, trunc = env.step(state, jnp.int32(0))
    assert bool(trunc) and int(state.t) == 500 == gym.make("CartPole-v1").spec.max_episode_steps


# ------------------------------------------------------------------ both
@pytest.mark.parametrize("name, low, high", [("Pendulum-v1", [-np.pi, -1.0], [np.pi, 1.0]),
                                             ("CartPole-v1", [-0.05] * 4, [0.05] * 4)])
def test_reset_distribution_matches_gymnasium_bounds(name, low, high):
    env = envs.make(name)
    obs, state = jax.vmap(env.reset)(jax.random.split(jax.random.key(0), 20_000))
    fields = np.stack([np.asarray(f) for f in state[:-1]], axis=1)
    low, high = np.array(low), np.array(high)
    assert np.all(fields >= low) and np.all(fields <= high)
    span = high - low
    assert np.all(fields.min(0) < low + 0.01 * span) and np.all(fields.max(0) > high - 0.01 * span)
    np.testing.assert_allclose(fields.mean(0), 0.0, atol=0.01 * span.max())
    np.testing.assert_allclose(fields.std(0), span / np.sqrt(12), rtol=0.02)
    assert obs.dtype == jnp.float32 and obs.shape == (20_000, env.obs_size)
    assert np.all(np.asarray(state.t) == 0)


@pytest.mark.parametrize("name", envs.names())
def test_batched_state_step_equals_vmap(name):
    env = envs.make(name)
    obs, state = jax.vmap(env.reset)(jax.random.split(jax.random.key(3), 35))
    state = jax.tree.map(lambda a: a.reshape(7, 5), state)
    if env.discrete:
        action = jax.random.randint(jax.random.key(4), (7, 5), 0, 2)
    else:
        action = jax.random.uniform(jax.random.key(4), (7, 5, 1), minval=-2, maxval=2)
    batched = jax.jit(env.step)(state, action)
    mapped = jax.jit(jax.vmap(jax.vmap(env.step)))(state, action)
    for a, b in zip(jax.tree.leaves(batched), jax.tree.leaves(mapped)):
        assert a.shape == b.shape and a.dtype == b.dtype
        # equal up to float rounding: XLA may contract a*b+c into an FMA in one and not the other
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    assert batched[0].shape == (7, 5, env.obs_size)


@needs_gym
def test_spaces_match_gymnasium():
    for name in envs.names():
        env, ref = envs.make(name), gym.make(name)
        assert env.obs_size == ref.observation_space.shape[0]
        assert env.max_steps == ref.spec.max_episode_steps
        if env.discrete:
            assert env.action_size == ref.action_space.n
        else:
            assert env.action_size == ref.action_space.shape[0]


def test_envs_follow_the_env_protocol():
    for name in envs.names():
        env = envs.make(name)
        assert isinstance(env, envs.Env) and env.name == name
        obs, state = env.reset(jax.random.key(0))
        assert obs.shape == (env.obs_size,)


def test_unknown_env_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown env 'Pendulum-v0'; choose one of Pendulum-v1, CartPole-v1"):
        envs.make("Pendulum-v0")
    assert envs.names() == ("Pendulum-v1", "CartPole-v1")
