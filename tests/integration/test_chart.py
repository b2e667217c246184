"""The Helm chart (charts/nativejobs) on a real control plane, with the real helm and kubectl.

- ``helm lint --strict``, and ``helm template`` accepted by the API server (server-side dry
  run, in a namespace that enforces the ``restricted`` Pod Security Standard);
- values.schema.json rejects typos and bad values;
- the rendered ``cluster.yaml`` loads with ``load_cluster_config`` and maps every value 1:1;
- ``helm install`` into a fresh namespace; the controller's ServiceAccount can do exactly what
  the Role grants (``kubectl auth can-i --as``), and cannot read Secrets;
- ``helm test`` runs the doctor pod (on the local cluster's kwok nodes no container runs, so
  this proves the hook wiring: the pod is admitted, scheduled and its phase decides the test);
- the doctor itself, in-process, against a real MinIO and the API server as the chart's
  ServiceAccount (a kubeconfig holding its token): every check passes, and a Role missing a
  verb (or a Secret grant) fails exactly the matching check;
- a second release installs beside the first in the same namespace (every name is the
  release's fullname + a part), each controller reading only its own ConfigMap;
- ``helm uninstall`` removes what the chart made.

The release is ``nativejobs``: its objects keep the names the CLI and the doctor look up
(``nativejobs-config``, ``nativejobs-controller``); another release's are ``<release>-nativejobs-*``.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from nativejobs import __version__
from nativejobs.k8s.backend import cluster_settings
from nativejobs.k8s.client import KubeClient
from nativejobs.k8s.config import ClusterConfig, load_cluster_config
from nativejobs.k8s.doctor import CONTROLLER_ACCESS, FORBIDDEN_ACCESS, Access, Check, doctor
from tests.integration import cluster_fixtures
from tests.integration.cluster_fixtures import KubeCluster
from tests.integration.conftest import MinioServer

pytestmark = pytest.mark.integration
# The session's cluster, registered in this module (and maybe in conftest: one per process).
kube = cluster_fixtures.kube

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "nativejobs"
RELEASE = "nativejobs"  # fullname = the release name: it contains the chart name
CONTROLLER_SA = "nativejobs-controller"
STEP_SA = "nativejobs-step"
CONFIG_MAP = "nativejobs-config"

# What the controller's Role grants, as `kubectl auth can-i` asks it: (verb, resource,
# subresource, name). The Role, doctor.CONTROLLER_ACCESS and this table must agree.
GRANTED = [
    *((verb, "jobs.batch", "", "")
      for verb in ("create", "get", "list", "watch", "delete", "deletecollection")),
    *((verb, "pods", "", "") for verb in ("get", "list", "watch")),
    ("get", "pods", "log", ""),
    ("list", "events", "", ""),
    ("watch", "events", "", ""),
    ("get", "configmaps", "", CONFIG_MAP),
    ("list", "resourcequotas", "", ""),
]
DENIED = [
    ("get", "secrets", "", ""),
    ("list", "secrets", "", ""),
    ("watch", "secrets", "", ""),
    ("get", "secrets", "", "nj-s3"),
    ("create", "pods", "", ""),
    ("delete", "pods", "", ""),
    ("create", "pods", "exec", ""),
    ("patch", "jobs.batch", "", ""),
    ("update", "jobs.batch", "", ""),
    ("deletecollection", "pods", "", ""),
    ("list", "configmaps", "", ""),
    ("get", "configmaps", "", "other-config"),
    ("update", "configmaps", "", CONFIG_MAP),
    ("create", "events", "", ""),
    ("create", "roles.rbac.authorization.k8s.io", "", ""),
    ("create", "serviceaccounts", "token", CONTROLLER_SA),
]


@dataclass(frozen=True)
class Release:
    """The chart installed in its own namespace, with the S3 bucket its store lives in."""

    namespace: str
    bucket: str
    store_uri: str


def run(kube: KubeCluster, tool: str, *args: str, stdin: str | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """``kubectl``/``helm`` against the test cluster; fail the test with the output if asked."""
    done = subprocess.run([kube.tool(tool), *args], input=stdin, env=kube.env(), capture_output=True,
                          text=True, timeout=300)
    if check and done.returncode != 0:
        pytest.fail(f"{tool} {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}",
                    pytrace=False)
    return done


def render(kube: KubeCluster, *sets: str, namespace: str = "nj-render",
           check: bool = True) -> subprocess.CompletedProcess[str]:
    """``helm template`` of the chart with ``--set`` values (hooks and tests included)."""
    args = ["template", RELEASE, str(CHART), "--namespace", namespace]
    for s in sets:
        args += ["--set", s]
    return run(kube, "helm", *args, check=check)


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def rendered_config(kube: KubeCluster, tmp_path: Path, *sets: str) -> ClusterConfig:
    """The chart's cluster.yaml for these values, loaded as the controller loads it."""
    (cm,) = [d for d in documents(render(kube, *sets).stdout) if d["kind"] == "ConfigMap"]
    path = tmp_path / "cluster.yaml"
    path.write_text(cm["data"]["cluster.yaml"])
    return load_cluster_config(path)


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})", pytrace=False)


