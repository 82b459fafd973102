"""The env registry: names and ``make``, apart from the physics modules."""
from __future__ import annotations

from envs.base import Env
from envs.cartpole import CartPole
from envs.pendulum import Pendulum

_ENVS: dict[str, type] = {"Pendulum-v1": Pendulum, "CartPole-v1": CartPole}


def names() -> tuple[str, ...]:
    """The env names ``make`` accepts.

    Returns:
      ("Pendulum-v1", "CartPole-v1").
    """
    return tuple(_ENVS)


def make(name: str) -> Env:
    """The env ``name`` with gymnasium's default constants.

    Args:
      name: one of ``names()`` (gymnasium's ids).

    Returns:
      The env: a frozen dataclass with ``reset``/``step`` (``envs.base.Env``).

    Raises:
      ValueError: for an unknown name, listing the known ones.
    """
    if name not in _ENVS:
        raise ValueError(f"unknown env {name!r}; choose one of {', '.join(_ENVS)}")
    return _ENVS[name]()
