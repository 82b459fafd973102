"""The protocols checked when the grid is built, so a bad plugin is a usage error, not a failed case.

Everything is checked from shapes alone (``jax.eval_shape``: traced, never compiled nor run):
the members ``strategies.api.Strategy`` / ``envs.base.Env`` list, and the shapes the workload
relies on -- ``ask`` gives (popsize, num_dims), ``tell`` gives back a state of ``init``'s
structure and shapes (a generation is a loop carry), an env's observation is (obs_size,) and
its ``step`` is elementwise over leading batch dims (the rollout steps every member's episodes
at once). Each failure is one ``ValueError`` line naming the plugin, its source and what is
missing or wrong.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from bench.plugins.resolve import ENV, STRATEGY, make_env, make_strategy, resolve

STRATEGY_MEMBERS = ("init", "ask", "tell", "name", "num_dims", "popsize", "sigma_init")
STATE_FIELDS = ("mean", "best_member", "best_fitness", "generation")
ENV_MEMBERS = ("reset", "step", "name", "obs_size", "action_size", "discrete", "max_steps")


def _what(kind, name: str) -> str:
    return f"{kind.noun} {name!r} ({resolve(kind, name).source})"


def _one_line(err: Exception) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())}"[:400]


def _missing(obj, members, methods) -> list[str]:
    return [m for m in members if not hasattr(obj, m) or (m in methods and not callable(getattr(obj, m)))]


def _shapes(tree) -> list[tuple]:
    return [(tuple(x.shape), str(x.dtype)) for x in jax.tree.leaves(tree)]


def _key():
    return jax.eval_shape(lambda: jax.random.key(0))


def check_strategy(name: str, num_dims: int, popsize: int, sigma_init: float | None = None, **options) -> None:
    """Build strategy ``name`` as the workload does and check it keeps ``strategies.api.Strategy``.

    Args:
      name: a strategy name (:func:`bench.plugins.resolve.resolve`).
      num_dims: the policy's parameter count it will search.
      popsize: the population size of a case.
      sigma_init, **options: as the run gives them (``bench.train``'s ``--sigma-init``, ``--option``).

    Raises:
      ValueError: one line naming the plugin and what is missing or wrong.
    """
    what = _what(STRATEGY, name)
    try:
        es = make_strategy(name, num_dims=num_dims, popsize=popsize, sigma_init=sigma_init, **options)
    except Exception as err:  # noqa: BLE001 -- the plugin's own failure, in one line
        raise ValueError(f"{what}: building it with num_dims={num_dims}, popsize={popsize} failed: "
                         f"{_one_line(err)}") from None
    missing = _missing(es, STRATEGY_MEMBERS, ("init", "ask", "tell"))
    if missing:
        raise ValueError(f"{what} does not keep strategies.api.Strategy: {type(es).__name__} misses "
                         f"{', '.join(missing)}")
    for attr, want in (("num_dims", num_dims), ("popsize", popsize)):
        if getattr(es, attr) != want:
            raise ValueError(f"{what}: asked for {attr}={want}, it has {attr}={getattr(es, attr)!r}")
    mean = jax.ShapeDtypeStruct((num_dims,), jnp.float32)
    fitness = jax.ShapeDtypeStruct((popsize,), jnp.float32)
    step = "init"
    try:
        state = jax.eval_shape(es.init, _key(), mean)
        step = "ask"
        x, asked = jax.eval_shape(es.ask, _key(), state)
        step = "tell"
        told = jax.eval_shape(es.tell, asked, x, fitness)
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"{what}: {step}(...) failed on shapes num_dims={num_dims}, popsize={popsize}: "
                         f"{_one_line(err)}") from None
    absent = [f for f in STATE_FIELDS if not hasattr(state, f)]
    if absent:
        raise ValueError(f"{what}: init's state misses {', '.join(absent)} (strategies.api.StrategyState)")
    want = {"mean": (num_dims,), "best_member": (num_dims,), "best_fitness": (), "generation": ()}
    for f, shape in want.items():
        got = tuple(getattr(state, f).shape)
        if got != shape:
            raise ValueError(f"{what}: init's state.{f} has shape {got}; expected {shape}")
    if tuple(x.shape) != (popsize, num_dims):
        raise ValueError(f"{what}: ask returns a population of shape {tuple(x.shape)}; expected "
                         f"(popsize, num_dims) = {(popsize, num_dims)}")
    for label, other in (("ask", asked), ("tell", told)):
        if jax.tree.structure(other) != jax.tree.structure(state) or _shapes(other) != _shapes(state):
            raise ValueError(f"{what}: {label} returns a state whose structure or shapes differ from init's "
                             "(a generation is a loop carry: they must stay the same)")


def check_env(name: str):
    """Build env ``name`` and check it keeps ``envs.base.Env`` as the rollout uses it.

    Args:
      name: an env name (:func:`bench.plugins.resolve.resolve`).

    Returns:
      The env (its sizes give the policy's parameter count).

    Raises:
      ValueError: one line naming the plugin and what is missing or wrong.
    """
    what = _what(ENV, name)
    try:
        env = make_env(name)
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"{what}: building it failed: {_one_line(err)}") from None
    missing = _missing(env, ENV_MEMBERS, ("reset", "step"))
    if missing:
        raise ValueError(f"{what} does not keep envs.base.Env: {type(env).__name__} misses {', '.join(missing)}")
    for attr in ("obs_size", "action_size", "max_steps"):
        value = getattr(env, attr)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{what}: {attr}={value!r}; expected an int >= 1")
    action_shape, action_dtype = ((), jnp.int32) if env.discrete else ((env.action_size,), jnp.float32)
    batch = 2

    def batched_step():
        keys = jax.random.split(jax.random.key(0), batch)
        _, states = jax.vmap(env.reset)(keys)
        return env.step(states, jnp.zeros((batch, *action_shape), action_dtype))

    step = "reset"
    try:
        obs, state = jax.eval_shape(env.reset, _key())
        step = "step"
        out = jax.eval_shape(env.step, state, jax.ShapeDtypeStruct(action_shape, action_dtype))
        step = "step on a batch of states"
        batched = jax.eval_shape(batched_step)
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"{what}: {step} failed: {_one_line(err)}") from None
    if tuple(obs.shape) != (env.obs_size,):
        raise ValueError(f"{what}: reset's observation has shape {tuple(obs.shape)}; expected (obs_size,) = "
                         f"{(env.obs_size,)}")
    if not isinstance(out, tuple) or len(out) != 5:
        raise ValueError(f"{what}: step must return (obs, state, reward, terminated, truncated)")
    shapes = [tuple(out[0].shape)] + [tuple(o.shape) for o in out[2:]]
    if shapes != [(env.obs_size,), (), (), ()]:
        raise ValueError(f"{what}: step returns obs, reward, terminated, truncated of shapes {shapes}; expected "
                         f"{[(env.obs_size,), (), (), ()]}")
    if tuple(batched[0].shape) != (batch, env.obs_size):
        raise ValueError(f"{what}: step is not elementwise over a leading batch dim: a batch of {batch} states "
                         f"gave observations of shape {tuple(batched[0].shape)}; expected {(batch, env.obs_size)}")
    return env


def checks_on_cpu() -> None:
    """Have this process's jax start only its CPU backend, if it has started none yet.

    For a pytest process that measures nothing itself (``--es-isolate process``): building a
    plugin to check it may start jax's backends (importing evosax or gymnax does; so may a
    user's constructor), and on a GPU host jax would then take most of the GPU's memory away
    from the worker processes that measure. The workers choose their own platforms.
    """
    from jax._src import xla_bridge

    if not xla_bridge.backends_are_initialized():
        jax.config.update("jax_platforms", "cpu")
