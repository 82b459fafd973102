"""One line after each case of ``pytest bench``: which case, its median, failure or skip, the time so
far and an estimate of the time left, as long-running tools print (a full grid runs for hours).

The estimate is the mean time of the cases finished so far times the cases still to run;
it says ``about`` because cases of one grid differ (a popsize-100 000 case takes longer).
"""
from __future__ import annotations

import time

from results_format.units import seconds  # standard library only: no pandas in the pytest process


def duration(wall_s: float) -> str:
    """A wall time for a person: ``12.3 s``, ``4 min 05 s``, ``2 h 07 min``."""
    if wall_s < 60:
        return f"{wall_s:.1f} s"
    minutes, secs = divmod(int(round(wall_s)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """Counts the finished cases of a run of ``total`` and words the line after each."""

    def __init__(self, total: int, clock=time.monotonic):
        self.total = total
        self.done = 0
        self.clock = clock
        self.t0 = clock()

    def line(self, case_id: str, median: float | None = None, failure: str | None = None,
             skipped: str | None = None) -> str:
        """Count one more case done; its line: ``median`` seconds, or ``failure``'s first words,
        or ``skipped`` and why (nothing was measured), or ``passed`` where none of these (a
        smoke run times nothing)."""
        self.done += 1
        elapsed = self.clock() - self.t0
        left = max(self.total - self.done, 0)
        if failure is not None:
            outcome = f"FAILED {failure[:120]}"
        elif skipped is not None:
            outcome = f"skipped ({skipped[:120]})"
        else:
            outcome = "passed" if median is None else f"median {seconds(median)}"
        eta = f"about {duration(elapsed / self.done * left)} left" if left else "done"
        return f"esperf: [{self.done}/{self.total}] {case_id}: {outcome} · {duration(elapsed)} elapsed · {eta}"
