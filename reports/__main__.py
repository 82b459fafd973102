"""``python -m reports``: see :mod:`reports.cli` (exit status 0, 1, 2, 3 or 141 as documented there)."""
import os
import sys


def _run() -> int:
    try:
        from reports.cli import EXIT_BROKEN_PIPE, internal_error, main
    except Exception as err:  # noqa: BLE001 - e.g. pandas missing: still one line and exit 3, never 1
        print(f"reports: internal error: {type(err).__name__}: {' '.join(str(err).split())}", file=sys.stderr)
        return 3
    try:
        code = main()
        sys.stdout.flush()
        return code
    except BrokenPipeError:  # e.g. `python -m reports compare A B | head`: no verdict was delivered
        # Python would complain again when it flushes stdout at exit: point stdout at /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as err:  # noqa: BLE001 - a bug outside main's own guard: exit 3, one line
        return internal_error(err)


sys.exit(_run())
