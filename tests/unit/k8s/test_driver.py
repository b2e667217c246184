"""The detached controller's Job: placed like every step pod, with the chart's identity."""

from __future__ import annotations

from nativejobs.k8s.config import parse_cluster_config
from nativejobs.k8s.driver import render_driver_job


def test_driver_job_honours_node_selector_tolerations_and_priority() -> None:
    config = parse_cluster_config({
        "node_selector": {"nativejobs.io/real-node": "true"},
        "tolerations": [{"key": "nativejobs.io/real-node", "operator": "Exists", "effect": "NoSchedule"}],
        "gpu_node_selector": {"gpu": "h100"}, "gpu_tolerations": [{"key": "gpu", "operator": "Exists"}],
        "priority_class": "research"})

    pod = render_driver_job("study", "s3://b/runs", config)["spec"]["template"]["spec"]

    assert pod["nodeSelector"] == {"nativejobs.io/real-node": "true"}  # never the GPU extras
    assert pod["tolerations"] == [{"key": "nativejobs.io/real-node", "operator": "Exists",
                                   "effect": "NoSchedule"}]
    assert pod["priorityClassName"] == "research"
    assert pod["serviceAccountName"] == "nativejobs-controller"


def test_driver_job_without_placement_sets_none() -> None:
    pod = render_driver_job("study", "s3://b/runs", parse_cluster_config({}))["spec"]["template"]["spec"]

    assert not {"nodeSelector", "tolerations", "priorityClassName"} & pod.keys()


def test_driver_reads_the_settings_of_the_release_it_was_submitted_with() -> None:
    config = parse_cluster_config({"controller_service_account": "lab-nativejobs-controller"})

    pod = render_driver_job("study", "s3://b/runs", config, release="lab")["spec"]["template"]["spec"]

    command = pod["containers"][0]["command"]
    assert command[command.index("--release") + 1] == "lab"
    assert pod["serviceAccountName"] == "lab-nativejobs-controller"
