"""The HTTP judge against real HTTP servers on the loopback interface.

Real server: llama-cpp-python's OpenAI-compatible server serving the quickstart GGUF
(SmolLM2-135M-Instruct) on CPU, started by the shared ``llama_server`` fixture (conftest.py).
A 135M model rarely writes ``[[N]]`` the way the prompt asks, so these tests demand what the
pipeline guarantees, not good ratings: every item ends rated 1–5 or ``unparsable`` after the
retries, with every raw reply kept and the number of attempts recorded.

Contract double: to check the retry policy deterministically, a small ``http.server`` written
here follows the OpenAI chat-completions contract (``POST /v1/chat/completions`` with ``model``,
``messages``, ``max_tokens``, ``temperature``; answers ``{"choices": [{"message": {"content"}}],
"usage": {...}}``; 401 for a wrong bearer key; 429 with ``Retry-After`` or 5xx when a test
scripts them) and answers verdicts a test scripts per rated response. It stands in for a hosted
judge (GPT-4-Turbo) that cannot be reached from here; it is not the real-server test.
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

import pytest

from nativejobs.engines._http import Retry, ServiceError
from nativejobs.errors import StepInputError
from nativejobs.judge import NUDGE, PROMPT_VERSION, JudgeConfig, OpenAIJudge, grade
from nativejobs.steps._context import StepContext
from nativejobs.steps.judge import JudgeStep
from nativejobs.store import FileStore, step_dir
from tests.data import require_data
from tests.integration.conftest import LLAMA_MODEL

pytestmark = pytest.mark.integration

KEY = "contract-double-key"


# -- the OpenAI chat-completions contract double -------------------------------------------------
@dataclass
class ChatDouble:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    verdicts: dict[str, list[str]] = field(default_factory=dict)  # response marker -> replies
    failures: list[int] = field(default_factory=list)  # statuses to answer before succeeding
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, messages: list[dict[str, str]]) -> str:
        rated = messages[1]["content"].rsplit("[Response]\n", 1)[1]
        attempt = sum(m["role"] == "assistant" for m in messages)
        replies = self.verdicts[rated]
        return replies[min(attempt, len(replies) - 1)]


def _handler(double: ChatDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, doc: dict[str, Any], **headers: str) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            if self.path != "/v1/chat/completions":
                return self._answer(404, {"error": {"message": "not found"}})
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with double.lock:
                double.requests.append(body)
                double.headers.append(dict(self.headers))
                failure = double.failures.pop(0) if double.failures else None
            if failure == 429:
                return self._answer(429, {"error": {"message": "rate limited"}}, **{"Retry-After": "3"})
            if failure is not None:
                return self._answer(failure, {"error": {"message": "server error"}})
            if self.headers.get("Authorization") != f"Bearer {KEY}":
                return self._answer(401, {"error": {"message": "Incorrect API key provided"}})
            text = double.reply(body["messages"])
            return self._answer(200, {"choices": [{"index": 0, "message": {"role": "assistant",
                                                                             "content": text}}],
                                      "usage": {"prompt_tokens": 100, "completion_tokens": 10}})

    return Handler


@pytest.fixture
def double() -> Iterator[ChatDouble]:
    d = ChatDouble()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(d))
    d.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield d
    server.shutdown()
    server.server_close()


def http_judge(url: str, *, sleeps: list[float] | None = None, **cfg: Any) -> OpenAIJudge:
    config = JudgeConfig(kind="openai", base_url=url, model=cfg.pop("model", "gpt-4-turbo"),
                         api_key_env=cfg.pop("api_key_env", "TEST_JUDGE_KEY"), **cfg)
    retry = Retry(attempts=4, base_s=1.0, max_s=8.0, timeout_s=20, rng=random.Random(0),
                  sleep=(sleeps.append if sleeps is not None else lambda s: None))
    return OpenAIJudge(config, name="gpt4", retry=retry)


def test_double_retries_unparsable_verdicts_with_a_nudge(double: ChatDouble,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JUDGE_KEY", KEY)
    double.verdicts = {"good": ["Accurate and complete. Rating: [[5]]"],
                       "late": ["Mostly right.", "Rating: [[3]]"],
                       "never": ["I refuse to rate.", "No.", "[[11]]"]}
    judge = http_judge(double.url, max_tokens=64)

    good, late, never = grade(judge, [("Q1", "good"), ("Q2", "late"), ("Q3", "never")], tries=3)

    assert (good.rating, good.attempts) == (5, 1)
    assert (late.rating, late.attempts, late.replies) == (3, 2, ("Mostly right.", "Rating: [[3]]"))
    assert (never.status, never.attempts, never.replies) == ("unparsable", 3,
                                                             ("I refuse to rate.", "No.", "[[11]]"))
    first = double.requests[0]
    assert (first["model"], first["temperature"], first["max_tokens"]) == ("gpt-4-turbo", 0.0, 64)
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    nudged = [r["messages"] for r in double.requests if len(r["messages"]) > 2]
    assert len(nudged) == 1 + 2  # late once, never twice
    assert all(m[-1] == {"role": "user", "content": NUDGE} for m in nudged)
    # The last try of "never" sees both of its earlier replies, each followed by the nudge.
    assert [m["content"] for m in max(nudged, key=len)[2::2]] == ["I refuse to rate.", "No."]
    assert len(double.requests) == 6 and judge.usage == {
        "requests": 6, "prompt_tokens": 600, "completion_tokens": 60}


def test_double_receives_extra_body_fields_but_not_over_the_judges_own(
        double: ChatDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JUDGE_KEY", KEY)
    double.verdicts = {"a": ["[[2]]"]}

    grade(http_judge(double.url, extra_body={"guided_regex": r".*\[\[[1-5]\]\]"}), [("Q", "a")], tries=1)

    assert double.requests[0]["guided_regex"] == r".*\[\[[1-5]\]\]"
    assert double.requests[0]["temperature"] == 0.0


def test_double_429_honours_retry_after_then_5xx_backs_off(double: ChatDouble,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JUDGE_KEY", KEY)
    double.verdicts = {"a": ["[[4]]"]}
    double.failures = [429, 503]
    sleeps: list[float] = []

    (verdict,) = grade(http_judge(double.url, sleeps=sleeps), [("Q", "a")], tries=3)

    assert verdict.rating == 4 and verdict.attempts == 1  # transport retries are not verdict tries
    assert sleeps[0] == 3.0 and 1.0 <= sleeps[1] <= 2.0  # Retry-After, then 1 s × 2 × jitter
    assert len(double.requests) == 3


def test_double_gives_up_as_retryable_without_leaking_the_key(double: ChatDouble,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JUDGE_KEY", KEY)
    double.failures = [500] * 4

    with pytest.raises(ServiceError, match=r"failed 4 times .*finished verdicts are cached") as e:
        grade(http_judge(double.url), [("Q", "a")], tries=1)
    assert KEY not in str(e.value)


def test_double_wrong_key_is_bad_input_and_not_retried(double: ChatDouble,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JUDGE_KEY", "sk-wrong-key-value")

    with pytest.raises(StepInputError, match="answered 401") as e:
        grade(http_judge(double.url), [("Q", "a")], tries=3)
    assert len(double.requests) == 1 and "sk-wrong-key-value" not in str(e.value)
    assert double.headers[0]["Authorization"] == "Bearer sk-wrong-key-value"  # sent in the header only


def test_unset_key_variable_is_bad_input(double: ChatDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_JUDGE_KEY", raising=False)

    with pytest.raises(StepInputError, match="judge gpt4: the environment variable NO_SUCH_JUDGE_KEY"):
        http_judge(double.url, api_key_env="NO_SUCH_JUDGE_KEY")


# -- the real server: llama-cpp-python serving the quickstart model on CPU -------------------------
def questions(n: int) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in require_data("openqa", "test_es.jsonl").read_text().splitlines()[:n]]
    # Two plausible answers of different quality; the judge decides, the test does not.
    answers = ["No es seguro desactivar DEP. Pida a su hijo que revise el archivo por lo que hace.",
               "La vitamina D debe estar entre 30 y 50 ng/ml; consulte a su médico."]
    return [{"id": r["id"], "question": r["prompt"], "prediction": a}
            for r, a in zip(rows, answers[:n], strict=True)]


def run_judge_step(store: FileStore, tmp_path: Path, key: str, judge: dict[str, Any]) -> dict[str, Any]:
    params = {"name": "llama", "judge": judge, "prompt_version": PROMPT_VERSION, "language": "es",
              "benchmarks": ["oqa"]}
    inputs = {"answers_oqa": {"kind": "evaluate", "key": "ev", "artifact": "predictions/oqa.jsonl"}}
    ctx = StepContext(store, "judge", key, params, {"language": "es"}, inputs, tmp_path,
                      logging.LoggerAdapter(logging.getLogger("test.judge"), {"step": key}))
    step = JudgeStep(ctx)
    step.setup()
    metrics = step.run()
    step.cleanup()
    return metrics


def test_judge_step_against_a_real_openai_compatible_server(llama_server: str, tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    store.put_jsonl("steps/evaluate/ev/predictions/oqa.jsonl", questions(2))
    judge = {"kind": "openai", "base_url": llama_server, "model": LLAMA_MODEL, "max_tokens": 48,
             "retries": 1, "batch_size": 2}

    metrics = run_judge_step(store, tmp_path, "k1", judge)

    items = store.get_jsonl(f"{step_dir('judge', 'k1')}/items/oqa.jsonl")
    assert [i["id"] for i in items] == [q["id"] for q in questions(2)]
    for item in items:
        assert 1 <= item["attempts"] <= 2 and len(item["verdicts"]) == item["attempts"]
        assert all(isinstance(v, str) for v in item["verdicts"]) and item["rationale"] == item["verdicts"][-1]
        if item["status"] == "rated":
            assert item["rating"] in range(1, 6) and item["judge_llama_mean"] == item["rating"]
        else:
            assert item["status"] == "unparsable" and item["attempts"] == 2 and item["rating"] is None
    stats = store.get_json(f"{step_dir('judge', 'k1')}/stats.json")
    assert stats["usage"]["requests"] == metrics["judge_calls"] == sum(i["attempts"] for i in items)
    assert stats["usage"]["completion_tokens"] > 0
    rated = [i for i in items if i["status"] == "rated"]
    records = store.get_json(f"{step_dir('judge', 'k1')}/records.json")
    if rated:
        total = next(r for r in records if r["metric"] == "judge_llama_total")
        assert total["n"] == len(rated) and total["unparsable"] == 2 - len(rated)
        assert 2 <= total["score"] <= 10
    else:
        assert records == []
    # Greedy verdicts are kept: the same step again asks the server nothing.
    assert run_judge_step(store, tmp_path, "k2", judge)["judge_calls"] == 0
    assert store.get_jsonl(f"{step_dir('judge', 'k2')}/items/oqa.jsonl") == items


# llama.cpp's GBNF: at most 120 characters of explanation, then the rating; what a vLLM server
# does with ``guided_regex``. It lets even the 135M model always end its verdict in [[N]].
RATING_GRAMMAR = r'root ::= [^\[\]]{0,120} "[[" [1-5] "]]"'


def test_constrained_decoding_makes_every_verdict_readable_and_the_total_lands(
        llama_server: str, tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    store.put_jsonl("steps/evaluate/ev/predictions/oqa.jsonl", questions(2))
    judge = {"kind": "openai", "base_url": llama_server, "model": LLAMA_MODEL, "max_tokens": 64,
             "retries": 1, "extra_body": {"grammar": RATING_GRAMMAR}}

    metrics = run_judge_step(store, tmp_path, "k1", judge)

    items = store.get_jsonl(f"{step_dir('judge', 'k1')}/items/oqa.jsonl")
    assert [(i["status"], i["attempts"]) for i in items] == [("rated", 1), ("rated", 1)]
    assert all(i["rationale"].endswith(f"[[{i['rating']}]]") for i in items)
    total, mean = store.get_json(f"{step_dir('judge', 'k1')}/records.json")
    assert (total["metric"], total["n"], total["questions"], total["unparsable"]) == (
        "judge_llama_total", 2, 2, 0)
    assert total["score"] == sum(i["rating"] for i in items) and 2 <= total["score"] <= 10
    assert mean["score"] == total["score"] / 2 and metrics["unparsable"] == 0


def test_http_judge_is_deterministic_at_temperature_zero(llama_server: str) -> None:
    judge = http_judge(llama_server, model=LLAMA_MODEL, api_key_env=None, max_tokens=24)
    pair = [(questions(1)[0]["question"], questions(1)[0]["prediction"])]

    first, again = grade(judge, pair, tries=1), grade(judge, pair, tries=1)

    assert first == again and first[0].replies[0]
