"""The encoder-decoder engine (NLLB, MADLAD style): transformers or CTranslate2, CPU or GPU.

``backend: ctranslate2`` runs a model converted with ``ct2-transformers-converter`` (``model``
is its folder, ``tokenizer`` the HF tokenizer); ``auto`` and ``transformers`` load it with
transformers. Temperature 0 decodes greedily; above it, each batch samples seeded by ``seed``.
``first_token`` forces the decoder's first token (NLLB's target language tag).
"""

from __future__ import annotations

from typing import Any

from nativejobs.engines.models import resolve_model

__all__ = ["Seq2SeqEngine"]


class Seq2SeqEngine:
    """One encoder-decoder model loaded once; ``generate`` maps inputs to outputs in batches."""

    def __init__(self, model_id: str, *, tokenizer: str | None = None, backend: str = "auto",
                 batch_size: int = 8) -> None:
        import torch
        from transformers import AutoTokenizer

        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.backend = "ctranslate2" if backend == "ctranslate2" else "transformers"
        self.batch_size = batch_size
        path = resolve_model(model_id)
        self.tokenizer: Any = AutoTokenizer.from_pretrained(tokenizer or path)
        if self.backend == "ctranslate2":
            import ctranslate2

            self.model: Any = ctranslate2.Translator(path, device=self.device)
        else:
            from transformers import AutoModelForSeq2SeqLM

            self.model = AutoModelForSeq2SeqLM.from_pretrained(path).to(self.device).eval()

    def generate(self, texts: list[str], *, max_new_tokens: int, first_token: str | None = None,
                 temperature: float = 0.0, seed: int = 0) -> list[str]:
        run = self._ct2 if self.backend == "ctranslate2" else self._hf
        out: list[str] = []
        for i in range(0, len(texts), self.batch_size):
            out += run(texts[i : i + self.batch_size], max_new_tokens, first_token, temperature, seed)
        return out

    def _hf(self, chunk: list[str], max_new_tokens: int, first_token: str | None,
            temperature: float, seed: int) -> list[str]:
        import torch

        kw: dict[str, Any] = {"max_new_tokens": max_new_tokens}
        if first_token is not None:
            kw["forced_bos_token_id"] = self.tokenizer.convert_tokens_to_ids(first_token)
        if temperature > 0:
            torch.manual_seed(seed)
            kw |= {"do_sample": True, "temperature": temperature}
        else:
            kw |= {"do_sample": False, "num_beams": 1}
        enc = self.tokenizer(chunk, return_tensors="pt", padding=True, truncation=True).to(self.device)
        with torch.inference_mode():
            gen = self.model.generate(**enc, **kw)
        return list(self.tokenizer.batch_decode(gen, skip_special_tokens=True))

    def _ct2(self, chunk: list[str], max_new_tokens: int, first_token: str | None,
             temperature: float, seed: int) -> list[str]:
        tok = self.tokenizer
        tokens = [tok.convert_ids_to_tokens(tok(t).input_ids) for t in chunk]
        kw: dict[str, Any] = {"max_decoding_length": max_new_tokens, "beam_size": 1}
        if first_token is not None:
            kw["target_prefix"] = [[first_token]] * len(chunk)
        if temperature > 0:
            import ctranslate2

            ctranslate2.set_random_seed(seed)
            kw |= {"sampling_topk": 0, "sampling_temperature": temperature}
        results = self.model.translate_batch(tokens, **kw)
        return [tok.decode(tok.convert_tokens_to_ids(r.hypotheses[0]), skip_special_tokens=True)
                for r in results]
