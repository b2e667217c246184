"""Named, lazily imported implementations: the one registry helper, after lm-eval's.

An entry is a ``"module:attribute"`` string (imported only when its name is looked up, so a
registry of torch-backed engines costs nothing to import) or the object itself. Registering a
name twice is an error; looking up an unknown name raises an error that lists what exists::

    ENGINES = Registry("engine backend", error=StepInputError)
    ENGINES.register("vllm", "nativejobs.engines.vllm:VLLMEngine")
    ENGINES["vllm"]          # imports nativejobs.engines.vllm now
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["Registry", "UnknownNameError"]

T = TypeVar("T")


class UnknownNameError(KeyError):
    """When a registry is asked for a name nobody registered; the message lists the names."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


def _import(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


class Registry(Mapping[str, T], Generic[T]):
    """Names → implementations, in registration order.

    Args:
        what: What a name names, for error messages (``"translation engine"``).
        error: What an unknown name raises; it must take the message as its one argument.
    """

    def __init__(self, what: str, *, error: type[Exception] = UnknownNameError) -> None:
        self.what, self.error = what, error
        self._entries: dict[str, T | str] = {}

    def register(self, name: str, target: T | str) -> None:
        """Add ``name``; ``target`` is ``"module:attribute"`` (imported on lookup) or the object.

        Raises:
            ValueError: If ``name`` is registered already, or a string target lacks ``:``.
        """
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is registered twice; give each a new name")
        if isinstance(target, str) and ":" not in target:
            raise ValueError(f"{self.what} {name!r}: target {target!r} is not 'module:attribute'")
        self._entries[name] = target

    def __getitem__(self, name: str) -> T:
        """The implementation of ``name``, imported now if it was registered as a string.

        Raises:
            error: If ``name`` is not registered (the message lists the names that are).
        """
        if name not in self._entries:
            raise self.error(f"{self.what} {name!r} is unknown; use one of: {', '.join(self)}")
        target = self._entries[name]
        if isinstance(target, str):
            target = self._entries[name] = _import(target)
        return target  # type: ignore[return-value]

    def __setitem__(self, name: str, target: T) -> None:
        """Replace a registered entry (a test seam, as ``monkeypatch.setitem``); never adds one.

        Raises:
            error: If ``name`` is not registered: new names go through ``register``.
        """
        if name not in self._entries:
            raise self.error(f"{self.what} {name!r} is not registered; register it first")
        self._entries[name] = target

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[name] if name in self._entries else default

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)
