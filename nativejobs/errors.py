"""The nativejobs exception tree.

NativeJobsError                 base of everything we raise on purpose
├── SpecError                   the spec file is unreadable or invalid (CLI exit 2)
├── StoreError                  the artifact store failed or was misconfigured
│   ├── StoreNotFoundError      a path that should exist in the store does not
│   └── ArtifactDamagedError    a done step's output no longer matches its marker (step exit 4)
├── BackendError                a backend could not launch, observe or cancel a step
│   └── ClusterError            the Kubernetes API refused a call (``nativejobs.k8s.errors``:
│                               NotFound, Conflict, Gone, Forbidden, Unreachable)
├── RunFailedError              a run ended with failed steps (CLI exit 1)
├── RunCancelled, RunBusy       (``nativejobs.controller``) a cancel request stopped the run;
│                               another live controller drives it (CLI exit 1)
├── ReportInputError            result records or report options are unusable (CLI exit 2)
└── StepInputError              a step's input or config is bad; never retried (step exit 3)

Messages name the thing, the value and the fix. Only ``cli.py`` maps these to exit codes.
A message quotes at most ``MAX_QUOTE`` characters of a value (``short_repr``, ``short_text``).
"""

from __future__ import annotations

import reprlib

__all__ = ["MAX_QUOTE", "ArtifactDamagedError", "BackendError", "NativeJobsError", "ReportInputError",
           "RunFailedError", "SpecError", "StepInputError", "StoreError", "StoreNotFoundError", "short_repr",
           "short_text"]

MAX_QUOTE = 200  # characters of a value an error message quotes


def _bounded_repr() -> reprlib.Repr:
    r = reprlib.Repr()
    r.maxlevel, r.maxdict, r.maxlist, r.maxtuple, r.maxset = 4, 8, 12, 12, 12
    r.maxstring = r.maxother = r.maxlong = MAX_QUOTE
    return r


_REPR = _bounded_repr()


def short_text(text: str, limit: int = MAX_QUOTE) -> str:
    """``text`` cut to at most ``limit`` characters, the last of them saying how long it was."""
    if len(text) <= limit:
        return text
    note = f"... ({len(text):,} characters)"
    return text[:max(limit - len(note), 0)] + note


def _is_small(value: object, budget: int) -> bool:
    """Whether ``value``'s repr is surely short: a walk that stops once ``budget`` is spent."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            budget -= len(item) + 2
        elif isinstance(item, dict):
            budget -= 2 * len(item) + 2
            stack += [*item.keys(), *item.values()] if budget > 0 else []
        elif isinstance(item, list | tuple | set | frozenset):
            budget -= len(item) + 2
            stack += list(item) if budget > 0 else []
        else:
            budget -= 24  # numbers, None, dates: short; anything else is cut by reprlib
            if not isinstance(item, int | float | bool | type(None)):
                return False
        if budget < 0:
            return False
    return True


def short_repr(value: object, limit: int = MAX_QUOTE) -> str:
    """``repr(value)`` in at most ~``limit`` characters, computed without walking all of it."""
    if isinstance(value, str | bytes) and len(value) > limit:
        return f"{short_text(repr(value[: limit // 2]), limit)}... ({len(value):,} characters)"
    text = repr(value) if _is_small(value, 2 * limit) else _REPR.repr(value)
    return short_text(text, limit)


class NativeJobsError(Exception):
    """Base class: an error nativejobs raised on purpose, with a message meant for a person."""


class SpecError(NativeJobsError):
    """When the spec cannot be read or does not validate; carries one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class StoreError(NativeJobsError):
    """When the store cannot be reached, read or written."""


class StoreNotFoundError(StoreError):
    """When a path is missing from the store."""


class ArtifactDamagedError(StoreError):
    """When a step's output no longer matches what its marker vouches for (truncated, altered,
    missing): the step's marker is moved aside, so the step is recomputed. Retryable."""


class BackendError(NativeJobsError):
    """When a backend cannot launch, observe or cancel a step."""


class RunFailedError(NativeJobsError):
    """When a run finished with one or more failed steps."""


class ReportInputError(NativeJobsError):
    """When records or report options are unusable: a bad record file, an unknown condition."""


class StepInputError(NativeJobsError):
    """When a step's inputs or parameters are unusable; retrying would not help."""
