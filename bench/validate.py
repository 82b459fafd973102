"""The one validator of integer settings in ``bench`` (pytest options, train and vs_peers flags).

``strategies`` and ``envs`` keep their own checks: they must not depend on ``bench``.
"""
from __future__ import annotations

import numbers


def positive_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; else ValueError naming the value and what is allowed.

    >>> positive_int("popsize", 100)
    100
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}={value!r} is not allowed; give an int >= {minimum}")
    return int(value)


def parse_positive_int(name: str, text, minimum: int = 1) -> int:
    """Command-line text (or an int) as an int >= ``minimum`` (see :func:`positive_int`)."""
    if isinstance(text, str):
        try:
            text = int(text.strip())
        except ValueError:
            raise ValueError(f"{name}={text!r} is not an int; give an int >= {minimum}") from None
    return positive_int(name, text, minimum)


def positive_ints(name: str, text) -> tuple[int, ...]:
    """A comma list of positive ints (duplicates dropped, order kept); ValueError naming a bad item."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ValueError(f"{name} is empty; give a comma list of positive ints")
    try:
        values = [parse_positive_int(name, t) for t in items]
    except ValueError as err:
        raise ValueError(f"{err.args[0].split('; ')[0]}; give a comma list of positive ints") from None
    return tuple(dict.fromkeys(values))
