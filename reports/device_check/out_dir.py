"""Reading one run's OUT_DIR (or, once the script packed them, the same files in its archive):
steps.json, the bench JSON of each part or its ``PATH.partial``, junit xml, any JSON file."""
from __future__ import annotations

import json
import tarfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from results_format.partial import partial_records
from reports.device_check.layout import ARCHIVE, BENCH_PARTS
from reports.exit_status import BadInput


class OutDir:
    """The files of one run: under OUT_DIR, else in its :data:`ARCHIVE` (after the script packed them)."""

    def __init__(self, path: Path):
        self.path = path
        self._members: dict[str, bytes] = {}
        archive = path / ARCHIVE
        if archive.is_file():
            try:
                with tarfile.open(archive) as tar:
                    for m in tar.getmembers():
                        if m.isfile():
                            self._members[m.name.removeprefix("./")] = tar.extractfile(m).read()
            except (OSError, tarfile.TarError) as err:
                raise BadInput(archive, f"not a readable tar.gz ({' '.join(str(err).split())})") from None

    def text(self, rel: str) -> str | None:
        """The text of ``rel`` (a file under OUT_DIR first, then the archive's); None when neither has it."""
        path = self.path / rel
        if path.is_file():
            try:
                return path.read_text(errors="replace")
            except OSError as err:
                raise BadInput(path, f"not readable ({err})") from None
        found = self._members.get(rel)
        return None if found is None else found.decode(errors="replace")

    def exists(self, rel: str) -> bool:
        return (self.path / rel).is_file() or rel in self._members


def read_device_check_json(out: OutDir, rel: str, default=None):
    """The JSON of ``rel``; ``default`` when the file is missing or empty; BadInput when unreadable."""
    text = out.text(rel)
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError as err:
        raise BadInput(out.path / rel, f"not readable JSON ({' '.join(str(err).split())})") from None


def read_steps(out: OutDir) -> dict:
    """steps.json: {"platform", "short", "device", "budget_s", "parts": [{"step", "part", "rc", "seconds",
    "deadline_s", "log", "plan", and "grid", "cases", "start" of a bench part, "skipped" of a skipped one}]}."""
    steps = read_device_check_json(out, "steps.json")
    if not isinstance(steps, dict) or not isinstance(steps.get("parts"), list):
        raise BadInput(out.path, "no steps.json with a parts list: not a folder written by .ci/device-check")
    return steps


def read_partial(text: str) -> list[dict]:
    """The records of a ``PATH.partial`` (:func:`results_format.partial.partial_records`)."""
    return partial_records(text)


def read_bench(out: OutDir, name: str) -> dict | None:
    """json/<name>.json as {"rows": [benchmark rows], "failed": [failed cases], "finished": cases done,
    "partial": whether only json/<name>.json.partial was there, "workers": machine_info.workers};
    None when neither file is there."""
    rel = f"json/{name}.json"
    data = read_device_check_json(out, rel)
    if data is None:
        text = out.text(f"{rel}.partial")
        if text is None:
            return None
        records = read_partial(text)
        rows = [r["benchmark"] for r in records if r.get("status") == "passed" and isinstance(r.get("benchmark"), dict)]
        failed = [r["failed"] for r in records if r.get("status") == "failed" and isinstance(r.get("failed"), dict)]
        return {"rows": rows, "failed": failed, "finished": len(records), "partial": True, "workers": None}
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise BadInput(out.path / rel, "not pytest-benchmark JSON (no benchmarks list)")
    failed = (data.get("esperf") or {}).get("failed") or []
    workers = (data.get("machine_info") or {}).get("workers")
    return {"rows": data["benchmarks"], "failed": failed, "finished": len(data["benchmarks"]) + len(failed),
            "partial": False, "workers": workers if isinstance(workers, dict) else None}


def read_junit(out: OutDir, rel: str) -> dict | None:
    """Counts of a junit xml: {"tests", "passed", "failed", "errors", "skipped"}; None when absent."""
    text = out.text(rel)
    if text is None:
        return None
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise BadInput(out.path / rel, f"not readable junit xml ({err})") from None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    totals = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    return {"tests": totals["tests"], "passed": totals["tests"] - totals["failures"] - totals["errors"]
            - totals["skipped"], "failed": totals["failures"], "errors": totals["errors"],
            "skipped": totals["skipped"]}


@dataclass
class Run:
    """One run's steps.json and its bench results, read once."""

    out: OutDir
    steps: dict
    benches: dict = field(default_factory=dict)  # {part: read_bench(...)}
    entries: dict = field(default_factory=dict)  # {part: its last steps.json entry}

    @classmethod
    def read(cls, path: Path) -> "Run":
        out = OutDir(path)
        steps = read_steps(out)
        return cls(out, steps, {n: read_bench(out, n) for n in BENCH_PARTS},
                   {p.get("part"): p for p in steps["parts"]})

    @property
    def platform(self) -> str:
        return self.steps.get("platform", "?")
