"""Shared pieces of the strategies: the template base class, argument validation,
fitness sanitizing, best tracking.

``StrategyBase`` implements the contract of ``strategies.api.Strategy`` once (like
evosax's one base ``tell``): its ``__post_init__`` checks num_dims, popsize and
sigma_init, its ``init``/``ask``/``tell`` check shapes and do the bookkeeping, and a
strategy supplies only its own parts (``_configure``, ``_init``, ``_ask``, ``_update``).

Everything else here is either plain Python run at ``make`` / trace time (validation:
the shapes and hyper-parameters are static, so bad input fails before anything is
compiled) or a small pure ``jnp`` function used inside every ``tell``.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from strategies.api import S


def default_popsize(num_dims: int) -> int:
    """Hansen's default population size ``4 + floor(3 ln n)``.

    Args:
      num_dims: n >= 1.

    Returns:
      lambda = 4 + floor(3 ln n).

    References:
      N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772, eq. 48.
    """
    return 4 + math.floor(3 * math.log(num_dims))


def check_int(strategy: str, name: str, value: Any, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, else a ValueError naming it and what is allowed."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{strategy}: {name}={value!r} is not allowed; it must be an int >= {minimum}")
    return int(value)


def check_float(
    strategy: str,
    name: str,
    value: Any,
    *,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite Python float in the interval [low, high] (ends open on request)."""
    lo_br, hi_br = ("(" if low_open else "["), (")" if high_open else "]")
    allowed = f"a finite number in {lo_br}{low:g}, {high:g}{hi_br}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{strategy}: {name}={value!r} is not allowed; it must be {allowed}")
    v = float(value)
    ok = math.isfinite(v)
    ok = ok and (v > low if low_open else v >= low)
    ok = ok and (v < high if high_open else v <= high)
    if not ok:
        raise ValueError(f"{strategy}: {name}={value!r} is not allowed; it must be {allowed}")
    return v


def check_sigma(strategy: str, sigma_init: Any) -> float:
    """The initial step size: a finite float > 0."""
    return check_float(strategy, "sigma_init", sigma_init, low=0.0, low_open=True)


def working_dtype(mean: jax.Array) -> jnp.dtype:
    """The dtype every array of a state uses: the mean's, or the default float for int means."""
    if jnp.issubdtype(mean.dtype, jnp.floating):
        return mean.dtype
    # An integer start point (e.g. jnp.zeros(n, int)) still searches a real space.
    return jnp.result_type(float)


def check_mean(strategy: str, mean: Any, num_dims: int) -> jax.Array:
    """``init``'s mean as a float array of shape (num_dims,) (checked at trace time)."""
    mean = jnp.asarray(mean)
    if mean.shape != (num_dims,):
        raise ValueError(
            f"{strategy}.init: mean has shape {mean.shape}; it must be (num_dims,) = ({num_dims},)"
        )
    return mean.astype(working_dtype(mean))


def check_tell_args(strategy: str, x: Any, fitness: Any, popsize: int, num_dims: int, dtype):
    """``tell``'s population and fitness, shape-checked and cast to the working dtype."""
    x = jnp.asarray(x)
    fitness = jnp.asarray(fitness)
    if x.shape != (popsize, num_dims):
        raise ValueError(
            f"{strategy}.tell: x has shape {x.shape}; it must be (popsize, num_dims) = ({popsize}, {num_dims})"
        )
    if fitness.shape != (popsize,):
        raise ValueError(f"{strategy}.tell: fitness has shape {fitness.shape}; it must be (popsize,) = ({popsize},)")
    return x.astype(dtype), fitness.astype(dtype)


def check_state_mean(strategy: str, method: str, mean: jax.Array, num_dims: int) -> None:
    """A state built for another ``num_dims`` (or a batched state outside vmap) fails loudly."""
    if mean.shape != (num_dims,):
        raise ValueError(
            f"{strategy}.{method}: state.mean has shape {mean.shape}; it must be (num_dims,) = ({num_dims},) "
            "(vmap the method over batched states)"
        )


def sanitize_fitness(fitness: jax.Array) -> jax.Array:
    """NaN, +inf and -inf all become the largest finite float: the WORST value (we minimise).

    -inf is included on purpose: an overflowing or broken evaluation must never look
    like the best member. Keeping the result finite also keeps sorting and ranking
    well defined (NaN has no order).
    """
    worst = jnp.finfo(fitness.dtype).max
    return jnp.where(jnp.isfinite(fitness), fitness, worst)


