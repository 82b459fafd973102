"""``evosax:<Name>``: any evosax strategy as a ``strategies.api.Strategy``.

The adapter runs evosax's own ``init``/``ask``/``tell`` -- the algorithm a user of evosax runs --
inside esperf's workload (its MLP policy, its rollouts, its common random numbers, its
harness), so a row of ``evosax:SNES`` stands beside ``cma_es`` on equal terms. ``<Name>`` is a
key of ``evosax.algorithms.algorithms`` (evosax's own registry).

What the adapter adds, and why:

* keys: esperf's ``tell`` takes no key, evosax's does. ``ask(key, state)`` splits ``key`` into
  ``(k_ask, k_tell)``, asks evosax with ``k_ask`` and keeps ``k_tell`` in the state for
  ``tell``: an evosax loop that splits its keys the same way gives the same populations and
  states, bit for bit (tests/test_adapters.py).
* the start: a distribution-based algorithm starts at the workload's mean
  (``init(key, mean, params)``); a population-based one (GAs, DE, PSO) from
  ``mean + spread * N(0, I)`` drawn with the second half of ``split(key)`` (the first goes to
  evosax's ``init``), with fitness +inf (not evaluated yet), ``spread`` being ``sigma_init``,
  else the algorithm's ``std_init``, else 1.0. ``SV_CMA_ES`` / ``SV_Open_ES`` start
  ``num_populations`` (option, default 2) particles at the mean, each of popsize /
  num_populations members. ``RandomSearch`` draws members from N(0, sigma_init^2 I)
  (sigma_init default 1.0: evosax needs a sampling function and has none by default).
* ``sigma_init``: given, it sets the algorithm's ``std_init`` parameter and/or its constant
  ``std_schedule``; not given, evosax's own defaults stay. An algorithm with neither (e.g. PSO)
  refuses a sigma_init.
* options: a field of the algorithm's ``Params`` (e.g. ``lr_std_init``) replaces that parameter;
  a constructor argument with a plain default (e.g. ``use_antithetic_sampling``) is passed to
  the constructor. Fitness reaches evosax unchanged (its own fitness shaping applies).
* the state's ``mean`` is evosax's mean (the particles' average for SV), or for a
  population-based algorithm the member with the best shaped fitness; ``best_member`` /
  ``best_fitness`` / ``generation`` are evosax's ``best_solution`` / ``best_fitness`` /
  ``generation_counter`` (the start mean until a finite fitness is seen); ``sigma`` the mean
  of evosax's ``std`` (NaN where it has none).
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from bench.adapters import library_source

LIBRARY = "evosax"
# constructor arguments the adapter sets itself, or that are not plain values
_RESERVED = ("self", "population_size", "solution", "num_populations", "sampling_fn", "std_schedule")
SV_POPULATIONS = 2  # default num_populations of SV_CMA_ES and SV_Open_ES


def _algorithms() -> dict:
    try:
        from evosax.algorithms import algorithms
    except ImportError as err:
        raise ValueError(f"evosax is not installed ({err}); pip install -e \".[peers]\"") from None
    return algorithms


def source() -> str:
    """``evosax <version>`` of the installed evosax."""
    return library_source(LIBRARY)


def names() -> tuple[str, ...]:
    """The strategies ``evosax:<Name>`` takes: evosax's registry keys."""
    return tuple(_algorithms())


def factory(name: str):
    """The factory of ``evosax:<name>``: called as ``f(num_dims=, popsize=, sigma_init=, **options)``.

    Raises:
      ValueError: for a name evosax does not have, listing the ones it has.
    """
    algorithms = _algorithms()
    if name not in algorithms:
        raise ValueError(f"strategy 'evosax:{name}': evosax {source().split()[1]} has no strategy {name!r}; "
                         f"choose one of {', '.join('evosax:' + n for n in algorithms)}")

    def make(num_dims: int, popsize: int | None = None, sigma_init: float | None = None, **options):
        if popsize is None:
            popsize = 4 + math.floor(3 * math.log(num_dims))  # Hansen's default, as esperf's strategies
        return EvosaxStrategy(f"{LIBRARY}:{name}", num_dims, popsize, sigma_init, tuple(sorted(options.items())))

    return make


