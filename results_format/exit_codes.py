"""The exit statuses of every esperf command (``python -m bench.*``, ``python -m reports ...``).

Defined once, here, because both ``bench`` (:mod:`bench.cli`) and ``reports``
(:mod:`reports.exit_status`) answer with them and neither may import the other. The table of
what each code means for each command: docs/commands.md.

- 0 :data:`EXIT_OK`: done;
- 1 :data:`EXIT_VERDICT`: a verdict (``reports compare``: something is slower) or a failed
  measurement (``bench.peak``: the worker failed);
- 2 :data:`EXIT_USAGE`: bad input; one line naming the bad value and what is allowed;
- 3 :data:`EXIT_INTERNAL`: an unexpected error (a bug); one line, and the traceback in a file
  that the line names (:func:`internal_error`), so that CI never reads a bug as a verdict;
- 141 :data:`EXIT_BROKEN_PIPE`: stdout was closed early (``... | head``); no verdict.

:func:`run` runs a command's body under this convention.

Standard library only: a command answers with one line and exit 3 even where jax or pandas
cannot be imported.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from typing import NoReturn

EXIT_OK, EXIT_VERDICT, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def one_line(text) -> str:
    """``text`` with every run of whitespace (newlines included) as one space."""
    return " ".join(str(text).split())


def save_traceback(prog: str, err: BaseException) -> str:
    """Write ``err``'s traceback to a new file in the temp folder; its path (or why it was not saved)."""
    slug = "".join(c if c.isalnum() else "-" for c in prog.replace("python -m ", "")).strip("-")
    try:
        fd, path = tempfile.mkstemp(prefix=f"esperf-{slug}-", suffix=".traceback.txt")
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{prog}\n")
            fh.writelines(traceback.format_exception(type(err), err, err.__traceback__))
        return path
    except OSError as why:
        return f"not saved: {one_line(why)}"


def internal_error(prog: str, err: BaseException) -> int:
    """Say ``<prog>: internal error: <ExcType>: <msg> (traceback: PATH)`` on one stderr line;
    return :data:`EXIT_INTERNAL`."""
    msg = one_line(err)
    head = f"{prog}: internal error: {type(err).__name__}" + (f": {msg}" if msg else "")
    print(f"{head} (traceback: {save_traceback(prog, err)})", file=sys.stderr)
    return EXIT_INTERNAL


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: stdout was closed before everything was written; no verdict


def run(prog: str, body, argv=None) -> int:
    """The exit status of the command ``body(argv)`` under the convention above.

    ``body`` returns its status; ``SystemExit`` with a number (``--help``, a one-line usage
    error) gives that number; stdout closed early (``... | head``) gives
    :data:`EXIT_BROKEN_PIPE`; any other exception is a bug: :func:`internal_error` (exit 3).
    ``KeyboardInterrupt`` passes through.
    """
    try:
        code = body(argv)
        sys.stdout.flush()
        return code
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or EXIT_OK
        raise
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit: point stdout at /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as err:  # noqa: BLE001 - any other exception is a bug: one line, exit 3
        return internal_error(prog, err)


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one stderr line and exit :data:`EXIT_USAGE`:
    ``<prog>: error: <what is wrong, naming the value> (see <prog> --help)``; an unknown option
    gets the list of the options there are. (argparse's own error prints the usage too.)"""

    def error_prefix(self) -> str:
        """What the error line starts with (before ``: <message>``)."""
        return f"{self.prog}: error"

    def error(self, message: str) -> NoReturn:
        message = one_line(message)
        if message.startswith("unrecognized arguments"):
            allowed = [max(a.option_strings, key=len) for a in self._actions if a.option_strings]
            message += f"; options are {', '.join(allowed)}"
        self.exit(EXIT_USAGE, f"{self.error_prefix()}: {message} (see {self.prog} --help)\n")
