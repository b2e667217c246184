"""Results: flat records → tables and gaps (ΔS). Pure functions; rendering for md, csv, json.

A record is a flat dict with at least model, language, condition, arm, benchmark, metric,
score, n (the DESIGN.md contract).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable
from statistics import fmean
from typing import Any

__all__ = ["FORMATS", "gaps", "render"]

Record = dict[str, Any]
FORMATS = ("md", "csv", "json")
_CELL = ("model", "arm", "language", "benchmark", "metric")


def gaps(records: Iterable[Record], kinds: dict[str, str]) -> list[Record]:
    """ΔS = native − mean of the translated conditions, per model, arm, language, benchmark, metric.

    ``kinds`` maps condition name → kind (native, translated, round_trip); the reference set is
    every condition of kind ``translated`` (the paper: ½(S_cohere + S_google)).
    """
    cells: dict[tuple[Any, ...], dict[str, float]] = defaultdict(dict)
    for r in records:
        cells[tuple(r[k] for k in _CELL)][r["condition"]] = r["score"]
    out = []
    for cell, scores in sorted(cells.items()):
        native = [s for c, s in scores.items() if kinds.get(c) == "native"]
        translated = [s for c, s in scores.items() if kinds.get(c) == "translated"]
        if native and translated:
            out.append({**dict(zip(_CELL, cell, strict=True)), "native": native[0],
                        "translated_mean": fmean(translated), "delta": native[0] - fmean(translated)})
    return out


def _fmt(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def _markdown(records: list[Record], kinds: dict[str, str]) -> str:
    conditions = [c for c in kinds if any(r["condition"] == c for r in records)]
    table: dict[tuple[Any, ...], dict[str, float]] = defaultdict(dict)
    for r in records:
        table[tuple(r[k] for k in _CELL)][r["condition"]] = r["score"]
    delta = {tuple(g[k] for k in _CELL): g["delta"] for g in gaps(records, kinds)}
    head = ["model", "arm", "language", "benchmark", "metric", *conditions, "ΔS"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cell, scores in sorted(table.items()):
        row = [*map(str, cell), *(_fmt(scores.get(c, "–")) for c in conditions),
               _fmt(delta.get(cell, "–"))]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _csv(records: list[Record]) -> str:
    keys = list(dict.fromkeys(k for r in records for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buf.getvalue()


def render(records: list[Record], kinds: dict[str, str], fmt: str) -> str:
    """The results in ``fmt`` (md: table with ΔS; csv and json: the flat records)."""
    if fmt == "md":
        return _markdown(records, kinds)
    if fmt == "csv":
        return _csv(records)
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
