"""Shared fixtures. One autouse fixture points MLflow, Prefect, DVC and Keras state at tmp_path."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE_ARCHIVE = SHARED / "datasets" / "cifake" / "cifake-sample.tar.gz"


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own MLflow store, Keras home and DVC site cache; nothing leaks into $HOME."""
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{state / 'mlflow.db'}")
    monkeypatch.setenv("REALEYEZ_ARTIFACTS", str(state / "artifacts"))
    monkeypatch.setenv("KERAS_HOME", str(state / "keras"))
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(state / "dvc-site"))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")
    return state


@pytest.fixture(scope="session", autouse=True)
def prefect_state(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Prefect's home is per test session (its temporary server is started once, lazily, by flow tests)."""
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
    os.environ.pop("PREFECT_API_URL", None)
    # Prefect binds its log handlers to sys.stderr when first imported. Import it here, under pytest's own
    # capture, so a CLI test that happens to import it inside CliRunner's short-lived streams cannot leave
    # later flows logging to a closed file.
    import prefect  # noqa: F401


@pytest.fixture(scope="session")
def cifake_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 4k CIFAKE sample from ../shared, unpacked once per session: returns the folder holding REAL/ FAKE/."""
    if not SAMPLE_ARCHIVE.exists():
        pytest.skip(f"CIFAKE sample not found at {SAMPLE_ARCHIVE}")
    dest = tmp_path_factory.mktemp("cifake")
    with tarfile.open(SAMPLE_ARCHIVE) as tar:
        tar.extractall(dest, filter="data")
    return dest / "cifake-sample"
