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
    """
    n = x.shape[0]
    return jnp.matmul(shaped, x - mean) / (n * sigma * sigma)


@dataclass(frozen=True)
class OpenAIES:
    """Static configuration of OpenAI-ES; build with ``strategies.make("openai_es", ...)``."""

    num_dims: int
    popsize: int
    sigma_init: float
    learning_rate: float = 0.01
    weight_decay: float = 0.005
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    name: ClassVar[str] = "openai_es"
    options: ClassVar[tuple[str, ...]] = ("learning_rate", "weight_decay", "b1", "b2", "eps")
    default_sigma_init: ClassVar[float] = 0.02

    def __post_init__(self):
        name = self.name
        n = base.check_int(name, "num_dims", self.num_dims, 1)
        lam = base.check_int(name, "popsize", self.popsize, 1)
        if lam % 2:
            raise ValueError(
                f"{name}: popsize={lam} is not allowed; mirrored sampling needs an even popsize >= 2"
            )
        object.__setattr__(self, "num_dims", n)
        object.__setattr__(self, "popsize", lam)
        object.__setattr__(self, "sigma_init", base.check_sigma(name, self.sigma_init))
        checked = dict(
            learning_rate=base.check_float(name, "learning_rate", self.learning_rate, low=0.0, low_open=True),
            weight_decay=base.check_float(name, "weight_decay", self.weight_decay, low=0.0),
            b1=base.check_float(name, "b1", self.b1, low=0.0, high=1.0, high_open=True),
            b2=base.check_float(name, "b2", self.b2, low=0.0, high=1.0, high_open=True),
            eps=base.check_float(name, "eps", self.eps, low=0.0, low_open=True),
        )
        for key, value in checked.items():
            object.__setattr__(self, key, value)

    def optimizer(self) -> optax.GradientTransformation:
        """The Adam transformation (rebuilt on demand: it is pure and keeps the dataclass hashable)."""
        return optax.adam(self.learning_rate, b1=self.b1, b2=self.b2, eps=self.eps)

    def init(self, key: jax.Array, mean: jax.Array) -> OpenAIESState:
        """Initial state around ``mean`` with a fresh Adam state; ``key`` is unused."""
        del key
        mean = base.check_mean(self.name, mean, self.num_dims)
        return OpenAIESState(
            mean=mean,
            opt_state=self.optimizer().init(mean),
            best_member=mean,
            best_fitness=jnp.asarray(jnp.inf, mean.dtype),
            generation=jnp.asarray(0, jnp.int32),
        )

    def ask(self, key: jax.Array, state: OpenAIESState):
        """Mirrored population: rows [m + sigma eps; m - sigma eps], eps (N/2, n) ~ N(0, I)."""
        base.check_state_mean(self.name, "ask", state.mean, self.num_dims)
        eps = jax.random.normal(key, (self.popsize // 2, self.num_dims), state.mean.dtype)
        # [eps; -eps] as a broadcast product rather than a concatenate: with the rows
        # sharded over devices, each device then draws just the eps rows it needs
        # (a concatenate would all-gather eps). Multiplying by +-1 is exact.
        sign = jnp.asarray([1, -1], eps.dtype)[:, None, None]
        noise = (sign * eps).reshape(self.popsize, self.num_dims)
        return state.mean + self.sigma_init * noise, state

    def tell(self, state: OpenAIESState, x: jax.Array, fitness: jax.Array) -> OpenAIESState:
        """Centred-rank shaping, g = F^T (x - m) / (N sigma^2) + weight_decay m, one Adam descent step."""
        base.check_state_mean(self.name, "tell", state.mean, self.num_dims)
        dtype = state.mean.dtype
        x, fitness = base.check_tell_args(self.name, x, fitness, self.popsize, self.num_dims, dtype)
        shaped = centered_ranks(base.sanitize_fitness(fitness))
        grad = gradient_estimate(x, state.mean, shaped, self.sigma_init) + self.weight_decay * state.mean
        # optax descends along its input: mean <- mean - lr * adam(g).
        updates, opt_state = self.optimizer().update(grad, state.opt_state, state.mean)
        mean = optax.apply_updates(state.mean, updates)
        best_member, best_fitness = base.update_best(state.best_member, state.best_fitness, x, fitness)
        return OpenAIESState(
            mean=mean.astype(dtype),
            opt_state=opt_state,
            best_member=best_member,
            best_fitness=best_fitness,
            generation=state.generation + 1,
        )
