"""OpenAI-ES: T. Salimans, J. Ho, X. Chen, S. Sidor, I. Sutskever, "Evolution Strategies
as a Scalable Alternative to Reinforcement Learning", arXiv:1703.03864 (2017).

Per generation:
  * mirrored sampling: eps_1..eps_{N/2} ~ N(0, I); row i is m + sigma eps_i and row
    i + N/2 is m - sigma eps_i, so x[i] + x[i + N/2] = 2 m (N = popsize, even);
  * centred-rank fitness shaping: the rank of each fitness (0 = lowest = best),
    divided by N - 1, minus 1/2 -- values in [-1/2, 1/2] summing to 0; tied
    fitnesses get their average rank, so a flat function yields a zero gradient;
  * search-gradient estimate g = 1 / (N sigma) sum_i F_i eps_i, where eps_i of a
    mirrored row is -eps; equivalently g = 1 / (N sigma^2) F^T (x - m), which is how it
    is computed (it needs no stored noise and is exact for any ``x``);
  * L2 weight decay g <- g + weight_decay * m, and a descent step of ``optax.adam``
    on g (sigma stays fixed).

Defaults are the paper's MuJoCo settings: Adam with learning rate 0.01, L2 coefficient
0.005, sigma = 0.02.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from strategies import base


class OpenAIESState(NamedTuple):
    """OpenAI-ES search state: mean, Adam's optax state, best-ever tracking, generation."""

    mean: jax.Array
    opt_state: Any
    best_member: jax.Array
    best_fitness: jax.Array
    generation: jax.Array


def centered_ranks(fitness: jax.Array) -> jax.Array:
    """Centred ranks of ``fitness`` (lower is better): rank / (N - 1) - 1/2 in [-1/2, 1/2].

    The best (lowest) fitness gets -1/2, the worst +1/2, the values sum to 0. Ties get
    their average rank (computed with two ``searchsorted`` on the sorted values, no
    Python loop). For N = 1 the single value is 0.

    Args:
      fitness: (N,) finite fitness values (``tell`` passes sanitized ones).

    Returns:
      (N,) the shaped fitness F in the dtype of ``fitness``.

    References:
      Salimans et al. 2017 (arXiv:1703.03864): fitness shaping by a rank
      transformation (after Wierstra et al. 2014, natural evolution strategies).
    """
    n = fitness.shape[0]
    s = jnp.sort(fitness)
    lo = jnp.searchsorted(s, fitness, side="left")
    hi = jnp.searchsorted(s, fitness, side="right")
    rank = (lo + hi - 1).astype(fitness.dtype) / 2  # average 0-based rank of the tie group
    return rank / max(n - 1, 1) - 0.5 if n > 1 else jnp.zeros_like(fitness)


def gradient_estimate(x: jax.Array, mean: jax.Array, shaped: jax.Array, sigma: float) -> jax.Array:
    """g = 1 / (N sigma) sum_i F_i eps_i with eps_i = (x_i - m) / sigma, i.e. F^T (x - m) / (N sigma^2).

    It estimates the gradient of the shaped fitness (an ascent direction of f), so the
    strategy steps along -g.

    Args:
      x: (N, n) the evaluated population.
      mean: (n,) the mean it was sampled around.
      shaped: (N,) the shaped fitness F (``centered_ranks``).
      sigma: the sampling step size.

    Returns:
      (n,) the search-gradient estimate g (without weight decay).

    References:
      Salimans et al. 2017 (arXiv:1703.03864), Algorithm 1: the update
      theta <- theta + alpha / (n sigma) sum_i F_i eps_i (here with mirrored pairs).
    """
    n = x.shape[0]
    return jnp.matmul(shaped, x - mean) / (n * sigma * sigma)


