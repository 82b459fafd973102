"""A (1, lambda)-ES: the example strategy of docs/plugins.md, and protocol breakers for the tests."""
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp


class State(NamedTuple):
    mean: jax.Array
    best_member: jax.Array
    best_fitness: jax.Array
    generation: jax.Array


@dataclass(frozen=True)
class GreedyES:
    """The mean jumps to the generation's best member; sigma stays fixed."""

    num_dims: int
    popsize: int
    sigma_init: float = 0.1
    name: str = "greedy_es"

    def init(self, key, mean):
        mean = jnp.asarray(mean, jnp.float32)
        return State(mean, mean, jnp.float32(jnp.inf), jnp.int32(0))

    def ask(self, key, state):
        z = jax.random.normal(key, (self.popsize, self.num_dims), jnp.float32)
        return state.mean + self.sigma_init * z, state

    def tell(self, state, x, fitness):
        fitness = jnp.where(jnp.isnan(fitness), jnp.inf, fitness)  # NaN counts as the worst
        i = jnp.argmin(fitness)
        better = fitness[i] < state.best_fitness
        return State(x[i], jnp.where(better, x[i], state.best_member),
                     jnp.minimum(fitness[i], state.best_fitness), state.generation + 1)


@dataclass(frozen=True)
class NoTell:
    """A strategy that forgot ``tell``."""

    num_dims: int
    popsize: int
    sigma_init: float = 0.1
    name: str = "no_tell"

    def init(self, key, mean):
        return GreedyES(self.num_dims, self.popsize).init(key, mean)

    def ask(self, key, state):
        return GreedyES(self.num_dims, self.popsize).ask(key, state)


@dataclass(frozen=True)
class OneShort(GreedyES):
    """``ask`` returns one member fewer than popsize."""

    def ask(self, key, state):
        x, state = super().ask(key, state)
        return x[1:], state


def greedy_factory(num_dims, popsize, sigma_init=0.05, **options):
    """A factory function (not a class): what ``module:attr`` may name as well."""
    return GreedyES(num_dims, popsize, sigma_init, **options)
