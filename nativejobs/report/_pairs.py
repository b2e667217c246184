"""Which single-pass condition each round-trip condition is compared with.

The paper compares each round-trip set with the single-pass translation of the same system
(Google RTT with Google, Cohere RTT with Cohere). A round-trip condition's partner comes from:

- a run's spec: the translated condition with the same ``engine`` (or the same ``source``),
  when exactly one has it (``pairs_from_conditions``, in ``nativejobs.round_trips``);
- imported records: an optional ``pair`` column on the round-trip rows (``pairs_from_records``);
- the command line: ``--pair google-rtt=google`` (wins over both).

A round-trip condition with no partner is compared with the mean of the reference conditions,
and the report says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nativejobs.report._tables import Record, ReportInputError
from nativejobs.round_trips import pairs_from_conditions

__all__ = ["check_pairs", "pairs_from_conditions", "pairs_from_records"]


def pairs_from_records(records: Sequence[Record]) -> dict[str, str]:
    """Round-trip condition → its ``pair`` value, from records that have one.

    Raises:
        ReportInputError: If one condition's rows name different partners.
    """
    seen: dict[str, set[str]] = {}
    for r in records:
        if r.get("pair") not in (None, ""):
            seen.setdefault(r["condition"], set()).add(str(r["pair"]))
    problems = [f"condition {c!r} names several pairs in the records: {', '.join(sorted(p))}; "
                "give it one" for c, p in seen.items() if len(p) > 1]
    if problems:
        raise ReportInputError("\n".join(problems))
    return {c: next(iter(p)) for c, p in seen.items()}


def check_pairs(pairs: Mapping[str, str], kinds: Mapping[str, str]) -> dict[str, str]:
    """``pairs`` when each maps a round-trip condition to a translated one.

    Raises:
        ReportInputError: Naming every bad pair at once.
    """
    problems = []
    for rtt, partner in pairs.items():
        if kinds.get(rtt) != "round_trip":
            problems.append(f"pair {rtt}={partner}: {rtt!r} is not a round_trip condition"
                            f"{_known(kinds, 'round_trip')}")
        elif kinds.get(partner) != "translated":
            problems.append(f"pair {rtt}={partner}: {partner!r} is not a translated condition"
                            f"{_known(kinds, 'translated')}")
    if problems:
        raise ReportInputError("\n".join(problems))
    return dict(pairs)


def _known(kinds: Mapping[str, str], kind: str) -> str:
    names = [c for c, k in kinds.items() if k == kind]
    return f"; use one of: {', '.join(names)}" if names else f"; there is no {kind} condition"
