"""The judge prompt: the paper's Fig. 7 wording (MT-Bench single-v1 on a 1–5 scale)."""

from __future__ import annotations

from nativejobs.judge import NUDGE, PROMPT_VERSION, SYSTEM, judge_messages, nudge_messages


def test_messages_hold_the_instruction_then_the_response() -> None:
    system, user = judge_messages("¿Qué es la fotosíntesis?", "Es el proceso {response} de...")

    assert system == {"role": "system", "content": SYSTEM}
    assert user["role"] == "user"
    text = user["content"]
    assert text.startswith("Please act as an impartial judge")
    assert "on a scale of 1 to 5" in text and "'Rating: [[2]]'" in text
    assert "brief explanation" in text
    # The pieces land in order, verbatim; braces inside them are not template fields.
    assert text.endswith("[User Instruction]\n¿Qué es la fotosíntesis?\n\n"
                         "[Response]\nEs el proceso {response} de...")


def test_nudge_continues_the_conversation_with_the_judges_own_reply() -> None:
    first = judge_messages("q", "a")

    again = nudge_messages(first, "It is fine.")

    assert again[:2] == first
    assert again[2] == {"role": "assistant", "content": "It is fine."}
    assert again[3] == {"role": "user", "content": NUDGE}
    assert "[[2]]" in NUDGE and "1 to 5" in NUDGE
    assert first == judge_messages("q", "a")  # not modified in place


def test_prompt_version_is_pinned() -> None:
    # Changing the prompt must bump PROMPT_VERSION (it is in the judge step's key).
    assert PROMPT_VERSION == 1
