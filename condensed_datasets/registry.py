"""A tiny name -> object registry (timm style): one place registers, everything else enumerates."""

from __future__ import annotations

import reprlib
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")

_BRIEF = reprlib.Repr()
_BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxset = _BRIEF.maxdict = 4
_BRIEF.maxstring = _BRIEF.maxother = 60
_BRIEF.maxlevel = 2
_BRIEF.maxlong = 40
BRIEF_ITEMS = _BRIEF.maxlist


def brief(value: Any) -> str:
    """A bounded ``repr`` for error messages: a few items and about 60 characters, whatever the value.

    A long list says how many items it has (``[0, 1, 2, 3, ...] (1000000 items)``); a tensor shows its
    first values and its shape. Never prints a million-element list.
    """
    if hasattr(value, "shape") and hasattr(value, "flatten"):  # a tensor or an array, without importing torch
        head = value.flatten()[:BRIEF_ITEMS].tolist()
        more = len(value.flatten()) > BRIEF_ITEMS
        return _BRIEF.repr(head)[:-1] + (", ...]" if more else "]") + f" (shape {list(value.shape)})"
    text = _BRIEF.repr(value)
    if isinstance(value, (list, tuple, dict, set)) and len(value) > BRIEF_ITEMS:
        text += f" ({len(value)} items)"
    return text


class UnknownNameError(ValueError):
    """Raised for a name no registry entry carries; the message lists the valid choices."""


def check_choice(kind: str, value: str, choices) -> None:
    """``value`` must be one of ``choices``; else a `ValueError` naming it and the valid choices."""
    if value not in choices:
        raise ValueError(f"unknown {kind} {brief(value)}; valid choices: {', '.join(choices)}")


class Registry(Generic[T]):
    """Maps lowercase names to objects of one kind (datasets, networks, methods, ...).

    Args:
        kind: what the entries are, used in error messages ("method", "network", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, obj: T | None = None) -> Callable[[T], T] | T:
        """Register ``obj`` under ``name``; without ``obj`` works as a decorator."""
        if obj is not None:
            return self._add(name, obj)

        def decorator(entry: T) -> T:
            return self._add(name, entry)

        return decorator

    def _add(self, name: str, obj: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = obj
        return obj

    def get(self, name: str) -> T:
        """The entry called ``name``; an unknown name raises `UnknownNameError` listing the choices."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {brief(name)}; valid choices: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        """Registered names in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs in registration order."""
        return list(self._entries.items())
