"""Which single-pass condition each round-trip condition of a spec is compared with.

The paper compares each round-trip set with the single-pass translation of the same system
(Google RTT with Google, Cohere RTT with Cohere). A leaf (no imports): the planner puts the
pairs in the summarize step's params, and the report reads runs' specs with the same rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["pairs_from_conditions"]


def pairs_from_conditions(conditions: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Round-trip condition → the translated condition made by the same system (spec conditions:
    ``{name, kind, engine?, source?}``). A round trip whose system matches no translated
    condition, or several, gets no partner."""
    translated = [c for c in conditions if c.get("kind") == "translated"]
    out = {}
    for rtt in (c for c in conditions if c.get("kind") == "round_trip"):
        system = _system(rtt)
        same = [c["name"] for c in translated if system is not None and _system(c) == system]
        if len(same) == 1:
            out[rtt["name"]] = same[0]
    return out


def _system(condition: Mapping[str, Any]) -> tuple[str, Any] | None:
    if condition.get("engine"):
        return ("engine", condition["engine"])
    source = condition.get("source")
    return None if not source else ("source", sorted(dict(source).items()))
