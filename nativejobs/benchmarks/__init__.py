"""The benchmark layer: what each benchmark is, where its data comes from, how it is scored.

It never runs a model itself. The paper's close-ended benchmarks (``catalog.HARNESS_KINDS``:
TyDi QA GoldP, CMMLU, C-Eval, XQuAD, MGSM native CoT, Okapi MMLU, MMMLU) run through
lm-evaluation-harness as a library (``harness.run_harness`` on the evaluate step's loaded model).
The project's own lm-eval task YAMLs live in ``tasks/`` with their ``!function`` hooks in
``hooks.py`` and metrics in ``metrics.py``; local and S3 files in upstream formats are read by
``_upstream``. ``check_sources`` tries every source. ``open_qa`` (OASST1 questions) has no gold
answers: the evaluate step answers its items (``open_qa.load``, ``open_qa.score``) and the
judge step rates them.
"""

from nativejobs.benchmarks.catalog import HARNESS_KINDS as HARNESS_KINDS
from nativejobs.benchmarks.catalog import HARNESS_VERSION as HARNESS_VERSION
from nativejobs.benchmarks.sources import SourceCheck as SourceCheck
from nativejobs.benchmarks.sources import check_sources as check_sources

__all__ = ["HARNESS_KINDS", "HARNESS_VERSION", "SourceCheck", "check_sources"]