@dataclass(frozen=True)
class OpenAIES(base.StrategyBase):
    """Static configuration of OpenAI-ES; build with ``strategies.make("openai_es", ...)``.

    Checks, best-so-far and the generation counter are ``base.StrategyBase``'s; this
    class adds mirrored sampling and the Adam step on the search gradient.

    References:
      T. Salimans, J. Ho, X. Chen, S. Sidor, I. Sutskever, "Evolution Strategies as a
      Scalable Alternative to Reinforcement Learning", arXiv:1703.03864 (2017).
    """

    learning_rate: float = 0.01
    weight_decay: float = 0.005
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    name: ClassVar[str] = "openai_es"
    options: ClassVar[tuple[str, ...]] = ("learning_rate", "weight_decay", "b1", "b2", "eps")
    default_sigma_init: ClassVar[float] = 0.02

    @classmethod
    def default_popsize(cls, num_dims: int) -> int:
        """Hansen's ``4 + floor(3 ln n)`` rounded up to the next even number (mirrored pairs)."""
        popsize = base.default_popsize(num_dims)
        return popsize + popsize % 2

    def _check_popsize(self, popsize: int) -> None:
        if popsize % 2:
            raise ValueError(
                f"{self.name}: popsize={popsize} is not allowed; mirrored sampling needs an even popsize >= 2"
            )

    def _configure(self):
        name = self.name
        self._set(
            learning_rate=base.check_float(name, "learning_rate", self.learning_rate, low=0.0, low_open=True),
            weight_decay=base.check_float(name, "weight_decay", self.weight_decay, low=0.0),
            b1=base.check_float(name, "b1", self.b1, low=0.0, high=1.0, high_open=True),
            b2=base.check_float(name, "b2", self.b2, low=0.0, high=1.0, high_open=True),
            eps=base.check_float(name, "eps", self.eps, low=0.0, low_open=True),
        )

    def optimizer(self) -> optax.GradientTransformation:
        """The Adam transformation (rebuilt on demand: it is pure and keeps the dataclass hashable).

        Returns:
          ``optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)``.

        References:
          D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", arXiv:1412.6980.
        """
        return optax.adam(self.learning_rate, b1=self.b1, b2=self.b2, eps=self.eps)

    def _init(self, key: jax.Array, mean: jax.Array) -> OpenAIESState:
        """Initial state around ``mean`` with a fresh Adam state; ``key`` is unused."""
        del key
        return OpenAIESState(mean=mean, opt_state=self.optimizer().init(mean), **self._initial_best(mean))

    def _ask(self, key: jax.Array, state: OpenAIESState):
        """Mirrored population: rows [m + sigma eps; m - sigma eps], eps (N/2, n) ~ N(0, I)."""
        eps = jax.random.normal(key, (self.popsize // 2, self.num_dims), state.mean.dtype)
        # [eps; -eps] as a broadcast product rather than a concatenate: with the rows
        # sharded over devices, each device then draws just the eps rows it needs
        # (a concatenate would all-gather eps). Multiplying by +-1 is exact.
        sign = jnp.asarray([1, -1], eps.dtype)[:, None, None]
        noise = (sign * eps).reshape(self.popsize, self.num_dims)
        return state.mean + self.sigma_init * noise, state

    def _update(self, state: OpenAIESState, x: jax.Array, f: jax.Array) -> OpenAIESState:
        """Centred-rank shaping, g = F^T (x - m) / (N sigma^2) + weight_decay m, one Adam descent step.

        ``x`` and the sanitized ``f`` come from ``base.StrategyBase.tell``, which also
        updates best-so-far and the generation.
        """
        dtype = state.mean.dtype
        shaped = centered_ranks(f)
        grad = gradient_estimate(x, state.mean, shaped, self.sigma_init) + self.weight_decay * state.mean
        # optax descends along its input: mean <- mean - lr * adam(g).
        updates, opt_state = self.optimizer().update(grad, state.opt_state, state.mean)
        mean = optax.apply_updates(state.mean, updates)
        return state._replace(mean=mean.astype(dtype), opt_state=opt_state)
