"""``python -m reports [compare|history|device-check] ...``: picks the command; exit statuses: :mod:`reports.exit_status`.

- ``python -m reports RESULTS... [--out DIR] [--peak-flops KIND=FLOPS]``: :mod:`reports.report`
- ``python -m reports compare BASE NEW [--threshold 0.10] [--alpha 0.01] [--cross-machine]``:
  :mod:`reports.compare`
- ``python -m reports history FILES_OR_DIRS... [--out DIR] [--metric runtime|env_steps_per_s|compile]
  [--threshold 0.10] [--alpha 0.01]``: every case over commits per machine, its steps (exit 1 when
  a series ends slower): :mod:`reports.history`
- ``python -m reports device-check OUT_DIR``: summary.md of a ``.ci/device-check`` run (exit 1
  when a step failed): :mod:`reports.device_check`
"""
import sys

# standard library only: answers with one line and exit 3 even where pandas is missing
from reports.exit_status import run_process


def main() -> int:
    """Run the command that ``sys.argv`` names; return its exit status."""
    argv = sys.argv[1:]
    if argv and argv[0] == "compare":
        from reports.compare import main as command

        argv = argv[1:]
    elif argv and argv[0] == "history":
        from reports.history import main as command

        argv = argv[1:]
    elif argv and argv[0] == "device-check":
        from reports.device_check import main as command

        argv = argv[1:]
    else:
        from reports.report import main as command
    return command(argv)


if __name__ == "__main__":
    sys.exit(run_process(main))