def new_namespace(kube: KubeCluster, prefix: str) -> str:
    """A fresh namespace that enforces the restricted Pod Security Standard."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    run(kube, "kubectl", "create", "namespace", name)
    run(kube, "kubectl", "label", "namespace", name, "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted")
    return name


def can_i(kube: KubeCluster, ns: str, sa: str, verb: str, resource: str, sub: str = "",
          name: str = "") -> bool:
    args = ["auth", "can-i", verb, f"{resource}/{name}" if name else resource, "-n", ns,
            f"--as=system:serviceaccount:{ns}:{sa}"]
    if sub:
        args.append(f"--subresource={sub}")
    done = run(kube, "kubectl", *args, check=False)
    answer = done.stdout.strip()
    if answer not in ("yes", "no"):
        pytest.fail(f"kubectl {' '.join(args)}: {done.stdout}{done.stderr}", pytrace=False)
    return answer == "yes"


def resource_rules(kube: KubeCluster, ns: str, sa: str) -> set[tuple[str, str, str]]:
    """``kubectl auth can-i --list`` as (resource, resource names, verbs) rows."""
    out = run(kube, "kubectl", "auth", "can-i", "--list", "--no-headers", "-n", ns,
              f"--as=system:serviceaccount:{ns}:{sa}").stdout
    rows = set()
    for line in out.splitlines():
        m = re.fullmatch(r"(\S+)\s+\[(.*?)\]\s+\[(.*?)\]\s+\[(.*?)\]\s*", line)
        if m:  # resource rows; non-resource URLs start with blanks
            rows.add((m[1], m[3], m[4]))
    return rows


def sa_kubeconfig(kube: KubeCluster, ns: str, sa: str, path: Path) -> Path:
    """A kubeconfig that authenticates as ServiceAccount ``sa`` with a fresh token."""
    token = run(kube, "kubectl", "create", "token", sa, "-n", ns, "--duration=20m").stdout.strip()
    admin = yaml.safe_load(kube.kubeconfig.read_text())
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
    cluster = next(c for c in admin["clusters"] if c["name"] == context["cluster"])
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": sa, "user": {"token": token}}],
        "contexts": [{"name": sa, "context": {"cluster": cluster["name"], "user": sa, "namespace": ns}}],
        "current-context": sa,
    }))
    return path


def installed_config(kube: KubeCluster, ns: str, tmp_path: Path) -> tuple[ClusterConfig, str]:
    """The installed ConfigMap's cluster.yaml (loaded) and store_uri."""
    data = yaml.safe_load(run(kube, "kubectl", "get", "configmap", CONFIG_MAP, "-n", ns, "-o",
                              "yaml").stdout)["data"]
    path = tmp_path / "installed-cluster.yaml"
    path.write_text(data["cluster.yaml"])
    return load_cluster_config(path), data["store_uri"]


# --- the chart without a release -------------------------------------------------------------


@pytest.mark.parametrize("sets", [(), ("minio.enabled=true", "minio.persistence.enabled=true")],
                         ids=["defaults", "dev-minio"])
