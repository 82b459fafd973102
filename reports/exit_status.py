"""Exit statuses of ``python -m reports`` and its commands, and the guards that map errors to them.

Exit status (a public contract; CI scripts read it):

- 0: report written / ``compare``: nothing slower / ``history``: no series ends slower
- 1: ``compare``: something is slower; ``history``: a series' latest step is a slower one;
  ``device-check``: a step or bench case failed (nothing else ever exits 1)
- 2: bad input (:class:`BadInput`: one line ``reports: <where>: <problem>`` on stderr), including
  usage errors (one line too, see :class:`OneLineParser`), for ``compare`` no case in common and,
  for ``history``, a run without ``commit_info``
- 3: an unexpected internal error (a bug): one line ``reports: internal error: <ExcType>: <msg>``
  on stderr, no traceback
- 141 (128 + SIGPIPE, as a shell reports a process killed by a closed pipe): stdout was
  closed before everything was written (``... | head``); no verdict

Standard library only, so that the process guard (:func:`run_process`) still answers with
one line and exit 3 when pandas or scipy cannot be imported.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn

EXIT_OK, EXIT_SLOWER, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_BROKEN_PIPE = 0, 1, 2, 3, 141


class BadInput(Exception):
    """Input the report cannot use: ``where`` (a path) and one line saying why (exit 2)."""

    def __init__(self, where, problem: str):
        super().__init__(f"{where}: {problem}")
        self.where = str(where)
        self.problem = problem


def internal_error(err: BaseException) -> int:
    """Say ``reports: internal error: <ExcType>: <msg>`` on one stderr line; return :data:`EXIT_INTERNAL`.

    An unexpected exception is a bug, not a verdict: its own exit status (3) keeps CI from
    reading it as "slower" (1) or "bad input" (2), and one line keeps CI logs readable.
    """
    msg = " ".join(str(err).split())
    print(f"reports: internal error: {type(err).__name__}: {msg}" if msg else
          f"reports: internal error: {type(err).__name__}", file=sys.stderr)
    return EXIT_INTERNAL


def guarded(body: Callable[[], int]) -> int:
    """Run a command's ``body`` and return its exit status; :class:`BadInput` -> one line and
    :data:`EXIT_BAD_INPUT`; any other exception (a bug) -> :func:`internal_error`.

    ``BrokenPipeError`` passes through: it is no bug, and :func:`run_process` answers it.
    """
    try:
        return body()
    except BadInput as err:
        print(f"reports: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        raise
    except Exception as err:  # noqa: BLE001 - any other exception is a bug: exit 3, one line
        return internal_error(err)


def run_process(main: Callable[[], int]) -> int:
    """The exit status of the process running ``main`` (``python -m reports``).

    stdout closed early (``... | head``): :data:`EXIT_BROKEN_PIPE`, no verdict delivered. Any
    exception outside a command's own guard (e.g. pandas missing at import): exit 3, one line.
    ``SystemExit`` (``--help``, usage errors) passes through.
    """
    try:
        code = main()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit: point stdout at /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as err:  # noqa: BLE001 - a bug outside the command's guard: exit 3, one line
        return internal_error(err)


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one stderr line and exit :data:`EXIT_BAD_INPUT`:
    ``reports: <what is wrong, naming the bad value> (see <prog> --help)``.

    (argparse's own error prints the usage and the message: two lines.) The message says
    what is allowed where the option's type says it (e.g. ``--threshold -1 is outside [0, 10]``).
    """

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())
        if message.startswith("unrecognized arguments"):
            allowed = [max(a.option_strings, key=len) for a in self._actions if a.option_strings]
            message += f"; options are {', '.join(allowed)}"
        self.exit(EXIT_BAD_INPUT, f"reports: {message} (see {self.prog} --help)\n")
