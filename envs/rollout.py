"""Episode returns of MLP policies, as one ``lax.scan`` over time.

``rollout`` is the definition: one policy, one episode. ``population_returns`` is the
same computation for a whole population on shared episodes, written directly on
batched arrays -- the envs' ``step`` is elementwise, so state fields of shape
(popsize, evals) step at once (``fix_carry_shapes``), and the policy is a batched
matrix product over all episodes of all members. A test proves it equals
``vmap(vmap(rollout))``. With ``pop_chunk`` it evaluates the population in blocks, one
after another (a ``lax.map``), so that a large population's per-step arrays need not
leave the cache; the returns are the same bit for bit.

``env`` is any ``envs.base.Env``: only its ``reset``/``step`` are used here.

An episode's return sums rewards up to and including the step that terminates or
truncates it; the scan still runs all ``length`` steps (fixed shapes, no early exit),
masking rewards after the end.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.base import Env
from envs.policy import MLPPolicy


def _check_length(env: Env, length: int) -> int:
    if not isinstance(length, int) or isinstance(length, bool) or length <= 0:
        raise ValueError(f"episode_length={length!r} is not allowed; it must be a positive int")
    return length


def episode_step(env: Env, policy: MLPPolicy, params):
    """The scan body: one policy + env step on carry ``(state, obs, ret, alive)``.

    Works for any leading batch shape of ``obs``/``state`` that ``params`` broadcasts
    against: the envs' ``step`` is elementwise and the policy is batched matmuls.
    """

    def step(carry, _):
        state, obs, ret, alive = carry
        action = policy.action(params, obs)
        obs, state, reward, terminated, truncated = env.step(state, action)
        ret = ret + jnp.where(alive, reward, 0.0)
        # The ending step's reward counts; everything after it does not.
        alive = alive & ~(terminated | truncated)
        return (state, obs, ret, alive), None

    return step


def start_carry(state, obs):
    """Initial scan carry: zero returns, every episode alive."""
    batch = obs.shape[:-1]
    return (state, obs, jnp.zeros(batch, jnp.float32), jnp.ones(batch, bool))


def fix_carry_shapes(step, carry):
    """Broadcast each leaf of ``carry`` to the shape ``step`` gives it, until none changes.

    A scan's carry must keep its shapes. Population rollouts start from shared (evals,)
    episodes: a leaf that the members' parameters reach (the pendulum's angle, the
    observation, the returns) widens to (popsize, evals), but a leaf they never reach
    keeps its small shape -- the step counter, and the alive mask of an env that never
    terminates, stay (evals,): arrays the loop need not compute or copy per member.
    Shapes only grow under broadcasting, so this settles within a few rounds.
    """
    for _ in range(len(jax.tree.leaves(carry)) + 1):
        out = jax.eval_shape(lambda c: step(c, None)[0], carry)
        if all(a.shape == o.shape for a, o in zip(jax.tree.leaves(carry), jax.tree.leaves(out))):
            return carry
        carry = jax.tree.map(lambda a, o: jnp.broadcast_to(a, o.shape), carry, out)
    raise AssertionError("the carry's shapes did not settle")  # unreachable: each round grows a shape


def _scan_returns(env: Env, policy: MLPPolicy, params, carry, length: int, unroll: int) -> jax.Array:
    """Scan ``length`` steps from ``carry`` (shapes the step keeps) and return the summed rewards."""
    step = episode_step(env, policy, params)
    (_, _, ret, _), _ = jax.lax.scan(step, carry, None, length=length, unroll=unroll)
    return ret


def rollout(env: Env, policy: MLPPolicy, flat_params: jax.Array, key: jax.Array, length: int) -> jax.Array:
    """Return of one episode of ``length`` steps for one flat float32 parameter vector."""
    length = _check_length(env, length)
    obs, state = env.reset(key)
    return _scan_returns(env, policy, policy.unflatten(flat_params), start_carry(state, obs), length, unroll=1)


# Members a block holds at least: XLA drops a size-1 batch dimension, and the program of a
# one-member block is then another program (jaxlib 0.8.1 sums its matrix products in another
# order: a last-bit difference that the chaotic pendulum grows), so its returns would not be
# the whole population's bit for bit.
MIN_BLOCK = 2


def population_blocks(popsize: int, pop_chunk: int | None) -> tuple[int, int]:
    """(blocks, members per block) of a population evaluated ``pop_chunk`` members at a time.

    ``pop_chunk`` None (or at least ``popsize``) is one block of the whole population. Else
    the population is cut into ``ceil(popsize / pop_chunk)`` equal blocks of at most
    ``pop_chunk`` members: the last block is padded by fewer members than there are blocks,
    not by up to ``pop_chunk - 1``. A block holds at least :data:`MIN_BLOCK` members.
    """
    if pop_chunk is not None and (not isinstance(pop_chunk, int) or isinstance(pop_chunk, bool) or pop_chunk <= 0):
        raise ValueError(f"pop_chunk={pop_chunk!r} is not allowed; it must be a positive int or None")
    if pop_chunk is None or max(pop_chunk, MIN_BLOCK) >= popsize:
        return 1, popsize
    blocks = -(-popsize // max(pop_chunk, MIN_BLOCK))
    return blocks, -(-popsize // blocks)


def population_returns(
    env: Env,
    policy: MLPPolicy,
    flat_params: jax.Array,
    keys: jax.Array,
    length: int,
    unroll: int = 1,
    pop_chunk: int | None = None,
) -> jax.Array:
    """Returns of every member on every shared episode: shape (popsize, evals).

    ``flat_params`` is (popsize, num_params) float32; ``keys`` are the (evals,) episode
    keys that every member meets (common random numbers). Equal to
    ``vmap(vmap(rollout, (None, 0)), (0, None))`` but batched by hand, so the policy is
    fused broadcast arithmetic plus one batched matmul, and the env state is a set of
    (popsize, evals) arrays (or (evals,) where the members cannot change it).

    ``pop_chunk`` (None: the whole population at once) evaluates the population in blocks
    of at most that many members (:func:`population_blocks`), one block after another
    (a ``lax.map``), each block scanning all its episode steps: a step's working set is then
    (block, evals, hidden) instead of (popsize, evals, hidden) and can stay in a cache
    where the whole population's would not. Members do not interact, so the returns are
    the same, bit for bit (the padding members of the last block are dropped).
    """
    length = _check_length(env, length)
    if flat_params.ndim != 2:
        raise ValueError(f"flat_params has shape {flat_params.shape}; expected (popsize, {policy.num_params})")
    popsize = flat_params.shape[0]
    blocks, size = population_blocks(popsize, pop_chunk)

    starts = jax.vmap(env.reset)(keys)  # the shared episodes' start, once for every block

    def block_returns(block_params):
        params, carry = _block_carry(env, policy, block_params, starts)
        returns = _scan_returns(env, policy, params, carry, length, unroll)
        return jnp.broadcast_to(returns, (block_params.shape[0], keys.shape[0]))

    if blocks == 1:
        return block_returns(flat_params)
    padded = jnp.pad(flat_params, ((0, blocks * size - popsize), (0, 0)))  # zero members, dropped below
    returns = jax.lax.map(block_returns, padded.reshape(blocks, size, -1))
    return returns.reshape(blocks * size, keys.shape[0])[:popsize]


def population_carry(env: Env, policy: MLPPolicy, flat_params: jax.Array, keys: jax.Array):
    """Batched policy parameters and the start carry of the shared episodes ``keys``.

    Every member starts from the same (evals,) reset states (common random numbers);
    ``fix_carry_shapes`` widens to (popsize, evals) exactly the leaves the members reach.
    """
    return _block_carry(env, policy, flat_params, jax.vmap(env.reset)(keys))


def _block_carry(env: Env, policy: MLPPolicy, flat_params: jax.Array, starts):
    """:func:`population_carry` from the shared episodes' reset ``starts`` = (obs, state)."""
    p = policy.unflatten(flat_params)
    # First-layer weights and biases broadcast over the episode axis; the second layer
    # is one batched matmul (pop, evals, hidden) @ (pop, hidden, out).
    p = p._replace(w1=p.w1[:, None], b1=p.b1[:, None, :], b2=p.b2[:, None, :])
    obs, state = starts
    return p, fix_carry_shapes(episode_step(env, policy, p), start_carry(state, obs))
