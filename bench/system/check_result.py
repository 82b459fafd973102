"""One check's result, as every check of :mod:`bench.system.checks` (and :mod:`bench.system.gpu_checks`)
returns it: ``{"check", "status", "detail", "fix"}``, ``status`` one of :data:`STATUSES`."""
from __future__ import annotations


STATUSES = ("OK", "WARN", "INFO")


def check(name: str, status: str, detail: str, fix: str | None = None) -> dict:
    """One check's result; ``fix`` only for a ``WARN``."""
    assert status in STATUSES, status
    return {"check": name, "status": status, "detail": " ".join(str(detail).split()),
            "fix": fix if status == "WARN" else None}
