"""Exit statuses of ``python -m reports`` and its commands, and the guards that map errors to them.

Exit status (a public contract; CI scripts read it):

- 0: report written / ``compare``: nothing slower / ``history``: no series ends slower
- 1: ``compare``: something is slower; ``history``: a series' latest step is a slower one;
  ``device-check``: a step or bench case failed (nothing else ever exits 1)
- 2: bad input (:class:`BadInput`: one line ``reports: <where>: <problem>`` on stderr), including
  usage errors (one line too, see :class:`OneLineParser`), for ``compare`` no case in common and,
  for ``history``, a run without ``commit_info``
- 3: an unexpected internal error (a bug): one line ``reports: internal error: <ExcType>: <msg>
  (traceback: PATH)`` on stderr, the traceback in the file PATH
- 141 (128 + SIGPIPE, as a shell reports a process killed by a closed pipe): stdout was
  closed before everything was written (``... | head``); no verdict

The codes are :mod:`results_format.exit_codes`' (one convention for every esperf command, the
``python -m bench.*`` ones too; the table: docs/commands.md). Standard library only, so that the
process guard (:func:`run_process`) still answers with one line and exit 3 when pandas or scipy
cannot be imported.
"""
from __future__ import annotations

import sys
from collections.abc import Callable

from results_format import exit_codes
from results_format.exit_codes import EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_OK

EXIT_SLOWER = exit_codes.EXIT_VERDICT  # compare, history: something is slower
EXIT_BAD_INPUT = exit_codes.EXIT_USAGE
PROG = "reports"


class BadInput(Exception):
    """Input the report cannot use: ``where`` (a path) and one line saying why (exit 2)."""

    def __init__(self, where, problem: str):
        super().__init__(f"{where}: {problem}")
        self.where = str(where)
        self.problem = problem


def internal_error(err: BaseException) -> int:
    """Say ``reports: internal error: <ExcType>: <msg> (traceback: PATH)`` on one stderr line;
    return :data:`EXIT_INTERNAL` (:func:`results_format.exit_codes.internal_error`).

    An unexpected exception is a bug, not a verdict: its own exit status (3) keeps CI from
    reading it as "slower" (1) or "bad input" (2), and one line keeps CI logs readable.
    """
    return exit_codes.internal_error(PROG, err)


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
    ``SystemExit`` (``--help``, usage errors) gives its code (:func:`results_format.exit_codes.run`).
    """
    return exit_codes.run(PROG, lambda _argv: main())


class OneLineParser(exit_codes.OneLineParser):
    """:class:`results_format.exit_codes.OneLineParser` with the line
    ``reports: <what is wrong, naming the bad value> (see <prog> --help)``.

    The message says what is allowed where the option's type says it (e.g. ``--threshold -1 is
    outside [0, 10]``); an unknown option gets the list of options.
    """

    def error_prefix(self) -> str:
        return PROG
