"""The run's results files: ``PATH.partial`` as cases finish, ``PATH`` atomically at the end.

* every finished case, passed or failed, is appended to ``PATH.partial`` (JSON Lines,
  flushed and fsynced) beside ``--benchmark-json=PATH`` as soon as it ends;
* at the end ``PATH`` is written atomically (a temporary file in the same folder, then a
  rename) in pytest-benchmark's format, and ``PATH.partial`` is removed. An interrupted run
  (Ctrl-C, SIGTERM) keeps ``PATH.partial``; ``--es-resume`` runs only the cases it lacks;
* ``PATH.lock`` is held (``flock``) from start-up to the end: a second run with the same PATH
  refuses to start (:class:`ResultsBusy`) instead of truncating the first one's ``PATH.partial``
  and overwriting its ``PATH``. The kernel releases the lock when the holder dies, however.
"""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from results_format.partial import partial_records


def item_name(case) -> str:
    """The name of ``case``'s pytest item and of its row in ``PATH`` and ``PATH.partial``
    (the id inside the brackets is the public case id)."""
    return f"test_generation[{case.id}]"


def read_partial(path: Path) -> list[dict]:
    """The finished cases of an earlier run (a torn last line from a kill is ignored)."""
    try:
        return partial_records(path.read_text())
    except FileNotFoundError:
        return []


def write_atomically(path: Path, data: dict) -> None:
    """``data`` as JSON at ``path``: a temporary file beside it, fsynced, then renamed over it."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=4, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class ResultsBusy(RuntimeError):
    """Another run holds ``PATH.lock``: its results must not be overwritten."""


class ResultsLock:
    """An exclusive ``flock`` on ``PATH.lock`` for as long as this run writes ``PATH``."""

    def __init__(self, path: Path):
        self.path = Path(f"{path}.lock")
        self.fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`ResultsBusy` naming the holder's pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ResultsBusy(f"{self.path.with_suffix('')} is being written by another pytest bench run "
                              f"(pid {holder}, holding {self.path.name}); wait for it to end or give another "
                              "--benchmark-json") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd

    def release(self) -> None:
        """Give the lock back; the file goes (a later run takes a fresh one)."""
        if self.fd is None:
            return
        # unlinked while still held: a run starting now creates and locks a fresh file (only a run that
        # opened the old one in this instant could lock it too)
        self.path.unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = None


class Results:
    """The results files of ``--benchmark-json=PATH`` (none without it: ``path`` is None).

    ``earlier`` holds the records a resumed run starts from; ``failed`` every failed case
    (of this run and of the earlier one), for ``esperf.failed`` in the JSON.
    """

    def __init__(self, path: Path | None):
        self.path = path
        self.partial = Path(f"{path}.partial") if path else None
        self.earlier: list[dict] = []
        self.failed: list[dict] = []
        self.lock = ResultsLock(path) if path else None

    def acquire(self) -> None:
        """Hold ``PATH.lock`` (:class:`ResultsBusy` when another run does); before anything is read or written."""
        if self.lock is not None:
            self.lock.acquire()

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def start(self, earlier: list[dict]) -> None:
        """Begin ``PATH.partial``: a fresh run starts a fresh record, a resumed one keeps ``earlier``."""
        self.earlier = earlier
        self.failed = [r["failed"] for r in earlier if r.get("status") == "failed"]
        if self.partial is not None:
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            with open(self.partial, "w") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in earlier)

    def done(self) -> set[str]:
        """The test names the earlier run finished."""
        return {r["name"] for r in self.earlier}

    def append(self, record: dict) -> None:
        """One finished case, on disk before the next one starts."""
        if record.get("status") == "failed":
            self.failed.append(record["failed"])
        if self.partial is None:
            return
        with open(self.partial, "a") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def finished_count(self) -> int:
        return len(read_partial(self.partial)) if self.partial else 0

    def write(self, output: dict, order: list[str]) -> None:
        """``PATH`` from pytest-benchmark's ``output`` plus the earlier run's passed cases, in
        grid ``order`` (test names); then ``PATH.partial`` goes."""
        earlier = [r["benchmark"] for r in self.earlier if r.get("status") == "passed"]
        index = {name: i for i, name in enumerate(order)}
        output["benchmarks"] = sorted(earlier + output["benchmarks"],
                                      key=lambda b: index.get(b.get("name"), len(index)))
        write_atomically(self.path, output)
        self.partial.unlink(missing_ok=True)
