"""``seq2seq``: an encoder-decoder MT model (NLLB, MADLAD style), transformers or CTranslate2.

Language tags by ``code_style``: ``nllb`` sets the tokenizer's source language and forces the
target tag (``spa_Latn``) as the first generated token; ``madlad`` prefixes the input with
``<2es>``. Texts reach the model line by line by default (``segmentation: lines``): these are
sentence-level models. The model is loaded and run by ``nativejobs.engines.seq2seq``
(transformers, or CTranslate2 with ``backend: ctranslate2``); this module knows the languages.
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
        from nativejobs.engines.seq2seq import Seq2SeqEngine

        assert cfg.model  # the spec requires it for this kind
        self.cfg = cfg
        self.batch_size = cfg.batch_size
        self.usage = {"segments": 0}
        self.engine: Any = Seq2SeqEngine(cfg.model, tokenizer=cfg.tokenizer, backend=cfg.backend,
                                         batch_size=cfg.batch_size)
        self.backend, self.tokenizer = self.engine.backend, self.engine.tokenizer

    @property
    def model(self) -> Any:
        return self.engine.model

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
        first = self._target_tag(tgt)[0] if self.cfg.code_style == "nllb" else None
        self.usage["segments"] += len(texts)
        out = self.engine.generate(inputs, max_new_tokens=self.cfg.max_new_tokens, first_token=first,
                                   temperature=0.0 if attempt == 0 else RETRY_TEMPERATURE,
                                   seed=attempt)
        return [t.strip() for t in out]

    def close(self) -> None:
        self.engine = None
