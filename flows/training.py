"""The Prefect flow `training`: manifest+validate -> split -> train -> evaluate -> register -> gate.

Each task wraps one pure step from `pipelines/`; this module only wires them and records them in MLflow.
The MLflow active run is thread-local, so tasks log through `MlflowClient` with an explicit run id.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows import tracking
from pipelines.config import Params

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from pipelines.evaluate import Metrics
    from pipelines.gate import GateDecision
    from pipelines.train import TrainResult
    from pipelines.validate import ValidationReport

log = logging.getLogger("realeyez.training")
LABELS = {"REAL": 0, "FAKE": 1}
REPO_ROOT = Path(__file__).resolve().parents[1]


class DataValidationError(RuntimeError):
    """The dataset failed validation: nothing was trained or registered."""


class StepFailedError(RuntimeError):
    """A step of the flow failed; the message names the step and the cause (the flow state's message)."""

    def __init__(self, step: str, cause: BaseException) -> None:
        super().__init__(f"step '{step}' failed: {type(cause).__name__}: {cause}")
        self.step = step


@dataclass
class TrainingOutcome:
    run_id: str
    experiment_id: str
    model_name: str
    model_version: str
    alias: str
    reasons: list[str]
    metrics: dict[str, float | int]
    data_version: str
    backbone: str
    weights: str
    train_seconds: float
    train_images_per_second: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SplitArrays:
    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    paths: dict[str, list[str]]


def _client() -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient()


# --------------------------------------------------------------------------------------------- tasks


@task(name="manifest", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def manifest_task(data_dir: Path, workers: int) -> pd.DataFrame:
    from pipelines.manifest import build_manifest

    return build_manifest(data_dir, workers=workers)


@task(name="validate", cache_policy=NO_CACHE)
def validate_task(manifest: pd.DataFrame, params: Params, run_id: str, reports_dir: Path) -> ValidationReport:
    from pipelines.validate import validate_manifest, write_reports

    report = validate_manifest(manifest, params.validation)
    json_path, html_path = write_reports(report, reports_dir)
    client = _client()
    client.log_artifact(run_id, str(json_path), "validation")
    client.log_artifact(run_id, str(html_path), "validation")
    client.log_metric(run_id, "data_n_images", report.n_images)
    client.log_metric(run_id, "data_n_duplicates_dropped", report.n_duplicates_dropped)
    client.set_tag(run_id, "validation_success", str(report.success).lower())
    if not report.success:
        lines = [f"data validation failed ({len(report.failures)} check(s)); report: {html_path}"]
        for f in report.failures:
            examples = ", ".join(f.examples[:3])
            lines.append(f"  - {f.description}: {f.n_failed} file(s), e.g. {examples}")
        raise DataValidationError("\n".join(lines))
    return report


@task(name="split", cache_policy=NO_CACHE)
def split_task(clean: pd.DataFrame, params: Params, run_id: str, reports_dir: Path) -> pd.DataFrame:
    from pipelines.split import split_counts, stratified_split
    from pipelines.validate import check_split_leakage

    split = stratified_split(clean, params.split)
    leakage = check_split_leakage(split)
    if not leakage.success:
        raise DataValidationError("split leakage check failed: " + "; ".join(f.description for f in leakage.failures))
    split_dir = reports_dir / "splits"
    split_dir.mkdir(parents=True, exist_ok=True)
    client = _client()
    for name, rows in split.groupby("split"):
        path = split_dir / f"{name}.csv"
        rows[["path", "label", "sha256"]].to_csv(path, index=False)
        client.log_artifact(run_id, str(path), "splits")
    for name, counts in split_counts(split).items():
        for label, n in counts.items():
            client.log_metric(run_id, f"split_{name}_{label.lower()}", n)
    return split


@task(name="load-images", cache_policy=NO_CACHE)
def load_task(split: pd.DataFrame, data_dir: Path, params: Params) -> SplitArrays:
    from pipelines.images import load_images

    x: dict[str, np.ndarray] = {}
    y: dict[str, np.ndarray] = {}
    paths: dict[str, list[str]] = {}
    for name in ("train", "validation", "test"):
        rows = split[split["split"] == name]
        if name == "train" and params.train.max_train_images and len(rows) > params.train.max_train_images:
            rows = rows.sample(n=params.train.max_train_images, random_state=params.train.seed).sort_values("path")
        rel = rows["path"].tolist()
        x[name] = load_images(
            [data_dir / p for p in rel],
            params.train.image_size,
            convert_modes=params.validation.convert_modes,
        )
        y[name] = rows["label"].map(LABELS).to_numpy(dtype=np.int64)
        paths[name] = rel
    return SplitArrays(x=x, y=y, paths=paths)


@task(name="train", cache_policy=NO_CACHE)
def train_task(arrays: SplitArrays, params: Params, run_id: str) -> TrainResult:
    import keras

    from pipelines.train import train_model

    client = _client()

    class MlflowEpochLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            from mlflow.entities import Metric

            now = int(pd.Timestamp.now().timestamp() * 1000)
            metrics = [Metric(k, float(v), now, epoch + 1) for k, v in (logs or {}).items()]
            client.log_batch(run_id, metrics=metrics)

    result = train_model(
        arrays.x["train"],
        arrays.y["train"],
        arrays.x["validation"],
        arrays.y["validation"],
        params.train,
        callbacks=[MlflowEpochLogger()],
        verbose=2,
    )
    client.set_tag(run_id, "backbone", result.backbone.name)
    client.set_tag(run_id, "weights", result.backbone.weights)
    client.set_tag(run_id, "weights_source", result.backbone.weights_source)
    client.set_tag(run_id, "backbone_reason", result.backbone.reason)
    client.set_tag(run_id, "keras_backend", result.keras_backend)
    client.set_tag(run_id, "mixed_precision", str(result.mixed_precision).lower())
    client.log_metric(run_id, "train_seconds", result.seconds)
    client.log_metric(run_id, "train_images_per_second", result.train_images_per_second)
    client.log_metric(run_id, "best_epoch", result.best_epoch)
    return result


@task(name="evaluate", cache_policy=NO_CACHE)
def evaluate_task(result: TrainResult, arrays: SplitArrays, params: Params, run_id: str, reports_dir: Path) -> Metrics:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pipelines.evaluate import (
        compute_metrics,
        confusion,
        curve_data,
        misclassified_grid,
        plot_confusion,
        plot_pr,
        plot_roc,
    )
    from pipelines.train import predict_proba

    x, y = arrays.x["test"], arrays.y["test"]
    p = predict_proba(result.model, x)
    ev = params.evaluate
    metrics = compute_metrics(y, p, ev.threshold, ev.ece_bins)
    client = _client()
    client.log_batch(
        run_id,
        metrics=[_metric(f"test_{k}", v) for k, v in metrics.as_dict().items()],
    )
    reports_dir.mkdir(parents=True, exist_ok=True)
    (reports_dir / "metrics.json").write_text(json.dumps(metrics.as_dict(), indent=2) + "\n")
    curves = curve_data(y, p)
    plots_dir = reports_dir / "plots"
    plots_dir.mkdir(exist_ok=True)
    for name, rows in curves.items():
        (plots_dir / f"{name}.json").write_text(json.dumps(rows) + "\n")
    (reports_dir / "confusion.json").write_text(json.dumps(confusion(y, p, ev.threshold).tolist()) + "\n")
    for path in (reports_dir / "metrics.json", reports_dir / "confusion.json", *plots_dir.glob("*.json")):
        client.log_artifact(run_id, str(path), "evaluation")
    figures = {
        "roc.png": plot_roc(y, p),
        "pr.png": plot_pr(y, p),
        "confusion.png": plot_confusion(y, p, ev.threshold),
        "misclassified.png": misclassified_grid(x, y, p, arrays.paths["test"], ev.misclassified_grid, ev.threshold),
    }
    for name, fig in figures.items():
        if fig is not None:
            client.log_figure(run_id, fig, f"evaluation/{name}")
            plt.close(fig)
    return metrics


def _metric(key: str, value: float) -> Any:
    from mlflow.entities import Metric

    return Metric(key, float(value), int(pd.Timestamp.now().timestamp() * 1000), 0)


@task(name="register", retries=2, retry_delay_seconds=3, cache_policy=NO_CACHE)
def register_task(result: TrainResult, arrays: SplitArrays, data_dir: Path, params: Params, run_id: str) -> str:
    import importlib.metadata as md

    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from pipelines.train import save_model
    from serving.pyfunc_model import RealEyezModel, encode_image

    name = params.registry.model_name
    client = _client()
    existing = [int(v.version) for v in client.search_model_versions(f"name='{name}'")]
    expected = max(existing, default=0) + 1
    signature = ModelSignature(
        inputs=Schema([ColSpec("string", "image")]),
        outputs=Schema(
            [
                ColSpec("string", "label"),
                ColSpec("double", "probability_fake"),
                ColSpec("string", "model_version"),
            ]
        ),
    )
    example = pd.DataFrame({"image": [encode_image((data_dir / p).read_bytes()) for p in arrays.paths["test"][:2]]})
    requirements = [f"{pkg}=={md.version(pkg)}" for pkg in ("mlflow", "keras", "numpy", "pandas", "pillow")]
    with contextlib.suppress(md.PackageNotFoundError):
        requirements.append(f"tensorflow-cpu=={md.version('tensorflow-cpu')}")
    # The model reports its own registry version, so the number is baked in before registering. The registry
    # numbers past deleted versions and a concurrent run may register in between; when the number it gives
    # differs, that version is deleted and the model is logged again with the next number.
    with tempfile.TemporaryDirectory() as tmp:
        keras_path = save_model(result.model, Path(tmp) / "model.keras")
        for _attempt in range(4):
            with mlflow.start_run(run_id=run_id):
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=RealEyezModel(),
                    artifacts={"keras_model": str(keras_path)},
                    model_config={
                        "image_size": params.train.image_size,
                        "threshold": params.evaluate.threshold,
                        "model_version": str(expected),
                    },
                    code_paths=[str(REPO_ROOT / "serving"), str(REPO_ROOT / "pipelines")],
                    signature=signature,
                    input_example=example,
                    pip_requirements=requirements,
                )
            version = int(mlflow.register_model(info.model_uri, name).version)
            if version == expected:
                return str(version)
            log.warning("registry gave %s v%s, not v%s: deleting it and logging again", name, version, expected)
            client.delete_model_version(name, str(version))
            expected = version + 1
    raise RuntimeError(f"could not register {name} under the version number baked into the model (last: v{version})")


@task(name="gate", retries=2, retry_delay_seconds=3, cache_policy=NO_CACHE)
def gate_task(metrics: Metrics, version: str, arrays: SplitArrays, data_dir: Path, params: Params) -> GateDecision:
    import mlflow
    from mlflow.exceptions import MlflowException

    from pipelines.evaluate import compute_metrics
    from pipelines.gate import decide
    from serving.pyfunc_model import encode_image

    name = params.registry.model_name
    client = _client()
    champion_acc: float | None = None
    champion_version: str | None = None
    try:
        champion = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        champion = None
    champion_error: str | None = None
    if champion is not None:
        # Score the champion on *this* run's test split so the comparison is like for like.
        champion_version = str(champion.version)
        try:
            model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
            images = [encode_image((data_dir / p).read_bytes()) for p in arrays.paths["test"]]
            p = model.predict(pd.DataFrame({"image": images}))["probability_fake"].to_numpy()
            champion_acc = compute_metrics(arrays.y["test"], p, params.evaluate.threshold).accuracy
        except Exception as exc:  # a champion we cannot score must not be replaced blindly
            champion_error = f"could not score champion v{champion_version} on this test split ({exc})"[:500]
    decision = decide(metrics.accuracy, metrics.roc_auc, params.gate, champion_acc, champion_version, champion_error)
    client.set_registered_model_alias(name, decision.alias, version)
    client.set_model_version_tag(name, version, "gate_decision", decision.alias)
    client.set_model_version_tag(name, version, "gate_reasons", " | ".join(decision.reasons))
    for key, value in metrics.as_dict().items():
        client.set_model_version_tag(name, version, f"test_{key}", str(value))
    return decision


# --------------------------------------------------------------------------------------------- flow


@flow(name="training", log_prints=True, validate_parameters=False)
def training(params: Params, data_dir: Path | None = None, reports_dir: Path = Path("reports")) -> TrainingOutcome:
    """Validate the data in `data_dir`, train, evaluate, register and gate one model version."""
    from mlflow.entities import Param

    from pipelines.validate import data_version
    from pipelines.versioning import tracked_data_version

    data_dir = Path(data_dir or params.data.dir)
    if not data_dir.is_dir():
        # Checked before any task: a missing folder is not worth retries or an MLflow run.
        raise StepFailedError(
            "manifest", FileNotFoundError(f"data directory not found: {data_dir} (run `realeyez data import SOURCE`)")
        )
    experiment_id = tracking.configure(params.registry.experiment)
    client = _client()
    run = client.create_run(
        experiment_id,
        tags={"git_commit": tracking.git_commit(), "data_dir": str(data_dir.resolve())},
    )
    run_id = run.info.run_id
    print(f"MLflow run {run_id} in experiment {params.registry.experiment!r} ({tracking.tracking_uri()})")
    flat = params.flat()
    client.log_batch(run_id, params=[Param(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in flat.items()])
    step = "manifest"
    try:
        manifest = manifest_task(data_dir, params.validation.workers)
        step = "validate"
        report = validate_task(manifest, params, run_id, reports_dir)
        content_hash = data_version(report.clean_manifest)
        # The DVC md5 from data.dvc when data_dir is the tracked version (so `dvc pull` / `--data-rev` can
        # restore it); a content hash of the validated manifest otherwise.
        version_hash = tracked_data_version(data_dir) or content_hash
        client.set_tag(run_id, "data_version", version_hash)
        client.set_tag(run_id, "data_content_sha256", content_hash)
        step = "split"
        split = split_task(report.clean_manifest, params, run_id, reports_dir)
        step = "load-images"
        arrays = load_task(split, data_dir, params)
        step = "train"
        result = train_task(arrays, params, run_id)
        step = "evaluate"
        metrics = evaluate_task(result, arrays, params, run_id, reports_dir)
        step = "register"
        version = register_task(result, arrays, data_dir, params, run_id)
        step = "gate"
        decision = gate_task(metrics, version, arrays, data_dir, params)
    except BaseException as exc:
        client.set_tag(run_id, "failed_step", step)
        client.set_tag(run_id, "failure", f"{type(exc).__name__}: {exc}"[:5000])
        client.set_terminated(run_id, status="FAILED")
        if isinstance(exc, Exception):
            raise StepFailedError(step, exc) from exc
        raise
    client.set_tag(run_id, "gate_decision", decision.alias)
    client.set_terminated(run_id, status="FINISHED")
    return TrainingOutcome(
        run_id=run_id,
        experiment_id=experiment_id,
        model_name=params.registry.model_name,
        model_version=version,
        alias=decision.alias,
        reasons=decision.reasons,
        metrics=metrics.as_dict(),
        data_version=version_hash,
        backbone=result.backbone.name,
        weights=result.backbone.weights_source,
        train_seconds=result.seconds,
        train_images_per_second=result.train_images_per_second,
    )
