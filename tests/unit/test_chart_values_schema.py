"""The Helm chart without a cluster: its values schema is ClusterConfig's, ``helm lint --strict``
accepts it, and its names let two releases share a namespace while the release ``nativejobs``
keeps the names the Python side looks up.

helm: ``$(scripts/cluster.sh bin)/helm`` when built, else ``helm`` on PATH (the fork CI sets it
up); ``helm template`` and ``helm lint`` need no cluster.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from nativejobs.k8s.config import ClusterConfig, chart_fullname, config_map_name, parse_cluster_config

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "nativejobs"
NAMESPACE = "team"


@cache
def schema_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("values_schema", REPO / "scripts" / "values-schema.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def helm() -> str:
    done = subprocess.run([str(REPO / "scripts" / "cluster.sh"), "bin"], capture_output=True, text=True)
    built = Path(done.stdout.strip()) / "helm"
    if done.returncode == 0 and built.is_file():
        return str(built)
    found = shutil.which("helm")
    if not found:
        pytest.fail("helm not found: run scripts/cluster.sh build, or put helm (v3) on PATH", pytrace=False)
    return found


def run_helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([helm(), *args], capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}",
                    pytrace=False)
    return done


def template(release: str, *sets: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    args = ["template", release, str(CHART), "--namespace", NAMESPACE]
    for s in sets:
        args += ["--set", s]
    return run_helm(*args, check=check)


def objects(release: str, *sets: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(template(release, *sets).stdout) if d]


def one(docs: list[dict[str, Any]], kind: str, component: str | None = None) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and (
        component is None or d["metadata"]["labels"].get("app.kubernetes.io/component") == component)]
    return doc


DEV_MINIO = ("minio.enabled=true", "minio.persistence.enabled=true")


# --- values.schema.json ----------------------------------------------------------------------


def test_committed_schema_is_generated_from_cluster_config() -> None:
    committed = (CHART / "values.schema.json").read_text(encoding="utf-8")
    assert committed == schema_script().render(), "stale: run .venv/bin/python scripts/values-schema.py"


def test_every_cluster_config_field_has_a_value_in_the_schema() -> None:
    """Only the namespace (the release's) and images (per role, "" = default) are not 1:1."""
    mapped = {field.split(".")[0] for _, field, _ in schema_script().FIELDS}
    assert set(ClusterConfig.model_fields) - mapped == {"namespace", "images"}
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    assert set(schema["properties"]["images"]["properties"]) == {"translate", "train", "eval", "controller"}


def test_schema_carries_the_config_checks() -> None:
    props = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))["properties"]
    assert props["imagePullPolicy"]["enum"] == ["Always", "IfNotPresent", "Never"]
    assert props["runAsUser"]["exclusiveMinimum"] == 0
    assert props["secretEnv"]["additionalProperties"]["required"] == ["name", "key"]
    assert props["cachePvc"]["anyOf"][0] == {"const": ""}
    assert "pattern" in props["shmSize"] and "pattern" in props["extraLabels"]["propertyNames"]


@pytest.mark.parametrize(("sets", "complaint"), [
    (("stor.uri=s3://b/p",), "additional properties 'stor' not allowed"),
    (("runAsUser=0",), "/runAsUser"),
    (("shmSize=lots",), "/shmSize"),
    (("secretEnv.openai_key.name=o", "secretEnv.openai_key.key=k"), "'openai_key' does not match"),
    (("extraLabels.bad key=x",), "'bad key' does not match"),
    (("cachePvc=Not_A_Name",), "/cachePvc"),
], ids=["typo", "root", "quantity", "env-name", "label-key", "object-name"])
def test_schema_rejects_what_cluster_config_rejects(sets: tuple[str, ...], complaint: str) -> None:
    done = template("nativejobs", *sets, check=False)
    assert done.returncode != 0
    assert "values don't meet the specifications of the schema" in done.stderr
    assert complaint in done.stderr, done.stderr


def test_every_value_set_renders_a_config_that_loads() -> None:
    sets = ("store.endpointUrl=https://s3.example", "store.credentialsSecret=s3", "hfToken.name=hf",
            "secretEnv.OPENAI_API_KEY.name=openai", "secretEnv.OPENAI_API_KEY.key=api-key",
            "priorityClassName=research", "kueueQueue=team-a", "cachePvc=hf-cache",
            "tolerations[0].key=batch", "tolerations[0].operator=Exists")
    config = parse_cluster_config(yaml.safe_load(one(objects("nativejobs", *sets), "ConfigMap")["data"]
                                                 ["cluster.yaml"]))
    assert (config.priority_class, config.kueue_queue, config.cache_pvc) == ("research", "team-a", "hf-cache")


