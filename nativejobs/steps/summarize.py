"""summarize: every evaluated cell's records joined with its labels, plus the gaps (ΔS).

Inputs: ``cell<i>`` (records.json of each evaluate step).
Outputs: ``results.json`` (flat records), ``gaps.json``, ``results.md``, ``results.csv``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from nativejobs.report import gaps, render
from nativejobs.steps._context import StepContext

KIND = "summarize"
VERSION = 1


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    experiment: str
    cells: list[dict[str, str]]  # evaluate key + labels (model, language, condition, arm)
    conditions: dict[str, str]  # condition name -> kind


class SummarizeStep:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.p = Params.model_validate(ctx.params)

    def setup(self) -> None:
        self.cell_records = [self.ctx.store.get_json(self.ctx.input_path(f"cell{i}"))
                             for i in range(len(self.p.cells))]

    def run(self) -> dict[str, Any]:
        records = []
        for cell, rows in zip(self.p.cells, self.cell_records, strict=True):
            labels = {k: cell[k] for k in ("model", "language", "condition", "arm")}
            records += [{**labels, **row, "experiment": self.p.experiment,
                         "evaluate_key": cell["evaluate"]} for row in rows]
        store, kinds = self.ctx.store, self.p.conditions
        store.put_json(self.ctx.out("results.json"), records)
        store.put_json(self.ctx.out("gaps.json"), gaps(records, kinds))
        store.put_text(self.ctx.out("results.md"), render(records, kinds, "md"))
        store.put_text(self.ctx.out("results.csv"), render(records, kinds, "csv"))
        return {"records": len(records), "cells": len(self.p.cells)}

    def cleanup(self) -> None:
        pass


STEP = SummarizeStep
