"""The judge prompt: single-answer grading on a 1–5 Likert scale, explanation first.

Wording: the paper's judge prompt (Chen et al., EMNLP 2024, Appendix A.2, Figure 7), which is
MT-Bench's ``single-v1`` prompt (lm-sys/FastChat ``fastchat/llm_judge/data/judge_prompts.jsonl``:
"[Instruction] Please act as an impartial judge ... rate the response on a scale of 1 to 10 by
strictly following this format: "[[rating]]", for example: "Rating: [[5]]".") cut down to a
1–5 scale. As in MT-Bench, the system message is "You are a helpful assistant." and the
instruction and the rated text sit in the user message; the paper's figure flattens the line
breaks, which are MT-Bench's. The judge prompt is in English whatever the answer's language
(as the paper). Bump ``JUDGE_PROMPT_VERSION`` (nativejobs.versions) whenever a string here
changes: it is in the judge step's key and in the verdict cache's identity.
"""

from __future__ import annotations

from nativejobs.versions import JUDGE_PROMPT_VERSION

__all__ = ["NUDGE", "PROMPT_VERSION", "SYSTEM", "TEMPLATE", "judge_messages", "nudge_messages"]

PROMPT_VERSION = JUDGE_PROMPT_VERSION

SYSTEM = "You are a helpful assistant."  # MT-Bench single-v1's system prompt
TEMPLATE = (
    "Please act as an impartial judge and evaluate the quality of a response to a user "
    "instruction displayed below. Your evaluation should consider factors such as helpfulness, "
    "relevance, accuracy, depth, creativity, and level of detail. Begin your evaluation with a "
    "brief explanation. After that, please rate the response on a scale of 1 to 5 by strictly "
    "following this format: '[[rating]]'. The rating must be enclosed by two square brackets, "
    "for example: 'Rating: [[2]]'.\n\n"
    "[User Instruction]\n{instruction}\n\n"
    "[Response]\n{response}"
)
# Sent after a verdict without a readable rating: the judge sees its own reply and is asked for
# the rating alone (a plain repeat at temperature 0 would give the same reply again).
NUDGE = ("Your evaluation did not end with a rating in the required format. Reply with the "
         "rating only, an integer from 1 to 5 enclosed by two square brackets, for example: "
         "'Rating: [[2]]'.")


def judge_messages(instruction: str, response: str) -> list[dict[str, str]]:
    """The chat messages that ask for one verdict on ``response`` to ``instruction``."""
    user = TEMPLATE.replace("{instruction}", instruction).replace("{response}", response)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def nudge_messages(messages: list[dict[str, str]], reply: str) -> list[dict[str, str]]:
    """``messages`` continued by the judge's unparsable ``reply`` and the request for a rating."""
    return [*messages, {"role": "assistant", "content": reply}, {"role": "user", "content": NUDGE}]
