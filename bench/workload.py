"""The esperf workload, defined once: one generation of neuroevolution.

A generation asks the strategy for ``popsize`` flat MLP parameter vectors, evaluates
each on ``evals`` episodes of ``episode_length`` steps (the same episode keys for every
member: common random numbers), and tells the strategy the negated mean returns
(strategies minimise). ``bench.train``, the pytest-benchmark grid and the tests all
build their functions from :class:`Workload`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from envs.policy import MLPPolicy
from bench.plugins.resolve import make_env, make_strategy
from bench.validate import positive_int
from envs.rollout import episode_step, population_blocks, population_carry, population_returns


class GenState(NamedTuple):
    """What one generation carries to the next: the strategy state and the PRNG key."""

    es_state: Any
    key: jax.Array


@dataclass(frozen=True)
class Workload:
    """Static configuration of the generation; build functions with its methods.

    ``strategy`` and ``env`` are names as :mod:`bench.plugins.resolve` takes them: built-in
    names, ``evosax:<Name>`` / ``gymnax:<env-id>``, entry-point names or ``module:attr``.
    ``strategy_options`` are extra keyword options of ``strategies.make`` (learning
    rate, weight decay, elite ratio, ...) as a tuple of (name, value) pairs, so the
    workload stays hashable. ``unroll`` is the ``lax.scan`` unroll of the rollout.
    ``pop_chunk`` (None: the whole population at once) evaluates the population in blocks
    of at most that many members (``envs.rollout.population_returns``;
    ``bench.measure.chunking`` chooses it); ``shards`` is the number of devices a sharded
    generation splits the population over: there each device evaluates its own rows in
    blocks of ``pop_chunk``.
    """

    strategy: str = "cma_es"
    env: str = "Pendulum-v1"
    popsize: int = 100
    evals: int = 50
    hidden: int = 48
    episode_length: int | None = None
    sigma_init: float | None = None
    strategy_options: tuple = ()
    unroll: int = 1
    pop_chunk: int | None = None
    shards: int = 1
    _env: Any = field(init=False, repr=False, compare=False)
    _es: Any = field(init=False, repr=False, compare=False)
    _policy: MLPPolicy = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        positive_int("popsize", self.popsize)
        positive_int("evals", self.evals)
        positive_int("hidden", self.hidden)
        positive_int("unroll", self.unroll)
        if self.pop_chunk is not None:
            positive_int("pop_chunk", self.pop_chunk)
        positive_int("shards", self.shards)
        env = make_env(self.env)
        if self.episode_length is None:
            object.__setattr__(self, "episode_length", env.max_steps)
        positive_int("episode_length", self.episode_length)
        policy = MLPPolicy.for_env(env, self.hidden)
        es = make_strategy(
            self.strategy,
            num_dims=policy.num_params,
            popsize=self.popsize,
            sigma_init=self.sigma_init,
            **dict(self.strategy_options),
        )
        object.__setattr__(self, "_env", env)
        object.__setattr__(self, "_policy", policy)
        object.__setattr__(self, "_es", es)

    # -- static facts ---------------------------------------------------------------
    @property
    def es(self):
        return self._es

    @property
    def env_obj(self):
        return self._env

    @property
    def policy(self) -> MLPPolicy:
        return self._policy

    @property
    def num_params(self) -> int:
        return self._policy.num_params

    @property
    def env_steps(self) -> int:
        """Env steps one generation scans: popsize x evals x episode_length (every scanned step)."""
        return self.popsize * self.evals * self.episode_length

    @property
    def pop_blocks(self) -> tuple[int, int]:
        """(blocks, members per block) of one device's rollout (``envs.rollout.population_blocks``
        of its ``ceil(popsize / shards)`` rows)."""
        return population_blocks(-(-self.popsize // self.shards), self.pop_chunk)

    # -- the pure functions -----------------------------------------------------------
    def init(self, key: jax.Array) -> GenState:
        """Strategy state around a standard MLP initialisation, plus the generation key.

        The start mean is LeCun-normal weights with zero biases (``MLPPolicy.init_flat``)
        rather than zeros: at a zero mean every hidden unit is the same and the search
        must break that symmetry with noise alone (measured: the blog's CMA-ES command
        reached final_return >= -200 on 6 of 7 seeds from zeros, 8 of 8 from this init).
        """
        k_init, k_mean, k_run = jax.random.split(key, 3)
        mean = self._policy.init_flat(k_mean)
        return GenState(self._es.init(k_init, mean), k_run)

    def ask(self, state: GenState):
        """Sample the population: returns (x (popsize, num_params), episode key, GenState)."""
        key, k_ask, k_eval = jax.random.split(state.key, 3)
        x, es_state = self._es.ask(k_ask, state.es_state)
        # k_eval rides in the key slot consumed by ``evaluate``.
        return x, k_eval, GenState(es_state, key)

    def evaluate(self, x: jax.Array, key: jax.Array, evals: int | None = None, chunked: bool = True) -> jax.Array:
        """Mean return of every member over ``evals`` shared episodes: shape (popsize,).

        ``chunked``: in blocks of ``pop_chunk`` members (the same returns, bit for bit).
        """
        n = self.evals if evals is None else evals
        keys = jax.random.split(key, n)
        returns = population_returns(
            self._env, self._policy, x.astype(jnp.float32), keys, self.episode_length, self.unroll,
            pop_chunk=self.pop_chunk if chunked else None,
        )
        return returns.mean(axis=1)

    def tell(self, state: GenState, x: jax.Array, returns: jax.Array) -> GenState:
        """Update the strategy with fitness = -returns (strategies minimise)."""
        return GenState(self._es.tell(state.es_state, x, -returns), state.key)

    def generation(self, state: GenState):
        """One ask -> evaluate -> tell step: returns (next GenState, returns (popsize,))."""
        x, k_eval, state = self.ask(state)
        returns = self.evaluate(x, k_eval)
        return self.tell(state, x, returns), returns

    def sharded_generation(self, state: GenState, mesh):
        """``generation`` with the population sharded along the "pop" axis of ``mesh``.

        ``x`` and the returns are constrained to ``bench.multi.sharding.pop_sharded``: each
        device rolls out its own rows with no communication inside the episode loop,
        and ``tell``'s sums over the population become per-device partial sums plus
        small all-reduces (see :mod:`bench.multi.sharding`). Same values as ``generation``:
        the returns exactly, the next state up to the rounding of those sums. With
        ``pop_chunk`` each device evaluates its own rows in blocks (``shard_map``: a block
        loop over the sharded axis itself would make the partitioner gather the
        population onto every device).

        A population that does not split evenly over the devices (the whole CPU's cores
        are the machine's, not the user's choice) is padded with zero members to the next
        multiple: each device evaluates ``ceil(popsize / devices)`` rows, the padding's
        returns are dropped, and ``tell`` runs on the whole population on every device.
        """
        from bench.multi.sharding import constrain_population, on_own_rows

        x, k_eval, state = self.ask(state)
        pad = (-self.popsize) % mesh.size
        rows = constrain_population(jnp.pad(x, ((0, pad), (0, 0))) if pad else x, mesh)
        if self.pop_chunk is None:
            returns = self.evaluate(rows, k_eval, chunked=False)
        else:
            returns = on_own_rows(self.evaluate, mesh)(rows, k_eval)
        if pad:
            returns = returns[: self.popsize]
        else:
            x, returns = rows, constrain_population(returns, mesh)
        return self.tell(state, x, returns), returns

    def generation_fn(self, mesh=None):
        """A FRESH Python function computing one generation (a new jit cache entry each call).

        Compile benchmarks build one per round so that no round hits jax's in-memory
        caches keyed on the function object. With a ``mesh`` (``bench.multi.sharding.pop_mesh``)
        the function is ``sharded_generation`` on it; jit it with
        ``bench.multi.sharding.generation_shardings(mesh)``.
        """
        if mesh is None:

            def generation(state: GenState):
                return self.generation(state)

        else:

            def generation(state: GenState):
                return self.sharded_generation(state, mesh)

        return generation

    def scan_step_fn(self):
        """One scanned step of one block of the batched rollout and its inputs (for FLOP counting).

        A block is ``pop_blocks[1]`` members (the whole population without ``pop_chunk``).

        The carry is an argument, not a constant, so XLA cannot fold the first step's
        zero returns and all-alive mask away: the step costs what a step inside the loop does.
        The inputs are ``jax.ShapeDtypeStruct``s (lowering needs no values): building
        them op by op would compile every op of the reset, untimed, in the worker.
        """

        def example_inputs():
            x = jnp.zeros((self.pop_blocks[1], self.num_params), jnp.float32)
            keys = jax.random.split(jax.random.key(0), self.evals)
            return population_carry(self._env, self._policy, x, keys)

        def one_step(params, carry):
            return episode_step(self._env, self._policy, params)(carry, None)[0]

        return one_step, jax.eval_shape(example_inputs)

    def part_fns(self):
        """Fresh functions for the breakdown: name -> (fn, args builder from a GenState)."""

        def ask(state):
            return self.ask(state)

        def evaluate(x, key):
            return self.evaluate(x, key)

        def tell(state, x, returns):
            return self.tell(state, x, returns)

        return {"ask": ask, "eval": evaluate, "tell": tell}

    def part_args(self, state: GenState):
        """Example inputs of each breakdown part, computed from ``state`` (not timed)."""
        x, k_eval, after_ask = jax.jit(self.ask)(state)
        returns = jnp.zeros((self.popsize,), jnp.float32)
        return {"ask": (state,), "eval": (x, k_eval), "tell": (after_ask, x, returns)}
