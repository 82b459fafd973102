"""Mutation-only genetic algorithm of F. P. Such, V. Madhavan, E. Conti, J. Lehman,
K. O. Stanley, J. Clune, "Deep Neuroevolution: Genetic Algorithms Are a Competitive
Alternative for Training Deep Neural Networks for Reinforcement Learning",
arXiv:1712.06567 (2017), Algorithm 1 (without the re-evaluation of elite candidates:
fitness here is whatever the caller reports).

Per generation, with N = popsize and T = max(1, floor(elite_ratio * N)) parents:
  * truncation selection: the T best rows of the evaluated population become parents;
  * elitism: row 0 of the next population is the best member found so far, unmutated;
  * rows 1..N-1 are children: a parent drawn uniformly from the T, plus sigma N(0, I);
  * sigma is fixed unless ``sigma_decay`` < 1: sigma <- max(sigma * sigma_decay, sigma_min).

``state.mean`` is the current elite (the best member so far; the start point before
the first ``tell``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from strategies import base


class SimpleGAState(NamedTuple):
    """GA state: elite (``mean``), mutation strength, the T parents, best-ever tracking."""

    mean: jax.Array
    sigma: jax.Array
    parents: jax.Array  # (T, n): the truncation-selected rows of the last population
    best_member: jax.Array
    best_fitness: jax.Array
    generation: jax.Array


@dataclass(frozen=True)
class SimpleGA(base.StrategyBase):
    """Static configuration of the GA; build with ``strategies.make("simple_ga", ...)``.

    Checks, best-so-far and the generation counter are ``base.StrategyBase``'s; this
    class adds the mutation and the truncation selection.

    References:
      F. P. Such et al., "Deep Neuroevolution", arXiv:1712.06567 (2017), Algorithm 1.
    """

    elite_ratio: float = 0.1
    sigma_decay: float = 1.0
    sigma_min: float = 0.0
    name: ClassVar[str] = "simple_ga"
    options: ClassVar[tuple[str, ...]] = ("elite_ratio", "sigma_decay", "sigma_min")
    default_sigma_init: ClassVar[float] = 0.1
    min_popsize_reason: ClassVar[str] = "row 0 is the unmutated elite"
    num_parents: int = field(init=False)

    def _configure(self):
        name = self.name
        ratio = base.check_float(name, "elite_ratio", self.elite_ratio, low=0.0, high=1.0, low_open=True)
        decay = base.check_float(name, "sigma_decay", self.sigma_decay, low=0.0, high=1.0, low_open=True)
        smin = base.check_float(name, "sigma_min", self.sigma_min, low=0.0)
        self._set(elite_ratio=ratio, sigma_decay=decay, sigma_min=smin)
        self._set(num_parents=max(1, math.floor(ratio * self.popsize)))

    def _init(self, key: jax.Array, mean: jax.Array) -> SimpleGAState:
        """All T parents and the elite start at ``mean``; ``key`` is unused."""
        del key
        return SimpleGAState(
            mean=mean,
            sigma=jnp.asarray(self.sigma_init, mean.dtype),
            parents=jnp.broadcast_to(mean, (self.num_parents, self.num_dims)),
            **self._initial_best(mean),
        )

    def _ask(self, key: jax.Array, state: SimpleGAState):
        """x[0] = elite (unmutated); x[k] = parents[u_k] + sigma z_k, u_k ~ U{0..T-1}, z_k ~ N(0, I)."""
        k_parent, k_noise = jax.random.split(key)
        idx = jax.random.randint(k_parent, (self.popsize,), 0, self.num_parents)
        z = jax.random.normal(k_noise, (self.popsize, self.num_dims), state.mean.dtype)
        x = state.parents[idx] + state.sigma * z
        # Row 0 is drawn too (static shapes, no Python branching) and then replaced.
        return x.at[0].set(state.best_member), state

    def _update(self, state: SimpleGAState, x: jax.Array, f: jax.Array) -> SimpleGAState:
        """Truncation selection of the T lowest (sanitized) fitnesses; the elite; sigma decay.

        ``state.best_member`` is already this generation's best (``base.StrategyBase.tell``
        updates it first), and it becomes the elite ``mean``.
        """
        dtype = state.mean.dtype
        # argsort is stable (ties keep index order). The rows are not gathered with
        # x[order[:T]]: each member's rank is scattered to it and the members of rank
        # < T are summed into their parent slot (base.select_rows), a reduction that a
        # population sharded over devices computes without gathering it.
        order = jnp.argsort(f, stable=True)
        rank = jnp.zeros(self.popsize, jnp.int32).at[order].set(jnp.arange(self.popsize, dtype=jnp.int32))
        parents = base.select_rows(x, rank, self.num_parents)
        sigma = jnp.maximum(state.sigma * self.sigma_decay, self.sigma_min).astype(dtype)
        return state._replace(mean=state.best_member, sigma=sigma, parents=parents)
