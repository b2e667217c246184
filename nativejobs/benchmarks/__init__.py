"""The benchmark layer: what each benchmark is, where its data comes from, how it is scored.

It never runs a model itself. Two paths:

- The paper's close-ended benchmarks (``catalog.HARNESS_KINDS``: TyDi QA GoldP, CMMLU, C-Eval,
  XQuAD, MGSM native CoT, Okapi MMLU, MMMLU) run through lm-evaluation-harness as a library
  (``harness.run_harness`` on the evaluate step's loaded model). The project's own lm-eval
  task YAMLs live in ``tasks/`` with their ``!function`` hooks in ``hooks.py``; local and S3
  files in upstream formats are read by ``_upstream``. ``check_sources`` tries every source.
- The project's own implementations (``extractive_qa``, ``math_cot``, ``multiple_choice``: XQuAD,
  MGSM and CMMLU prompts as lm-eval builds them) and ``open_qa``: the evaluate step calls
  ``load_items``, runs the model on the items and hands the results to ``score_generations`` or
  ``score_choices``. ``open_qa`` (OASST1 questions) has no gold answers: the judge step rates them.
"""

from nativejobs.benchmarks._registry import KINDS as KINDS
from nativejobs.benchmarks._registry import load_items as load_items
from nativejobs.benchmarks._registry import score_choices as score_choices
from nativejobs.benchmarks._registry import score_generations as score_generations
from nativejobs.benchmarks._types import ChoiceItem as ChoiceItem
from nativejobs.benchmarks._types import GenerationItem as GenerationItem
from nativejobs.benchmarks._types import ScoredBenchmark as ScoredBenchmark
from nativejobs.benchmarks.catalog import HARNESS_KINDS as HARNESS_KINDS
from nativejobs.benchmarks.catalog import HARNESS_VERSION as HARNESS_VERSION
from nativejobs.benchmarks.sources import SourceCheck as SourceCheck
from nativejobs.benchmarks.sources import check_sources as check_sources

__all__ = [
    "HARNESS_KINDS",
    "HARNESS_VERSION",
    "KINDS",
    "ChoiceItem",
    "GenerationItem",
    "ScoredBenchmark",
    "SourceCheck",
    "check_sources",
    "load_items",
    "score_choices",
    "score_generations",
]
