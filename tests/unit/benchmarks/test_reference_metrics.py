# ruff: noqa: UP032, E501  (the vendored reference scripts stay verbatim)
"""Correctness against the references, on real benchmark items (issue 4, item 6).

- EM/F1: the official SQuAD v1.1 evaluation script, vendored below verbatim.
- Chinese (and Spanish) F1: the official MLQA evaluation script's normalisation and mixed
  segmentation, vendored below verbatim; Russian (not an MLQA language) against lm-eval's own
  TyDi QA port of it.

Predictions are derived from the real XQuAD items (the gold itself, with articles,
punctuation, case, truncations, surrounding context, numbers in several spellings), so both
sides see the texts the benchmarks produce.
"""

from __future__ import annotations

import json
import re
import string
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from nativejobs.benchmarks import hooks, metrics


# ---- official SQuAD v1.1 evaluation script (evaluate-v1.1.py, Rajpurkar et al. 2016, SQuAD
# explorer; the same text as huggingface/evaluate's metrics/squad/compute_score.py, Apache-2.0).
# Verbatim except for the function prefix.
def squad_normalize_answer(s):  # type: ignore[no-untyped-def]
    """Lower text and remove punctuation, articles and extra whitespace."""
    def remove_articles(text):  # type: ignore[no-untyped-def]
        return re.sub(r'\b(a|an|the)\b', ' ', text)

    def white_space_fix(text):  # type: ignore[no-untyped-def]
        return ' '.join(text.split())

    def remove_punc(text):  # type: ignore[no-untyped-def]
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

    def lower(text):  # type: ignore[no-untyped-def]
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def squad_f1_score(prediction, ground_truth):  # type: ignore[no-untyped-def]
    prediction_tokens = squad_normalize_answer(prediction).split()
    ground_truth_tokens = squad_normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def squad_exact_match_score(prediction, ground_truth):  # type: ignore[no-untyped-def]
    return (squad_normalize_answer(prediction) == squad_normalize_answer(ground_truth))


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):  # type: ignore[no-untyped-def]
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth)
        scores_for_ground_truths.append(score)
    return max(scores_for_ground_truths)


# ---- official MLQA evaluation script (facebookresearch/MLQA mlqa_evaluation_v1.py, CC BY-SA
# 4.0). Verbatim except for the prefix; the arabic article regex is written as a raw string.
MLQA_PUNCT = {chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith('P')}.union(string.punctuation)
MLQA_WHITESPACE_LANGS = ['en', 'es', 'hi', 'vi', 'de', 'ar']
MLQA_MIXED_SEGMENTATION_LANGS = ['zh']


def mlqa_whitespace_tokenize(text):  # type: ignore[no-untyped-def]
    return text.split()


def mlqa_mixed_segmentation(text):  # type: ignore[no-untyped-def]
    segs_out = []
    temp_str = ""
    for char in text:
        if re.search(r'[\u4e00-\u9fa5]', char) or char in MLQA_PUNCT:
            if temp_str != "":
                ss = mlqa_whitespace_tokenize(temp_str)
                segs_out.extend(ss)
                temp_str = ""
            segs_out.append(char)
        else:
            temp_str += char

    if temp_str != "":
        ss = mlqa_whitespace_tokenize(temp_str)
        segs_out.extend(ss)

    return segs_out


def mlqa_normalize_answer(s, lang):  # type: ignore[no-untyped-def]
    """Lower text and remove punctuation, articles and extra whitespace."""

    def remove_articles(text, lang):  # type: ignore[no-untyped-def]
        if lang == 'en':
            return re.sub(r'\b(a|an|the)\b', ' ', text)
        elif lang == 'es':
            return re.sub(r'\b(un|una|unos|unas|el|la|los|las)\b', ' ', text)
        elif lang == 'hi':
            return text  # Hindi does not have formal articles
        elif lang == 'vi':
            return re.sub(r'\b(của|là|cái|chiếc|những)\b', ' ', text)
        elif lang == 'de':
            return re.sub(r'\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b', ' ', text)
        elif lang == 'ar':
            return re.sub(r'\sال^|ال', ' ', text)
        elif lang == 'zh':
            return text  # Chinese does not have formal articles
        else:
            raise Exception('Unknown Language {}'.format(lang))

    def white_space_fix(text, lang):  # type: ignore[no-untyped-def]
        if lang in MLQA_WHITESPACE_LANGS:
            tokens = mlqa_whitespace_tokenize(text)
        elif lang in MLQA_MIXED_SEGMENTATION_LANGS:
            tokens = mlqa_mixed_segmentation(text)
        else:
            raise Exception('Unknown Language {}'.format(lang))
        return ' '.join([t for t in tokens if t.strip() != ''])

    def remove_punc(text):  # type: ignore[no-untyped-def]
        return ''.join(ch for ch in text if ch not in MLQA_PUNCT)

    def lower(text):  # type: ignore[no-untyped-def]
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s)), lang), lang)


