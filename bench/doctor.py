"""``python -m bench.doctor [--json]``: is this machine fit to be measured?

Starts jax's backends in this process, looks for the accelerators jax does not use
(:mod:`bench.system.accelerators`) and runs every check of :mod:`bench.system.checks`:
one line each, ``OK``, ``WARN`` (with the fix) or ``INFO`` (cannot be read here, and why).
``--json`` prints the same as a list of ``{"check", "status", "detail", "fix"}``.
Exit status: 0 once printed (WARNs included: the doctor informs, it does not judge),
2 on a usage error, 3 on an unexpected error.
"""
from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_USAGE, EXIT_INTERNAL = 0, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.doctor",
                                     description="Check whether this machine is fit to be measured.")
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


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # argparse printed the one-line usage error
        return EXIT_USAGE if stop.code else EXIT_OK
    try:
        checks = diagnose(quick=args.quick)
    except Exception as err:  # noqa: BLE001 -- one line, and a code that is no verdict
        print(f"bench.doctor: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_INTERNAL
    if args.json:
        print(json.dumps(checks, indent=1))
    else:
        print("\n".join(format_lines(checks)))
        warns = sum(c["status"] == "WARN" for c in checks)
        print(f"\n{len(checks)} checks: {warns} WARN, {sum(c['status'] == 'INFO' for c in checks)} INFO")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
