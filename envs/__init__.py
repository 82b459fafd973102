"""Classic-control environments in pure JAX, equal to gymnasium's.

>>> import envs
>>> env = envs.make("Pendulum-v1")     # env.obs_size, env.action_size, env.max_steps
>>> obs, state = env.reset(key)
>>> obs, state, reward, terminated, truncated = env.step(state, action)

``reset``/``step`` are pure and work under ``jit`` and ``vmap``; ``step`` is
elementwise, so it also steps states whose fields carry leading batch dims.
"""
from __future__ import annotations

from envs.cartpole import CartPole, CartPoleState
from envs.pendulum import Pendulum, PendulumState

_ENVS = {"Pendulum-v1": Pendulum, "CartPole-v1": CartPole}

__all__ = ["names", "make", "Pendulum", "PendulumState", "CartPole", "CartPoleState"]


def names() -> tuple[str, ...]:
    """The env names ``make`` accepts: ("Pendulum-v1", "CartPole-v1")."""
    return tuple(_ENVS)


def make(name: str):
    """The env ``name`` with gymnasium's default constants."""
    if name not in _ENVS:
        raise ValueError(f"unknown env {name!r}; choose one of {', '.join(_ENVS)}")
    return _ENVS[name]()
