"""The pytest plugin of ``pytest bench``: options, the grid, the run's session, results files.

``bench/conftest.py`` holds the hooks; they delegate to :class:`bench.plugin.session.Session`,
a thin object over start-up, measurement policy and output (:mod:`~bench.plugin.startup`,
:mod:`~bench.plugin.policy`, :mod:`~bench.plugin.output`).
Importing this package is cheap (no jax): the root ``conftest.py`` imports its options.
"""
