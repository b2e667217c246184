"""``seq2seq``: an encoder-decoder MT model (NLLB, MADLAD style), transformers or CTranslate2.

Language tags by ``code_style``: ``nllb`` sets the tokenizer's source language and forces the
target tag (``spa_Latn``) as the first generated token; ``madlad`` prefixes the input with
``<2es>``. Texts reach the model line by line by default (``segmentation: lines``): these are
sentence-level models. ``backend: ctranslate2`` runs a model converted with
``ct2-transformers-converter`` (``model`` is its folder, ``tokenizer`` the HF tokenizer).
Attempt 0 is greedy; a retry samples with the attempt as seed.
"""

from __future__ import annotations

from typing import Any

from nativejobs.errors import StepInputError
from nativejobs.languages import LANGUAGES
from nativejobs.translation.base import RETRY_TEMPERATURE
from nativejobs.translation.config import EngineConfig

__all__ = ["Seq2SeqTranslator", "madlad_tag", "nllb_code"]

# FLORES-200 scripts of the languages nativejobs knows; the rest are Latin.
_SCRIPTS = {"ar": "Arab", "bn": "Beng", "fa": "Arab", "hi": "Deva", "ja": "Jpan", "ko": "Hang",
            "ru": "Cyrl", "te": "Telu", "th": "Thai", "uk": "Cyrl", "zh": "Hans"}


def nllb_code(lang: str) -> str:
    """The NLLB / FLORES-200 code: ``spa_Latn``, ``zho_Hans``, ``arb_Arab``."""
    return f"{LANGUAGES[lang].iso3}_{_SCRIPTS.get(lang, 'Latn')}"


def madlad_tag(lang: str) -> str:
    return f"<2{lang}>"


class Seq2SeqTranslator:
    def __init__(self, cfg: EngineConfig) -> None:
        import torch
        from transformers import AutoTokenizer

        from nativejobs.engines.models import resolve_model

        assert cfg.model  # the spec requires it for this kind
        self.cfg = cfg
        self.batch_size = cfg.batch_size
        self.usage = {"segments": 0}
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.backend = "transformers" if cfg.backend == "auto" else cfg.backend
        path = resolve_model(cfg.model)
        self.tokenizer: Any = AutoTokenizer.from_pretrained(cfg.tokenizer or path)
        if self.backend == "ctranslate2":
            import ctranslate2

            self.model: Any = ctranslate2.Translator(path, device=self.device)
        else:
            from transformers import AutoModelForSeq2SeqLM

            self.model = AutoModelForSeq2SeqLM.from_pretrained(path).to(self.device).eval()

    def _target_tag(self, tgt: str) -> tuple[str, int]:
        code = nllb_code(tgt)
        tag = self.tokenizer.convert_tokens_to_ids(code)
        if tag is None or tag == self.tokenizer.unk_token_id:
            raise StepInputError(f"engine {self.cfg.model}: its tokenizer has no language tag "
                                 f"{code}; is it an NLLB-style model? (else set code_style)")
        return code, tag

    def _inputs(self, texts: list[str], src: str, tgt: str) -> list[str]:
        if self.cfg.code_style == "madlad":
            return [f"{madlad_tag(tgt)} {t}" for t in texts]
        self.tokenizer.src_lang = nllb_code(src)
        return texts

    def translate(self, texts: list[str], *, src: str, tgt: str, attempt: int = 0) -> list[str]:
        if not texts:
            return []
        inputs = self._inputs(texts, src, tgt)
        self.usage["segments"] += len(texts)
        out: list[str] = []
        for i in range(0, len(inputs), self.batch_size):
            chunk = inputs[i : i + self.batch_size]
            run = self._ct2 if self.backend == "ctranslate2" else self._hf
            out += run(chunk, tgt, attempt)
        return [t.strip() for t in out]

    def _hf(self, chunk: list[str], tgt: str, attempt: int) -> list[str]:
        import torch

        kw: dict[str, Any] = {"max_new_tokens": self.cfg.max_new_tokens}
        if self.cfg.code_style == "nllb":
            kw["forced_bos_token_id"] = self._target_tag(tgt)[1]
        if attempt:
            torch.manual_seed(attempt)
            kw |= {"do_sample": True, "temperature": RETRY_TEMPERATURE}
        else:
            kw |= {"do_sample": False, "num_beams": 1}
        enc = self.tokenizer(chunk, return_tensors="pt", padding=True, truncation=True).to(self.device)
        with torch.inference_mode():
            gen = self.model.generate(**enc, **kw)
        return list(self.tokenizer.batch_decode(gen, skip_special_tokens=True))

    def _ct2(self, chunk: list[str], tgt: str, attempt: int) -> list[str]:
        tok = self.tokenizer
        tokens = [tok.convert_ids_to_tokens(tok(t).input_ids) for t in chunk]
        kw: dict[str, Any] = {"max_decoding_length": self.cfg.max_new_tokens, "beam_size": 1}
        if self.cfg.code_style == "nllb":
            kw["target_prefix"] = [[self._target_tag(tgt)[0]]] * len(chunk)
        if attempt:
            import ctranslate2

            ctranslate2.set_random_seed(attempt)
            kw |= {"sampling_topk": 0, "sampling_temperature": RETRY_TEMPERATURE}
        results = self.model.translate_batch(tokens, **kw)
        return [tok.decode(tok.convert_tokens_to_ids(r.hypotheses[0]), skip_special_tokens=True)
                for r in results]

    def close(self) -> None:
        self.model = None
