"""``python -m reports [compare] ...``: picks the command; exit statuses: :mod:`reports.exit_status`.

- ``python -m reports RESULTS... [--out DIR] [--peak-flops KIND=FLOPS]``: :mod:`reports.report`
- ``python -m reports compare BASE NEW [--threshold 0.10] [--alpha 0.01] [--cross-machine]``:
  :mod:`reports.compare`
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
    else:
        from reports.report import main as command
    return command(argv)


if __name__ == "__main__":
    sys.exit(run_process(main))
