"""``python -m bench.device_check COMMAND``: the Python half of ``.ci/device-check``.

* ``check-env``: the ``ESPERF_DEVICE_CHECK_*`` knobs, checked (one line and exit 2 on a bad
  value); prints ``budget=``, ``probe_deadline=``, ``summary_deadline=`` and ``kill_grace=`` for bash;
* ``probe --device D --json PATH [--timeout S]``: :func:`bench.device_check.probe.probe`;
  exit 1 with one line when the worker fails;
* ``plan --part NAME --left S ...``: the plan of part NAME given the seconds left
  (:func:`bench.device_check.plan.allocate`), as bash assignments;
* ``record --out OUT ...``: one part's entry appended to ``OUT/steps.json`` (``--init``: the
  file's header).

Exit status (docs/commands.md): 0 done, 1 the probe's worker failed, 2 a bad argument or knob
(one line), 3 an unexpected error (one line naming the traceback's file).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from bench.cli import EXIT_OK, EXIT_VERDICT, Parser, command
from bench.device_check import plan as planning

PROG = "python -m bench.device_check"


def _budget(environ) -> int:
    value = environ.get(planning.BUDGET_ENV, "")
    if value == "":
        return planning.DEFAULT_BUDGET_S
    if not value.isdigit() or int(value) <= 0:
        raise ValueError(f"{planning.BUDGET_ENV}={value} is not allowed; give whole seconds > 0")
    return int(value)


def _knob(name: str, default: int, environ) -> int:
    found = planning.override_of(planning.Part(name, 0, name), environ)
    return default if found is None else found


def check_env(environ) -> str:
    """Every knob checked; bash assignments of the budget and the fixed deadlines."""
    budget = _budget(environ)
    for part in planning.parts("short").values():  # every form has the same parts
        planning.override_of(part, environ)
    # at most a third of a small budget: the parts need the rest
    probe = _knob("probe", min(planning.PROBE_DEADLINE_S, max(30, budget // 3)), environ)
    summary = _knob("summary", planning.SUMMARY_DEADLINE_S, environ)
    return (f"budget={budget}\nprobe_deadline={probe}\nsummary_deadline={summary}\n"
            f"kill_grace={planning.KILL_GRACE_S}\n")


def _read_probe(path: Path) -> tuple[dict | None, str]:
    try:
        return json.loads(path.read_text()), ""
    except FileNotFoundError:
        return None, f"no {path.name}: the probe failed"
    except (OSError, ValueError) as err:
        return None, f"{path.name} unreadable: {' '.join(str(err).split())}"


def _main(argv) -> int:
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser("check-env", help="check the ESPERF_DEVICE_CHECK_* knobs")
    p = sub.add_parser("probe", help="time one worker of a tiny case on the device")
    p.add_argument("--device", required=True)
    p.add_argument("--json", required=True, type=Path)
    p.add_argument("--timeout", type=float, default=float(planning.PROBE_DEADLINE_S))
    p = sub.add_parser("plan", help="the next part's grid and deadline, as bash assignments")
    p.add_argument("--part", required=True)
    p.add_argument("--form", required=True, choices=("short", "cpu", "gpu"))
    p.add_argument("--left", required=True, type=float)
    p.add_argument("--probe", required=True, type=Path)
    p.add_argument("--device", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--py", default="python3")
    p = sub.add_parser("record", help="append one part to OUT/steps.json")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--init", nargs=4, metavar=("PLATFORM", "SHORT", "DEVICE", "BUDGET"))
    for flag in ("--part", "--why", "--grid", "--start", "--log"):
        p.add_argument(flag, default="")
    for flag in ("--step", "--seconds", "--deadline", "--cases"):
        p.add_argument(flag, type=int, default=0)
    p.add_argument("--rc", type=int, default=None, help="the exit status (none: the part was skipped)")
    p.add_argument("--timed-out", action="store_true", help="the part was ended at its deadline")
    args = parser.parse_args(argv)
    if args.command == "check-env":
        print(check_env(os.environ), end="")
    elif args.command == "probe":
        return _probe(args)
    elif args.command == "plan":
        probe, why = _read_probe(args.probe)
        costs = planning.Costs.of(probe, _platform(args.device), why)
        (decision,) = planning.allocate(planning.remaining(args.part), args.form, costs, args.left)[:1]
        if costs.source != "probe":
            decision.why += f"; sized by the {costs.source} figures"
        argv_ = planning.command(decision, args.py, args.device, args.out) if decision.run else []
        print(planning.shell(decision, argv_), end="")
    else:
        _record(args)
    return EXIT_OK


def main(argv=None) -> int:
    return command(PROG, _main, argv, usage=(ValueError,))


def _platform(device: str) -> str:
    return device.split(":", 1)[0]


def _probe(args) -> int:
    from bench.device_check.probe import probe, write
    from bench.isolation.spawners import WorkerFailed

    try:
        found = probe(args.device, args.timeout)
    except WorkerFailed as err:
        print(f"{PROG} probe: the probe's worker failed on {args.device}: {' '.join(str(err).split())}",
              file=sys.stderr)
        return EXIT_VERDICT
    write(args.json, found)
    print(f"probe on {args.device} ({found['workers']['start']}): server start {found['server_start_s']:.2f} s, "
          f"worker start {found['worker_start_s']:.2f} s, backend init {found['backend_init_s']:.2f} s, "
          f"compile {found['compile_s']:.2f} s, first run {found['first_run_s']:.3f} s, "
          f"generation {found['generation_s'] * 1e3:.3g} ms")
    return 0


def _record(args) -> None:
    path = args.out / "steps.json"
    if args.init:
        platform, short, device, budget = args.init
        data = {"platform": platform, "short": int(short), "device": device, "budget_s": int(budget), "parts": []}
    else:
        data = json.loads(path.read_text())
        entry = {"step": args.step, "part": args.part, "rc": args.rc, "seconds": args.seconds,
                 "deadline_s": args.deadline, "log": args.log, "plan": args.why}
        if args.rc is None:
            entry["skipped"] = args.why
        if args.timed_out:
            entry["timed_out"] = True
        if args.grid:
            entry.update(grid=args.grid, cases=args.cases)
        if args.start:
            entry["start"] = args.start
        data["parts"].append(entry)
    tmp = path.with_name(".steps.json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
