"""Classic-control environments in pure JAX, equal to gymnasium's.

>>> import envs
>>> env = envs.make("Pendulum-v1")     # env.obs_size, env.action_size, env.max_steps
>>> obs, state = env.reset(key)
>>> obs, state, reward, terminated, truncated = env.step(state, action)

``reset``/``step`` are pure and work under ``jit`` and ``vmap``; ``step`` is
elementwise, so it also steps states whose fields carry leading batch dims.

The interface is the protocol ``envs.base.Env``; the registry (``names``, ``make``)
is ``envs.registry``; the physics are ``envs.pendulum`` and ``envs.cartpole``.
"""
from __future__ import annotations

from envs.base import Env
from envs.cartpole import CartPole, CartPoleState
from envs.pendulum import Pendulum, PendulumState
from envs.registry import make, names

__all__ = ["names", "make", "Env", "Pendulum", "PendulumState", "CartPole", "CartPoleState"]
