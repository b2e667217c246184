"""``google``: Cloud Translation v2 (Basic) over REST.

``POST {endpoint}?key=KEY`` with JSON ``{"q": [...], "source", "target", "format": "text"}``;
the answer is ``{"data": {"translations": [{"translatedText": ...}, ...]}}`` in ``q``'s order.
Limits (Google's v2 contract and quotas page): at most 128 segments per request; the docs
recommend at most 5K characters per request (``max_request_chars``, 30K at most), so requests
are packed under both and a longer text is cut at line, sentence or word breaks and put back
together. 429, 5xx and 403 rate-limit answers are retried with backoff and jitter (``_http``).
Every character sent is counted in ``usage["characters"]``: Google bills by character.
The key comes from the environment variable the spec names (a Kubernetes Secret on a cluster).
"""

from __future__ import annotations

import os
import re

from nativejobs.errors import StepInputError
from nativejobs.translation._http import Retry, post_json
from nativejobs.translation.base import TranslationServiceError
from nativejobs.translation.config import EngineConfig
from nativejobs.translation.segments import has_letters

__all__ = ["GOOGLE_V2", "MAX_SEGMENTS", "GoogleTranslator", "split_long"]

GOOGLE_V2 = "https://translation.googleapis.com/language/translate/v2"
MAX_SEGMENTS = 128
DEFAULT_KEY_ENV = "GOOGLE_API_KEY"
_CODES = {"zh": "zh-CN"}  # v2 codes that differ from ISO 639-1 for the languages we know
# Where a long text may be cut, best first: line breaks, sentence ends, any whitespace.
_BREAKS = (re.compile(r"\n+"), re.compile(r"(?<=[.!?。！？])\s+"), re.compile(r"\s+"))


def split_long(text: str, limit: int, level: int = 0) -> list[str]:
    """Consecutive pieces of ``text`` (joined, they are ``text``), each at most ``limit`` long,
    cut after a line break, else a sentence end, else a space, else anywhere."""
    if len(text) <= limit:
        return [text]
    if level == len(_BREAKS):
        return [text[i : i + limit] for i in range(0, len(text), limit)]
    pieces, start, last = [], 0, 0
    for cut in [m.end() for m in _BREAKS[level].finditer(text)] + [len(text)]:
        if cut - start > limit and last > start:
            pieces.append(text[start:last])
            start = last
        last = cut
    pieces.append(text[start:])
    return [q for p in pieces for q in split_long(p, limit, level + 1)]


def _core(piece: str) -> tuple[str, str, str]:
    """(leading whitespace, core, trailing whitespace): only the core is sent."""
    core = piece.strip()
    if not has_letters(core):
        return piece, "", ""
    start = piece.index(core)
    return piece[:start], core, piece[start + len(core):]


class GoogleTranslator:
    """Cloud Translation v2; ``retry`` is a seam for tests (backoff without real sleeps)."""

    def __init__(self, cfg: EngineConfig, *, retry: Retry | None = None) -> None:
        env = cfg.api_key_env or DEFAULT_KEY_ENV
        key = os.environ.get(env, "")
        if not key:
            raise StepInputError(f"engine google: the environment variable {env} is not set; put "
                                 "the API key there (on a cluster: a Secret via secretKeyRef)")
        self._key = key
        self.endpoint = cfg.endpoint or GOOGLE_V2
        self.model = cfg.model
        self.batch_size = cfg.batch_size
        self.max_chars = cfg.max_request_chars
        self.retry = retry or Retry()
        self.usage = {"characters": 0, "requests": 0}

    def translate(self, texts: list[str], *, src: str, tgt: str, attempt: int = 0) -> list[str]:
        """Each text translated; Google is deterministic, so a retry (``attempt`` > 0) asks again."""
        layouts = [[_core(p) for p in split_long(t, self.max_chars)] for t in texts]
        unique = sorted({core for parts in layouts for _, core, _ in parts if core})
        done = dict(zip(unique, self._translate_unique(unique, src, tgt), strict=True))
        return ["".join(head + (done[core] if core else "") + tail for head, core, tail in parts)
                for parts in layouts]

    def _requests(self, cores: list[str]) -> list[list[str]]:
        """Cores packed into requests of at most MAX_SEGMENTS segments and max_chars characters."""
        out: list[list[str]] = [[]]
        size = 0
        for core in cores:
            if out[-1] and (len(out[-1]) == MAX_SEGMENTS or size + len(core) > self.max_chars):
                out.append([])
                size = 0
            out[-1].append(core)
            size += len(core)
        return [r for r in out if r]

    def _translate_unique(self, cores: list[str], src: str, tgt: str) -> list[str]:
        out: list[str] = []
        for q in self._requests(cores):
            body = {"q": q, "source": _CODES.get(src, src), "target": _CODES.get(tgt, tgt),
                    "format": "text"} | ({"model": self.model} if self.model else {})
            answer = post_json(f"{self.endpoint}?key={self._key}", body, retry=self.retry)
            self.usage["characters"] += sum(len(s) for s in q)
            self.usage["requests"] += 1
            out += self._read(answer, len(q))
        return out

    def _read(self, answer: object, n: int) -> list[str]:
        try:
            rows = answer["data"]["translations"]  # type: ignore[index]
            texts = [str(r["translatedText"]) for r in rows]
        except (KeyError, TypeError) as e:
            raise TranslationServiceError(f"{self.endpoint} answered without data.translations"
                                          f"[].translatedText ({e!r})") from e
        if len(texts) != n:
            raise TranslationServiceError(f"{self.endpoint} answered {len(texts)} translations "
                                          f"for {n} segments")
        return texts

    def close(self) -> None:
        pass
