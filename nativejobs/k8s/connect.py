"""From CLI options to a working Kubernetes backend: which cluster, which settings.

The settings come from ``--cluster-config FILE`` if given, else from the ConfigMap the Helm
chart installs (``nativejobs-config``, key ``cluster.yaml``) in the namespace, so a laptop and
the in-cluster driver run every Job with the same images, Secrets and node placement.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes.client.exceptions import ApiException

from nativejobs.backends.k8s import KubeClient, KubernetesBackend
from nativejobs.errors import NativeJobsError, SpecError
from nativejobs.k8s.config import CONFIG_MAP_NAME, ClusterConfig, load_cluster_config, parse_cluster_config

__all__ = ["CONFIGMAP_KEY", "cluster_settings", "open_backend"]

CONFIGMAP_KEY = "cluster.yaml"


def cluster_settings(kube: KubeClient, path: Path | None) -> ClusterConfig:
    """The file's settings, else the chart's ConfigMap in ``kube.namespace``."""
    if path is not None:
        config = load_cluster_config(path)
    else:
        config = parse_cluster_config(_configmap_doc(kube), source=f"ConfigMap {CONFIG_MAP_NAME}")
    if config.namespace != kube.namespace:
        config = config.model_copy(update={"namespace": kube.namespace})
    return config


def _configmap_doc(kube: KubeClient) -> object:
    try:
        cm = kube.call(kube.core.read_namespaced_config_map, CONFIG_MAP_NAME, kube.namespace)
    except ApiException as e:
        if e.status == 404:
            raise SpecError([f"--namespace: no ConfigMap {CONFIG_MAP_NAME} in namespace {kube.namespace!r}; "
                             "install the chart there (helm install nativejobs charts/nativejobs -n "
                             f"{kube.namespace}) or pass --cluster-config FILE"]) from None
        raise NativeJobsError(f"reading ConfigMap {CONFIG_MAP_NAME} failed: {e.status} {e.reason}") from e
    text = (cm.data or {}).get(CONFIGMAP_KEY)
    if text is None:
        raise SpecError([f"ConfigMap {CONFIG_MAP_NAME}: no key {CONFIGMAP_KEY}; reinstall the chart"])
    return yaml.safe_load(text)


def open_backend(experiment: str, *, namespace: str | None, cluster_config: Path | None,
                 kubeconfig: Path | None) -> KubernetesBackend:
    """A started backend (its watches running) for the Jobs of ``experiment``."""
    ns = namespace or (load_cluster_config(cluster_config).namespace if cluster_config else "nativejobs")
    kube = KubeClient(ns, kubeconfig_path=kubeconfig)
    return KubernetesBackend(kube, experiment, cluster_settings(kube, cluster_config))
