"""summarize: every evaluated cell's records joined with its labels, analysed and reported.

Inputs: ``cell<i>`` (records.json of each evaluate step), ``judge<j>`` (records.json of each judge
step: the open_qa totals and means, joined to every cell of that step's evaluate key); per-item
values are read from ``steps/evaluate/<key>/predictions/<benchmark>.jsonl`` and
``steps/judge/<key>/items/<benchmark>.jsonl`` (the keys are in ``cells`` and ``judged``).
Outputs:
    ``results.json``   the tidy records (model × language × condition × arm × benchmark × metric)
    ``results.csv``    the same as CSV
    ``gaps.json``      ΔS per cell with its paired bootstrap CI, McNemar tests, inside-the-noise flag
    ``analysis.json``  gaps, r(ΔS, S_native) per arm × benchmark × metric, round trip vs single
                       pass, the arms side by side, completeness (``Analysis.to_json``)
    ``results.md``     every table of the analysis as markdown
    ``plots/*.png``    the paper's figure types
    ``report.html``    one self-contained page: the tables and the plots as data URIs
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nativejobs.errors import StepInputError, StoreNotFoundError
from nativejobs.report import (
    Analysis,
    Cell,
    ReportInputError,
    analyze,
    completeness,
    load_items,
    make_plots,
    reference_conditions,
    render,
    render_html,
    render_markdown,
)
from nativejobs.steps._context import StepContext
from nativejobs.versions import STEP_VERSIONS

KIND = "summarize"
VERSION = STEP_VERSIONS[KIND]  # kept in nativejobs/versions.py, which the planner reads


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    experiment: str
    cells: list[dict[str, str]]  # evaluate key + labels (model, language, condition, arm)
    conditions: dict[str, str]  # condition name -> kind
    judged: list[dict[str, str]] = []  # per judge step: its key, its evaluate key, the judge's name
    # Conditions ΔS subtracts from native; None = every translated one (the paper: cohere, google).
    reference: list[str] | None = None
    # Round-trip condition → the single-pass condition of the same system (engine or released
    # set); a round trip without one is compared with the mean of the single passes.
    pairs: dict[str, str] = {}
    # Benchmarks written natively (TyDi QA, CMMLU, C-Eval, native open QA), where round trip vs
    # single pass is reported; None = every benchmark.
    native_benchmarks: list[str] | None = None
    # 10k resamples keep the CI endpoints stable to ~0.002 for n ≈ 1k items; cost is seconds.
    n_resamples: int = Field(default=10_000, gt=0)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    seed: int = 0


class SummarizeStep:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.p = Params.model_validate(ctx.params)
        try:
            reference_conditions(self.p.conditions, self.p.reference)
        except ReportInputError as e:
            raise StepInputError(f"summarize params: {e}") from e

    def setup(self) -> None:
        self._check_extra()
        self.cell_records = [self.ctx.store.get_json(self.ctx.input_path(f"cell{i}"))
                             for i in range(len(self.p.cells))]
        self.judge_records = [self.ctx.store.get_json(self.ctx.input_path(f"judge{j}"))
                              for j in range(len(self.p.judged))]
        try:
            self.items = load_items(self.ctx.store, self.p.cells, self.cell_records,
                                    judged=self.p.judged, judge_records=self.judge_records)
        except StoreNotFoundError as e:
            raise StepInputError(f"an evaluate or judge step is done but its predictions are "
                                 f"missing ({e}); delete its _SUCCESS.json to rerun it") from e

    @staticmethod
    def _check_extra() -> None:
        try:
            import matplotlib  # noqa: F401
            import numpy  # noqa: F401
        except ImportError as e:
            raise StepInputError(f"summarize needs {e.name}; install the report extra: "
                                 "pip install 'nativejobs[report]'") from e

    def run(self) -> dict[str, Any]:
        records = []
        for cell, rows in zip(self.p.cells, self.cell_records, strict=True):
            labels = {k: cell[k] for k in ("model", "language", "condition", "arm")}
            records += [{**labels, **row, "experiment": self.p.experiment,
                         "evaluate_key": cell["evaluate"]} for row in rows]
            for judgement, judged in zip(self.p.judged, self.judge_records, strict=True):
                if judgement["evaluate"] == cell["evaluate"]:
                    records += [{**labels, **row, "experiment": self.p.experiment,
                                 "evaluate_key": cell["evaluate"], "judge_key": judgement["judge"]}
                                for row in judged]
        self.ctx.log.info("analysing %d records of %d cells (%d resamples per CI)", len(records),
                          len(self.p.cells), self.p.n_resamples)
        done = [Cell(c["model"], c["language"], c["condition"], c["arm"],
                     chain=(("evaluate", c["evaluate"]),)) for c in self.p.cells]
        analysis = analyze(records, self.p.conditions, items=self.items, reference=self.p.reference,
                           native_benchmarks=self.p.native_benchmarks, pairs=self.p.pairs or None,
                           n_resamples=self.p.n_resamples, seed=self.p.seed,
                           confidence=self.p.confidence,
                           completeness=completeness(done, {c.evaluate_key for c in done}, {}))
        self._write(records, analysis)
        return {"records": len(records), "cells": len(self.p.cells), "gaps": len(analysis.gaps),
                "significant_gaps": sum(g.paired.inside_noise is False for g in analysis.gaps)}

    def _write(self, records: list[dict[str, Any]], analysis: Analysis) -> None:
        store, out, kinds = self.ctx.store, self.ctx.out, self.p.conditions
        title = f"{self.p.experiment}: results"
        plots = make_plots(analysis, records)
        for name, png in plots.items():
            store.put_bytes(out(f"plots/{name}"), png)
        store.put_json(out("results.json"), records)
        store.put_text(out("results.csv"), render(records, kinds, "csv"))
        store.put_json(out("gaps.json"), [asdict(g) for g in analysis.gaps])
        store.put_json(out("analysis.json"), analysis.to_json())
        store.put_text(out("results.md"), render_markdown(analysis, records, title=title))
        store.put_text(out("report.html"), render_html(analysis, records, plots, title=title))
        self.ctx.log.info("wrote the report: %d gaps, %d correlations, %d plots",
                          len(analysis.gaps), len(analysis.correlations), len(plots))

    def cleanup(self) -> None:
        pass


STEP = SummarizeStep
