"""The interface every env keeps, as a ``typing.Protocol`` (like gymnax's ``Environment``).

Only what the policy (``envs.policy``) and the rollouts (``envs.rollout``) rely on is
part of it: the static sizes the MLP is built from, the episode limit, and the pure
``reset``/``step`` pair. Unlike gymnax, an env here is a frozen dataclass whose
constants are its fields (no separate ``EnvParams``), ``step`` takes no key (both
envs are deterministic given the state), and ``step`` is elementwise, so states
whose fields carry leading batch dims step at once.
"""
from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

import jax

EnvState = TypeVar("EnvState")


@runtime_checkable
class Env(Protocol[EnvState]):
    """A pure JAX environment with gymnasium's dynamics and limits.

    Attributes:
      name: the registry name (``envs.names()``), gymnasium's id.
      obs_size: length of the float32 observation vector (the policy's input size).
      action_size: the number of discrete actions, or the length of a continuous action
        (the policy's output size).
      discrete: True if an action is an int index in [0, action_size) (the policy takes
        the argmax of its logits), False if it is a float vector of ``action_size``.
      max_steps: gymnasium's TimeLimit: ``step`` reports truncated when the step
        counter reaches it (the default episode length).
    """

    name: str
    obs_size: int
    action_size: int
    discrete: bool
    max_steps: int

    def reset(self, key: jax.Array) -> tuple[jax.Array, EnvState]:
        """A random initial state.

        Args:
          key: a PRNG key (raw or typed).

        Returns:
          ``(obs, state)``: obs (obs_size,) float32, and the state (a NamedTuple of
          scalar arrays with a step counter ``t`` = 0).
        """
        ...

    def step(self, state: EnvState, action: jax.Array) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array]:
        """One step, elementwise over any leading batch dims of ``state`` and ``action``.

        Args:
          state: the current state.
          action: an int (discrete) or a float array of shape (..., action_size).

        Returns:
          ``(obs, state, reward, terminated, truncated)``: obs (..., obs_size) float32,
          reward float32, terminated and truncated bool (truncated: t >= max_steps).
        """
        ...
