"""Shared command-line plumbing: bad input becomes one line on stderr and exit 2."""
from __future__ import annotations

import sys


def fail(prog: str, message: str, code: int = 2):
    """Print ``prog: message`` on one line to stderr and exit with ``code`` (no traceback)."""
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    raise SystemExit(code)
