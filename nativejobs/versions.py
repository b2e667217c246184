"""What the planner needs to know of the steps, without importing them: versions and input names.

A leaf (no imports), so ``import nativejobs.plan`` loads no step, ML or report module. A step's
version goes into every key of its kind: bump it when the step's output changes meaning.
"""

from __future__ import annotations

__all__ = ["JUDGE_PROMPT_VERSION", "STEP_VERSIONS", "answers_input"]

PREPARE_VERSION = 2  # 2: released sets, mixtures, parquet and S3 files; null fields read as ""
TRANSLATE_VERSION = 2  # 2: any engine, formatting kept around pieces, quality checks and policy
TRAIN_VERSION = 2  # 2: Trainer loop, packed batches, warm-up/decay, checkpoints; metrics.json layout
EVALUATE_VERSION = 1
JUDGE_VERSION = 1
SUMMARIZE_VERSION = 3  # 3: round trips paired with their own system; SVG figures; summary views

STEP_VERSIONS: dict[str, int] = {
    "prepare": PREPARE_VERSION, "translate": TRANSLATE_VERSION, "train": TRAIN_VERSION,
    "evaluate": EVALUATE_VERSION, "judge": JUDGE_VERSION, "summarize": SUMMARIZE_VERSION,
}

# The judge prompt's version (``nativejobs.judge.prompt.PROMPT_VERSION``, kept equal by a unit
# test): it is in every judge step's params, so a new prompt re-judges.
JUDGE_PROMPT_VERSION = 1


def answers_input(benchmark: str) -> str:
    """The name of the judge step's input holding one benchmark's answers."""
    return f"answers_{benchmark}"
