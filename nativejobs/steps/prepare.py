"""prepare: seeded samples of instruction data, from files, the Aya hub or the authors' sets.

Sources (``Source.kind``): ``files`` (local or ``s3://`` JSON, JSONL or parquet, Alpaca or Aya
rows; ``{lang}`` in the path is the language), ``aya`` (the Aya Dataset on the Hugging Face hub,
rows of the language's ISO 639-3 code) and ``released`` (the paper authors' files, laid out as
in shared/data/MANIFEST.md: ``aya_native_data_processed.{lang}.json`` and the Google/Cohere
translated, round-trip and pivot sets).

Roles:

- ``native``: the native sample of ``language`` (every row, or ``size`` of them).
- ``english``: the English pool sampled to the size of input ``match`` (a native sample), to be
  translated into ``language``; the seed includes the language, so every language draws its own
  English items.
- ``condition``: finished translations for ``language`` read from ``source`` (released or files),
  as many as input ``match`` has. A released round trip keeps exactly the items of ``match``
  (ids ``aya_{iso3}_{i}`` pair with the round trip's and the pivot's ``_{i}``) and writes the
  English pivot beside them; other sources are sampled to the size of ``match``.
- ``mixture``: the native side of the multilingual mixture: ``size`` items (None = the
  smallest native sample among ``languages``) from each language, one part per language.
- ``mix``: the parts given as inputs ``part_{lang}`` concatenated, in ``languages`` order.

Outputs: ``data.jsonl`` (Alpaca rows: id, instruction, input, output; mixture rows add
``language``), ``pivot.jsonl`` (released round trip), ``parts/{lang}.jsonl`` (mixture),
``stats.json``.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from nativejobs.errors import StepInputError, StoreError, StoreNotFoundError, short_repr, short_text
from nativejobs.json_lines import JsonLineError, iter_json_lines
from nativejobs.languages import LANGUAGES
from nativejobs.steps._context import StepContext
from nativejobs.store import ArtifactDamagedError
from nativejobs.versions import STEP_VERSIONS

KIND = "prepare"
VERSION = STEP_VERSIONS[KIND]  # kept in nativejobs/versions.py, which the planner reads

Row = dict[str, str]
Outputs = dict[str, list[Row]]
RELEASED_NATIVE = "aya_native_data_processed.{lang}.json"
RELEASED_TRANSLATED = "aya_{system}_translated_data_processed.{lang}.json"
RELEASED_ROUND_TRIP = "aya_{system}_round_trip_translated_via_en.{lang}.json"
RELEASED_PIVOT = "aya_native_{lang}_{system}_translated_pivot.en.json"


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["files", "aya", "released"]
    path: str | None = None
    dataset: str = "CohereForAI/aya_dataset"
    split: str = "train"
    system: Literal["google", "cohere"] | None = None


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["native", "english", "condition", "mixture", "mix"]
    language: str | None = None  # native, english, condition
    languages: list[str] | None = None  # mixture, mix
    source: Source | None = None
    variant: Literal["translated", "round_trip"] | None = None  # condition
    size: int | None = None
    data_size: int | None = None  # mixture: data.size, which caps every native sample
    seed: int = 0


_TEXT = (str, int, float)  # field values read as text; a list or an object is a malformed row


def to_alpaca(raw: Any, *, where: str, index: int) -> Row:
    """One Alpaca row from an Alpaca- or Aya-format record. Raises: StepInputError.

    ``index`` is the row's 0-based position; messages name it as the file shows it (``row N``).
    """
    if not isinstance(raw, dict):
        raise StepInputError(f"{where} row {index + 1}: is {type(raw).__name__} "
                             f"{short_repr(raw, 60)}, not an object; give one record per row")
    if "instruction" in raw and "output" in raw:
        row = {"instruction": raw["instruction"], "input": raw.get("input") or "",
               "output": raw["output"]}
    elif "inputs" in raw and "targets" in raw:  # Aya Dataset columns
        row = {"instruction": raw["inputs"], "input": "", "output": raw["targets"]}
    else:
        raise StepInputError(f"{where} row {index + 1}: has keys {short_repr(sorted(map(str, raw)))}; "
                             "need Alpaca (instruction, input, output) or Aya (inputs, targets) fields")
    row["id"] = raw.get("id", raw.get("id_", index))
    if bad := [k for k, v in row.items() if v is not None and not isinstance(v, _TEXT)]:
        raise StepInputError(f"{where} row {index + 1}: field {bad[0]!r} is "
                             f"{type(row[bad[0]]).__name__} {short_repr(row[bad[0]], 60)}; "
                             "need text")
    return {k: "" if v is None else str(v) for k, v in row.items()}


def _read_bytes(uri: str) -> bytes:
    """A local file or an ``s3://bucket/key`` object. Raises: StepInputError if missing."""
    if uri.startswith("s3://"):
        from nativejobs.store import open_store

        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            return open_store(f"s3://{bucket}").get_bytes(key)
        except StoreError as e:
            raise StepInputError(f"data file {uri}: cannot be read ({e}); fix the source path "
                                 "in the spec") from e
    file = Path(uri)
    if not file.is_file():
        raise StepInputError(f"data file {uri} does not exist; fix the source path in the spec")
    try:
        return file.read_bytes()
    except OSError as e:
        raise StepInputError(f"data file {uri}: cannot be read ({e.strerror or e})") from e


