"""The paper's close-ended benchmarks as lm-evaluation-harness tasks: which task, which data.

Pure data, importable without lm-eval (the plan and the spec read it). One entry per benchmark
``kind`` of the spec; ``HARNESS_VERSION`` is the pinned lm-eval (``pyproject.toml``, worker
extra) and goes into every evaluate step key that runs a harness benchmark, with
``TASK_VERSIONS`` of the project's own task YAMLs (``tasks/``).

Shots are the paper's (PROTOCOL.md, evaluation table; Chen et al. 2024 §3.3). Hub ids are the
harness's own defaults (cluster runs); a spec's ``path``/``dev_path`` replace them with local or
``s3://`` files in the upstream ``layout``:

- ``hf``: rows already shaped like the hub dataset (CMMLU and C-Eval CSVs, Okapi JSON/JSONL,
  MMMLU CSV, any parquet export of a hub dataset);
- ``squad``: SQuAD v1.1 nested JSON (XQuAD's ``xquad.{lang}.json``, TyDi QA GoldP's
  ``tydiqa-goldp-v1.1-{dev,train}.json``), flattened to the hub's rows;
- ``mgsm``: google-research/url-nlp's headerless ``mgsm_{lang}.tsv`` (question, number) with the
  exemplars as JSON ``[{q, a, number_answer}]`` (shared/data's ``mgsm_exemplars_{lang}.json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "HARNESS_KINDS", "HARNESS_VERSION", "TASK_VERSIONS", "HarnessBenchmark", "harness_benchmark",
]

HARNESS_VERSION = "0.4.13"  # lm-eval on PyPI; keep equal to the worker extra's pin
_XQUAD = ("ar", "de", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
# The project's own lm-eval tasks (tasks/*/*.yaml) and their metadata.version (a unit test
# keeps the two equal).
# 2.0: include is the paper's rule (the trimmed gold occurs verbatim in the generation).
TASK_VERSIONS: dict[str, float] = {"nativejobs_tydiqa_ru": 2.0,
                                   **{f"nativejobs_xquad_{lang}": 2.0 for lang in _XQUAD}}

Layout = Literal["hf", "squad", "mgsm"]
# How the items of one benchmark split into subtasks (the harness's group members):
# None: one task; "files": one file per subject (CMMLU, C-Eval); "column": one file with a
# Subject column (MMMLU).
Subjects = Literal["files", "column"] | None

_MMMLU_LOCALES = {"ar": "ar_xy", "bn": "bn_bd", "de": "de_de", "es": "es_la", "fr": "fr_fr",
                  "hi": "hi_in", "id": "id_id", "it": "it_it", "ja": "ja_jp", "ko": "ko_kr",
                  "pt": "pt_br", "sw": "sw_ke", "yo": "yo_ng", "zh": "zh_cn"}
_OKAPI = ("ar", "bn", "de", "es", "fr", "hi", "id", "it", "nl", "pt", "ru", "te", "uk",
          "vi", "zh")
_MGSM = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")


@dataclass(frozen=True)
class HarnessBenchmark:
    """One benchmark kind run through lm-evaluation-harness.

    Attributes:
        kind: The spec's ``kind``.
        tasks: Language -> the harness task or group that is the benchmark in that language.
        task_dir: Folder of its task YAMLs: under ``lm_eval/tasks`` or, for ``nativejobs``, the
            project's ``nativejobs/benchmarks/tasks``. Only these folders are indexed.
        shots: The paper's number of few-shot examples.
        hub: The default ``dataset_path`` (what the task downloads on a cluster).
        eval_split: The split the task scores (what ``path`` replaces).
        fewshot_split: The split its few-shot examples come from (what ``dev_path`` replaces);
            None when the task samples them from the eval split itself (MMMLU).
        layout: The upstream layout of local files.
        subjects: How items split into subtasks (see ``Subjects``).
        subtask_prefix: Language -> the prefix of its subtask names (grouped kinds only).
        file_suffixes: Split -> file-name suffix dropped to find the subject (C-Eval's
            ``accountant_val.csv``).
        paper_metrics: The metrics the paper reports (PROTOCOL.md); the records hold more.
    """

    kind: str
    tasks: dict[str, str]
    task_dir: str
    shots: int
    hub: str
    eval_split: str
    fewshot_split: str | None
    layout: Layout = "hf"
    subjects: Subjects = None
    subtask_prefix: dict[str, str] = field(default_factory=dict)
    file_suffixes: dict[str, str] = field(default_factory=dict)
    paper_metrics: tuple[str, ...] = ("acc",)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self.tasks))

    def files_for(self, language: str, uris: list[str]) -> list[str]:
        """The files of one language among a source's files: MMMLU's folder holds one
        ``mmlu_{LOCALE}.csv`` per locale (``ES-LA`` for es); other kinds use every file."""
        if self.kind != "mmmlu" or len(uris) == 1:
            return uris
        locale = self.tasks[language].removeprefix("mmmlu_").upper()
        return [u for u in uris
                if u.rsplit("/", 1)[-1].rsplit(".", 1)[0].upper().replace("-", "_").endswith(locale)]


_CATALOG: tuple[HarnessBenchmark, ...] = (
    # Native, structured. Not in the harness when the paper ran (0.4.13 has tydiqa_goldp_ru,
    # 0-shot): our task mirrors its prompt, 1-shot, F1 and EM as max over every gold answer.
    HarnessBenchmark("tydiqa", {"ru": "nativejobs_tydiqa_ru"}, "nativejobs", 1,
                     "google-research-datasets/tydiqa", "validation", "train", layout="squad",
                     paper_metrics=("f1",)),
    HarnessBenchmark("cmmlu", {"zh": "cmmlu"}, "cmmlu", 5, "haonan-li/cmmlu", "test", "dev",
                     subjects="files", subtask_prefix={"zh": "cmmlu_"}),
    HarnessBenchmark("ceval", {"zh": "ceval-valid"}, "ceval", 5, "ceval/ceval-exam", "val", "dev",
                     subjects="files", subtask_prefix={"zh": "ceval-valid_"},
                     file_suffixes={"val": "_val", "dev": "_dev", "test": "_test"}),
    # Human-translated, generative. lm-eval's xquad tasks no longer load under transformers 5
    # (their metric module is gone): ours copy them field for field (tasks/xquad).
    HarnessBenchmark("xquad", {lang: f"nativejobs_xquad_{lang}" for lang in _XQUAD}, "nativejobs", 0,
                     "google/xquad", "validation", None, layout="squad",
                     paper_metrics=("exact_match", "include")),
    # Human-translated, structured: native chain of thought, both answer filters.
    HarnessBenchmark("mgsm", {lang: f"mgsm_native_cot_{lang}" for lang in _MGSM},
                     "mgsm/native_cot", 5, "juletxara/mgsm", "test", "train", layout="mgsm",
                     paper_metrics=("exact_match_strict", "exact_match_flexible")),
    # Machine-translated MMLU (Okapi, ChatGPT-translated).
    HarnessBenchmark("okapi_mmlu", {lang: f"m_mmlu_{lang}" for lang in _OKAPI},
                     "okapi/mmlu_multilingual", 5, "alexandrainst/m_mmlu", "test", "train"),
    # Human-translated MMLU (OpenAI MMMLU): no Russian; shots come from the test split itself.
    HarnessBenchmark("mmmlu", {lang: f"mmmlu_{loc}" for lang, loc in _MMMLU_LOCALES.items()},
                     "openai-mmmlu/default", 5, "openai/MMMLU", "test", None, subjects="column",
                     subtask_prefix={lang: f"mmmlu_{loc}_" for lang, loc in _MMMLU_LOCALES.items()}),
)
_BY_KIND = {b.kind: b for b in _CATALOG}

HARNESS_KINDS: tuple[str, ...] = tuple(_BY_KIND)


def harness_benchmark(kind: str) -> HarnessBenchmark:
    """The catalogue entry of a harness kind. Raises: KeyError if ``kind`` is not one."""
    return _BY_KIND[kind]
