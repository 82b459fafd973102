"""The command-line plumbing of every ``python -m bench.*`` command: one exit convention.

The codes are :mod:`results_format.exit_codes`' (shared with ``python -m reports``; the table
per command: docs/commands.md): 0 ok, 1 a verdict or a failed measurement, 2 bad input (one
line naming the bad value and what is allowed), 3 an unexpected error (one line naming the
file the traceback went to).
"""
from __future__ import annotations

import sys
from typing import NoReturn

from results_format.exit_codes import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, EXIT_VERDICT, OneLineParser, one_line, run

__all__ = ["EXIT_OK", "EXIT_VERDICT", "EXIT_USAGE", "EXIT_INTERNAL", "Parser", "fail", "say", "command"]


def say(prog: str, message: str, what: str = "error") -> None:
    """Print ``prog: what: message`` on one stderr line."""
    print(f"{prog}: {what}: {one_line(message)}", file=sys.stderr)


def fail(prog: str, message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``prog: error: message`` on one line to stderr and exit with ``code`` (no traceback)."""
    say(prog, message)
    raise SystemExit(code)


class Parser(OneLineParser):
    """The parser of a ``python -m bench.*`` command: a usage error is one stderr line and exit 2,
    ``<prog>: error: <what is wrong, naming the value> (see <prog> --help)``
    (:class:`results_format.exit_codes.OneLineParser`)."""


def command(prog: str, body, argv=None, usage: tuple[type[BaseException], ...] = ()) -> int:
    """The exit status of ``body(argv)`` under the convention: an exception of ``usage`` (the
    command's validators raise ValueError naming the value) is one line and exit 2; any other
    is a bug: one line, the traceback in a file, exit 3 (:func:`results_format.exit_codes.run`)."""

    def guarded(args):
        try:
            return body(args)
        except usage as err:
            say(prog, str(err))
            return EXIT_USAGE

    return run(prog, guarded, argv)