def _jsonl_records(uri: str, text: str) -> list[Any]:
    try:
        return [record for _, record in iter_json_lines(text)]
    except JsonLineError as e:
        raise StepInputError(f"data file {uri}: line {e.line} is not valid JSON ({e.why}); give one "
                             "JSON object a line") from None


def _parquet_records(uri: str, data: bytes) -> list[Any]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(io.BytesIO(data)).to_pylist()
    except Exception as e:  # pyarrow raises several unrelated types (ArrowInvalid, OSError) for a bad file
        raise StepInputError(f"data file {uri}: not a readable parquet file "
                             f"({type(e).__name__}: {short_text(str(e))})") from e


def read_records(uri: str) -> list[Any]:
    """Records of a JSON list, JSONL or parquet file (by extension). Raises: StepInputError.

    The records are not checked here: ``to_alpaca`` names a record that is not an object.
    """
    data = _read_bytes(uri)
    if uri.endswith(".parquet"):
        return _parquet_records(uri, data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise StepInputError(f"data file {uri}: line {line} is not UTF-8 (byte {e.start}); save "
                             "it as UTF-8") from None
    if uri.endswith(".jsonl"):
        return _jsonl_records(uri, text)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise StepInputError(f"data file {uri}: not valid JSON (line {e.lineno} column {e.colno}: "
                             f"{e.msg})") from None
    except RecursionError:
        raise StepInputError(f"data file {uri}: JSON nested too deeply") from None
    if not isinstance(doc, list):
        raise StepInputError(f"data file {uri}: top level is {type(doc).__name__}; need a list")
    return doc


def read_input_rows(ctx: StepContext, name: str) -> list[dict[str, Any]]:
    """The JSON-lines rows of input ``name``: an artifact another step wrote and vouched for.

    Raises:
        ArtifactDamagedError: Naming the upstream step, if the artifact is missing or does not
            parse (its marker vouched for it, or is a legacy one that vouches for nothing): that
            step's output is damaged, so its marker is moved aside and it is recomputed before
            this step runs again (retryable, as the store's own size and SHA-256 check is).
    """
    path, source = ctx.input_path(name), ctx.inputs[name]
    try:
        text = ctx.store.get_text(path)
    except StoreNotFoundError:
        raise _damaged(ctx, source, path, "is missing") from None
    except UnicodeDecodeError as e:
        raise _damaged(ctx, source, path, f"is not UTF-8 (byte {e.start})") from None
    rows: list[dict[str, Any]] = []
    try:
        for n, row in iter_json_lines(text):
            if not isinstance(row, dict):
                raise _damaged(ctx, source, path, f"line {n} is not an object")
            rows.append(row)
    except JsonLineError as e:
        raise _damaged(ctx, source, path, f"line {e.line} is not JSON") from None
    return rows


def _damaged(ctx: StepContext, source: dict[str, str], path: str,
             problem: str) -> ArtifactDamagedError:
    """The producer's marker moved aside (so it is recomputed), and the error that says so."""
    kind, key = source["kind"], source["key"]
    marker = ctx.store.get_marker(kind, key)
    ctx.store.invalidate_marker(kind, key, f"{path} {problem}",
                                digest=marker.get("digest") if marker else None)
    return ArtifactDamagedError(f"the output of step {kind}/{key[:12]} is damaged: {path} "
                                f"{problem}; that step is recomputed, then this one runs again")


def read_rows(uri: str) -> list[Row]:
    return [to_alpaca(r, where=uri, index=i) for i, r in enumerate(read_records(uri))]


def released_file(source: Source, pattern: str, lang: str) -> str:
    assert source.path is not None
    name = pattern.format(lang=lang, system=source.system)
    return f"{source.path.rstrip('/')}/{name}"


def _load_hub(source: Source, lang: str) -> list[Row]:
    from datasets import load_dataset  # the hub path: cluster runs only

    iso3 = LANGUAGES[lang].iso3
    data = load_dataset(source.dataset, split=source.split).filter(
        lambda codes: [c == iso3 for c in codes], input_columns="language_code", batched=True)
    # Ids as the authors' released files have them: aya_{iso3}_{i}.
    return [to_alpaca({**dict(r), "id": f"aya_{iso3}_{i}"}, where=source.dataset, index=i)
            for i, r in enumerate(data)]


def load_source(source: Source, lang: str) -> list[Row]:
    """Every untranslated row of ``source`` for language ``lang`` (``en``: the English pool)."""
    if source.kind == "aya":
        return _load_hub(source, lang)
    if source.kind == "released":
        return read_rows(released_file(source, RELEASED_NATIVE, lang))
    assert source.path is not None
    return read_rows(source.path.replace("{lang}", lang))


def sample(rows: list[Row], size: int | None, *, seed: str) -> list[Row]:
    """``size`` rows drawn without replacement, in an order fixed by ``seed``; all if None."""
    if size is None or size >= len(rows):
        return list(rows)
    return random.Random(seed).sample(rows, size)


def _too_few(what: str, want: int, have: int, fix: str) -> StepInputError:
    return StepInputError(f"{what}: need {want} rows but it has only {have}; {fix}")


def _index(row_id: str) -> str:
    return row_id.rsplit("_", 1)[-1]


def paired(rows: list[Row], match: list[Row], where: str) -> list[Row]:
    """The rows of ``rows`` whose id ends in the same ``_{i}`` as each row of ``match``, in
    ``match``'s order. Raises: StepInputError naming the first id with no partner."""
    by_index = {_index(r["id"]): r for r in rows}
    out = []
    for m in match:
        if (r := by_index.get(_index(m["id"]))) is None:
            raise StepInputError(f"{where} has no row for native item {m['id']}; is it the "
                                 "round trip of the same native set?")
        out.append(r)
    return out


class PrepareStep:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.p = Params.model_validate(ctx.params)
        p = self.p
        needs_language = p.role in ("native", "english", "condition")
        if needs_language and p.language not in LANGUAGES:
            raise StepInputError(f"prepare {p.role}: unknown language {p.language!r}")
        if not needs_language and not p.languages:
            raise StepInputError(f"prepare {p.role}: needs languages")
        if p.role != "mix" and p.source is None:
            raise StepInputError(f"prepare {p.role}: needs a source")

    def setup(self) -> None:
        self.match: list[Row] | None = None
        if "match" in self.ctx.inputs:
            self.match = read_input_rows(self.ctx, "match")

    def run(self) -> dict[str, Any]:
        outputs, stats = getattr(self, f"_{self.p.role}")()
        for name, rows in outputs.items():
            self.ctx.store.put_jsonl(self.ctx.out(name), rows)
        stats = {"role": self.p.role, "rows": len(outputs["data.jsonl"]), **stats}
        self.ctx.store.put_json(self.ctx.out("stats.json"), stats)
        self.ctx.log.info("%s: %d rows %s", self.p.role, stats["rows"],
                          {k: v for k, v in stats.items() if k not in ("role", "rows")})
        return stats

    def _seed(self, role: str, lang: str) -> str:
        return f"{self.p.seed}:{role}:{lang}"

    def _native(self) -> tuple[Outputs, dict[str, Any]]:
        p = self.p
        assert p.source is not None and p.language is not None
        pool = load_source(p.source, p.language)
        if p.size is not None and p.size > len(pool):
            raise _too_few(f"the native source for {p.language}", p.size, len(pool),
                           "lower data.size")
        rows = sample(pool, p.size, seed=self._seed("native", p.language))
        return {"data.jsonl": rows}, {"language": p.language, "pool": len(pool)}

    def _english(self) -> tuple[Outputs, dict[str, Any]]:
        p = self.p
        assert p.source is not None and p.language is not None and self.match is not None
        pool = load_source(p.source, "en")
        if len(self.match) > len(pool):
            raise _too_few("the English source", len(self.match), len(pool),
                           "use a larger English pool or lower data.size")
        rows = sample(pool, len(self.match), seed=self._seed("english", p.language))
        return {"data.jsonl": rows}, {"language": p.language, "pool": len(pool)}

    def _condition(self) -> tuple[Outputs, dict[str, Any]]:
        p = self.p
        assert p.source is not None and p.language is not None and self.match is not None
        lang, src = p.language, p.source
        if src.kind == "released" and p.variant == "round_trip":
            where = released_file(src, RELEASED_ROUND_TRIP, lang)
            pivot_where = released_file(src, RELEASED_PIVOT, lang)
            rows = paired(read_rows(where), self.match, where)
            pivot = paired(read_rows(pivot_where), self.match, pivot_where)
            return ({"data.jsonl": rows, "pivot.jsonl": pivot},
                    {"language": lang, "file": where, "pivot": pivot_where})
        if src.kind == "released":
            where = released_file(src, RELEASED_TRANSLATED, lang)
        else:
            assert src.path is not None
            where = src.path.replace("{lang}", lang)
        pool = read_rows(where)
        if len(self.match) > len(pool):
            raise _too_few(where, len(self.match), len(pool), "lower data.size")
        rows = sample(pool, len(self.match), seed=self._seed(f"condition-{p.variant}", lang))
        return {"data.jsonl": rows}, {"language": lang, "file": where, "pool": len(pool)}

    def _mixture(self) -> tuple[Outputs, dict[str, Any]]:
        p = self.p
        assert p.source is not None and p.languages
        pools = {lang: load_source(p.source, lang) for lang in p.languages}
        caps = {lang: len(pool) if p.data_size is None else min(p.data_size, len(pool))
                for lang, pool in pools.items()}
        n = p.size if p.size is not None else min(caps.values())
        if short := [lang for lang, pool in pools.items() if len(pool) < n]:
            raise _too_few(f"the native source for {short[0]}", n, len(pools[short[0]]),
                           "lower data.mixture.size or leave it out (smallest size)")
        parts = {lang: sample(pool, n, seed=self._seed("mixture", lang))
                 for lang, pool in pools.items()}
        outputs = {f"parts/{lang}.jsonl": rows for lang, rows in parts.items()}
        outputs["data.jsonl"] = [{**r, "language": lang} for lang, rows in parts.items() for r in rows]
        return outputs, {"languages": p.languages, "per_language": n,
                         "pools": {lang: len(pool) for lang, pool in pools.items()}}

    def _mix(self) -> tuple[Outputs, dict[str, Any]]:
        assert self.p.languages
        parts = {lang: read_input_rows(self.ctx, f"part_{lang}") for lang in self.p.languages}
        rows = [{**r, "language": lang} for lang, part in parts.items() for r in part]
        return {"data.jsonl": rows}, {"languages": self.p.languages,
                                      "per_language": {k: len(v) for k, v in parts.items()}}

    def cleanup(self) -> None:
        pass


STEP = PrepareStep