def mlqa_f1_score(prediction, ground_truth, lang):  # type: ignore[no-untyped-def]
    prediction_tokens = mlqa_normalize_answer(prediction, lang).split()
    ground_truth_tokens = mlqa_normalize_answer(ground_truth, lang).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


# ---- predictions derived from real items ------------------------------------------------------
def xquad_cases(data: Path, lang: str) -> Iterator[tuple[str, list[str]]]:
    doc = json.loads((data / "xquad" / f"xquad.{lang}.json").read_text(encoding="utf-8"))
    for article in doc["data"]:
        for para in article["paragraphs"]:
            ctx = para["context"]
            for qa in para["qas"]:
                golds = [a["text"] for a in qa["answers"]]
                gold, start = golds[0], qa["answers"][0]["answer_start"]
                half = gold[: max(1, len(gold) // 2)]
                yield from ((p, golds) for p in (
                    gold, f" {gold}\n", f"The {gold}.", gold.upper() + "!", half, f"{half} {gold}",
                    ctx[max(0, start - 25) : start + len(gold) + 25], ctx[:60], "", f"«{gold}»",
                    f"{gold}。", gold.replace(" ", "")))


@pytest.mark.parametrize("lang", ["es", "ru", "zh"])
def test_squad_em_and_f1_equal_the_official_script_on_xquad(data: Path, lang: str) -> None:
    n = 0
    for prediction, golds in xquad_cases(data, lang):
        ref_em = float(metric_max_over_ground_truths(squad_exact_match_score, prediction, golds))
        ref_f1 = float(metric_max_over_ground_truths(squad_f1_score, prediction, golds))
        assert metrics.max_over_golds(metrics.squad_exact_match, prediction, golds) == ref_em, prediction
        assert metrics.max_over_golds(metrics.squad_f1, prediction, golds) == ref_f1, prediction
        # ...and what the XQuAD task's process_results records
        got = hooks.xquad_results({"answers": {"text": golds}}, [prediction], language=lang)
        assert (got["exact_match"], got["f1"]) == (ref_em, ref_f1), prediction
        n += 1
    assert n == 1190 * 12


@pytest.mark.parametrize("lang", ["es", "zh"])
def test_mlqa_f1_equals_the_official_mlqa_script_on_xquad(data: Path, lang: str) -> None:
    for prediction, golds in xquad_cases(data, lang):
        ref = float(max(mlqa_f1_score(prediction, g, lang) for g in golds))
        assert metrics.max_over_golds(lambda p, g: metrics.mlqa_f1(p, g, lang), prediction, golds) == ref
        assert hooks.xquad_results({"answers": {"text": golds}}, [prediction], language=lang)["f1_mlqa"] == ref


def test_russian_mlqa_f1_equals_lm_evals_tydiqa_port(data: Path) -> None:
    utils = pytest.importorskip("lm_eval.tasks.tydiqa.utils")
    for prediction, golds in xquad_cases(data, "ru"):
        ref = float(utils.metric_max_over_ground_truths(utils.f1_score, prediction, golds, "ru"))
        assert metrics.max_over_golds(lambda p, g: metrics.mlqa_f1(p, g, "ru"), prediction, golds) == ref


def test_chinese_squad_f1_is_em_but_mlqa_f1_is_not(data: Path) -> None:
    """The trap the MLQA metric exists for: whitespace tokens make Chinese SQuAD F1 all-or-nothing."""
    partial = [(p, g) for p, g in xquad_cases(data, "zh") if 0 < metrics.mlqa_f1(p, g[0], "zh") < 1
               and not any(ch.isspace() for ch in p.strip() + g[0])]  # one whitespace token each
    assert len(partial) > 1000
    assert all(metrics.squad_f1(p, g[0]) in (0.0, 1.0) for p, g in partial)
