"""The one set of validators of settings in ``bench`` (pytest options, the flags of train, vs_peers and peak).

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


def parse_seconds(option: str, text) -> float:
    """``text`` as seconds > 0; else ValueError naming ``option`` and the value."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = float("nan")
    if not value > 0:
        raise ValueError(f"{option}: {text!r} is not allowed; give seconds > 0")
    return value


def split_list(text) -> list[str]:
    """The items of a comma list, stripped, empty ones dropped."""
    return [t.strip() for t in str(text).split(",") if t.strip()]


def choice_list(option: str, text, allowed) -> tuple[str, ...]:
    """A comma list of names from ``allowed`` (duplicates dropped, order kept); ValueError naming
    a bad or missing value and what is allowed."""
    values = split_list(text)
    if not values:
        raise ValueError(f"{option} is empty; choose from {', '.join(allowed)}")
    for v in values:
        if v not in allowed:
            raise ValueError(f"{option}: unknown value {v!r}; choose from {', '.join(allowed)}")
    return tuple(dict.fromkeys(values))


def positive_ints(name: str, text) -> tuple[int, ...]:
    """A comma list of positive ints (duplicates dropped, order kept); ValueError naming a bad item."""
    items = split_list(text)
    if not items:
        raise ValueError(f"{name} is empty; give a comma list of positive ints")
    try:
        values = [parse_positive_int(name, t) for t in items]
    except ValueError as err:
        raise ValueError(f"{err.args[0].split('; ')[0]}; give a comma list of positive ints") from None
    return tuple(dict.fromkeys(values))


POP_CHUNK_WORDS = ("auto", "off")


def pop_chunk_setting(name: str, text) -> str | int:
    """A population-chunk setting: ``auto``, ``off`` or a positive int (members per block);
    ValueError naming the value and what is allowed."""
    word = str(text).strip().lower()
    if word in POP_CHUNK_WORDS:
        return word
    try:
        return positive_int(name, int(word) if isinstance(text, str) else text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not allowed; give a positive int (members per block), auto or off") from None
