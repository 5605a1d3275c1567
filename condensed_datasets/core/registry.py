"""A tiny name -> object registry (timm style): one place registers, everything else enumerates."""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from condensed_datasets.core.errors import UnknownNameError, brief

T = TypeVar("T")


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
