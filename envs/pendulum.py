"""Pendulum-v1 in pure JAX, equal to gymnasium's ``classic_control/pendulum.py``.

The state is (theta, theta_dot, t); the action is a torque of shape (1,), clipped to
+-max_torque. One step (gymnasium's ``PendulumEnv.step``)::

    u       = clip(action, -2, 2)
    cost    = angle_normalize(theta)^2 + 0.1 theta_dot^2 + 0.001 u^2
    thdot'  = clip(theta_dot + (3 g / (2 l) sin(theta) + 3 / (m l^2) u) dt, -8, 8)
    theta'  = theta + thdot' dt
    reward  = -cost

never terminates; gymnasium's TimeLimit truncates at 200 steps. Observations are
float32 ``[cos theta, sin theta, theta_dot]``. ``step`` is elementwise, so it also
steps a batch of states whose fields have broadcast-compatible leading dims
(action (..., 1)).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from envs.trig import sincos


class PendulumState(NamedTuple):
    theta: jax.Array
    theta_dot: jax.Array
    t: jax.Array


def angle_normalize(x: jax.Array) -> jax.Array:
    """Map an angle to [-pi, pi): gymnasium's ``((x + pi) % (2 pi)) - pi``.

    Written as ``y - 2 pi floor(y / 2 pi)``: XLA lowers ``%`` to a scalar fmod whose
    cost grows with |x| (a spinning pendulum's angle grows without bound; measured
    12x slower at |x| ~ 1e4 than at 1), while floor is one vector instruction. Where
    rounding puts a value on the other side of +-pi, the result differs by 2 pi, which
    the cost's square of it does not see.
    """
    y = x + jnp.pi
    return y - (2 * jnp.pi) * jnp.floor(y / (2 * jnp.pi)) - jnp.pi


@dataclass(frozen=True)
class Pendulum:
    """Gymnasium's Pendulum-v1 with its default constants (g = 10)."""

    name: str = "Pendulum-v1"
    obs_size: int = 3
    action_size: int = 1
    discrete: bool = False
    max_steps: int = 200
    max_speed: float = 8.0
    max_torque: float = 2.0
    dt: float = 0.05
    g: float = 10.0
    m: float = 1.0
    l: float = 1.0  # noqa: E741 -- gymnasium's name for the pole length

    def reset(self, key: jax.Array):
        """theta ~ U(-pi, pi), theta_dot ~ U(-1, 1) (gymnasium's default reset bounds)."""
        high = jnp.array([jnp.pi, 1.0], jnp.float32)
        theta, theta_dot = jax.random.uniform(key, (2,), jnp.float32, -high, high)
        state = PendulumState(theta, theta_dot, jnp.zeros((), jnp.int32))
        return self.obs(state), state

    def obs(self, state: PendulumState) -> jax.Array:
        sin, cos = sincos(state.theta)
        return jnp.stack(jnp.broadcast_arrays(cos, sin, state.theta_dot), axis=-1).astype(jnp.float32)

    def step(self, state: PendulumState, action: jax.Array):
        """One step; returns (obs, state, reward, terminated, truncated)."""
        action = jnp.asarray(action)
        u = jnp.clip(action[..., 0], -self.max_torque, self.max_torque).astype(jnp.float32)
        th, thdot = state.theta, state.theta_dot
        cost = angle_normalize(th) ** 2 + 0.1 * thdot**2 + 0.001 * u**2
        new_thdot = thdot + (3 * self.g / (2 * self.l) * sincos(th)[0] + 3.0 / (self.m * self.l**2) * u) * self.dt
        new_thdot = jnp.clip(new_thdot, -self.max_speed, self.max_speed)
        new_th = th + new_thdot * self.dt
        t = state.t + 1
        new_state = PendulumState(new_th, new_thdot, t)
        terminated = jnp.zeros(jnp.shape(t), bool)
        return self.obs(new_state), new_state, -cost, terminated, t >= self.max_steps
