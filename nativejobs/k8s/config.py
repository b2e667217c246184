"""Cluster settings: what the Helm chart's values become (``cluster.yaml`` in a ConfigMap).

Everything here has a default, so ``ClusterConfig()`` is valid. Secrets appear only by
reference (a Secret's name and key): no field takes a secret value. Errors are one line per
problem, as the spec's: ``image_pull_policy: got 'Sometimes'; input should be ...``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from nativejobs import __version__
from nativejobs.errors import SpecError
from nativejobs.spec import _ENV_NAME, _field_problems, read_yaml

__all__ = [
    "DEFAULT_RELEASE", "IMAGE_ROLES", "ClusterConfig", "ImageRole", "SecretRef", "StoreAccess", "Toleration",
    "chart_fullname", "config_map_name", "default_image", "load_cluster_config", "parse_cluster_config",
]

CHART_NAME = "nativejobs"  # charts/nativejobs/Chart.yaml `name`
# The Helm release the CLI addresses unless told (`helm install nativejobs charts/nativejobs`).
DEFAULT_RELEASE = CHART_NAME
ImageRole = Literal["translate", "train", "eval", "controller"]
IMAGE_ROLES: tuple[ImageRole, ...] = get_args(ImageRole)
# Labels nativejobs sets itself: a Job found by selector must really be ours.
_OWN_LABEL_PREFIXES = ("nativejobs.io/", "app.kubernetes.io/managed-by", "kueue.x-k8s.io/")
# Variables nativejobs sets itself; a secret_env entry of the same name would shadow one.
_OWN_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_REGION",
            "HF_TOKEN", "HF_HOME", "NATIVEJOBS_CACHE", "NATIVEJOBS_THREADS", "PYTHONUNBUFFERED")

_RELEASE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?")


def chart_fullname(release: str) -> str:
    """The prefix of every object of the chart's ``release``, as charts/nativejobs/_helpers.tpl makes it.

    Raises: SpecError if ``release`` is no Helm release name.
    """
    if not _RELEASE_NAME.fullmatch(release):
        raise SpecError([f"--release: got {release[:100]!r}; a Helm release name is lowercase letters, "
                         "digits and '-', at most 53 characters, starting and ending alphanumeric"])
    name = release if CHART_NAME in release else f"{release}-{CHART_NAME}"
    name = name[:42]
    return name[:-1] if name.endswith("-") else name  # Go's TrimSuffix: one dash at most


def config_map_name(release: str = DEFAULT_RELEASE) -> str:
    """The chart's ConfigMap of ``release``: key cluster.yaml (this model), key store_uri."""
    return f"{chart_fullname(release)}-config"


_REDACTED = "<redacted: a literal; give a Secret reference {name: SECRET, key: KEY}>"


def _matching(pattern: str, what: str) -> AfterValidator:
    """A check that says what the value must be, not the regex it failed."""
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return AfterValidator(check)


def _not_own_label(key: str) -> str:
    if key.startswith(_OWN_LABEL_PREFIXES):
        raise ValueError("this label is set by nativejobs; use another key")
    return key


def _not_own_env(name: str) -> str:
    if name in _OWN_ENV:
        raise ValueError("this variable is set by nativejobs; give S3 keys in store.credentials_secret "
                         "and the Hugging Face token in hf_token")
    return name


_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
# An object name (Secret, PVC, PriorityClass, ServiceAccount).
Name = Annotated[str, Field(max_length=253), _matching(
    _SUBDOMAIN, "a Kubernetes object name: lowercase letters, digits, '-' and '.', e.g. my-secret")]
SecretKey = Annotated[str, _matching(
    r"[-._a-zA-Z0-9]{1,253}", "a Secret key: letters, digits, '-', '_' and '.', e.g. api-key")]
LabelKey = Annotated[str, _matching(
    rf"({_SUBDOMAIN}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{{0,61}}[A-Za-z0-9])?",
    "a label key: [prefix/]name, the name at most 63 of [A-Za-z0-9-_.], e.g. team")]
_LABEL_VALUE = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
LabelValue = Annotated[str, _matching(
    f"({_LABEL_VALUE})?", "a label value: at most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric")]
