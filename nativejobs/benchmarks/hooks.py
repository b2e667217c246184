"""Functions the lm-eval task YAMLs name with ``!function nativejobs.benchmarks.hooks.NAME``.

Small and pure, as the harness's own ``utils.py`` hooks: a ``custom_dataset`` loader that reads
local or ``s3://`` files in their upstream layout (``load_files``), and the TyDi QA GoldP task's
document filter and metrics (``tasks/tydiqa``), XQuAD's metrics (``tasks/xquad``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from nativejobs.benchmarks import metrics
from nativejobs.benchmarks._upstream import read_split

__all__ = ["load_files", "qa_metrics", "tydiqa_ru_docs", "tydiqa_ru_results", "xquad_results"]


def load_files(*, sources: dict[str, list[str]], layout: str, **_task_metadata: Any) -> Any:
    """The task's splits from files (a task's ``custom_dataset``; the harness passes its
    metadata and ``dataset_kwargs`` as keywords).

    Args:
        sources: Split name -> files (local paths or ``s3://`` URIs), read in order.
        layout: The upstream layout (``catalog.Layout``).

    Returns:
        A ``datasets.DatasetDict`` with one ``Dataset`` per split.

    Raises:
        StepInputError: If a file is missing or malformed.
    """
    import datasets

    return datasets.DatasetDict({split: datasets.Dataset.from_list(read_split(uris, layout))
                                 for split, uris in sources.items()})


def tydiqa_ru_docs(dataset: Any) -> Any:
    """Russian GoldP questions (ids ``russian-...``) with ``answers`` as a list of texts."""
    return dataset.filter(lambda doc: str(doc["id"]).startswith("russian-")).map(
        lambda doc: {"answers": list(doc["answers"]["text"])
                     if isinstance(doc["answers"], dict) else list(doc["answers"])})


def qa_metrics(prediction: str, golds: list[str], language: str) -> dict[str, float]:
    """SQuAD v1.1 EM/F1, MLQA-style F1 and the paper's include, each the max over ``golds``."""
    def mlqa(p: str, g: str) -> float:
        return metrics.mlqa_f1(p, g, language)

    return {"exact_match": metrics.max_over_golds(metrics.squad_exact_match, prediction, golds),
            "f1": metrics.max_over_golds(metrics.squad_f1, prediction, golds),
            "f1_mlqa": metrics.max_over_golds(mlqa, prediction, golds),
            "include": metrics.max_over_golds(metrics.include, prediction, golds)}


def tydiqa_ru_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """The task's ``process_results``: the completion (cut at the stop) against every gold."""
    return qa_metrics(results[0].strip(), list(doc["answers"]), "ru")


def xquad_results(doc: dict[str, Any], results: list[str], *, language: str) -> dict[str, float]:
    """XQuAD's ``process_results``: the completion against the question's gold answers."""
    return qa_metrics(results[0], list(doc["answers"]["text"]), language)


# One hook per language, as the harness's own per-language utils functions.
xquad_results_ar = partial(xquad_results, language="ar")
xquad_results_de = partial(xquad_results, language="de")
xquad_results_en = partial(xquad_results, language="en")
xquad_results_es = partial(xquad_results, language="es")
xquad_results_hi = partial(xquad_results, language="hi")
xquad_results_ru = partial(xquad_results, language="ru")
xquad_results_th = partial(xquad_results, language="th")
xquad_results_tr = partial(xquad_results, language="tr")
xquad_results_vi = partial(xquad_results, language="vi")
xquad_results_zh = partial(xquad_results, language="zh")
