"""``gymnax:<env-id>``: any gymnax environment as an ``envs.base.Env``.

The adapter steps gymnax's own physics (``step_env``, with ``is_truncated`` for the time limit)
inside esperf's rollout, policy and common random numbers, so that a row of
``gymnax:Acrobot-v1`` is measured as ``Pendulum-v1`` is. What it adds, and why:

* the observation is flattened to a float32 vector (the MLP's input; MinAtar's are images);
* a discrete action space takes the argmax action (an int), a ``Box`` the policy's linear
  output reshaped to the space's shape;
* keys: esperf's ``step`` takes none, gymnax's does. ``reset(key)`` splits ``key`` into
  ``(k_reset, k_run)``, resets gymnax with ``k_reset`` and keeps ``k_run`` in the state; each
  step splits ``key, k = split(key)`` and, as gymnax's own ``step(k, ...)`` does, gives
  ``step_env`` the first half of ``split(k)``. A gymnax loop that splits its keys this way sees
  the same episodes; up to its end, gymnax's ``step`` (with its auto-reset) and this one agree
  step for step (tests/test_adapters.py). esperf's rollout needs no auto-reset: it masks the
  rewards after an episode's end, as for its own envs;
* ``step`` is elementwise over leading batch dims (``envs.base.Env``'s contract; the rollout
  steps every member's episodes at once): the state's leaves and the action are broadcast to
  their common batch shape and gymnax's step is vmapped over it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from bench.adapters import library_source

LIBRARY = "gymnax"


def _gymnax():
    try:
        import gymnax
    except ImportError as err:
        raise ValueError(f"gymnax is not installed ({err}); pip install -e \".[peers]\"") from None
    return gymnax


def source() -> str:
    """``gymnax <version>`` of the installed gymnax."""
    return library_source(LIBRARY)


def names() -> tuple[str, ...]:
    """The env ids ``gymnax:<env-id>`` takes: gymnax's registered envs."""
    return tuple(_gymnax().registered_envs)


def factory(env_id: str):
    """The factory of ``gymnax:<env_id>`` (called with no arguments).

    Raises:
      ValueError: for an id gymnax does not register, listing the ones it does.
    """
    ids = names()
    if env_id not in ids:
        raise ValueError(f"env 'gymnax:{env_id}': gymnax has no env {env_id!r}; choose one of "
                         f"{', '.join('gymnax:' + i for i in ids)}")
    return lambda: GymnaxEnv.make(env_id)


class GymnaxState(NamedTuple):
    """gymnax's state and the key of the episode's next step."""

    env_state: Any
    key: jax.Array


@dataclass(frozen=True)
class GymnaxEnv:
    """gymnax's env ``env_id`` as an ``envs.base.Env`` (module docstring).

    Attributes:
      name: ``gymnax:<env-id>``.
      obs_size: the flattened observation's length.
      action_size: the number of discrete actions, or the length of a continuous action.
      discrete: whether the action space is ``Discrete``.
      max_steps: gymnax's ``max_steps_in_episode`` (its time limit).
    """

    name: str
    obs_size: int
    action_size: int
    discrete: bool
    max_steps: int
    _env: Any = field(repr=False, compare=False)
    _params: Any = field(repr=False, compare=False)
    _action_shape: tuple = field(repr=False, compare=False)
    _state_shapes: tuple = field(repr=False, compare=False)

    @classmethod
    def make(cls, env_id: str) -> "GymnaxEnv":
        """Build gymnax's ``env_id`` with its default parameters."""
        gymnax = _gymnax()
        env, params = gymnax.make(env_id)
        obs_space, act_space = env.observation_space(params), env.action_space(params)
        discrete = hasattr(act_space, "n")
        if not discrete and not hasattr(act_space, "low"):
            raise ValueError(f"env 'gymnax:{env_id}': its action space {type(act_space).__name__} is neither "
                             "Discrete nor Box; the MLP policy cannot act in it")
        action_shape = () if discrete else tuple(act_space.shape)
        action_size = int(act_space.n) if discrete else max(1, math.prod(action_shape))
        obs_size = max(1, math.prod(tuple(obs_space.shape)))
        max_steps = int(params.max_steps_in_episode)
        partial = cls(f"{LIBRARY}:{env_id}", obs_size, action_size, discrete, max_steps, env, params, action_shape, ())
        state = jax.eval_shape(partial.reset, jax.eval_shape(lambda: jax.random.key(0)))[1]
        shapes = tuple(tuple(x.shape) for x in jax.tree.leaves(state))
        return cls(partial.name, obs_size, action_size, discrete, max_steps, env, params, action_shape, shapes)

    def reset(self, key: jax.Array) -> tuple[jax.Array, GymnaxState]:
        """gymnax's reset with the first half of ``split(key)``; the second starts the step keys.

        Returns:
          ``(obs, state)``: obs (obs_size,) float32.
        """
        k_reset, k_run = jax.random.split(key)
        obs, state = self._env.reset(k_reset, self._params)
        return jnp.ravel(obs).astype(jnp.float32), GymnaxState(state, k_run)

    def _step_one(self, state: GymnaxState, action: jax.Array):
        key, k = jax.random.split(state.key)
        k_step, _ = jax.random.split(k)  # gymnax's step(k) hands step_env this half
        act = action.reshape(self._action_shape)
        obs, env_state, reward, terminated, _ = self._env.step_env(k_step, state.env_state, act, self._params)
        truncated = self._env.is_truncated(env_state, self._params)
        return (jnp.ravel(obs).astype(jnp.float32), GymnaxState(env_state, key),
                jnp.asarray(reward, jnp.float32).reshape(()), jnp.asarray(terminated, bool).reshape(()),
                jnp.asarray(truncated, bool).reshape(()))

    def step(self, state: GymnaxState, action: jax.Array):
        """One step, elementwise over the leading batch dims of ``state`` and ``action``.

        Returns:
          ``(obs, state, reward, terminated, truncated)`` with the batch dims in front.
        """
        action = jnp.asarray(action)
        leaves, treedef = jax.tree.flatten(state)
        base = len(self._action_shape)
        batches = [x.shape[: x.ndim - len(s)] for x, s in zip(leaves, self._state_shapes)]
        batch = tuple(jnp.broadcast_shapes(*batches, action.shape[: action.ndim - base]))
        if not batch:
            return self._step_one(state, action)
        n = math.prod(batch)
        flat = [jnp.broadcast_to(x, batch + s).reshape((n, *s)) for x, s in zip(leaves, self._state_shapes)]
        act = jnp.broadcast_to(action, batch + self._action_shape).reshape((n, *self._action_shape))
        out = jax.vmap(self._step_one)(jax.tree.unflatten(treedef, flat), act)
        return jax.tree.map(lambda x: x.reshape(batch + x.shape[1:]), out)
