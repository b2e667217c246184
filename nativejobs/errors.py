"""The nativejobs exception tree.

NativeJobsError                 base of everything we raise on purpose
├── SpecError                   the spec file is unreadable or invalid (CLI exit 2)
├── StoreError                  the artifact store failed or was misconfigured
│   └── StoreNotFoundError      a path that should exist in the store does not
├── BackendError                a backend could not launch, observe or cancel a step
├── RunFailedError              a run ended with failed steps (CLI exit 1)
├── ReportInputError            result records or report options are unusable (CLI exit 2)
└── StepInputError              a step's input or config is bad; never retried (step exit 3)

Messages name the thing, the value and the fix. Only ``cli.py`` maps these to exit codes.
"""

from __future__ import annotations


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


class BackendError(NativeJobsError):
    """When a backend cannot launch, observe or cancel a step."""


class RunFailedError(NativeJobsError):
    """When a run finished with one or more failed steps."""


class ReportInputError(NativeJobsError):
    """When records or report options are unusable: a bad record file, an unknown condition."""


class StepInputError(NativeJobsError):
    """When a step's inputs or parameters are unusable; retrying would not help."""
