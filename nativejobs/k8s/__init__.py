"""Everything Kubernetes, in one package; importing it loads only the pure parts re-exported here.

| module      | owns                                                                        |
|-------------|-----------------------------------------------------------------------------|
| ``config``  | ``ClusterConfig``: the Helm chart's values, read and checked                 |
| ``render``  | steps -> ``batch/v1`` Job manifests (``render_job``, ``render_plan``); pure      |
| ``status``  | what a Job and its pods say: an Observation, why it is pending; pure         |
| ``errors``  | the typed API errors (404, 409, 410, 401/403, no answer)                     |
| ``client``  | ``KubeClient`` (retries; maps API errors at one point), list+watch ``Mirror`` |
| ``backend`` | ``KubernetesBackend``: one Job per attempt; cluster settings; cancel, logs   |
| ``driver``  | ``submit --detach``: the controller itself as a Job                          |
| ``doctor``  | checks of an install: store round trip, identity, RBAC                       |

Imports go one way: ``driver`` -> ``backend`` -> ``client`` -> ``errors``; ``doctor`` -> ``client``
(lazily); ``render`` and ``status`` import no API module.
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
