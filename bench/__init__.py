"""esperf's benchmark: the workload (one ask-eval-tell generation), ``python -m bench.train``
and the pytest-benchmark grid (``pytest bench``)."""
