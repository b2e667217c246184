"""Builders for the report tests: hand-made records and per-item results, no model run.

``MC`` is a 10-item multiple-choice cell whose numbers are easy to check by hand: native 0.8,
cohere 0.4, google 0.6 (so ΔS = 0.8 − 0.5 = 0.3) and rtt 0.5. Items 4–7 are right under native
and wrong under cohere, items 6–7 under google as well; nothing is right only under a
translated condition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nativejobs.plan import Plan, Step
from nativejobs.store import Store, step_dir
from tests.unit.builders import condition, make_plan

__all__ = ["KINDS", "MC", "NOISY", "item_rows", "study", "study_plan", "write_evaluation"]

KINDS = {"native": "native", "cohere": "translated", "google": "translated", "rtt": "round_trip"}
MC: dict[str, list[float]] = {
    "native": [1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
    "cohere": [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
    "google": [1, 1, 1, 1, 1, 1, 0, 0, 0, 0],
    "rtt": [1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
}
# Every condition at 0.5 on 10 items, right on different items: ΔS = 0, inside the noise.
NOISY: dict[str, list[float]] = {
    "native": [1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
    "cohere": [1, 1, 1, 1, 0, 1, 0, 0, 0, 0],
    "google": [1, 1, 1, 0, 1, 1, 0, 0, 0, 0],
    "rtt": [1, 1, 0, 1, 1, 1, 0, 0, 0, 0],
}


def item_rows(values: Mapping[str, Sequence[float]], *, repeat: int = 1) -> list[dict[str, Any]]:
    """Prediction rows (``id`` and one value per metric), the lists repeated ``repeat`` times."""
    n = len(next(iter(values.values())))
    return [{"id": f"q{r}-{i}", "prediction": "…", **{m: float(v[i]) for m, v in values.items()}}
            for r in range(repeat) for i in range(n)]


def study(cells: Mapping[tuple[str, str, str, str], Mapping[str, Mapping[str, Sequence[float]]]], *,
          repeat: int = 1) -> tuple[list[dict[str, Any]], dict[tuple[str, ...], list[dict[str, Any]]]]:
    """Records and per-item rows from ``{(model, arm, language, benchmark): {metric: {condition:
    per-item values}}}``; a record's score is the mean of its items."""
    records, items = [], {}
    for (model, arm, language, benchmark), metrics in cells.items():
        conditions = next(iter(metrics.values())).keys()
        for cond in conditions:
            rows = item_rows({m: v[cond] for m, v in metrics.items()}, repeat=repeat)
            items[model, arm, language, cond, benchmark] = rows
            for metric in metrics:
                values = [r[metric] for r in rows]
                records.append({"model": model, "arm": arm, "language": language,
                                "condition": cond, "benchmark": benchmark, "metric": metric,
                                "score": sum(values) / len(values), "n": len(values)})
    return records, items


def study_plan() -> Plan:
    # Two engines: two translated conditions with one engine would be the same work, planned once.
    engines = {name: {"kind": "llm", "model": f"org/{name}", "max_new_tokens": 64}
               for name in ("eng", "eng2")}
    return make_plan(languages=["es", "ru", "zh"], engines=engines,
                     conditions=[condition("native"), condition("cohere", "translated"),
                                 condition("google", "translated", "eng2"),
                                 condition("rtt", "round_trip")])


def write_evaluation(store: Store, ev: Step, *, repeat: int = 3) -> None:
    """records.json and predictions/qa.jsonl of one evaluate step, then its marker."""
    table = NOISY if ev.labels["language"] == "ru" else MC
    values = {"exact_match": table[ev.labels["condition"]],
              "f1": [0.9 * v for v in table[ev.labels["condition"]]]}
    rows = item_rows(values, repeat=repeat)
    prefix = step_dir("evaluate", ev.key)
    store.put_jsonl(f"{prefix}/predictions/qa.jsonl", rows)
    store.put_json(f"{prefix}/records.json", [
        {"benchmark": "qa", "kind": "extractive_qa", "metric": m, "n": len(rows), "shots": 0,
         "score": sum(r[m] for r in rows) / len(rows), "language": ev.labels["language"]}
        for m in values])
    store.put_marker("evaluate", ev.key, {})
