"""A user's plugin package for the tests: one strategy and one env, kept outside esperf.

Found by ``module:attr`` (``plugin_pkg.strategy:GreedyES``, ``plugin_pkg.env:PointMass``) and,
through a dist-info folder the tests write (``entry_points.txt``), by the entry-point names
``greedy_es`` (group ``esperf.strategies``) and ``PointMass-v0`` (group ``esperf.envs``).
"""
