"""A stand-in ``python`` for ``.ci/device-check`` (``PYTHON=<a wrapper that runs this file>``).

The script's own machinery runs for real: ``python -m bench.device_check check-env|plan|record``
and the summary ``python -m reports device-check`` are handed to the real interpreter. What
needs a device, or minutes, is stood in, failing the way the real thing does:

* ``-m bench.device_check probe``: writes the probe JSON of ``$DC_PROBE`` (a JSON object of
  figures, e.g. a slow worker start), or exits 1 with one line when it is ``fail``;
* ``-m pytest bench ... --benchmark-json=PATH``: each case of the grid its options name is
  appended to ``PATH.partial`` as it finishes, in the plugin's own format
  (:class:`bench.plugin.results.Results`), rows made from tests/fixtures/real/vm-small.json; then
  ``PATH`` is written (``machine_info.workers`` as the fork server, or its fallback with
  ``$DC_FALLBACK``). With ``$DC_HANG=<part>`` that part stops after ``$DC_FINISH`` cases and
  waits, as a case stuck on a device would, until the deadline's SIGINT ends it (exit 2, as
  pytest's on an interrupt, ``PATH.partial`` kept);
* ``-m pytest ... --junitxml=PATH`` (step 6): a junit file of 2 passed tests;
* ``-m bench.doctor [--json]``, ``-m reports JSON... --out DIR``: a line, a doctor.json, a report.html.
"""
import copy
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "real" / "vm-small.json"


def option(argv, flag, default=None):
    """The value of ``flag VALUE`` or ``flag=VALUE`` in argv."""
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return default


def bench(argv) -> int:
    """A stand-in ``pytest bench`` run (see the module docstring)."""
    sys.path.insert(0, str(ROOT))
    from bench.plugin.results import Results

    path = Path(option(argv, "--benchmark-json"))
    fixture = json.loads(FIXTURE.read_text())
    template = {r["extra_info"]["phase"]: r for r in fixture["benchmarks"]}
    results = Results(path)
    results.start([])
    rows = []
    hang = os.environ.get("DC_HANG") == path.stem
    finish = int(os.environ.get("DC_FINISH", "0"))
    device = option(argv, "--es-devices")
    for phase in option(argv, "--es-phases").split(","):  # pytest bench's order: phase by phase
        for strategy in option(argv, "--es-strategies").split(","):
            for pop in option(argv, "--es-pops").split(","):
                if hang and len(rows) == finish:
                    while True:  # a case stuck on the device; the deadline's SIGINT ends it
                        time.sleep(1)
                row = copy.deepcopy(template[phase])
                name = f"test_generation[{phase}-{strategy}-Pendulum-v1-pop{pop}-{device}]"
                row["name"] = row["fullname"] = name
                row["extra_info"].update(strategy=strategy, popsize=int(pop), device=device,
                                         num_evals=int(option(argv, "--es-evals")),
                                         jax_platforms=os.environ.get("JAX_PLATFORMS") or "cpu (the worker's choice)")
                results.append({"name": name, "status": "passed", "benchmark": row})
                rows.append(row)
    output = copy.deepcopy(fixture)
    output["benchmarks"] = rows
    output["esperf"]["failed"] = []
    fallback = os.environ.get("DC_FALLBACK")
    start = os.environ.get("ESPERF_WORKER_START", "fork")
    output["machine_info"]["workers"] = (
        {"start": "interpreter", "why": fallback} if fallback else
        {"start": "interpreter", "why": "ESPERF_WORKER_START=interpreter"} if start == "interpreter" else
        {"start": "fork server"})
    if "--es-isolate" in argv:
        output["machine_info"].pop("workers")
    results.write(output, [r["name"] for r in rows])
    return 0


def main(argv) -> int:
    if argv[:2] == ["-m", "bench.device_check"] and argv[2:3] == ["probe"]:
        probe = os.environ.get("DC_PROBE", "")
        if probe == "fail":
            print("python -m bench.device_check probe: the probe's worker failed on cpu:0: stand-in", file=sys.stderr)
            return 1
        Path(option(argv, "--json")).write_text(probe)
        print("probe (stand-in)")
        return 0
    if argv[:2] in (["-m", "bench.device_check"], ["-m", "reports"]) and not (
            argv[:2] == ["-m", "reports"] and argv[2:3] != ["device-check"]):
        os.execv(sys.executable, [sys.executable, *argv])
    if argv[:2] == ["-m", "reports"]:  # the report of every JSON
        out = Path(option(argv, "--out"))
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.html").write_text("<html></html>")
        return 0
    if argv[:2] == ["-m", "bench.doctor"]:
        checks = [{"check": "gpu driver", "status": "WARN", "detail": "stand-in", "fix": "none"}]
        print(json.dumps(checks) if "--json" in argv else "doctor (stand-in)")
        return 0
    if argv[:3] == ["-m", "pytest", "bench"]:
        return bench(argv)
    if argv[:2] == ["-m", "pytest"]:
        Path(option(argv, "--junitxml")).write_text(
            '<?xml version="1.0"?><testsuites><testsuite name="pytest" errors="0" failures="0" skipped="0" '
            'tests="2"></testsuite></testsuites>')
        return 0
    print(f"device_check_stand_in: no stand-in for {argv}", file=sys.stderr)
    return 3


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # as pytest exits on an interrupt
        sys.exit(2)
