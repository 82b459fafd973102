"""CartPole-v1 in pure JAX, equal to gymnasium's ``classic_control/cartpole.py``.

The state is (x, x_dot, theta, theta_dot, t); the action is 0 (push left) or 1 (push
right). One step is gymnasium's explicit Euler update (Florian 2007, eqs. 23-24)::

    temp     = (F + m_p l theta_dot^2 sin(theta)) / M
    theta_dd = (g sin(theta) - cos(theta) temp) / (l (4/3 - m_p cos^2(theta) / M))
    x_dd     = temp - m_p l theta_dd cos(theta) / M
    x' = x + tau x_dot,  x_dot' = x_dot + tau x_dd,  theta' = theta + tau theta_dot,
    theta_dot' = theta_dot + tau theta_dd

terminated when |x'| > 2.4 or |theta'| > 12 degrees; reward 1 for every step,
including the terminating one (gymnasium's default reward); gymnasium's TimeLimit
truncates at 500 steps. ``step`` is elementwise, so it also steps batched states
(fields of broadcast-compatible shapes).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from envs.trig import sincos


class CartPoleState(NamedTuple):
    x: jax.Array
    x_dot: jax.Array
    theta: jax.Array
    theta_dot: jax.Array
    t: jax.Array


@dataclass(frozen=True)
class CartPole:
    """Gymnasium's CartPole-v1 with its default constants."""

    name: str = "CartPole-v1"
    obs_size: int = 4
    action_size: int = 2
    discrete: bool = True
    max_steps: int = 500
    gravity: float = 9.8
    masscart: float = 1.0
    masspole: float = 0.1
    length: float = 0.5  # half the pole's length, as in gymnasium
    force_mag: float = 10.0
    tau: float = 0.02
    theta_threshold_radians: float = 12 * 2 * math.pi / 360
    x_threshold: float = 2.4

    def reset(self, key: jax.Array):
        """All four state variables ~ U(-0.05, 0.05)."""
        x, x_dot, theta, theta_dot = jax.random.uniform(key, (4,), jnp.float32, -0.05, 0.05)
        state = CartPoleState(x, x_dot, theta, theta_dot, jnp.zeros((), jnp.int32))
        return self.obs(state), state

    def obs(self, state: CartPoleState) -> jax.Array:
        fields = jnp.broadcast_arrays(state.x, state.x_dot, state.theta, state.theta_dot)
        return jnp.stack(fields, axis=-1).astype(jnp.float32)

    def step(self, state: CartPoleState, action: jax.Array):
        """One step; returns (obs, state, reward, terminated, truncated)."""
        total_mass = self.masspole + self.masscart
        polemass_length = self.masspole * self.length
        force = jnp.where(jnp.asarray(action) == 1, self.force_mag, -self.force_mag)
        sintheta, costheta = sincos(state.theta)
        temp = (force + polemass_length * state.theta_dot**2 * sintheta) / total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta**2 / total_mass)
        )
        xacc = temp - polemass_length * thetaacc * costheta / total_mass
        x = state.x + self.tau * state.x_dot
        x_dot = state.x_dot + self.tau * xacc
        theta = state.theta + self.tau * state.theta_dot
        theta_dot = state.theta_dot + self.tau * thetaacc
        t = state.t + 1
        new_state = CartPoleState(x, x_dot, theta, theta_dot, t)
        terminated = (
            (x < -self.x_threshold)
            | (x > self.x_threshold)
            | (theta < -self.theta_threshold_radians)
            | (theta > self.theta_threshold_radians)
        )
        reward = jnp.ones(jnp.shape(t), jnp.float32)
        return self.obs(new_state), new_state, reward, terminated, t >= self.max_steps
