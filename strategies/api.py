"""The ask/tell contract every strategy keeps, as ``typing.Protocol`` classes.

In the spirit of optax's ``_src/base.py``: the protocols say what a strategy and its
state look like; nothing has to inherit from them (they are structural), and
``isinstance(es, Strategy)`` works at run time. The shared implementation of the
contract -- argument checks, NaN handling, best-so-far tracking, the generation
counter -- is ``strategies.base.StrategyBase``, which the three strategies extend.

One generation is ``x, state = es.ask(key, state)``, evaluate ``fitness`` of every
row of ``x`` (lower is better), ``state = es.tell(state, x, fitness)``.
"""
from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

import jax


@runtime_checkable
class StrategyState(Protocol):
    """The fields every strategy's state has (each state is a ``NamedTuple`` pytree).

    Attributes:
      mean: (num_dims,) array in the working dtype (the dtype of ``init``'s mean, or
        the default float for an integer mean): the centre of the search distribution
        (for ``simple_ga``: the current elite).
      best_member: (num_dims,) the best member ever told (the start mean until a
        finite fitness is seen).
      best_fitness: () its fitness; +inf until a finite fitness is seen, finite after.
      generation: () int32, the number of ``tell`` calls so far.
    """

    @property
    def mean(self) -> jax.Array: ...

    @property
    def best_member(self) -> jax.Array: ...

    @property
    def best_fitness(self) -> jax.Array: ...

    @property
    def generation(self) -> jax.Array: ...


S = TypeVar("S", bound=StrategyState)


@runtime_checkable
class Strategy(Protocol[S]):
    """A frozen, hashable configuration with pure ``init``/``ask``/``tell`` methods.

    The methods work under ``jax.jit`` (the strategy is a static argument: hashable
    and compared by value) and ``jax.vmap`` (over keys and states, e.g. seeds). Shapes
    are checked at trace time and raise ``ValueError``.

    Attributes:
      name: the registry name (``strategies.names()``).
      num_dims: n, the dimension of the search space.
      popsize: lambda, the number of rows ``ask`` returns and ``tell`` takes.
      sigma_init: the initial (or fixed) mutation step size.
    """

    name: str
    num_dims: int
    popsize: int
    sigma_init: float

    def init(self, key: jax.Array, mean: jax.Array) -> S:
        """The initial state around ``mean``.

        Args:
          key: a PRNG key (raw uint32 or typed ``jax.random.key``).
          mean: (num_dims,) start point; its dtype becomes the working dtype.

        Returns:
          The state, with ``best_fitness`` = +inf and ``generation`` = 0.
        """
        ...

    def ask(self, key: jax.Array, state: S) -> tuple[jax.Array, S]:
        """A new population.

        Args:
          key: a PRNG key; the same key and state give the same population.
          state: the current state.

        Returns:
          ``(x, state)``: x of shape (popsize, num_dims) in the working dtype, and the
          state (unchanged by the three strategies here).
        """
        ...

    def tell(self, state: S, x: jax.Array, fitness: jax.Array) -> S:
        """The state after evaluating population ``x``.

        Args:
          state: the state ``x`` was asked from.
          x: (popsize, num_dims) the evaluated members (cast to the working dtype).
          fitness: (popsize,) their fitness, lower is better; NaN and +-inf count as
            the worst value and never become ``best_fitness``.

        Returns:
          The updated state, ``generation`` one higher.
        """
        ...
