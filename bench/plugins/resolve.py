"""Names of strategies and envs -> factories, and where each came from.

A name is, in this order:

* a built-in name (``strategies.names()``, ``envs.names()``): source ``builtin``;
* ``evosax:<Name>`` / ``gymnax:<env-id>``: esperf's adapters of those libraries
  (:mod:`bench.adapters.evosax`, :mod:`bench.adapters.gymnax`), source ``evosax 0.3.2``;
* a name an installed package registers under the entry-point group ``esperf.strategies``
  / ``esperf.envs`` (as pytest finds its ``pytest11`` plugins): source that package and version;
* ``module:attr`` (``attr`` may be dotted): source the installed package the module belongs to
  and its version, or the module's own name where no installed package holds it.

A strategy factory is called as ``factory(num_dims=..., popsize=..., sigma_init=..., **options)``
(``sigma_init`` only when the run gives one: else the strategy's own default) and returns a
``strategies.api.Strategy``; an env factory is called with no arguments and returns an
``envs.base.Env``. A name that does not resolve is a ``ValueError`` naming it and the choices.
The worker processes resolve the same names with this module, so a ``module:attr`` must be
importable there too (an installed package, or on ``PYTHONPATH``).
"""
from __future__ import annotations

import functools
import importlib
import importlib.metadata as metadata
from dataclasses import dataclass
from typing import Callable

STRATEGY_GROUP = "esperf.strategies"
ENV_GROUP = "esperf.envs"
BUILTIN = "builtin"


@dataclass(frozen=True)
class Kind:
    """What one kind of plugin is called: the noun, the entry-point group, the adapter prefix."""

    noun: str  # "strategy" or "env"
    group: str
    adapter: str  # the library whose adapter takes "<adapter>:<name>"


STRATEGY = Kind("strategy", STRATEGY_GROUP, "evosax")
ENV = Kind("env", ENV_GROUP, "gymnax")


@dataclass(frozen=True)
class Plugin:
    """A resolved name: the ``factory`` to call and the ``source`` rows record."""

    name: str
    factory: Callable
    source: str


def _builtins(kind: Kind) -> dict[str, Callable]:
    if kind is STRATEGY:
        import strategies

        return {n: functools.partial(strategies.make, n) for n in strategies.names()}
    import envs

    return {n: functools.partial(envs.make, n) for n in envs.names()}


def _entry_points(kind: Kind) -> dict:
    """{name: entry point} of the installed packages' ``kind.group`` (the first of equal names)."""
    found = {}
    for ep in metadata.entry_points(group=kind.group):
        found.setdefault(ep.name, ep)
    return found


def _adapter(kind: Kind):
    if kind is STRATEGY:
        from bench.adapters import evosax

        return evosax
    from bench.adapters import gymnax

    return gymnax


def choices(kind: Kind) -> str:
    """The names ``resolve`` accepts, as the error of a wrong name lists them."""
    names = [*_builtins(kind), *_entry_points(kind)]
    lib = kind.adapter
    what = "strategies" if kind is STRATEGY else "envs"
    return f"{', '.join(names)}, {lib}:<name> (one of {lib}'s {what}) or module:attr"


def _distribution_of(module: str) -> str:
    """``package version`` of the installed distribution that holds ``module``'s top package;
    else the module's name and why there is no version."""
    top = module.split(".")[0]
    dists = metadata.packages_distributions().get(top) or []
    if dists:
        return f"{dists[0]} {metadata.version(dists[0])}"
    return f"{top} (not installed: no version)"


def _load_attr(kind: Kind, name: str) -> Plugin:
    module_name, _, attr = name.partition(":")
    if not module_name or not attr:
        raise ValueError(f"{kind.noun} {name!r}: give module:attr with both parts")
    try:
        obj = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 -- any failure to import is the user's plugin's, in one line
        raise ValueError(f"{kind.noun} {name!r}: cannot import module {module_name!r} ({type(err).__name__}: "
                         f"{err}); make it importable (install it or put it on PYTHONPATH)") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{kind.noun} {name!r}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{kind.noun} {name!r}: {attr!r} is a {type(obj).__name__}, not a class or factory")
    return Plugin(name, obj, _distribution_of(module_name))


def resolve(kind: Kind, name: str) -> Plugin:
    """The factory of ``name`` and its source.

    Args:
      kind: :data:`STRATEGY` or :data:`ENV`.
      name: a built-in name, ``<adapter>:<name>``, an entry-point name or ``module:attr``.

    Returns:
      The :class:`Plugin`.

    Raises:
      ValueError: one line naming ``name`` and what went wrong or what is allowed.
    """
    builtins = _builtins(kind)
    if name in builtins:
        return Plugin(name, builtins[name], BUILTIN)
    prefix, sep, rest = name.partition(":")
    if sep and prefix == kind.adapter:
        adapter = _adapter(kind)
        return Plugin(name, adapter.factory(rest), adapter.source())
    eps = _entry_points(kind)
    if name in eps:
        ep = eps[name]
        try:
            factory = ep.load()
        except Exception as err:  # noqa: BLE001 -- the plugin's own failure, in one line
            raise ValueError(f"{kind.noun} {name!r}: entry point {ep.value!r} of group {kind.group} does not load "
                             f"({type(err).__name__}: {err})") from None
        dist = ep.dist
        return Plugin(name, factory, f"{dist.name} {dist.version}" if dist is not None else ep.value)
    if sep:
        return _load_attr(kind, name)
    raise ValueError(f"unknown {kind.noun} {name!r}; choose one of {choices(kind)}")


def make_strategy(name: str, num_dims: int, popsize: int | None = None, sigma_init: float | None = None,
                  **options):
    """The strategy ``name`` for ``num_dims``-dimensional search (``strategies.make``'s arguments).

    Args:
      name: see :func:`resolve`.
      num_dims, popsize, sigma_init, **options: as ``strategies.make`` takes them; a plugin
        gets ``popsize`` and ``sigma_init`` only when they are not None.

    Returns:
      What the factory returns (a ``strategies.api.Strategy``: :mod:`bench.plugins.checks`).
    """
    plugin = resolve(STRATEGY, name)
    if plugin.source == BUILTIN:
        return plugin.factory(num_dims=num_dims, popsize=popsize, sigma_init=sigma_init, **options)
    given = {k: v for k, v in (("popsize", popsize), ("sigma_init", sigma_init)) if v is not None}
    return plugin.factory(num_dims=num_dims, **given, **options)


def make_env(name: str):
    """The env ``name`` (see :func:`resolve`): what its factory returns when called with no arguments."""
    return resolve(ENV, name).factory()


def strategy_source(name: str) -> str:
    """Where strategy ``name`` comes from: ``builtin``, or a package and its version."""
    return resolve(STRATEGY, name).source


def env_source(name: str) -> str:
    """Where env ``name`` comes from: ``builtin``, or a package and its version."""
    return resolve(ENV, name).source