def test_helm_lint_strict(kube: KubeCluster, sets: tuple[str, ...]) -> None:
    args = ["lint", "--strict", str(CHART)]
    for s in sets:
        args += ["--set", s]
    run(kube, "helm", *args)


def test_chart_version_is_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert (chart["apiVersion"], chart["appVersion"]) == ("v2", __version__)


@pytest.mark.parametrize("sets", [(), ("minio.enabled=true", "hfToken.name=hf",
                                       "secretEnv.OPENAI_API_KEY.name=openai",
                                       "secretEnv.OPENAI_API_KEY.key=api-key", "cachePvc=hf-cache")],
                         ids=["defaults", "dev-minio"])
def test_template_passes_server_side_dry_run_under_restricted_pod_security(
    kube: KubeCluster,
    sets: tuple[str, ...],
) -> None:
    ns = new_namespace(kube, "nj-dry")
    try:
        # Pod admission looks up the pod's ServiceAccount, which a dry run never creates.
        accounts = run(kube, "helm", "template", RELEASE, str(CHART), "-n", ns, "-s",
                       "templates/serviceaccounts.yaml").stdout
        run(kube, "kubectl", "apply", "-n", ns, "-f", "-", stdin=accounts)
        done = run(kube, "kubectl", "apply", "--dry-run=server", "-n", ns, "-f", "-",
                   stdin=render(kube, *sets, namespace=ns).stdout)
        assert "Warning" not in done.stderr, done.stderr  # e.g. "would violate PodSecurity"
        kinds = re.findall(r"^(\S+)/\S+ (?:created|configured|unchanged)", done.stdout, flags=re.M)
        assert {"configmap", "role.rbac.authorization.k8s.io", "rolebinding.rbac.authorization.k8s.io",
                "pod"} <= set(kinds), done.stdout
    finally:
        run(kube, "kubectl", "delete", "namespace", ns, "--wait=false")


@pytest.mark.parametrize(
    ("sets", "complaint"),
    [
        (("stor.uri=s3://b/p",), "additional properties 'stor' not allowed"),
        (("store.endpointURL=http://minio:9000",), "additional properties 'endpointURL' not allowed"),
        (("minio.enable=true",), "additional properties 'enable' not allowed"),
        (("imagePullPolicy=Sometimes",), "/imagePullPolicy"),
        (("store.uri=file:///tmp/store",), "/store/uri"),
        (("runAsUser=0",), "/runAsUser"),
        (("shmSize=lots",), "/shmSize"),
        (("secretEnv.OPENAI_API_KEY.name=openai",), "missing property 'key'"),
    ],
    ids=["unknown-top-level", "miscased-key", "unknown-nested", "enum", "not-s3", "root", "quantity",
         "secret-ref-without-key"],
)
def test_schema_rejects_bad_values(kube: KubeCluster, sets: tuple[str, ...], complaint: str) -> None:
    done = render(kube, *sets, check=False)
    assert done.returncode != 0, done.stdout[:500]
    assert "values don't meet the specifications of the schema" in done.stderr
    assert complaint in done.stderr, done.stderr


def test_role_is_what_the_doctor_checks(kube: KubeCluster) -> None:
    (role,) = [d for d in documents(render(kube).stdout) if d["kind"] == "Role"]
    granted = {
        Access(verb, res.partition("/")[0], group=group, subresource=res.partition("/")[2], name=name)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for res in rule["resources"]
        for verb in rule["verbs"]
        for name in rule.get("resourceNames", [""])
    }
    assert granted == set(CONTROLLER_ACCESS)
    assert len(CONTROLLER_ACCESS) == len(GRANTED)
    assert not any(r["resources"] == ["secrets"] or "*" in r["verbs"] + r["resources"] for r in role["rules"])


def test_rendered_cluster_config_loads_with_defaults(kube: KubeCluster, tmp_path: Path) -> None:
    config = rendered_config(kube, tmp_path)
    assert config.namespace == "nj-render"
    assert config.images["train"] == f"ghcr.io/nativejobs/nativejobs-worker:{__version__}"
    assert config.controller_service_account == CONTROLLER_SA
    assert config.step_service_account == STEP_SA
    assert config.store.credentials_secret is None and config.store.endpoint_url is None