def select_rows(x: jax.Array, slots: jax.Array, num_slots: int) -> jax.Array:
    """Rows of ``x`` moved into ``num_slots`` slots: out[s] = x[k] for the row k with slots[k] == s.

    Each slot in [0, num_slots) must be named by at most one row (zeros where none
    is); rows with slots[k] >= num_slots are dropped without being read. It is a
    segment sum over the population axis (``jax.ops.segment_sum``), not an index
    gather, because a sum is what a device mesh can split: with ``x`` sharded along
    its rows, every device adds up its own rows and one all-reduce of the
    (num_slots, n) result combines them -- the (popsize, n) population is never
    gathered in one place. It is exact: a selected row is added to zeros once
    (inf and NaN entries included), and a dropped row, finite or not, never meets
    the arithmetic (unlike a one-hot product, where 0 * inf = NaN).
    """
    return jax.ops.segment_sum(x, slots, num_segments=num_slots)


def update_best(best_member, best_fitness, x, fitness):
    """Best-ever tracking: (best_member, best_fitness) after seeing population ``x``.

    ``fitness`` is the RAW fitness; non-finite values are masked to +inf so that they
    can never replace the stored best, which therefore stays +inf (initial) or finite.
    Strict ``<`` keeps the older member on ties (and ``argmin`` the lowest index).
    The member is picked with ``select_rows`` (a reduction over the population axis,
    so that a sharded population is not gathered), not ``x[i]``.
    """
    f = jnp.where(jnp.isfinite(fitness), fitness, jnp.inf)
    i = jnp.argmin(f)
    slots = jnp.where(jnp.arange(x.shape[0]) == i, 0, 1)
    member = select_rows(x, slots, 1)[0]
    better = f[i] < best_fitness
    return jnp.where(better, member, best_member), jnp.where(better, f[i], best_fitness)


def check_options(strategy: str, options: dict, allowed: tuple[str, ...]) -> None:
    """Unknown keyword options raise, naming the option and the allowed ones."""
    for key in options:
        if key not in allowed:
            choices = ", ".join(allowed) if allowed else "none"
            raise ValueError(f"unknown option {key!r} for {strategy}; allowed options: {choices}")