# --- helm lint -------------------------------------------------------------------------------


@pytest.mark.parametrize("sets", [(), DEV_MINIO], ids=["defaults", "dev-minio"])
def test_helm_lint_strict(sets: tuple[str, ...]) -> None:
    args = ["lint", "--strict", str(CHART)]
    for s in sets:
        args += ["--set", s]
    run_helm(*args)


# --- names -----------------------------------------------------------------------------------


def names(docs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(d["kind"], d["metadata"]["name"]) for d in docs}


def test_release_nativejobs_keeps_the_names_the_cli_looks_up() -> None:
    docs = objects("nativejobs", *DEV_MINIO)
    assert names(docs) == {
        ("ServiceAccount", "nativejobs-controller"), ("ServiceAccount", "nativejobs-step"),
        ("ConfigMap", config_map_name()), ("Role", "nativejobs-controller"),
        ("RoleBinding", "nativejobs-controller"), ("Pod", "nativejobs-doctor"),
        ("Secret", "nativejobs-minio"), ("Service", "nativejobs-minio"),
        ("PersistentVolumeClaim", "nativejobs-minio"), ("Deployment", "nativejobs-minio"),
        ("Job", "nativejobs-minio-bucket"),
    }
    config = parse_cluster_config(yaml.safe_load(one(docs, "ConfigMap")["data"]["cluster.yaml"]))
    assert config.controller_service_account == ClusterConfig().controller_service_account


@pytest.mark.parametrize(("release", "fullname"), [
    ("nj", "nj-nativejobs"), ("nativejobs-b", "nativejobs-b"), ("my-nativejobs", "my-nativejobs"),
    ("a" * 53, "a" * 42), ("a" * 41 + "-b", "a" * 41),
])
def test_every_name_and_reference_uses_the_fullname(release: str, fullname: str) -> None:
    assert chart_fullname(release) == fullname  # what `--release` makes the CLI look up
    docs = objects(release, *DEV_MINIO)
    assert all(d["metadata"]["name"].startswith(f"{fullname}-") for d in docs), names(docs)
    assert all(len(d["metadata"]["name"]) <= 63 for d in docs)
    controller, step = f"{fullname}-controller", f"{fullname}-step"
    config_map = one(docs, "ConfigMap")
    role, binding = one(docs, "Role"), one(docs, "RoleBinding")
    (config_rule,) = [r for r in role["rules"] if r["resources"] == ["configmaps"]]
    assert config_rule["resourceNames"] == [config_map["metadata"]["name"]] == [config_map_name(release)]
    assert binding["roleRef"]["name"] == role["metadata"]["name"] == controller
    assert binding["subjects"][0]["name"] == controller
    pod = one(docs, "Pod")
    assert pod["spec"]["serviceAccountName"] == controller
    assert pod["spec"]["containers"][0]["command"][-2:] == ["--release", release]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == f"{fullname}-config"
    config = parse_cluster_config(yaml.safe_load(config_map["data"]["cluster.yaml"]))
    assert (config.controller_service_account, config.step_service_account) == (controller, step)
    assert config.store.credentials_secret == f"{fullname}-minio"
    assert config.store.endpoint_url == f"http://{fullname}-minio.{NAMESPACE}.svc:9000"
    bucket = one(docs, "Job")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in bucket["env"]}
    assert f"@{fullname}-minio.{NAMESPACE}.svc:9000" in env["MC_HOST_dev"]["value"]


def test_two_releases_in_one_namespace_share_no_object_name() -> None:
    first, second = objects("nativejobs", *DEV_MINIO), objects("other", *DEV_MINIO)
    assert names(first).isdisjoint(names(second))


def test_explicit_account_names_win() -> None:
    docs = objects("anything", "serviceAccounts.controller.name=ctl", "serviceAccounts.step.name=worker")
    assert {("ConfigMap", "anything-nativejobs-config"), ("ServiceAccount", "ctl")} <= names(docs)
    assert one(docs, "RoleBinding")["subjects"][0]["name"] == "ctl"
    config = parse_cluster_config(yaml.safe_load(one(docs, "ConfigMap")["data"]["cluster.yaml"]))
    assert (config.controller_service_account, config.step_service_account) == ("ctl", "worker")
