"""Each case in fresh worker processes: the parent's spawners (:mod:`.spawners`), the worker
(:mod:`.worker`), and process groups and exits (:mod:`.processes`). Imports no jax."""
