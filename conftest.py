"""Root conftest: registers the ``--es-*`` options so that ``pytest --help`` lists them.

The benchmark hooks themselves live in ``bench/conftest.py``.
"""
from bench.plugin.options import add_options


def pytest_addoption(parser):
    add_options(parser)