class EvosaxState(NamedTuple):
    """esperf's state fields around evosax's own state (``inner``) and parameters (``params``)."""

    mean: jax.Array
    best_member: jax.Array
    best_fitness: jax.Array
    generation: jax.Array
    sigma: jax.Array
    inner: Any
    params: Any
    tell_key: jax.Array


def _params_fields(cls) -> tuple[str, ...]:
    import dataclasses
    import sys

    params_cls = getattr(sys.modules[cls.__module__], "Params", None)
    return tuple(f.name for f in dataclasses.fields(params_cls)) if params_cls is not None else ()


def _plain_ctor_args(cls) -> tuple[str, ...]:
    sig = inspect.signature(cls.__init__)
    return tuple(p for p, v in sig.parameters.items()
                 if p not in _RESERVED and v.default is not inspect.Parameter.empty
                 and isinstance(v.default, (bool, int, float, str)))


@dataclass(frozen=True)
class EvosaxStrategy:
    """evosax's strategy ``name`` ("evosax:<Name>") as a ``strategies.api.Strategy`` (module docstring).

    Attributes:
      name: ``evosax:<Name>``.
      num_dims, popsize: the search dimension and population size.
      sigma_init: the given initial step size, or None for evosax's default.
      options: (name, value) pairs: evosax parameters or plain constructor arguments.
    """

    name: str
    num_dims: int
    popsize: int
    sigma_init: float | None = None
    options: tuple = ()
    _algorithm: Any = field(init=False, repr=False, compare=False)
    _params: Any = field(init=False, repr=False, compare=False)
    _population_based: bool = field(init=False, repr=False, compare=False)
    _sv: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        from evosax.algorithms.population_based.base import PopulationBasedAlgorithm

        short = self.name.split(":", 1)[1]
        cls = _algorithms()[short]
        options = dict(self.options)
        param_names, ctor_names = _params_fields(cls), _plain_ctor_args(cls)
        sig = inspect.signature(cls.__init__).parameters
        sv = "num_populations" in sig
        allowed = param_names + ctor_names + (("num_populations",) if sv else ())
        bad = [k for k in options if k not in allowed]
        if bad:
            raise ValueError(f"strategy {self.name!r}: unknown option {bad[0]!r}; choose from "
                             f"{', '.join(allowed) or 'none'}")
        has_schedule = "std_schedule" in sig
        if self.sigma_init is not None and not (has_schedule or "std_init" in param_names):
            raise ValueError(f"strategy {self.name!r} has no initial step size (no std_init, no std_schedule); "
                             "leave sigma_init out")
        if self.sigma_init is not None and not self.sigma_init > 0:
            raise ValueError(f"strategy {self.name!r}: sigma_init={self.sigma_init!r} is not allowed; give a float > 0")
        kwargs = {k: v for k, v in options.items() if k in ctor_names}
        if has_schedule and self.sigma_init is not None:
            import optax

            kwargs["std_schedule"] = optax.constant_schedule(self.sigma_init)
        if "sampling_fn" in sig:
            spread, n = 1.0 if self.sigma_init is None else self.sigma_init, self.num_dims
            kwargs["sampling_fn"] = lambda key: spread * jax.random.normal(key, (n,))
        popsize = self.popsize
        if sv:
            k = int(options.get("num_populations", SV_POPULATIONS))
            if k < 1 or popsize % k:
                raise ValueError(f"strategy {self.name!r}: popsize {popsize} is not a multiple of num_populations={k}")
            kwargs["num_populations"] = k
            popsize //= k
        # Built eagerly even when the factory is called under a trace: evosax keeps arrays on itself.
        with jax.ensure_compile_time_eval():
            algorithm = cls(population_size=popsize, solution=jnp.zeros(self.num_dims, jnp.float32), **kwargs)
            params = algorithm.default_params
            if self.sigma_init is not None and "std_init" in param_names:
                params = params.replace(std_init=self.sigma_init)
            params = params.replace(**{k: v for k, v in options.items() if k in param_names})
        object.__setattr__(self, "_algorithm", algorithm)
        object.__setattr__(self, "_params", params)
        object.__setattr__(self, "_population_based", isinstance(algorithm, PopulationBasedAlgorithm))
        object.__setattr__(self, "_sv", sv)

    @property
    def algorithm(self):
        """The evosax algorithm object the adapter runs."""
        return self._algorithm

    def _state(self, inner, params, tell_key, start=None) -> EvosaxState:
        """esperf's fields read off evosax's state ``inner``."""
        if self._population_based:
            mean = inner.population[jnp.argmin(inner.fitness)]
        else:
            mean = inner.mean.mean(axis=0) if self._sv else inner.mean
        mean = mean.astype(jnp.float32)
        best_fitness, best_solution, generation = inner.best_fitness, inner.best_solution, inner.generation_counter
        if self._sv:  # one of each per particle: the best particle's, and the particles' common counter
            best = jnp.argmin(best_fitness)
            best_fitness, best_solution, generation = best_fitness[best], best_solution[best], jnp.max(generation)
        best_fitness = jnp.asarray(best_fitness, jnp.float32)
        seen = jnp.isfinite(best_fitness)
        best_member = jnp.where(seen, best_solution, mean if start is None else start).astype(jnp.float32)
        sigma = jnp.mean(inner.std).astype(jnp.float32) if hasattr(inner, "std") else jnp.float32(jnp.nan)
        return EvosaxState(mean, best_member, best_fitness, jnp.asarray(generation, jnp.int32),
                           sigma, inner, params, tell_key)

    def init(self, key: jax.Array, mean: jax.Array) -> EvosaxState:
        """evosax's initial state around ``mean`` (module docstring: the start).

        Args:
          key: a PRNG key.
          mean: (num_dims,) the start point.

        Returns:
          The state (``tell_key`` holds ``key`` until the first ``ask``).
        """
        mean = jnp.asarray(mean, jnp.float32)
        params = self._params
        if self._population_based:
            k_init, k_pop = jax.random.split(key)
            spread = (self.sigma_init if self.sigma_init is not None
                      else jnp.mean(params.std_init) if hasattr(params, "std_init") else 1.0)
            population = mean + spread * jax.random.normal(k_pop, (self.popsize, self.num_dims))
            inner = self._algorithm.init(k_init, population, jnp.full((self.popsize,), jnp.inf), params)
        elif self._sv:
            means = jnp.broadcast_to(mean, (self._algorithm.num_populations, self.num_dims))
            inner = self._algorithm.init(key, means, params)
        else:
            inner = self._algorithm.init(key, mean, params)
        return self._state(inner, params, key, start=mean)

    def ask(self, key: jax.Array, state: EvosaxState) -> tuple[jax.Array, EvosaxState]:
        """evosax's ``ask`` with the first half of ``split(key)``; the second is kept for ``tell``.

        Returns:
          ``(x, state)``: x (popsize, num_dims) float32.
        """
        k_ask, k_tell = jax.random.split(key)
        x, inner = self._algorithm.ask(k_ask, state.inner, state.params)
        x = x.reshape(self.popsize, self.num_dims)
        return x, self._state(inner, state.params, k_tell, start=state.best_member)

    def tell(self, state: EvosaxState, x: jax.Array, fitness: jax.Array) -> EvosaxState:
        """evosax's ``tell`` with the key ``ask`` kept; fitness (lower is better) unchanged.

        Returns:
          The state after evosax's update, ``generation`` one higher.
        """
        inner, _ = self._algorithm.tell(state.tell_key, x.astype(jnp.float32), fitness, state.inner, state.params)
        return self._state(inner, state.params, state.tell_key, start=state.best_member)
