"""The MLP policy and the rollouts: layout, masking, and batched == vmap(vmap(rollout))."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.policy import MLPPolicy
from envs.rollout import population_carry, population_returns, rollout


@pytest.mark.parametrize("name", envs.names())
def test_batched_population_returns_equal_vmapped_single_rollouts(name):
    env = envs.make(name)
    policy = MLPPolicy.for_env(env, hidden=8)
    params = 0.5 * jax.random.normal(jax.random.key(1), (6, policy.num_params))
    keys = jax.random.split(jax.random.key(2), 4)
    length = 60
    batched = jax.jit(lambda p, k: population_returns(env, policy, p, k, length, unroll=4))(params, keys)
    reference = jax.jit(
        jax.vmap(jax.vmap(lambda p, k: rollout(env, policy, p, k, length), (None, 0)), (0, None))
    )(params, keys)
    assert batched.shape == (6, 4)
    np.testing.assert_allclose(np.asarray(batched), np.asarray(reference), rtol=1e-5, atol=1e-4)
    # different members and different episodes really differ (the test can fail)
    assert np.ptp(np.asarray(batched), axis=0).max() > 0 and np.ptp(np.asarray(batched), axis=1).max() > 0


def test_unflatten_layout_is_row_major_w1_b1_w2_b2():
    policy = MLPPolicy(obs_size=3, hidden=4, out_size=2, discrete=True)
    flat = jnp.arange(policy.num_params, dtype=jnp.float32)
    p = policy.unflatten(flat)
    assert policy.num_params == 3 * 4 + 4 + 4 * 2 + 2
    np.testing.assert_array_equal(p.w1, np.arange(12).reshape(3, 4))
    np.testing.assert_array_equal(p.b1, np.arange(12, 16))
    np.testing.assert_array_equal(p.w2, np.arange(16, 24).reshape(4, 2))
    np.testing.assert_array_equal(p.b2, np.arange(24, 26))


def test_discrete_action_is_argmax_with_first_index_on_ties():
    policy = MLPPolicy(obs_size=1, hidden=1, out_size=2, discrete=True)
    # w1=1, b1=0, w2=[a, b], b2=[0, 0]: logits = relu(obs) * [a, b]
    for w2, expected in (([1.0, 2.0], 1), ([2.0, 1.0], 0), ([1.0, 1.0], 0)):
        flat = jnp.array([1.0, 0.0, *w2, 0.0, 0.0])
        assert int(policy.action(policy.unflatten(flat), jnp.array([1.0]))) == expected
        logits = policy.logits(policy.unflatten(flat), jnp.array([1.0]))
        assert expected == int(jnp.argmax(logits))


def numpy_mlp(flat, obs, obs_size, hidden, out_size, relu=True):
    """An independent float64 MLP on the documented layout [W1, b1, W2, b2] (row-major).

    Returns (hidden pre-activations, output); ``relu=False`` is the broken variant.
    """
    flat, obs = np.asarray(flat, np.float64), np.asarray(obs, np.float64)
    o, h, a = obs_size, hidden, out_size
    w1 = flat[: o * h].reshape(o, h)
    b1 = flat[o * h : o * h + h]
    w2 = flat[o * h + h : o * h + h + h * a].reshape(h, a)
    b2 = flat[o * h + h + h * a :]
    assert b2.shape == (a,)
    pre = obs @ w1 + b1
    return pre, (np.maximum(pre, 0.0) if relu else pre) @ w2 + b2


def numpy_action(out, discrete):
    return np.argmax(out, axis=-1) if discrete else out


@pytest.mark.parametrize("name", ["Pendulum-v1", "CartPole-v1"])
def test_policy_action_equals_a_numpy_mlp(name):
    """The policy's action for 3-4 observation components, against a plain numpy MLP.

    Observations have both signs and distinct components, and many hidden
    pre-activations are negative, so a policy without the ReLU, or one that reads a
    single observation component for every input, gives other actions.
    """
    env = envs.make(name)
    hidden = 6
    policy = MLPPolicy.for_env(env, hidden=hidden)
    assert policy.obs_size == env.obs_size in (3, 4)
    k1, k2 = jax.random.split(jax.random.key(5))
    flats = jax.random.normal(k1, (8, policy.num_params))
    obs = 1.5 * jax.random.normal(k2, (200, env.obs_size))
    action_fn = jax.jit(lambda flat, obs: policy.action(policy.unflatten(flat), obs))
    for flat in flats:
        action = np.asarray(action_fn(flat, obs))
        pre, out = numpy_mlp(flat, obs, env.obs_size, hidden, env.action_size)
        assert (pre < 0).mean() > 0.2  # the ReLU matters
        if env.discrete:
            assert action.shape == (200,) and action.dtype == np.int32
            top2 = np.sort(out, axis=-1)[:, -2:]
            clear = (top2[:, 1] - top2[:, 0]) > 1e-4 * (1 + np.abs(top2[:, 1]))
            assert clear.mean() > 0.95
            np.testing.assert_array_equal(action[clear], numpy_action(out, True)[clear])
        else:
            assert action.shape == (200, 1) and action.dtype == np.float32
            np.testing.assert_allclose(action, out, rtol=1e-5, atol=1e-5)
    # The comparison has teeth: the reference without its ReLU, or fed only the first
    # observation component, picks clearly other actions on these inputs.
    out = np.stack([numpy_mlp(f, obs, env.obs_size, hidden, env.action_size)[1] for f in flats])
    no_relu = np.stack([numpy_mlp(f, obs, env.obs_size, hidden, env.action_size, relu=False)[1] for f in flats])
    first_only = np.broadcast_to(obs[:, :1], obs.shape)
    one_input = np.stack([numpy_mlp(f, first_only, env.obs_size, hidden, env.action_size)[1] for f in flats])
    ref = numpy_action(out, env.discrete)
    for broken in (no_relu, one_input):
        if env.discrete:
            assert (numpy_action(broken, True) != ref).mean() > 0.1
        else:
            assert np.abs(broken - ref).max() > 0.1


@pytest.mark.parametrize("out_size", [2, 3])
def test_discrete_action_equals_argmax_of_logits(out_size):
    # Two logits take a shortcut (the sign of their difference); it must pick what
    # argmax picks wherever the logits are not a float32 near-tie.
    policy = MLPPolicy(obs_size=4, hidden=32, out_size=out_size, discrete=True)
    k1, k2 = jax.random.split(jax.random.key(0))
    params = policy.unflatten(jax.random.normal(k1, (64, policy.num_params)))
    params = params._replace(w1=params.w1[:, None], b1=params.b1[:, None, :], b2=params.b2[:, None, :])
    obs = 2.0 * jax.random.normal(k2, (64, 100, 4))
    action = np.asarray(policy.action(params, obs))
    logits = np.asarray(policy.logits(params, obs))
    assert action.shape == (64, 100) and action.dtype == np.int32
    top2 = np.sort(logits, axis=-1)[..., -2:]
    clear = (top2[..., 1] - top2[..., 0]) > 1e-4 * (1 + np.abs(top2[..., 1]))
    assert clear.mean() > 0.99
    np.testing.assert_array_equal(action[clear], np.argmax(logits, axis=-1)[clear])


def test_cartpole_return_stops_at_termination_and_counts_the_terminating_step():
    env = envs.make("CartPole-v1")
    policy = MLPPolicy.for_env(env, hidden=2)
    # Zero weights, b2 favours action 1: always push right -> the pole falls in a few steps.
    flat = jnp.zeros(policy.num_params).at[-1].set(1.0)
    key = jax.random.key(3)
    ret = float(rollout(env, policy, flat, key, 200))
    # Count by hand: steps until the first terminated flag, inclusive.
    obs, state = env.reset(key)
    steps = 0
    for _ in range(200):
        obs, state, reward, terminated, truncated = env.step(state, jnp.int32(1))
        steps += 1
        if bool(terminated):
            break
    assert 1 < steps < 200
    assert ret == pytest.approx(float(steps))


def test_episode_length_limits_the_scan():
    env = envs.make("CartPole-v1")
    policy = MLPPolicy.for_env(env, hidden=2)
    flat = jnp.zeros(policy.num_params)  # ties -> action 0 always
    key = jax.random.key(0)
    assert float(rollout(env, policy, flat, key, 3)) == pytest.approx(3.0)


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_bad_episode_length_is_a_clear_error(bad):
    env = envs.make("Pendulum-v1")
    policy = MLPPolicy.for_env(env, hidden=2)
    with pytest.raises(ValueError, match="episode_length"):
        rollout(env, policy, jnp.zeros(policy.num_params), jax.random.key(0), bad)


def test_wrong_parameter_shape_is_a_clear_error():
    policy = MLPPolicy(obs_size=3, hidden=4, out_size=1, discrete=False)
    with pytest.raises(ValueError, match=r"num_params=21"):
        policy.unflatten(jnp.zeros(20))


@pytest.mark.parametrize("name, alive_shape", [("Pendulum-v1", (5,)), ("CartPole-v1", (4, 5))])
def test_carry_widens_only_what_the_population_reaches(name, alive_shape):
    # Pendulum never terminates, so its alive mask and step counter do not depend on
    # the members and stay per-episode; CartPole's termination depends on each member.
    env = envs.make(name)
    policy = MLPPolicy.for_env(env, 8)
    flat = jax.random.normal(jax.random.key(0), (4, policy.num_params))
    _, (state, obs, ret, alive) = population_carry(env, policy, flat, jax.random.split(jax.random.key(1), 5))
    assert obs.shape == (4, 5, env.obs_size) and ret.shape == (4, 5) and alive.shape == alive_shape
    assert state.t.shape == (5,)
    assert all(leaf.shape == (4, 5) for field, leaf in state._asdict().items() if field != "t")


@pytest.mark.integration
@pytest.mark.parametrize("name", envs.names())
@pytest.mark.parametrize("pop_chunk", [1, 4, 5, 11, 50])
def test_chunked_population_returns_equal_the_unchunked_ones_exactly(name, pop_chunk):
    """Blocks of ``pop_chunk`` members (11 members: 4 and 5 leave a padded last block; 11 and
    50 are one block; 1 is blocks of 2, ``MIN_BLOCK``: jaxlib 0.8.1 compiles a one-member
    program's matrix products differently) give the whole population's returns bit for bit, over 200 steps of the
    chaotic pendulum (a last-bit difference anywhere grows into the returns).

    At 3 episodes per member (an episode axis of 3) XLA:CPU's AVX-512 code rounds a few
    steps of a few members differently at different block shapes (found on the project's
    EPYC VM; exact under ``XLA_FLAGS=--xla_cpu_max_isa=AVX2``): exactness is XLA's, per
    shape, not a property the blocks can add. 4 episodes, like the grid's 1, 10 and 50, are
    exact on both ISAs."""
    env = envs.make(name)
    policy = MLPPolicy.for_env(env, hidden=8)
    params = 0.5 * jax.random.normal(jax.random.key(3), (11, policy.num_params))
    keys = jax.random.split(jax.random.key(4), 4)
    whole = jax.jit(lambda p, k: population_returns(env, policy, p, k, 200))(params, keys)
    chunked = jax.jit(lambda p, k: population_returns(env, policy, p, k, 200, pop_chunk=pop_chunk))(params, keys)
    assert chunked.shape == (11, 4)
    np.testing.assert_array_equal(np.asarray(chunked), np.asarray(whole))
    assert np.ptp(np.asarray(whole), axis=0).max() > 0  # the members differ: a block mix-up would show


def test_population_blocks_are_even_and_cover_the_population():
    from envs.rollout import population_blocks

    assert population_blocks(11, None) == (1, 11)
    assert population_blocks(11, 11) == (1, 11) == population_blocks(11, 50)
    assert population_blocks(11, 4) == (3, 4)
    assert population_blocks(11, 1) == (6, 2) == population_blocks(11, 2)  # never a one-member block
    assert population_blocks(100_000, 333) == (301, 333)
    assert population_blocks(1000, 333) == (4, 250)  # four blocks of 250, not 333 + 333 + 333 + 1
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match=f"pop_chunk={bad!r}"):
            population_blocks(10, bad)


def test_a_chunked_rollout_compiles_the_same_program_at_any_popsize():
    """The block loop is one lax.map: the jaxpr does not grow with the number of blocks."""
    env = envs.make("Pendulum-v1")
    policy = MLPPolicy.for_env(env, hidden=4)
    keys = jax.random.split(jax.random.key(0), 2)
    sizes = []
    for pop in (40, 40_000):
        params = jnp.zeros((pop, policy.num_params))
        jaxpr = jax.make_jaxpr(lambda p: population_returns(env, policy, p, keys, 5, pop_chunk=7))(params)
        sizes.append(str(jaxpr).count(" = "))
    assert sizes[0] == sizes[1], sizes
