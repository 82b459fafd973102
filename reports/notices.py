"""What made a machine unfit to be measured: the report's notices and its ``warnings`` column.

``pytest bench`` records three things in ``machine_info`` (files written before it did
have none of them, and give no notice):

- ``unused_accelerators``: ``[{"platform", "name", "why"}]``, accelerators the machine
  has but jax did not use (so the run measured the CPU only);
- ``backend_errors``: ``{backend: error}``, jax backends that failed to start;
- ``system_check``: ``[{"check", "status", "detail", "fix"}]``, the quick checks of
  ``python -m bench.doctor``; a ``WARN`` one (e.g. a loaded CPU) makes timings unreliable.

:func:`reports.load.load` keeps them per file in ``Results.machines`` (malformed entries
dropped); this module only turns them into text. JSON-derived data only: no jax, no bench.
"""
from __future__ import annotations

from reports.load import Results

NOUNS = {"gpu": "GPU", "tpu": "TPU chip"}
HEADING = "Notices: {what} not fit to be measured"
EXPLAIN = ("Timings from such a machine may not show what its hardware can do; "
           "python -m bench.doctor on it explains each warning and how to fix it.")


def heading(lines: list[str]) -> str:
    """The notice block's heading, singular or plural by the number of hosts named."""
    hosts = {line.split(": ", 1)[0] for line in lines}
    return HEADING.format(what="this machine was" if len(hosts) <= 1 else "these machines were")


def _vendor(names: list[str]) -> str:
    """``NVIDIA `` or ``AMD `` where a name says so (the GPU noun reads ``1 NVIDIA GPU``)."""
    for vendor in ("NVIDIA", "AMD"):
        if any(vendor in n for n in names):
            return vendor + " "
    return ""


def unused_lines(unused: list[dict]) -> list[str]:
    """One line per platform and reason, counting the accelerators and naming their kinds:
    ``1 NVIDIA GPU (NVIDIA H200) present but not used by jax: <why>``.

    Grouped because a node with 8 GPUs lists each one, all with the same reason.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for a in unused:
        groups.setdefault((str(a.get("platform", "")), str(a.get("why", ""))), []).append(str(a.get("name", "")))
    lines = []
    for (platform, why), names in groups.items():
        noun = NOUNS.get(platform, platform.upper() or "accelerator")
        plural = "s" if len(names) > 1 else ""
        kinds = ", ".join(n for n in dict.fromkeys(names) if n)
        lead = f"{len(names)} {_vendor(names) if platform == 'gpu' else ''}{noun}{plural}"
        lines.append(f"{lead}{f' ({kinds})' if kinds else ''} present but not used by jax" + (f": {why}" if why else ""))
    return lines


def backend_lines(errors: dict, unused: list[dict]) -> list[str]:
    """``jax's cuda backend failed to start: <error>``, one per backend.

    Left out where an unused accelerator's reason already quotes the error (bench's reason
    for an unused GPU is often exactly this error), so that the notice does not repeat it.
    """
    whys = " ".join(str(a.get("why", "")) for a in unused)
    return [f"jax's {backend} backend failed to start: {error}" for backend, error in errors.items()
            if str(error) not in whys]


def warned_checks(checks: list[dict]) -> list[dict]:
    """The system checks whose status is ``WARN`` (``OK`` and ``INFO`` are not warnings)."""
    return [c for c in checks if str(c.get("status", "")).upper() == "WARN"]


def check_lines(checks: list[dict]) -> list[str]:
    """``2 system check warnings: cpu.load (<detail>; fix: <fix>), ...``, or nothing."""
    warned = warned_checks(checks)
    if not warned:
        return []

    def one(c: dict) -> str:
        bits = ([str(c["detail"])] if c.get("detail") else []) + ([f"fix: {c['fix']}"] if c.get("fix") else [])
        return f"{c.get('check', '?')} ({'; '.join(bits)})" if bits else str(c.get("check", "?"))

    n = len(warned)
    return [f"{n} system check warning{'s' if n > 1 else ''}: " + ", ".join(one(c) for c in warned)]


def file_notices(machine: dict) -> list[str]:
    """The notices of one file's ``machine_info`` (a row of ``Results.machines``), without the host."""
    unused = machine.get("unused_accelerators") or []
    errors = machine.get("backend_errors") or {}
    checks = machine.get("system_check") or []
    return [*unused_lines(unused), *backend_lines(errors, unused), *check_lines(checks)]


def by_host(res: Results) -> dict[str, list[str]]:
    """Per host (in the order of the files), its notices; hosts without any are left out.

    Files of one host that say the same thing say it once.
    """
    out: dict[str, dict[str, None]] = {}
    for _, m in res.machines.iterrows():
        for line in file_notices(m.to_dict()):
            out.setdefault(str(m["host"]), {}).setdefault(line, None)
    return {host: list(lines) for host, lines in out.items()}


def notices(res: Results) -> list[str]:
    """Every notice of the input as ``<host>: <notice>``; ``[]`` when every machine was fit."""
    return [f"{host}: {line}" for host, lines in by_host(res).items() for line in lines]


def warnings_cell(machines: list[dict]) -> str:
    """The machines table's ``warnings`` cell for one host's files: the count, then the names
    (``3: unused NVIDIA H200; cuda failed; cpu.load``), or ``''`` when there are none.

    Counts every unused accelerator, failed backend and WARN check of the host once: files
    of one host see the same hardware, so an accelerator counts as often as the file that
    lists it most often does; a backend or check counts once however many files name it.
    """
    unused: dict[str, int] = {}
    others: dict[str, None] = {}
    for m in machines:
        here: dict[str, int] = {}
        for a in m.get("unused_accelerators") or []:
            name = f"unused {a.get('name') or a.get('platform') or 'accelerator'}"
            here[name] = here.get(name, 0) + 1
        for name, n in here.items():
            unused[name] = max(unused.get(name, 0), n)
        for backend in m.get("backend_errors") or {}:
            others.setdefault(f"{backend} failed", None)
        for c in warned_checks(m.get("system_check") or []):
            others.setdefault(str(c.get("check", "?")), None)
    if not unused and not others:
        return ""
    total = sum(unused.values()) + len(others)
    names = [f"{n}× {name}" if n > 1 else name for name, n in unused.items()] + list(others)
    return f"{total}: " + "; ".join(names)
