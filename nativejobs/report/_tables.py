"""Flat records → the condition table and the gaps (ΔS). Pure Python, no numpy.

A record is a flat dict with at least model, language, condition, arm, benchmark, metric,
score, n (the DESIGN.md contract). ``render`` is the records-only rendering (md: one row per
cell with a column per condition and ΔS; csv and json: the tidy records themselves).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from nativejobs.errors import ReportInputError

__all__ = ["CELL", "FORMATS", "KINDS", "Record", "ReportInputError", "Table", "fmt_value", "gaps",
           "reference_conditions", "render", "score_table"]

Record = dict[str, Any]
FORMATS = ("md", "csv", "json")
KINDS = ("native", "translated", "round_trip")
CELL = ("model", "arm", "language", "benchmark", "metric")


def reference_conditions(kinds: Mapping[str, str], reference: Sequence[str] | None = None) -> list[str]:
    """The conditions ΔS subtracts: ``reference`` when given, else every translated condition.

    Raises:
        ReportInputError: If ``reference`` names a condition ``kinds`` does not know, or a
            native one.
    """
    if reference is None:
        return [c for c, k in kinds.items() if k == "translated"]
    unknown = [c for c in reference if c not in kinds]
    if unknown:
        raise ReportInputError(f"reference conditions {', '.join(unknown)} are not conditions of "
                               f"this study; use some of: {', '.join(kinds)}")
    native = [c for c in reference if kinds[c] == "native"]
    if native:
        raise ReportInputError(f"reference condition {native[0]!r} is native; ΔS subtracts the "
                               "translated (or round-trip) conditions from the native one")
    return list(reference)


def gaps(records: Iterable[Record], kinds: Mapping[str, str], *,
         reference: Sequence[str] | None = None) -> list[Record]:
    """ΔS = native − mean of the reference conditions, per model, arm, language, benchmark, metric.

    ``kinds`` maps condition name → kind (native, translated, round_trip); the reference set is
    ``reference`` or else every condition of kind ``translated`` (the paper: ½(S_cohere +
    S_google)). A cell needs a native score and at least one reference score; each gap also
    names its ``native_condition`` and the ``reference`` conditions it averaged.
    """
    ref = reference_conditions(kinds, reference)
    cells: dict[tuple[Any, ...], dict[str, float]] = defaultdict(dict)
    for r in records:
        cells[tuple(r[k] for k in CELL)][r["condition"]] = r["score"]
    out = []
    for cell, scores in sorted(cells.items()):
        native = [c for c in scores if kinds.get(c) == "native"]
        translated = [c for c in scores if c in ref]
        if native and translated:
            mean = fmean(scores[c] for c in translated)
            out.append({**dict(zip(CELL, cell, strict=True)), "native": scores[native[0]],
                        "translated_mean": mean, "delta": scores[native[0]] - mean,
                        "native_condition": native[0], "reference": translated})
    return out


@dataclass(frozen=True)
class Table:
    """Cells already formatted as text; rendered to markdown here and to HTML by the report."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.headers) + " |", "|" + "---|" * len(self.headers)]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"


def fmt_value(x: Any) -> str:
    """A score as the tables show it: 3 decimals; a missing one as an en dash."""
    if x is None:
        return "–"
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def score_table(records: list[Record], kinds: Mapping[str, str], *,
                reference: Sequence[str] | None = None) -> Table:
    """One row per cell (model, arm, language, benchmark, metric): a column per condition, ΔS."""
    conditions = [c for c in kinds if any(r["condition"] == c for r in records)]
    table: dict[tuple[Any, ...], dict[str, float]] = defaultdict(dict)
    for r in records:
        table[tuple(r[k] for k in CELL)][r["condition"]] = r["score"]
    delta = {tuple(g[k] for k in CELL): g["delta"]
             for g in gaps(records, kinds, reference=reference)}
    rows = tuple((*map(str, cell), *(fmt_value(scores.get(c)) for c in conditions),
                  fmt_value(delta.get(cell))) for cell, scores in sorted(table.items()))
    return Table(("model", "arm", "language", "benchmark", "metric", *conditions, "ΔS"), rows)


def _csv(records: list[Record]) -> str:
    keys = list(dict.fromkeys(k for r in records for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buf.getvalue()


def render(records: list[Record], kinds: Mapping[str, str], fmt: str, *,
           reference: Sequence[str] | None = None) -> str:
    """The results in ``fmt`` (md: table with ΔS; csv and json: the flat records)."""
    if fmt == "md":
        return score_table(records, kinds, reference=reference).markdown()
    if fmt == "csv":
        return _csv(records)
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
