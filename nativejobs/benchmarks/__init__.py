"""The benchmark layer: read upstream benchmark files, build model requests, score the answers.

It never runs a model. The evaluate step calls ``load_items``, runs the model on the items
(greedy generation for ``GenerationItem``, per-choice log-likelihood for ``ChoiceItem``) and
hands the results to ``score_generations`` or ``score_choices``.

Kinds: ``extractive_qa`` (XQuAD), ``math_cot`` (MGSM native CoT), ``multiple_choice`` (CMMLU);
prompts follow lm-evaluation-harness (see each module's docstring for the source files).
``open_qa`` (OASST1 questions) has no gold answers: its answers are rated by the judge step.
"""

from nativejobs.benchmarks._registry import KINDS as KINDS
from nativejobs.benchmarks._registry import load_items as load_items
from nativejobs.benchmarks._registry import score_choices as score_choices
from nativejobs.benchmarks._registry import score_generations as score_generations
from nativejobs.benchmarks._types import ChoiceItem as ChoiceItem
from nativejobs.benchmarks._types import GenerationItem as GenerationItem
from nativejobs.benchmarks._types import ScoredBenchmark as ScoredBenchmark

__all__ = [
    "KINDS",
    "ChoiceItem",
    "GenerationItem",
    "ScoredBenchmark",
    "load_items",
    "score_choices",
    "score_generations",
]