def test_rendered_cluster_config_points_at_the_dev_minio(kube: KubeCluster, tmp_path: Path) -> None:
    config = rendered_config(kube, tmp_path, "minio.enabled=true", "imageRegistry=")
    assert config.store.endpoint_url == f"http://{RELEASE}-minio.nj-render.svc:9000"
    assert config.store.credentials_secret == f"{RELEASE}-minio"
    assert config.images["controller"] == f"nativejobs-controller:{__version__}"


# Every value set away from its default: each ClusterConfig field must move, so a field the
# chart forgets to map (or a renamed one) fails here.
EVERY_VALUE = (
    "images.translate=reg.example/t:1", "images.train=reg.example/tr:1", "images.eval=reg.example/e:1",
    "images.controller=reg.example/c:1", "imagePullPolicy=Always", "imagePullSecrets[0]=regcred",
    "store.endpointUrl=https://s3.example:9000", "store.region=eu-west-1", "store.credentialsSecret=s3",
    "store.accessKeyIdKey=id", "store.secretAccessKeyKey=secret", "hfToken.name=hf", "hfToken.key=token",
    "secretEnv.OPENAI_API_KEY.name=openai", "secretEnv.OPENAI_API_KEY.key=api-key",
    "gpuResource=amd.com/gpu", "nodeSelector.pool=batch", "tolerations[0].key=batch",
    "tolerations[0].operator=Exists", "gpuNodeSelector.nvidia\\.com/gpu\\.product=H100",
    "gpuTolerations[0].key=gpu", "gpuTolerations[0].operator=Exists", "priorityClassName=research",
    "kueueQueue=team-a", "ttlSecondsAfterFinished=600", "shmSize=32Gi", "runAsUser=2000",
    "runAsGroup=2000", "fsGroup=2000", "serviceAccounts.controller.name=ctl",
    "serviceAccounts.step.name=worker", "podAnnotations.team=nlp", "extraLabels.team=nlp",
    "cachePvc=hf-cache",
)


def test_every_cluster_config_field_has_a_value(kube: KubeCluster, tmp_path: Path) -> None:
    config = rendered_config(kube, tmp_path, *EVERY_VALUE)
    default = ClusterConfig()
    unmapped = [f for f in ClusterConfig.model_fields if getattr(config, f) == getattr(default, f)]
    assert unmapped == [], f"ClusterConfig fields no chart value sets: {unmapped}"
    store_default = default.store
    assert [f for f in type(default.store).model_fields
            if getattr(config.store, f) == getattr(store_default, f)] == []
    assert config.secret_env["OPENAI_API_KEY"].key == "api-key"
    assert config.gpu_node_selector == {"nvidia.com/gpu.product": "H100"}


def test_dev_minio_manifests_pass_server_side_dry_run_under_restricted_pod_security(
    kube: KubeCluster,
) -> None:
    ns = new_namespace(kube, "nj-devminio")
    try:
        manifests = (REPO / "k8s" / "dev" / "minio.yaml").read_text()
        done = run(kube, "kubectl", "apply", "--dry-run=server", "-n", ns, "-f", "-", stdin=manifests)
        assert "Warning" not in done.stderr, done.stderr
        assert len(re.findall(r" created \(server dry run\)", done.stdout)) == 4, done.stdout
    finally:
        run(kube, "kubectl", "delete", "namespace", ns, "--wait=false")


def test_kind_config_has_a_worker_labelled_like_a_gpu_node() -> None:
    config = yaml.safe_load((REPO / "k8s" / "kind" / "cluster.yaml").read_text())
    assert (config["kind"], config["apiVersion"]) == ("Cluster", "kind.x-k8s.io/v1alpha4")
    roles = [n["role"] for n in config["nodes"]]
    assert roles == ["control-plane", "worker"]
    assert config["nodes"][1]["labels"]["nvidia.com/gpu.present"] == "true"


