"""The doctor's store check and its reporting, without a cluster (a file store, no kubeconfig).

The RBAC checks need an API server: tests/integration/test_chart.py runs them as the chart's
ServiceAccount against the local control plane.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nativejobs.k8s.config import ClusterConfig, config_map_name
from nativejobs.k8s.doctor import CONTROLLER_ACCESS, FORBIDDEN_ACCESS, Access, doctor


def test_store_round_trip_leaves_nothing_behind(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (check,) = doctor(ClusterConfig(), f"file://{store}", kube=False)
    assert (check.name, check.ok) == ("store: round trip", True)
    assert "_doctor/" in check.detail
    assert [p for p in store.rglob("*") if p.is_file()] == []


def test_an_unwritable_store_fails_the_check_with_the_reason(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store root should be")
    (check,) = doctor(ClusterConfig(), f"file://{blocker}/store", kube=False)
    assert not check.ok
    assert str(blocker) in check.detail


def test_an_unsupported_store_uri_is_a_failed_check_not_an_exception() -> None:
    (check,) = doctor(ClusterConfig(), "gs://bucket/runs", kube=False)
    assert not check.ok
    assert "gs://bucket/runs" in check.detail


def test_no_kubernetes_credentials_is_a_failed_identity_check(tmp_path: Path) -> None:
    checks = doctor(ClusterConfig(), f"file://{tmp_path}", kubeconfig=tmp_path / "missing-kubeconfig")
    assert [(c.name, c.ok) for c in checks] == [("store: round trip", True), ("kube: identity", False)]
    assert "KUBECONFIG" in checks[1].detail


@pytest.mark.parametrize(
    ("access", "text"),
    [
        (Access("create", "jobs", group="batch"), "create batch/jobs"),
        (Access("get", "pods", subresource="log"), "get pods/log"),
        (Access("get", "configmaps", name="nativejobs-config"), "get configmaps (name nativejobs-config)"),
    ],
    ids=["group", "subresource", "name"],
)
def test_access_reads_as_a_check_name(access: Access, text: str) -> None:
    assert str(access) == text


def test_the_controller_may_read_only_its_own_config_map_and_no_secrets() -> None:
    (config_map,) = [a for a in CONTROLLER_ACCESS if a.resource == "configmaps"]
    assert config_map == Access("get", "configmaps", name=config_map_name())
    assert not [a for a in CONTROLLER_ACCESS if a.resource == "secrets"]
    assert {a.verb for a in FORBIDDEN_ACCESS} == {"get", "list", "watch"}