EnvName = Annotated[str, _matching(_ENV_NAME.pattern, "an environment variable name, e.g. OPENAI_API_KEY")]
Quantity = Annotated[str, _matching(r"[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?",
                                    "a Kubernetes quantity, e.g. 16Gi or 512Mi")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def default_image(role: str) -> str:
    """The image a role runs by default: one worker image (images/Dockerfile's `worker`
    target) serves translate, train and eval; the controller has its own."""
    image = "controller" if role == "controller" else "worker"
    return f"ghcr.io/nativejobs/nativejobs-{image}:{__version__}"


class SecretRef(_Model):
    """One key of a Kubernetes Secret (in the Jobs' namespace)."""

    name: Name
    key: SecretKey


class StoreAccess(_Model):
    """How step pods reach the S3 store: plain endpoint and region, credentials by Secret."""

    endpoint_url: str | None = Field(default=None, min_length=1)  # env AWS_ENDPOINT_URL
    region: str | None = Field(default=None, min_length=1)  # env AWS_REGION
    # A Secret holding the access key pair; None = the pod's own identity (IRSA, node role).
    credentials_secret: Name | None = None
    access_key_id_key: SecretKey = "AWS_ACCESS_KEY_ID"
    secret_access_key_key: SecretKey = "AWS_SECRET_ACCESS_KEY"


class Toleration(_Model):
    """A pod toleration; keys are Kubernetes' camelCase names, as in a pod spec."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    key: LabelKey | None = None  # None (with Exists): every taint
    operator: Literal["Exists", "Equal"] = "Equal"
    value: LabelValue | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(default=None, alias="tolerationSeconds")

    @model_validator(mode="after")
    def _consistent(self) -> Toleration:
        # The API server's own rules, checked here so a bad value fails at load, not at launch.
        if self.operator == "Exists" and self.value:
            raise ValueError("operator 'Exists' takes no value")
        if self.key is None and self.operator != "Exists":
            raise ValueError("a toleration without a key needs operator 'Exists'")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise ValueError("tolerationSeconds needs effect 'NoExecute'")
        return self

    def manifest(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class ClusterConfig(_Model):
    """Where and how step Jobs run on a cluster."""

    namespace: Annotated[str, _matching(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", "a namespace name: at "
                                        "most 63 lowercase letters, digits and '-'")] = "nativejobs"
    # Missing roles get default_image(role).
    images: dict[ImageRole, str] = Field(default={}, validate_default=True)
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    image_pull_secrets: list[Name] = []
    store: StoreAccess = StoreAccess()
    hf_token: SecretRef | None = None  # env HF_TOKEN, for gated models and datasets
    # Env var name → Secret key, for engine API keys (an engine's api_key_env names the var).
    secret_env: dict[Annotated[EnvName, AfterValidator(_not_own_env)], SecretRef] = {}
    gpu_resource: str = Field(default="nvidia.com/gpu", min_length=1)
    node_selector: dict[LabelKey, LabelValue] = {}  # every step
    tolerations: list[Toleration] = []  # every step
    gpu_node_selector: dict[LabelKey, LabelValue] = {}  # added for steps that hold a GPU
    gpu_tolerations: list[Toleration] = []  # added for steps that hold a GPU
    priority_class: Name | None = None
    kueue_queue: Annotated[str, _matching(_LABEL_VALUE, "a Kueue LocalQueue name in namespace, "
                                          "e.g. team-a")] | None = None
    ttl_seconds_after_finished: int = Field(default=86400, ge=0)
    shm_size: Quantity = "16Gi"  # /dev/shm: vLLM, DataLoader workers
    run_as_user: int = Field(default=1000, gt=0)  # > 0: steps never run as root
    run_as_group: int = Field(default=1000, ge=0)
    fs_group: int = Field(default=1000, ge=0)
    step_service_account: Name | None = None
    controller_service_account: Name = "nativejobs-controller"
    pod_annotations: dict[LabelKey, str] = {}
    extra_labels: dict[Annotated[LabelKey, AfterValidator(_not_own_label)], LabelValue] = {}
    cache_pvc: Name | None = None  # /cache; else an emptyDir

    @model_validator(mode="before")
    @classmethod
    def _redact_literals(cls, data: Any) -> Any:
        """A secret written where a Secret reference belongs never reaches an error line."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("hf_token") is not None and not isinstance(data["hf_token"], dict):
            data["hf_token"] = _REDACTED
        if isinstance(data.get("secret_env"), dict):
            data["secret_env"] = {k: v if isinstance(v, dict) else _REDACTED
                                  for k, v in data["secret_env"].items()}
        return data

    @field_validator("images")
    @classmethod
    def _fill_images(cls, v: dict[str, str]) -> dict[str, str]:
        if blank := [role for role, image in v.items() if not image.strip()]:
            raise ValueError(f"image for {', '.join(blank)} is empty; give a reference like "
                             f"{default_image(blank[0])}")
        return {role: v.get(role, default_image(role)) for role in IMAGE_ROLES}



def parse_cluster_config(doc: Any, *, source: str = "cluster config") -> ClusterConfig:
    """Validate a cluster config document (None = every default).

    Raises: SpecError with one line per problem, each starting with ``source``.
    """
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise SpecError([f"{source}: got {type(doc).__name__}; the cluster config must be a "
                         "YAML mapping (namespace: ..., images: ..., store: ...)"])
    try:
        return ClusterConfig.model_validate(doc)
    except ValidationError as e:
        raise SpecError([f"{source}: {line}" for line in _field_problems(e)]) from None


def load_cluster_config(path: Path | None) -> ClusterConfig:
    """Read a cluster config YAML file; None gives the defaults.

    Raises: SpecError if the file is unreadable, not YAML, or invalid.
    """
    if path is None:
        return ClusterConfig()
    return parse_cluster_config(read_yaml(path, "the cluster config"), source=str(path))
