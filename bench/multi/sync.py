"""How the processes of a distributed run keep in step around one case (:mod:`bench.multi.distributed`)."""
from __future__ import annotations

from bench.case import CaseFailed
from bench.multi import distributed


class ProcessSync:
    """The ``sync`` that :mod:`bench.measure.rounds` takes in a multi-process run.

    Every process runs the same cases in the same order; before a case's first collective
    they agree that it built everywhere (``agree``), they use process 0's round count
    (``rounds``), an untimed barrier starts each round (``before_round``), and a round's
    time is the slowest process's (``slowest``).
    """

    def agree(self, error: str | None) -> None:
        errors = distributed.gather_json(error)
        failed = [f"process {i}: {e}" for i, e in enumerate(errors) if e]
        if failed:
            raise CaseFailed("failed on " + "; ".join(failed))

    def rounds(self, n: int) -> int:
        return int(distributed.broadcast_json(n))

    def before_round(self) -> None:
        distributed.barrier("esperf-round")

    def slowest(self, samples: list[float]) -> list[float]:
        return distributed.max_over_processes(samples)
