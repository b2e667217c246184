"""Exit codes, one table for the CLI and the step entrypoint (and the Job's podFailurePolicy).

The CLI: 0 ok, 1 the run failed, 2 bad input (spec, arguments, unknown run), 130 interrupted.
A step: 0 done (marker written), 3 bad input (never retried), 4 an input step's output was
found damaged (its marker moved aside; a free retry once it is redone), anything else retryable.
"""

from __future__ import annotations

__all__ = ["EXIT_BAD_INPUT", "EXIT_INPUT_DAMAGED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_RETRYABLE",
           "EXIT_RUN_FAILED", "EXIT_USAGE"]

EXIT_OK = 0
# The CLI's.
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# The step entrypoint's.
EXIT_RETRYABLE = 1
EXIT_BAD_INPUT = 3
EXIT_INPUT_DAMAGED = 4  # not this step's fault: retrying it costs nothing of its budget
