"""Kubernetes without the API: cluster settings (``ClusterConfig``, the Helm chart's values) and
pure rendering of steps into ``batch/v1`` Job manifests (``render_job``, ``render_plan``).
"""

from nativejobs.k8s.config import (
    ClusterConfig,
    SecretRef,
    StoreAccess,
    Toleration,
    load_cluster_config,
    parse_cluster_config,
)
from nativejobs.k8s.render import (
    LABEL_ATTEMPT,
    LABEL_EXPERIMENT,
    LABEL_KIND,
    LABEL_STEP,
    MANAGED_BY,
    job_name,
    render_job,
    render_plan,
    selector,
    to_yaml,
)

__all__ = [
    "LABEL_ATTEMPT", "LABEL_EXPERIMENT", "LABEL_KIND", "LABEL_STEP", "MANAGED_BY", "ClusterConfig",
    "SecretRef", "StoreAccess", "Toleration", "job_name", "load_cluster_config",
    "parse_cluster_config", "render_job", "render_plan", "selector", "to_yaml",
]
