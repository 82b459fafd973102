"""Shared pieces of the strategies: argument validation, fitness sanitizing, best tracking.

Everything here is either plain Python run at ``make`` / trace time (validation: the
shapes and hyper-parameters are static, so bad input fails before anything is
compiled) or a small pure ``jnp`` function used inside every ``tell``.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp


def default_popsize(num_dims: int) -> int:
    """Hansen's default population size ``4 + floor(3 ln n)`` (tutorial eq. 48)."""
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
