"""The user's strategies and envs by name: built-ins, ``module:attr``, entry points, adapters.

:mod:`bench.plugins.resolve` turns a name into a factory and says where it came from;
:mod:`bench.plugins.checks` checks what the factory builds against the protocols
(``strategies.api.Strategy``, ``envs.base.Env``) when the grid is built.
"""
