"""How a key of the results format is declared, and how a declaration is read back.

A record of the format is a ``TypedDict`` whose keys are ``Required[...]`` (every value of the
record has it, from the schema version in its :class:`Key`) or ``NotRequired[...]`` (only some
have it). Each key's type is ``Annotated[T, Key(meaning, ...)]``; ``T`` is built from ``int``,
``float``, ``str``, ``bool``, ``None``, ``list[...]``, ``dict[str, ...]``, ``Literal[...]``,
unions (``X | None``), nested records, and ``Annotated[T, Min(n)]`` / ``Annotated[str,
Pattern(...)]`` for a value's bounds. :mod:`results_format.json_schema` turns the records into
the published JSON Schema and :mod:`results_format.validate` checks a file against them: both
read a record through :func:`fields`.
"""
from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Annotated, NotRequired, Required, Union, get_args, get_origin, get_type_hints, is_typeddict

FIRST_VERSION = 1


@dataclass(frozen=True)
class Key:
    """A key's meaning (one line) and, for a ``Required`` key, the schema version from which every
    record has it (older files may lack it). ``what`` names a wrong value's expected form where
    the generated wording would say less (``a list of reason strings``)."""

    meaning: str
    since: int = 2
    what: str | None = None


@dataclass(frozen=True)
class Min:
    """The lowest value a number may take (inclusive)."""

    value: float


@dataclass(frozen=True)
class Pattern:
    """A regular expression a whole string matches, and the form it allows in words."""

    regex: str
    what: str


@dataclass(frozen=True)
class Field:
    """One key of a record as declared: name, type (without ``Required``/``Key``), its :class:`Key`,
    and whether it is required."""

    name: str
    type: object
    key: Key
    required: bool

    def required_in(self, version: int) -> bool:
        """Whether a record of a file of schema ``version`` must have this key."""
        return self.required and version >= self.key.since


def fields(record) -> list[Field]:
    """The keys of a ``TypedDict`` record, in declaration order (base records first)."""
    hints = get_type_hints(record, include_extras=True)
    out = []
    for name, hint in hints.items():
        required = name in record.__required_keys__
        if get_origin(hint) in (Required, NotRequired):
            (hint,) = get_args(hint)
        key = None
        if get_origin(hint) is Annotated:
            base, *meta = get_args(hint)
            key = next((m for m in meta if isinstance(m, Key)), None)
            rest = tuple(m for m in meta if not isinstance(m, Key))
            hint = Annotated[(base, *rest)] if rest else base
        if key is None:
            raise TypeError(f"{record.__name__}.{name} has no Key(meaning) in its annotation")
        out.append(Field(name, hint, key, required))
    return out


def field_map(record) -> dict[str, Field]:
    """{name: :class:`Field`} of a record."""
    return {f.name: f for f in fields(record)}


def is_record(tp) -> bool:
    return is_typeddict(tp)


def unwrap(tp) -> tuple[object, list]:
    """(the type under any ``Annotated``, its constraints: :class:`Min`, :class:`Pattern`)."""
    constraints = []
    while get_origin(tp) is Annotated:
        tp, *meta = get_args(tp)
        constraints += [m for m in meta if isinstance(m, (Min, Pattern))]
    return tp, constraints


def union_members(tp) -> tuple | None:
    """The members of ``X | Y`` / ``Optional[X]``, or None for a type that is no union."""
    if get_origin(tp) in (Union, types.UnionType):
        return get_args(tp)
    return None


# Shorthands of the records' value types.
Count = Annotated[int, Min(1)]  # an integer >= 1
Bytes = Annotated[int, Min(0)]  # bytes, an integer >= 0
Seconds = Annotated[float, Min(0)]  # seconds, a number >= 0
