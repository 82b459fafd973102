"""The commands of ``python -m reports``: their names and what each does, listed once.

:mod:`reports.__main__` dispatches on these names; the report command's ``--help``
(``python -m reports --help``) lists them. Exit statuses per command: docs/commands.md.
"""
from __future__ import annotations

# name -> (its usage, what it does); the report itself is the command without a name
COMMANDS = {
    "compare": ("python -m reports compare BASE NEW [--threshold 0.10] [--alpha 0.01] [--cross-machine]",
                "the regression check of two runs (exit 1: something is slower)"),
    "history": ("python -m reports history FILES_OR_DIRS... [--out DIR] [--metric ...]",
                "every case over commits per machine, with its steps (exit 1: a series ends slower)"),
    "device-check": ("python -m reports device-check OUT_DIR",
                     "summary.md of a .ci/device-check run (exit 1: a step or bench case failed)"),
}


def commands_help() -> str:
    """The other commands, two lines each, for the report command's ``--help``."""
    return "other commands (each has --help):\n" + "\n".join(
        f"  {name}: {what}\n    {usage}" for name, (usage, what) in COMMANDS.items())
