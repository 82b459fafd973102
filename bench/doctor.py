"""``python -m bench.doctor [--json]``: is this machine fit to be measured?

Starts jax's backends in this process, looks for the accelerators jax does not use
(:mod:`bench.system.accelerators`) and runs every check of :mod:`bench.system.checks`:
one line each, ``OK``, ``WARN`` (with the fix) or ``INFO`` (cannot be read here, and why).
``--json`` prints the same as a list of ``{"check", "status", "detail", "fix"}``.
Exit status (docs/commands.md): 0 once printed (WARNs included: the doctor informs, it does
not judge; it never exits 1), 2 on a usage error (one line), 3 on an unexpected error (one line
naming the file the traceback went to).
"""
from __future__ import annotations

import json
import sys

from bench.cli import EXIT_OK, Parser, command

PROG = "python -m bench.doctor"


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description="Check whether this machine is fit to be measured.")
    parser.add_argument("--json", action="store_true", help="print the checks as a JSON list")
    parser.add_argument("--quick", action="store_true",
                        help="sample the CPU load for 0.25 s instead of 1 s (what pytest bench runs at its start)")
    return parser


def diagnose(quick: bool = False) -> list[dict]:
    """Every check on this machine, the doctor's own process tree excluded from "other" load."""
    from bench.measure.timing import disable_persistent_cache
    from bench.system.accelerators import survey
    from bench.system.checks import run_checks
    from bench.system.survey import own_tree

    disable_persistent_cache()
    found = survey()
    return run_checks(found, quick=quick, exclude_pids=own_tree())


def format_lines(checks: list[dict]) -> list[str]:
    """``STATUS check  detail`` per check, and an indented ``fix:`` under each WARN."""
    width = max((len(c["check"]) for c in checks), default=0)
    lines = []
    for c in checks:
        lines.append(f"{c['status']:<4} {c['check']:<{width}}  {c['detail']}")
        if c.get("fix"):
            lines.append(f"{'':<4} {'':<{width}}  fix: {c['fix']}")
    return lines


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    checks = diagnose(quick=args.quick)
    if args.json:
        print(json.dumps(checks, indent=1))
    else:
        print("\n".join(format_lines(checks)))
        warns = sum(c["status"] == "WARN" for c in checks)
        print(f"\n{len(checks)} checks: {warns} WARN, {sum(c['status'] == 'INFO' for c in checks)} INFO")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    return command(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
