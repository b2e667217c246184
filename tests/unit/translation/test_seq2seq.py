"""The seq2seq engine on a tiny randomly initialised NLLB-style model built offline.

No NLLB or MADLAD weights can be downloaded here, so the model is an M2M100 (NLLB's
architecture) with random weights and a two-layer width of 16, and its tokenizer is an
``NllbTokenizer`` over a SentencePiece model trained on a few sentences in the test. Its output
is gibberish; what is tested is the plumbing: language tags, batching, determinism, sampling on
retry, and the engine behind the translate step.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nativejobs.translation import EngineConfig, load_translator
from nativejobs.translation.seq2seq import Seq2SeqTranslator, madlad_tag, nllb_code

CORPUS = ["Hello world, how are you today?", "Hola mundo, ¿cómo estás hoy?", "Привет, мир!",
          "你好，世界", "This is a small test of the tokenizer.", "Esto es una prueba pequeña."]


@pytest.fixture(scope="module")
def tiny_nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import sentencepiece as spm
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    root = tmp_path_factory.mktemp("tiny-nllb")
    (root / "corpus.txt").write_text("\n".join(CORPUS * 20), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(root / "corpus.txt"), model_prefix=str(root / "sp"), vocab_size=100,
        character_coverage=1.0, bos_id=0, pad_id=1, eos_id=2, unk_id=3, hard_vocab_limit=False,
        minloglevel=2)
    tok = NllbTokenizer(vocab_file=str(root / "sp.model"))
    cfg = M2M100Config(vocab_size=len(tok), d_model=16, encoder_layers=1, decoder_layers=1,
                       encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                       decoder_ffn_dim=32, max_position_embeddings=128,
                       pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                       eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    model_dir = root / "model"
    M2M100ForConditionalGeneration(cfg).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    return model_dir


def engine(path: Path, **kw: object) -> Seq2SeqTranslator:
    cfg = EngineConfig(kind="seq2seq", model=str(path), max_new_tokens=6, batch_size=2, **kw)  # type: ignore[arg-type]
    t = load_translator(cfg)
    assert isinstance(t, Seq2SeqTranslator)
    return t


def test_codes() -> None:
    assert [nllb_code(c) for c in ("es", "ru", "zh", "en", "ar", "hi", "ga")] == [
        "spa_Latn", "rus_Cyrl", "zho_Hans", "eng_Latn", "arb_Arab", "hin_Deva", "gle_Latn"]
    assert madlad_tag("es") == "<2es>"


def test_translates_in_batches_deterministically(tiny_nllb: Path) -> None:
    t = engine(tiny_nllb)
    texts = ["Hello world", "This is a test", "How are you?"]

    first = t.translate(texts, src="en", tgt="es")

    assert len(first) == 3 and all(isinstance(x, str) for x in first)
    assert t.translate(texts, src="en", tgt="es") == first
    assert t.translate([], src="en", tgt="es") == []
    assert t.usage["segments"] == 6


def test_target_tag_is_forced_as_first_token(tiny_nllb: Path) -> None:
    import torch

    t = engine(tiny_nllb)
    t.tokenizer.src_lang = nllb_code("en")
    enc = t.tokenizer(["Hello world"], return_tensors="pt")
    with torch.inference_mode():
        gen = t.model.generate(**enc, max_new_tokens=3, forced_bos_token_id=t._target_tag("ru")[1])

    assert t.tokenizer.convert_ids_to_tokens(gen[0].tolist())[1] == "rus_Cyrl"
    assert t.tokenizer("Hello").input_ids[0] == t.tokenizer.convert_tokens_to_ids("eng_Latn")


def test_madlad_style_prefixes_the_target_tag(tiny_nllb: Path) -> None:
    t = engine(tiny_nllb, code_style="madlad")
    assert t._inputs(["Hello"], "en", "zh") == ["<2zh> Hello"]
    assert len(t.translate(["Hello"], src="en", tgt="zh")) == 1


def test_seq2seq_engines_default_to_line_by_line() -> None:
    assert EngineConfig(kind="seq2seq", model="m").split_mode == "lines"
    assert EngineConfig(kind="llm", model="m").split_mode == "field"


@pytest.fixture(scope="module")
def tiny_ct2(tiny_nllb: Path) -> Path:
    from ctranslate2.converters import TransformersConverter

    out = tiny_nllb.parent / "ct2"
    TransformersConverter(str(tiny_nllb)).convert(str(out), force=True)
    return out


def test_ctranslate2_backend_runs_the_converted_model(tiny_nllb: Path, tiny_ct2: Path) -> None:
    t = engine(tiny_ct2, backend="ctranslate2", tokenizer=str(tiny_nllb))
    texts = ["Hello world", "This is a test", "How are you?"]

    first = t.translate(texts, src="en", tgt="ru")

    assert len(first) == 3 and t.translate(texts, src="en", tgt="ru") == first
    tokens = [t.tokenizer.convert_ids_to_tokens(t.tokenizer("Hello world").input_ids)]
    (result,) = t.model.translate_batch(tokens, target_prefix=[["rus_Cyrl"]], max_decoding_length=3)
    assert result.hypotheses[0][0] == "rus_Cyrl"
    # A retry samples (seeded by the attempt) instead of decoding greedily.
    assert len(t.translate(texts, src="en", tgt="ru", attempt=1)) == 3