# --- an installed release -------------------------------------------------------------------


def install_chart(kube: KubeCluster, minio: MinioServer, prefix: str, *helm_args: str) -> Release:
    """The chart installed (with --wait) in a fresh restricted namespace; its store is a fresh
    bucket of the test MinIO, its credentials a Secret the release references."""
    ns = new_namespace(kube, prefix)
    bucket = f"{prefix}-{uuid.uuid4().hex[:8]}"
    minio.client().create_bucket(Bucket=bucket)
    run(kube, "kubectl", "create", "secret", "generic", "nj-s3", "-n", ns,
        f"--from-literal=AWS_ACCESS_KEY_ID={minio.access_key}",
        f"--from-literal=AWS_SECRET_ACCESS_KEY={minio.secret_key}")
    store_uri = f"s3://{bucket}/runs"
    run(kube, "helm", "install", RELEASE, str(CHART), "-n", ns, "--wait", "--timeout", "3m",
        "--set", f"store.uri={store_uri}", "--set", f"store.endpointUrl={minio.endpoint_url}",
        "--set", "store.credentialsSecret=nj-s3", "--set", "imageRegistry=", *helm_args)
    return Release(namespace=ns, bucket=bucket, store_uri=store_uri)


@pytest.fixture(scope="module")
def release(kube: KubeCluster, minio: MinioServer) -> Iterator[Release]:
    """The chart installed (with --wait) in a fresh restricted namespace; its store is a
    fresh bucket of the test MinIO, its credentials a Secret the release references."""
    installed = install_chart(kube, minio, "nj-chart")
    try:
        yield installed
    finally:
        run(kube, "kubectl", "delete", "namespace", installed.namespace, "--wait=false", check=False)