@dataclass(frozen=True)
class StrategyBase:
    """The shared implementation of ``strategies.api.Strategy`` (a frozen dataclass).

    A strategy is a ``@dataclass(frozen=True)`` subclass that adds its options as
    fields (with their defaults) and sets the class variables below. The template
    methods here do, in this order:

    * ``__post_init__``: num_dims (int >= 1), popsize (int >= 1, then
      ``_check_popsize``), sigma_init (finite > 0) are checked and stored as Python
      int/float; then ``_configure()`` checks the strategy's options and stores its
      derived constants.
    * ``init(key, mean)``: ``mean`` is checked and cast to the working dtype, then
      ``_init(key, mean)`` builds the state (``_initial_best(mean)`` gives the shared
      fields).
    * ``ask(key, state)``: ``state.mean`` is checked, then ``_ask(key, state)``.
    * ``tell(state, x, fitness)``: ``state.mean``, ``x`` and ``fitness`` are checked
      and ``x``/``fitness`` cast to the working dtype; best-so-far is updated from
      the raw fitness (``update_best``); ``_update(state, x, f)`` gets the state with
      that new best_member/best_fitness, the cast ``x`` and the sanitized fitness
      ``f`` (``sanitize_fitness``: NaN/inf are the worst finite value) and returns
      the state with its own fields updated; the template then sets best_member,
      best_fitness and generation + 1.

    Class variables: ``name`` (registry name), ``options`` (the keyword options
    ``make`` accepts), ``default_sigma_init``, ``min_popsize_reason`` (why popsize
    must be >= 2, quoted in the error).
    """

    num_dims: int
    popsize: int
    sigma_init: float
    name: ClassVar[str]
    options: ClassVar[tuple[str, ...]] = ()
    default_sigma_init: ClassVar[float]
    min_popsize_reason: ClassVar[str] = ""

    # -- configuration -------------------------------------------------------------------
    @classmethod
    def default_popsize(cls, num_dims: int) -> int:
        """The popsize ``make`` uses when given None: Hansen's ``4 + floor(3 ln n)`` (eq. 48)."""
        return default_popsize(num_dims)

    def __post_init__(self):
        name = self.name
        n = check_int(name, "num_dims", self.num_dims, 1)
        lam = check_int(name, "popsize", self.popsize, 1)
        self._check_popsize(lam)
        self._set(num_dims=n, popsize=lam, sigma_init=check_sigma(name, self.sigma_init))
        self._configure()

    def _check_popsize(self, popsize: int) -> None:
        """Strategy-specific popsize rule (default: >= 2); raises ValueError."""
        if popsize < 2:
            raise ValueError(
                f"{self.name}: popsize={popsize} is not allowed; it must be an int >= 2 ({self.min_popsize_reason})"
            )

    def _configure(self) -> None:
        """Check the options and store derived constants (``self._set``); default: nothing."""

    def _set(self, **values) -> None:
        """Store checked values on the frozen instance."""
        for key, value in values.items():
            object.__setattr__(self, key, value)

    # -- the template methods -------------------------------------------------------------
    def init(self, key: jax.Array, mean: jax.Array) -> S:
        """The initial state around ``mean`` (see ``strategies.api.Strategy.init``).

        Args:
          key: a PRNG key, passed to ``_init`` (the strategies here ignore it).
          mean: (num_dims,) start point; its float dtype (or the default float for an
            integer mean) becomes the working dtype.

        Returns:
          The strategy's state: best_member = mean, best_fitness = +inf, generation = 0.
        """
        return self._init(key, check_mean(self.name, mean, self.num_dims))

    def ask(self, key: jax.Array, state: S) -> tuple[jax.Array, S]:
        """A population of shape (popsize, num_dims) (see ``strategies.api.Strategy.ask``).

        Args:
          key: a PRNG key (raw uint32 or typed).
          state: a state of this strategy (unbatched: vmap over batched states).

        Returns:
          ``(x, state)``.
        """
        check_state_mean(self.name, "ask", state.mean, self.num_dims)
        return self._ask(key, state)

    def tell(self, state: S, x: jax.Array, fitness: jax.Array) -> S:
        """The state after the evaluated population (see ``strategies.api.Strategy.tell``).

        Args:
          state: the state ``x`` was asked from.
          x: (popsize, num_dims) members, cast to the working dtype.
          fitness: (popsize,) their fitness, lower is better, cast to the working dtype;
            NaN and +-inf are the worst value for the update and never the best.

        Returns:
          The updated state: the strategy's ``_update``, best-so-far, generation + 1.
        """
        check_state_mean(self.name, "tell", state.mean, self.num_dims)
        x, fitness = check_tell_args(self.name, x, fitness, self.popsize, self.num_dims, state.mean.dtype)
        best_member, best_fitness = update_best(state.best_member, state.best_fitness, x, fitness)
        told = state._replace(best_member=best_member, best_fitness=best_fitness)
        new = self._update(told, x, sanitize_fitness(fitness))
        return new._replace(best_member=best_member, best_fitness=best_fitness, generation=state.generation + 1)

    # -- what each strategy supplies ------------------------------------------------------
    def _initial_best(self, mean: jax.Array) -> dict:
        """The shared fields of an initial state: best_member, best_fitness (+inf), generation (0)."""
        return dict(
            best_member=mean,
            best_fitness=jnp.asarray(jnp.inf, mean.dtype),
            generation=jnp.asarray(0, jnp.int32),
        )

    def _init(self, key: jax.Array, mean: jax.Array) -> S:
        """The initial state from the checked, cast ``mean``."""
        raise NotImplementedError

    def _ask(self, key: jax.Array, state: S) -> tuple[jax.Array, S]:
        """``(x, state)`` from a checked state."""
        raise NotImplementedError

    def _update(self, state: S, x: jax.Array, fitness: jax.Array) -> S:
        """The strategy's own update from cast ``x`` and sanitized (finite) ``fitness``.

        ``state`` already carries this generation's best_member/best_fitness and the
        old generation; the returned state's best fields and generation are set by
        ``tell`` afterwards.
        """
        raise NotImplementedError
