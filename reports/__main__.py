"""``python -m reports [compare|history|device-check] ...``: picks the command; exit statuses: :mod:`reports.exit_status`.

- ``python -m reports RESULTS... [--out DIR] [--peak-flops KIND=FLOPS]``: :mod:`reports.report`
- ``python -m reports compare BASE NEW [--threshold 0.10] [--alpha 0.01] [--cross-machine]``:
  :mod:`reports.compare`
- ``python -m reports history FILES_OR_DIRS... [--out DIR] [--metric runtime|env_steps_per_s|compile]
  [--threshold 0.10] [--alpha 0.01]``: every case over commits per machine, its steps (exit 1 when
  a series ends slower): :mod:`reports.history`
- ``python -m reports device-check OUT_DIR``: summary.md of a ``.ci/device-check`` run (exit 1
  when a step failed): :mod:`reports.device_check`

The names are :data:`reports.commands.COMMANDS` (``python -m reports --help`` lists them).
"""
import sys

# standard library only: answers with one line and exit 3 even where pandas is missing
from reports.commands import COMMANDS
from reports.exit_status import run_process


def command_main(name: str | None):
    """The ``main(argv)`` of the command ``name`` (None or an unknown word: the report, whose
    argument it then is)."""
    if name == "compare":
        from reports.compare import main
    elif name == "history":
        from reports.history import main
    elif name == "device-check":
        from reports.device_check import main
    else:
        from reports.report import main
    return main


def main() -> int:
    """Run the command that ``sys.argv`` names; return its exit status."""
    argv = sys.argv[1:]
    if argv and argv[0] in COMMANDS:
        return command_main(argv[0])(argv[1:])
    return command_main(None)(argv)


if __name__ == "__main__":
    sys.exit(run_process(main))