def test_install_creates_the_chart_objects(kube: KubeCluster, release: Release) -> None:
    ns = release.namespace
    status = yaml.safe_load(run(kube, "helm", "status", RELEASE, "-n", ns, "-o", "yaml").stdout)
    assert status["info"]["status"] == "deployed"
    names = run(kube, "kubectl", "get", "serviceaccount,role,rolebinding,configmap", "-n", ns,
                "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "name").stdout.split()
    assert sorted(names) == sorted([
        f"serviceaccount/{CONTROLLER_SA}", f"serviceaccount/{STEP_SA}",
        f"role.rbac.authorization.k8s.io/{CONTROLLER_SA}",
        f"rolebinding.rbac.authorization.k8s.io/{CONTROLLER_SA}", f"configmap/{CONFIG_MAP}"])
    step_sa = yaml.safe_load(run(kube, "kubectl", "get", "serviceaccount", STEP_SA, "-n", ns, "-o",
                                 "yaml").stdout)
    assert step_sa["automountServiceAccountToken"] is False


def test_a_second_release_shares_the_namespace(kube: KubeCluster, minio: MinioServer, s3_env: MinioServer,
                                               release: Release, tmp_path: Path) -> None:
    ns, other = release.namespace, "other"
    controller = f"{other}-nativejobs-controller"
    run(kube, "helm", "install", other, str(CHART), "-n", ns, "--wait", "--timeout", "3m",
        "--set", f"store.uri={release.store_uri}", "--set", f"store.endpointUrl={minio.endpoint_url}",
        "--set", "store.credentialsSecret=nj-s3", "--set", "imageRegistry=")
    try:
        names = run(kube, "kubectl", "get", "serviceaccount,role,rolebinding,configmap", "-n", ns,
                    "-l", f"app.kubernetes.io/instance={other}", "-o", "name").stdout.split()
        assert sorted(names) == sorted([
            f"serviceaccount/{controller}", f"serviceaccount/{other}-nativejobs-step",
            f"role.rbac.authorization.k8s.io/{controller}",
            f"rolebinding.rbac.authorization.k8s.io/{controller}", f"configmap/{other}-nativejobs-config"])
        assert can_i(kube, ns, controller, "get", "configmaps", "", f"{other}-nativejobs-config")
        assert not can_i(kube, ns, controller, "get", "configmaps", "", CONFIG_MAP)
        assert can_i(kube, ns, CONTROLLER_SA, "get", "configmaps", "", CONFIG_MAP)
        assert not can_i(kube, ns, CONTROLLER_SA, "get", "configmaps", "", f"{other}-nativejobs-config")
        # `--release other`: its controller reads its own settings, and the doctor passes as it.
        kubeconfig = sa_kubeconfig(kube, ns, controller, tmp_path / "kubeconfig")
        config = cluster_settings(KubeClient(ns, kubeconfig_path=kubeconfig), None, other)
        assert config.controller_service_account == controller
        checks = doctor(config, release.store_uri, kubeconfig=kubeconfig, release=other)
        assert [c for c in checks if not c.ok] == [] and len(checks) == len(expected_names())
    finally:
        run(kube, "helm", "uninstall", other, "-n", ns, "--wait")
    assert run(kube, "helm", "status", RELEASE, "-n", ns, "-o", "yaml").returncode == 0


def test_installed_config_is_the_release_namespace(kube: KubeCluster, release: Release,
                                                   tmp_path: Path) -> None:
    config, store_uri = installed_config(kube, release.namespace, tmp_path)
    assert (config.namespace, store_uri) == (release.namespace, release.store_uri)
    assert config.store.credentials_secret == "nj-s3"


@pytest.mark.parametrize(("verb", "resource", "sub", "name"), GRANTED,
                         ids=[" ".join(filter(None, g)) for g in GRANTED])
def test_controller_can(kube: KubeCluster, release: Release, verb: str, resource: str,
                        sub: str, name: str) -> None:
    assert can_i(kube, release.namespace, CONTROLLER_SA, verb, resource, sub, name)


@pytest.mark.parametrize(("verb", "resource", "sub", "name"), DENIED,
                         ids=[" ".join(filter(None, d)) for d in DENIED])
def test_controller_cannot(kube: KubeCluster, release: Release, verb: str, resource: str,
                           sub: str, name: str) -> None:
    assert not can_i(kube, release.namespace, CONTROLLER_SA, verb, resource, sub, name)


def test_controller_has_exactly_the_role_beyond_every_account(kube: KubeCluster,
                                                              release: Release) -> None:
    """Its rules minus those of a ServiceAccount with no bindings (discovery, self reviews)."""
    ns = release.namespace
    run(kube, "kubectl", "create", "serviceaccount", "nobody", "-n", ns)
    extra = resource_rules(kube, ns, CONTROLLER_SA) - resource_rules(kube, ns, "nobody")
    assert extra == {
        ("jobs.batch", "", "create get list watch delete deletecollection"),
        ("pods", "", "get list watch"),
        ("pods/log", "", "get"),
        ("events", "", "list watch"),
        ("configmaps", CONFIG_MAP, "get"),
        ("resourcequotas", "", "list"),
    }
    # Nothing outside its namespace.
    assert not can_i(kube, "default", CONTROLLER_SA, "list", "jobs.batch")
    assert resource_rules(kube, ns, STEP_SA) == resource_rules(kube, ns, "nobody")


def test_helm_test_runs_the_doctor_pod(kube: KubeCluster, release: Release) -> None:
    ns = release.namespace
    run(kube, "helm", "test", RELEASE, "-n", ns, "--timeout", "2m")
    pod = yaml.safe_load(run(kube, "kubectl", "get", "pod", f"{RELEASE}-doctor", "-n", ns, "-o",
                             "yaml").stdout)
    spec = pod["spec"]
    assert pod["status"]["phase"] == "Succeeded"
    assert spec["serviceAccountName"] == CONTROLLER_SA
    (container,) = spec["containers"]
    assert container["image"] == f"nativejobs-controller:{__version__}"
    assert container["command"] == ["nativejobs", "doctor", "--cluster-config",
                                    "/etc/nativejobs/cluster.yaml", "--store", release.store_uri,
                                    "--release", RELEASE]
    env = {e["name"]: e for e in container["env"]}
    secret_ref = env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]
    assert secret_ref == {"name": "nj-s3", "key": "AWS_ACCESS_KEY_ID"}
    assert all("value" not in env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes[mounts["/etc/nativejobs"]]["configMap"]["name"] == CONFIG_MAP


def test_helm_test_fails_when_the_doctor_pod_fails(kube: KubeCluster, release: Release) -> None:
    """On the local cluster a pod annotation makes the (simulated) doctor exit 1."""
    if not kube.local:
        pytest.fail("the doctor pod's exit code comes from the kwok Stages of the local cluster; "
                    "unset KUBECONFIG to run this against scripts/cluster.sh", pytrace=False)
    ns = release.namespace
    try:
        run(kube, "helm", "upgrade", RELEASE, str(CHART), "-n", ns, "--reuse-values",
            "--set-string", "test.podAnnotations.nativejobs\\.io/sim-exit-code=1")
        done = run(kube, "helm", "test", RELEASE, "-n", ns, "--timeout", "2m", check=False)
        assert done.returncode != 0
        assert f"{RELEASE}-doctor" in done.stderr and "failed" in done.stderr.lower(), done.stderr
    finally:
        run(kube, "helm", "rollback", RELEASE, "1", "-n", ns, "--wait")


def checks_by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def expected_names() -> list[str]:
    return ["store: round trip", "kube: identity", *(f"rbac: can {a}" for a in CONTROLLER_ACCESS),
            *(f"rbac: cannot {a}" for a in FORBIDDEN_ACCESS)]


def test_doctor_passes_as_the_controller(kube: KubeCluster, release: Release, s3_env: MinioServer,
                                         tmp_path: Path) -> None:
    ns = release.namespace
    config, store_uri = installed_config(kube, ns, tmp_path)
    kubeconfig = sa_kubeconfig(kube, ns, CONTROLLER_SA, tmp_path / "kubeconfig")
    checks = doctor(config, store_uri, kubeconfig=kubeconfig)
    assert [c.name for c in checks] == expected_names()
    assert [c for c in checks if not c.ok] == []
    by_name = checks_by_name(checks)
    assert by_name["kube: identity"].detail == f"system:serviceaccount:{ns}:{CONTROLLER_SA}"
    assert by_name["rbac: cannot get secrets"].detail.startswith("denied")
    # The probe object is gone again.
    left = s3_env.client().list_objects_v2(Bucket=release.bucket, Prefix="runs/_doctor/")
    assert left.get("KeyCount", 0) == 0


def test_doctor_without_a_cluster_checks_the_store_only(release: Release, s3_env: MinioServer,
                                                        tmp_path: Path, kube: KubeCluster) -> None:
    config, store_uri = installed_config(kube, release.namespace, tmp_path)
    assert [(c.name, c.ok) for c in doctor(config, store_uri, kube=False)] == [("store: round trip", True)]


def test_doctor_reports_a_store_it_cannot_write(kube: KubeCluster, release: Release,
                                                s3_env: MinioServer, tmp_path: Path) -> None:
    config, _ = installed_config(kube, release.namespace, tmp_path)
    (check,) = doctor(config, "s3://no-such-bucket-nj/runs", kube=False)
    assert not check.ok
    assert "no-such-bucket-nj" in check.detail and "does not exist" in check.detail


def test_doctor_as_another_identity_does_not_judge_secret_access(kube: KubeCluster, release: Release,
                                                                 s3_env: MinioServer,
                                                                 tmp_path: Path) -> None:
    """An admin (the test cluster's kubeconfig) may read Secrets: reported, not failed."""
    config, store_uri = installed_config(kube, release.namespace, tmp_path)
    checks = doctor(config, store_uri, kubeconfig=kube.kubeconfig)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert checks_by_name(checks)["rbac: cannot get secrets"].detail.startswith("not checked")


def patch_role(kube: KubeCluster, ns: str, patch: list[dict[str, Any]]) -> None:
    run(kube, "kubectl", "patch", "role", CONTROLLER_SA, "-n", ns, "--type=json", "-p", json.dumps(patch))


JOB_VERBS = ["create", "get", "list", "watch", "delete", "deletecollection"]
POD_LOG_RULE = {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}


def drop_delete_jobs(kube: KubeCluster, ns: str) -> None:
    kept = [v for v in JOB_VERBS if v != "delete"]
    patch_role(kube, ns, [{"op": "replace", "path": "/rules/0/verbs", "value": kept}])


def restore_delete_jobs(kube: KubeCluster, ns: str) -> None:
    patch_role(kube, ns, [{"op": "replace", "path": "/rules/0/verbs", "value": JOB_VERBS}])


def drop_pod_logs(kube: KubeCluster, ns: str) -> None:
    patch_role(kube, ns, [{"op": "test", "path": "/rules/2", "value": POD_LOG_RULE},
                          {"op": "remove", "path": "/rules/2"}])


def restore_pod_logs(kube: KubeCluster, ns: str) -> None:
    patch_role(kube, ns, [{"op": "add", "path": "/rules/2", "value": POD_LOG_RULE}])


def grant_secret_reads(kube: KubeCluster, ns: str) -> None:
    run(kube, "kubectl", "create", "role", "leaky", "-n", ns, "--verb=get", "--resource=secrets")
    run(kube, "kubectl", "create", "rolebinding", "leaky", "-n", ns, "--role=leaky",
        f"--serviceaccount={ns}:{CONTROLLER_SA}")


def revoke_secret_reads(kube: KubeCluster, ns: str) -> None:
    run(kube, "kubectl", "delete", "rolebinding,role", "leaky", "-n", ns)


@dataclass(frozen=True)
class Breakage:
    """A change to the controller's grants, its repair, and the one doctor check it fails."""

    breaks: Callable[[KubeCluster, str], None]
    repair: Callable[[KubeCluster, str], None]
    verb: str
    resource: str  # as kubectl auth can-i takes it; a subresource after "/"
    was_allowed: bool
    failing: str


BREAKAGES = {
    "role-misses-delete-jobs": Breakage(drop_delete_jobs, restore_delete_jobs, "delete", "jobs.batch",
                                        True, "rbac: can delete batch/jobs"),
    "role-misses-pod-logs": Breakage(drop_pod_logs, restore_pod_logs, "get", "pods/log", True,
                                     "rbac: can get pods/log"),
    "secrets-granted": Breakage(grant_secret_reads, revoke_secret_reads, "get", "secrets", False,
                                "rbac: cannot get secrets"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_doctor_fails_exactly_the_check_of_a_changed_grant(kube: KubeCluster, release: Release,
                                                           s3_env: MinioServer, tmp_path: Path,
                                                           breakage: str) -> None:
    ns, b = release.namespace, BREAKAGES[breakage]
    config, store_uri = installed_config(kube, ns, tmp_path)
    resource, _, sub = b.resource.partition("/")

    def allowed() -> bool:
        return can_i(kube, ns, CONTROLLER_SA, b.verb, resource, sub)

    b.breaks(kube, ns)
    try:
        # The RBAC authorizer reads roles from an informer cache: wait until it answers anew.
        wait_for("the changed grant to take effect", lambda: allowed() != b.was_allowed)
        kubeconfig = sa_kubeconfig(kube, ns, CONTROLLER_SA, tmp_path / "kubeconfig")
        checks = doctor(config, store_uri, kubeconfig=kubeconfig)
        assert [c.name for c in checks if not c.ok] == [b.failing]
        assert "see charts/nativejobs" in checks_by_name(checks)[b.failing].detail
    finally:
        b.repair(kube, ns)
        wait_for("the repaired grant to take effect", lambda: allowed() == b.was_allowed)


def test_uninstall_removes_the_chart_objects(kube: KubeCluster, release: Release) -> None:
    """Last in this module: the release is gone afterwards."""
    ns = release.namespace
    run(kube, "helm", "uninstall", RELEASE, "-n", ns, "--wait")
    left = run(kube, "kubectl", "get", "serviceaccount,role,rolebinding,configmap,secret", "-n", ns,
               "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "name").stdout.split()
    assert left == []
    assert run(kube, "helm", "status", RELEASE, "-n", ns, check=False).returncode != 0
