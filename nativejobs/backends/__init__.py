"""Where steps run: ``local`` (subprocesses on this machine) and, later, ``k8s`` (batch/v1 Jobs)."""
