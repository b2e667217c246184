#!/usr/bin/env python3
"""Write charts/nativejobs/values.schema.json from ClusterConfig plus the chart-only values.

Each chart value that becomes a ClusterConfig field (nativejobs/k8s/config.py; the mapping is
the chart's ``nativejobs.clusterConfig`` helper) takes that field's JSON schema, as pydantic
gives it, with the patterns of the config's own checks added (they are validators, so pydantic
cannot see them); an optional field's value is ``""`` for unset, as the chart writes it. The
values only the chart reads (image registry and tag, store.uri, names, service account
creation, helm test, the dev MinIO) are described here. Unknown keys are errors everywhere.

    .venv/bin/python scripts/values-schema.py          # rewrite the file
    .venv/bin/python scripts/values-schema.py --check  # exit 1 if the committed file is stale

tests/unit/test_chart_values_schema.py runs the check.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pydantic.json_schema import GenerateJsonSchema  # noqa: E402

from nativejobs.k8s.config import IMAGE_ROLES, ClusterConfig  # noqa: E402

SCHEMA_PATH = REPO / "charts" / "nativejobs" / "values.schema.json"
OPTIONAL = "optional"  # the value "" leaves the field unset

# Chart value (dotted path) -> ClusterConfig field (dotted path), in values.yaml's order.
# images.* and namespace are not here: images.<role> "" means the default image, and the
# namespace is the release's.
FIELDS: list[tuple[str, str, str | None]] = [
    ("imagePullPolicy", "image_pull_policy", None),
    ("imagePullSecrets", "image_pull_secrets", None),
    ("store.endpointUrl", "store.endpoint_url", OPTIONAL),
    ("store.region", "store.region", OPTIONAL),
    ("store.credentialsSecret", "store.credentials_secret", OPTIONAL),
    ("store.accessKeyIdKey", "store.access_key_id_key", None),
    ("store.secretAccessKeyKey", "store.secret_access_key_key", None),
    ("hfToken.name", "hf_token.name", OPTIONAL),
    ("hfToken.key", "hf_token.key", None),
    ("secretEnv", "secret_env", None),
    ("gpuResource", "gpu_resource", None),
    ("nodeSelector", "node_selector", None),
    ("tolerations", "tolerations", None),
    ("gpuNodeSelector", "gpu_node_selector", None),
    ("gpuTolerations", "gpu_tolerations", None),
    ("priorityClassName", "priority_class", OPTIONAL),
    ("kueueQueue", "kueue_queue", OPTIONAL),
    ("ttlSecondsAfterFinished", "ttl_seconds_after_finished", None),
    ("shmSize", "shm_size", None),
    ("runAsUser", "run_as_user", None),
    ("runAsGroup", "run_as_group", None),
    ("fsGroup", "fs_group", None),
    ("podAnnotations", "pod_annotations", None),
    ("extraLabels", "extra_labels", None),
    ("cachePvc", "cache_pvc", OPTIONAL),
    # "" = <fullname>-controller / <fullname>-step (templates/_helpers.tpl).
    ("serviceAccounts.controller.name", "controller_service_account", OPTIONAL),
    ("serviceAccounts.step.name", "step_service_account", OPTIONAL),
]

_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_RESOURCES = {"type": "object", "additionalProperties": False, "properties": {
    "requests": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
    "limits": {"type": "object", "additionalProperties": {"type": ["string", "number"]}}}}
_QUANTITY_FIELD = "shm_size"

# Values only the chart reads: dotted path -> schema, merged with FIELDS in this order.
CHART_ONLY: list[tuple[str, dict[str, Any]]] = [
    ("global", {"type": "object"}),  # Helm's own, for subcharts
    ("imageRegistry", {"type": "string"}),
    ("imageTag", {"type": "string"}),
    ("store.uri", {"type": "string", "pattern": "^s3://[^/]+(/.*)?$"}),
    ("serviceAccounts.controller.create", {"type": "boolean"}),
    ("serviceAccounts.controller.annotations", _STRINGS),
    ("serviceAccounts.step.create", {"type": "boolean"}),
    ("serviceAccounts.step.annotations", _STRINGS),
    ("test.podAnnotations", _STRINGS),
    ("test.resources", _RESOURCES),
    ("minio.enabled", {"type": "boolean"}),
    ("minio.image", {"type": "string", "minLength": 1}),
    ("minio.mcImage", {"type": "string", "minLength": 1}),
    ("minio.persistence.enabled", {"type": "boolean"}),
    ("minio.persistence.size", "QUANTITY"),  # ClusterConfig's quantity pattern
    ("minio.persistence.storageClass", {"type": "string"}),
    ("minio.resources", _RESOURCES),
]
REQUIRED = {"store": ["uri"], "serviceAccounts": ["controller", "step"],
            "serviceAccounts.controller": ["create", "name"], "serviceAccounts.step": ["create", "name"]}


class _WithPatterns(GenerateJsonSchema):
    """pydantic's schema, plus the regex of each ``_matching`` check (an AfterValidator whose
    closure holds a compiled pattern) as a JSON schema ``pattern``."""

    def function_after_schema(self, schema: Any) -> dict[str, Any]:
        inner = super().function_after_schema(schema)
        function = schema["function"]["function"]
        for cell in getattr(function, "__closure__", None) or ():
            if isinstance(cell.cell_contents, re.Pattern):
                inner = {**inner, "pattern": _anchored(cell.cell_contents.pattern)}
        return inner


def _anchored(pattern: str) -> str:
    """A fullmatch regex as a JSON schema pattern (which matches anywhere unless anchored)."""
    if pattern.startswith("^") and pattern.endswith("$"):
        return pattern
    return f"^(?:{pattern})$"


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    """Inline every $ref; drop titles and defaults (values.yaml holds the defaults); make dict
    keys strict (pydantic's patternProperties let a key that misses the pattern through)."""
    if isinstance(node, list):
        return [_resolve(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _resolve(defs[node["$ref"].rsplit("/", 1)[1]], defs)
    out = {k: _resolve(v, defs) for k, v in node.items() if k not in ("title", "default", "description")}
    if "patternProperties" in out:
        ((key_pattern, value),) = out.pop("patternProperties").items()
        out["propertyNames"] = {"pattern": key_pattern}
        out["additionalProperties"] = value
    return out


def config_schema() -> dict[str, Any]:
    """ClusterConfig's JSON schema with patterns, every $ref inlined."""
    raw = ClusterConfig.model_json_schema(schema_generator=_WithPatterns)
    return _resolve(raw, raw.get("$defs", {}))


def _field(config: dict[str, Any], path: str) -> dict[str, Any]:
    node = config
    for part in path.split("."):
        node = node["properties"][part]
        if "anyOf" in node:  # Optional[X]: X (the chart writes "" or leaves the key out)
            (node,) = [s for s in node["anyOf"] if s.get("type") != "null"]
    return node


def _value_schema(config: dict[str, Any], field: str, how: str | None) -> dict[str, Any]:
    schema = dict(_field(config, field))
    if how == OPTIONAL:
        schema = {"type": "string", "anyOf": [{"const": ""}, schema]}
    return {**schema, "description": f"ClusterConfig.{field}" + ('; "" = unset' if how == OPTIONAL else "")}


def _place(root: dict[str, Any], path: str, schema: dict[str, Any]) -> None:
    node = root
    parts = path.split(".")
    for i, part in enumerate(parts[:-1]):
        node = node["properties"].setdefault(part, {"type": "object", "additionalProperties": False,
                                                    "properties": {}})
        if required := REQUIRED.get(".".join(parts[: i + 1])):
            node["required"] = required
    node["properties"][parts[-1]] = schema


def values_schema() -> dict[str, Any]:
    """The chart's values.schema.json document."""
    config = config_schema()
    root: dict[str, Any] = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "nativejobs chart values",
        "description": "Generated by scripts/values-schema.py from nativejobs.k8s.config.ClusterConfig "
                       "and the chart-only values; do not edit by hand. Unknown keys are errors.",
        "type": "object", "additionalProperties": False, "properties": {},
    }
    images = {"type": "object", "additionalProperties": False, "description": "ClusterConfig.images; "
              '"" = <imageRegistry>/nativejobs-<worker|controller>:<imageTag>',
              "properties": {role: {"type": "string"} for role in IMAGE_ROLES}}
    entries: list[tuple[str, dict[str, Any]]] = [(v, _value_schema(config, f, how)) for v, f, how in FIELDS]
    quantity = {k: v for k, v in _field(config, _QUANTITY_FIELD).items()}
    entries += [(v, quantity if s == "QUANTITY" else s) for v, s in CHART_ONLY]
    order = [line.split(":")[0] for line in (REPO / "charts/nativejobs/values.yaml").read_text().splitlines()
             if re.match(r"^[A-Za-z]\w*:", line)]
    top = {v.split(".")[0] for v, _ in entries} | {"images"}
    missing = [k for k in order if k not in top]
    if missing:
        raise SystemExit(f"values.yaml keys with no schema: {missing}; map them in scripts/values-schema.py")
    entries.append(("images", images))
    rank = {k: i for i, k in enumerate(["global", *order])}
    for value, schema in sorted(entries, key=lambda e: rank.get(e[0].split(".")[0], len(rank))):
        _place(root, value, schema)
    return root


def render() -> str:
    return json.dumps(values_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    args = ap.parse_args()
    text = render()
    if args.check:
        if SCHEMA_PATH.read_text(encoding="utf-8") != text:
            print(f"{SCHEMA_PATH.relative_to(REPO)} is stale: run scripts/values-schema.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
