"""A point mass pushed towards 0: a minimal ``envs.base.Env`` (elementwise ``step``), and a breaker."""
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp


class PointState(NamedTuple):
    x: jax.Array
    v: jax.Array
    t: jax.Array


@dataclass(frozen=True)
class PointMass:
    name: str = "PointMass-v0"
    obs_size: int = 2
    action_size: int = 1
    discrete: bool = False
    max_steps: int = 50
    dt: float = 0.1

    def reset(self, key):
        s = PointState(jax.random.uniform(key, (), jnp.float32, -1.0, 1.0), jnp.float32(0.0), jnp.int32(0))
        return self._obs(s), s

    def step(self, state, action):
        u = jnp.clip(action[..., 0], -1.0, 1.0)
        v = state.v + self.dt * u
        x = state.x + self.dt * v
        s = PointState(x, v, state.t + 1)
        return self._obs(s), s, -(x * x) - 0.01 * u * u, jnp.abs(x) > 5.0, s.t >= self.max_steps

    def _obs(self, s):
        x, v = jnp.broadcast_arrays(s.x, s.v)
        return jnp.stack([x, v], axis=-1)


@dataclass(frozen=True)
class NotElementwise(PointMass):
    """``step`` that flattens its state: right for one state, wrong for a batch of them."""

    def step(self, state, action):
        obs, s, r, term, trunc = super().step(state, action)
        return obs.reshape(-1)[:2], s, r, term, trunc
