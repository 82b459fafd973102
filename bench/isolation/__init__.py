"""Each case in fresh worker processes: the parent's spawners (:mod:`.spawners`) and the worker
(:mod:`.worker`); process groups and exits are :mod:`bench.processes`. Imports no jax."""
