"""ClusterConfig: defaults, image filling, loading, and one-line errors that never echo a secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nativejobs import __version__
from nativejobs.errors import SpecError
from nativejobs.k8s.config import ClusterConfig, config_map_name, load_cluster_config, parse_cluster_config

REF = {"name": "engine-keys", "key": "openai"}


def problems_of(doc: Any) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_cluster_config(doc)
    return info.value.problems


# -- defaults ------------------------------------------------------------------------------------
def test_every_field_has_a_default() -> None:
    config = ClusterConfig()

    assert config.namespace == "nativejobs"
    assert config.images["train"] == f"ghcr.io/nativejobs/nativejobs-worker:{__version__}"
    assert config.store.credentials_secret is None and config.secret_env == {}
    assert (config.run_as_user, config.run_as_group, config.fs_group) == (1000, 1000, 1000)


def test_missing_images_are_filled_with_defaults() -> None:
    config = parse_cluster_config({"images": {"train": "registry.local/train:dev"}})

    assert config.images == {
        "translate": f"ghcr.io/nativejobs/nativejobs-worker:{__version__}",
        "train": "registry.local/train:dev",
        "eval": f"ghcr.io/nativejobs/nativejobs-worker:{__version__}",
        "controller": f"ghcr.io/nativejobs/nativejobs-controller:{__version__}",
    }


@pytest.mark.parametrize(("kind", "role"), [
    ("prepare", "translate"), ("translate", "translate"), ("train", "train"),
    ("evaluate", "eval"), ("judge", "eval"), ("summarize", "controller"),
])
def test_each_step_kind_runs_on_its_image(kind: str, role: str) -> None:
    from nativejobs.plan import IMAGE_ROLE

    config = parse_cluster_config({"images": {role: f"img/{role}:1"}})

    assert config.images[IMAGE_ROLE[kind]] == f"img/{role}:1"


def test_every_planned_role_has_an_image() -> None:
    from nativejobs.plan import IMAGE_ROLE

    assert set(IMAGE_ROLE.values()) == set(ClusterConfig().images)


def test_tolerations_take_and_give_kubernetes_names() -> None:
    config = parse_cluster_config({"tolerations": [
        {"key": "spot", "value": "true", "effect": "NoExecute", "tolerationSeconds": 30},
        {"operator": "Exists"},
    ]})

    assert [t.manifest() for t in config.tolerations] == [
        {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoExecute",
         "tolerationSeconds": 30},
        {"operator": "Exists"},
    ]


def test_config_is_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        ClusterConfig().namespace = "other"  # type: ignore[misc]


# -- loading -------------------------------------------------------------------------------------
def test_no_file_gives_the_defaults() -> None:
    assert load_cluster_config(None) == ClusterConfig()


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text("# nothing set\n", encoding="utf-8")

    assert load_cluster_config(path) == ClusterConfig()


def test_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text("namespace: research\nkueue_queue: team-a\n"
                    "secret_env: {OPENAI_API_KEY: {name: engine-keys, key: openai}}\n", encoding="utf-8")

    config = load_cluster_config(path)

    assert (config.namespace, config.kueue_queue) == ("research", "team-a")
    assert config.secret_env["OPENAI_API_KEY"].name == "engine-keys"


def test_missing_file_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"

    with pytest.raises(SpecError) as info:
        load_cluster_config(path)

    assert info.value.problems == [f"{path}: cannot read the cluster config (No such file or directory)"]


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text("namespace: ok\nimages: [unclosed\n", encoding="utf-8")

    with pytest.raises(SpecError) as info:
        load_cluster_config(path)

    (line,) = info.value.problems
    assert line.startswith(f"{path} line ") and "not valid YAML" in line


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text("image_pull_policy: Sometimes\n", encoding="utf-8")

    with pytest.raises(SpecError) as info:
        load_cluster_config(path)

    assert info.value.problems == [f"{path}: image_pull_policy: got 'Sometimes'; input should be "
                                   "'Always', 'IfNotPresent' or 'Never'"]


def test_a_list_is_not_a_config() -> None:
    assert problems_of(["namespace"]) == [
        "cluster config: got list; the cluster config must be a YAML mapping "
        "(namespace: ..., images: ..., store: ...)"]


# -- one problem, one line -----------------------------------------------------------------------
PROBLEMS = [
    pytest.param({"namespace": "Research"}, "namespace: got 'Research'", ("namespace name",),
                 id="namespace"),
    pytest.param({"namspace": "x"}, "namspace: unknown key", ("spelling",), id="unknown-key"),
    pytest.param({"images": {"worker": "x:1"}}, "images.worker", ("'translate', 'train'",),
                 id="unknown-image-role"),
    pytest.param({"images": {"train": " "}}, "images: got", ("image for train is empty",),
                 id="empty-image"),
    pytest.param({"image_pull_secrets": ["Ghcr_Pull"]}, "image_pull_secrets[0]: got 'Ghcr_Pull'",
                 ("Kubernetes object name",), id="pull-secret-name"),
    pytest.param({"store": {"credentials_secret": "S3 creds"}}, "store.credentials_secret",
                 ("object name",), id="store-secret-name"),
    pytest.param({"store": {"secret_key": "abc"}}, "store.secret_key: unknown key", (),
                 id="store-literal-key"),
    pytest.param({"secret_env": {"openai-key": REF}}, "secret_env.openai-key",
                 ("environment variable name",), id="env-name"),
    pytest.param({"secret_env": {"HF_TOKEN": REF}}, "secret_env.HF_TOKEN", ("hf_token",),
                 id="env-set-by-nativejobs"),
    pytest.param({"hf_token": {"name": "hf"}}, "hf_token.key: required key is missing", (),
                 id="secret-ref-key"),
    pytest.param({"tolerations": [{"operator": "Exists", "value": "x"}]}, "tolerations[0]",
                 ("'Exists' takes no value",), id="exists-with-value"),
    pytest.param({"tolerations": [{"value": "x"}]}, "tolerations[0]", ("without a key",),
                 id="equal-without-key"),
    pytest.param({"gpu_tolerations": [{"key": "k", "tolerationSeconds": 5}]}, "gpu_tolerations[0]",
                 ("'NoExecute'",), id="seconds-without-noexecute"),
    pytest.param({"tolerations": [{"key": "k", "effect": "Sometimes"}]}, "tolerations[0].effect",
                 ("'NoSchedule'",), id="effect"),
    pytest.param({"node_selector": {"pool": "gpu pool"}}, "node_selector.pool: got 'gpu pool'",
                 ("label value",), id="selector-value"),
    pytest.param({"extra_labels": {"nativejobs.io/step": "x"}}, "extra_labels.nativejobs.io/step",
                 ("set by nativejobs",), id="own-label"),
    pytest.param({"extra_labels": {"kueue.x-k8s.io/queue-name": "q"}}, "extra_labels.kueue",
                 ("set by nativejobs",), id="queue-label"),
    pytest.param({"kueue_queue": ""}, "kueue_queue: got ''", ("LocalQueue",), id="queue-name"),
    pytest.param({"shm_size": "lots"}, "shm_size: got 'lots'", ("16Gi",), id="shm-size"),
    pytest.param({"run_as_user": 0}, "run_as_user: got 0", ("greater than 0",), id="root"),
    pytest.param({"ttl_seconds_after_finished": -1}, "ttl_seconds_after_finished: got -1", (),
                 id="ttl"),
]


@pytest.mark.parametrize(("doc", "starts", "mentions"), PROBLEMS)
def test_one_problem_gives_one_line_naming_the_field(doc: dict[str, Any], starts: str,
                                                    mentions: tuple[str, ...]) -> None:
    problems = problems_of(doc)

    assert len(problems) == 1, problems
    line = problems[0]
    assert "\n" not in line
    assert line.startswith(f"cluster config: {starts}"), line
    for text in mentions:
        assert text in line, (text, line)


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of({"namespace": "X", "shm_size": "lots", "image_pull_policy": "Often"})

    assert [p.split(":")[1].strip() for p in problems] == ["namespace", "image_pull_policy",
                                                           "shm_size"]


@pytest.mark.parametrize("doc", [
    pytest.param({"hf_token": "hf_live_token_value"}, id="hf-token"),
    pytest.param({"secret_env": {"OPENAI_API_KEY": "sk-live-token-value"}}, id="secret-env"),
])
def test_a_literal_secret_is_refused_and_never_echoed(doc: dict[str, Any]) -> None:
    (line,) = problems_of(doc)

    assert "live-token-value" not in line and "live_token_value" not in line
    assert "redacted" in line and "{name: SECRET, key: KEY}" in line


@pytest.mark.parametrize("release", ["", "Lab", "lab_1", "-lab", "lab-", "a" * 54, "lab\n"])
def test_a_bad_release_name_is_one_line_naming_the_option(release: str) -> None:
    with pytest.raises(SpecError) as caught:
        config_map_name(release)
    (line,) = caught.value.problems
    assert line.startswith(f"--release: got {release!r}") and "\n" not in line
