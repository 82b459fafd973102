"""``python -m bench.worker``: the entry point of a worker process (see :mod:`bench.isolation.worker`).

:mod:`bench.isolation.spawners` starts workers by this name: a new interpreter per request,
or ``--serve`` for the fork server.
"""
import sys

from bench.isolation.worker import main

if __name__ == "__main__":
    sys.exit(main())
