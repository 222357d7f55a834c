"""MLflow wiring: where runs are stored, and small helpers the flow and the CLI share."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

DEFAULT_STORE = Path(".mlflow")


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` when set, else a SQLite store under ./.mlflow (created on demand)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    DEFAULT_STORE.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(DEFAULT_STORE / 'mlflow.db').resolve()}"


def artifact_root() -> str | None:
    """Artifact location for new experiments on a local store; a tracking server decides its own."""
    explicit = os.environ.get("REALEYEZ_ARTIFACTS")
    if explicit:
        return Path(explicit).resolve().as_uri()
    if os.environ.get("MLFLOW_TRACKING_URI", "").startswith(("http://", "https://")):
        return None
    return (DEFAULT_STORE / "artifacts").resolve().as_uri()


def configure(experiment: str) -> str:
    """Point MLflow at the store and return the experiment id, creating the experiment if needed.

    The experiment gets its own artifact location: MLflow's Default experiment would write to ./mlruns.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    # `mlflow models serve` and child processes resolve models:/ URIs through the same store.
    os.environ["MLFLOW_TRACKING_URI"] = uri
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(experiment, artifact_location=artifact_root())


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def configure_uri_only() -> str:
    """Set the tracking URI (for resolving models:/ URIs) without creating anything."""
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    return uri
