"""Evolution strategies in pure JAX with one ask/tell interface (fitness: lower is better).

>>> import strategies
>>> es = strategies.make("cma_es", num_dims=10, sigma_init=2.0)
>>> state = es.init(key, mean)            # mean: (num_dims,); its dtype is the working dtype
>>> x, state = es.ask(key, state)         # x: (popsize, num_dims)
>>> state = es.tell(state, x, fitness)    # fitness: (popsize,)

Every strategy is a frozen (hashable) dataclass with pure ``init/ask/tell`` methods that
work under ``jax.jit`` and ``jax.vmap``; states are NamedTuple pytrees with at least
``mean``, ``best_member``, ``best_fitness`` (+inf until a finite fitness is seen) and
``generation`` (int32). NaN and +-inf fitness count as the worst value.

The contract is written down as the protocols ``strategies.api.Strategy`` and
``strategies.api.StrategyState``; ``strategies.base.StrategyBase`` implements its
shared part once (checks, NaN handling, best-so-far, generation counter) and each
strategy module adds its own sampling and update.
"""
from __future__ import annotations

from strategies import base
from strategies.api import Strategy, StrategyState
from strategies.cma_es import CMAES, CMAESState
from strategies.openai_es import OpenAIES, OpenAIESState
from strategies.simple_ga import SimpleGA, SimpleGAState

_STRATEGIES: dict[str, type[base.StrategyBase]] = {cls.name: cls for cls in (CMAES, OpenAIES, SimpleGA)}

__all__ = [
    "names",
    "make",
    "Strategy",
    "StrategyState",
    "CMAES",
    "CMAESState",
    "OpenAIES",
    "OpenAIESState",
    "SimpleGA",
    "SimpleGAState",
]


def names() -> tuple[str, ...]:
    """The strategy names ``make`` accepts.

    Returns:
      ("cma_es", "openai_es", "simple_ga").
    """
    return tuple(_STRATEGIES)


def make(name: str, num_dims: int, popsize: int | None = None, sigma_init: float | None = None, **options) -> Strategy:
    """Build the strategy ``name`` for ``num_dims``-dimensional search.

    Args:
      name: one of ``names()``.
      num_dims: int >= 1.
      popsize: int, or None for the class's ``default_popsize(num_dims)``:
        ``4 + floor(3 ln num_dims)`` (Hansen's default; for openai_es rounded up to the
        next even number). cma_es and simple_ga need popsize >= 2, openai_es an even
        popsize >= 2.
      sigma_init: initial (or fixed) mutation step size, a float > 0, or None for the
        class's ``default_sigma_init``: cma_es 0.5, openai_es 0.02 (Salimans et al.),
        simple_ga 0.1.
      **options: keyword options per strategy (the class's ``options``):
        cma_es: none. All parameters are the tutorial defaults (arXiv:1604.00772) as
          computed by the ``cmaes`` package, derived from num_dims and popsize.
        openai_es (defaults: Salimans et al. 2017, MuJoCo):
          learning_rate=0.01  Adam step size (> 0).
          weight_decay=0.005  L2 coefficient added to the gradient estimate, g += wd * mean (>= 0).
          b1=0.9, b2=0.999, eps=1e-8  Adam's moment decays (in [0, 1)) and epsilon (> 0).
        simple_ga (Such et al. 2017):
          elite_ratio=0.1  fraction of the population selected as parents,
            T = max(1, floor(elite_ratio * popsize)); in (0, 1].
          sigma_decay=1.0  sigma <- max(sigma * sigma_decay, sigma_min) per generation; in (0, 1].
          sigma_min=0.0  lower bound of the decayed sigma (>= 0).

    Returns:
      The strategy: a frozen, hashable dataclass with ``init``/``ask``/``tell``
      (``strategies.api.Strategy``).

    Raises:
      ValueError: naming the bad value and what is allowed, for an unknown name or
        option, or an out-of-range argument.

    References:
      N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772 (eq. 48:
      the default popsize); T. Salimans et al., arXiv:1703.03864 (2017); F. P. Such
      et al., arXiv:1712.06567 (2017).
    """
    if name not in _STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(_STRATEGIES)}")
    cls = _STRATEGIES[name]
    base.check_options(name, options, cls.options)
    num_dims = base.check_int(name, "num_dims", num_dims, 1)
    if popsize is None:
        popsize = cls.default_popsize(num_dims)
    if sigma_init is None:
        sigma_init = cls.default_sigma_init
    return cls(num_dims=num_dims, popsize=popsize, sigma_init=sigma_init, **options)
