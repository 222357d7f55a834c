"""`realeyez`: the command line. Thin wiring over `pipelines/` and `flows/`; heavy imports stay lazy."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from flows.cli_data import data_app
from flows.cli_support import console, fail, out

app = typer.Typer(
    help="RealEyez: train, register and use a detector of AI-generated images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")

ParamsOpt = Annotated[Path, typer.Option("--params", help="The params file (one source of configuration).")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a parameter: section.key=value (repeatable), e.g. train.epochs=3."),
]
DEFAULT_MODEL = "models:/realeyez@champion"


def _quiet_environment() -> None:
    # Offline and telemetry hygiene before any of the libraries is imported.
    for key, value in {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DVC_NO_ANALYTICS": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }.items():
        os.environ.setdefault(key, value)


def _params(path: Path, overrides: list[str] | None):  # noqa: ANN202 - Params imported lazily
    from pipelines.config import ConfigError, load_params

    try:
        return load_params(path, overrides or [])
    except ConfigError as exc:
        raise fail(str(exc), 2) from None


@app.callback()
def main() -> None:
    _quiet_environment()


# ------------------------------------------------------------------------------------------ validate


@app.command()
def validate(
    data: Annotated[Path | None, typer.Option(help="Dataset folder (default: data.dir of params).")] = None,
    reports: Annotated[Path, typer.Option(help="Where validation.json/html are written.")] = Path("reports"),
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
) -> None:
    """Build the image manifest and run the Great Expectations suite (exit 1 when the data fails)."""
    from pipelines.manifest import build_manifest
    from pipelines.validate import render_table, validate_manifest, write_reports

    p = _params(params, set_)
    data_dir = data or p.data.dir
    if not data_dir.is_dir():
        raise fail(f"data directory not found: {data_dir} (run `realeyez data import SOURCE` first)")
    manifest = build_manifest(data_dir, workers=p.validation.workers)
    report = validate_manifest(manifest, p.validation)
    json_path, html_path = write_reports(report, reports)
    out.print(render_table(report))
    if report.n_duplicates_dropped:
        out.print(f"warning: {report.n_duplicates_dropped} byte-identical duplicate(s) within a class will be dropped")
    out.print(f"{report.n_images} images; report: {json_path} and {html_path}")
    if not report.success:
        raise fail(f"data validation failed: {len(report.failures)} check(s), see {html_path}")
    out.print("[green]data passed validation[/]")


# ------------------------------------------------------------------------------------------ train


@app.command()
def train(
    data: Annotated[Path | None, typer.Option(help="Dataset folder (default: data.dir of params).")] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    reports: Annotated[Path, typer.Option(help="Where metrics and reports are written.")] = Path("reports"),
    data_rev: Annotated[
        str | None,
        typer.Option("--data-rev", help="Train on the data that data.dvc named at this git revision."),
    ] = None,
) -> None:
    """Run the Prefect flow `training`: validate, split, train, evaluate, register, gate."""
    from pipelines.versioning import VersioningError, training_data

    p = _params(params, set_)
    data_dir = data or p.data.dir
    if data_rev is not None:
        # The flow reads the DVC version itself (tracked_data_version): only a past revision needs work here.
        try:
            data_dir, _ = training_data(data_dir, data_rev)
        except VersioningError as exc:
            raise fail(str(exc)) from None
    _run_training(p, data_dir, reports)


def _run_training(p, data_dir: Path, reports: Path) -> None:  # noqa: ANN001
    if not data_dir.is_dir():
        raise fail(f"data directory not found: {data_dir} (run `realeyez data import SOURCE` first)")
    from flows.training import StepFailedError, training

    try:
        outcome = training(p, data_dir, reports)
    except StepFailedError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:  # set-up outside the steps, e.g. an unreachable MLflow tracking server
        raise fail(f"the training flow could not start: {type(exc).__name__}: {exc}") from None
    m = outcome.metrics
    out.print(f"MLflow run id:     {outcome.run_id}")
    out.print(f"registered model:  {outcome.model_name} version {outcome.model_version}")
    out.print(f"backbone/weights:  {outcome.backbone} / {outcome.weights}")
    out.print(
        f"test metrics:      accuracy {m['accuracy']:.4f}  roc_auc {m['roc_auc']:.4f}  "
        f"average_precision {m['average_precision']:.4f}  f1 {m['f1']:.4f}  ece {m['ece']:.4f}  "
        f"(n_real {m['n_real']}, n_fake {m['n_fake']})"
    )
    out.print(f"training:          {outcome.train_seconds:.0f} s, {outcome.train_images_per_second:.0f} images/s")
    out.print(f"gate decision:     {outcome.alias} ({'; '.join(outcome.reasons)})")


@app.command()
def run(
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    reports: Annotated[Path, typer.Option(help="Where metrics and reports are written.")] = Path("reports"),
) -> None:
    """The main job on embedded defaults: import the CIFAKE sample if data/ is empty, then train."""
    from flows.cli_data import track_imported
    from pipelines.ingest import DatasetImportError, import_dataset

    p = _params(params, set_)
    data_dir = p.data.dir
    if not data_dir.exists() or not any(data_dir.iterdir()):
        source = str(p.data.sample_archive) if p.data.sample_archive.exists() else p.data.url
        out.print(f"data/ is empty: importing {source}")
        try:
            import_dataset(source, data_dir, replace=True, progress=True)
        except (DatasetImportError, OSError) as exc:
            raise fail(str(exc)) from None
        track_imported(data_dir)
    _run_training(p, data_dir, reports)


# ------------------------------------------------------------------------------------------ evaluate / predict


def _check_images(blobs: list[bytes], names: list[str]) -> None:
    """Fail naming every file that is not a decodable image, before any model is loaded or run."""
    from pipelines.images import ImageDecodeError, decode_image_bytes

    bad: list[str] = []
    for blob, name in zip(blobs, names, strict=True):
        try:
            decode_image_bytes(blob, 8, convert_modes=True, name=name)
        except ImageDecodeError as exc:
            bad.append(str(exc))
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise fail(f"{len(bad)} file(s) are not decodable images, nothing was scored: " + "; ".join(bad[:5]) + more)


def _load_scorer(model: str):  # noqa: ANN202
    """A function (bytes-list) -> (probability_fake, label) for an MLflow model URI or a local .keras file.

    An MLflow model labels with its own stored threshold; a bare .keras file has none, so 0.5.
    """
    import numpy as np

    from pipelines.images import decode_image_bytes

    if model.endswith(".keras") and "://" not in model:
        path = Path(model)
        if not path.is_file():
            raise fail(f"model file not found: {path}")
        import keras

        try:
            net = keras.saving.load_model(path, compile=False)
        except Exception as exc:  # Keras raises ValueError/OSError/zipfile errors for a damaged file
            raise fail(f"cannot load Keras model {path}: {exc}") from None
        size = int(net.input_shape[1])

        def score_keras(blobs: list[bytes]):  # noqa: ANN202
            x = np.stack([decode_image_bytes(b, size, convert_modes=True) for b in blobs])
            p = np.asarray(net.predict(x, batch_size=256, verbose=0), dtype=np.float64).reshape(-1)
            return p, np.where(p >= 0.5, "FAKE", "REAL")

        return score_keras

    from flows import tracking

    tracking.configure_uri_only()
    import mlflow
    import pandas as pd
    from mlflow.exceptions import MlflowException

    from serving.pyfunc_model import encode_image

    try:
        pyfunc = mlflow.pyfunc.load_model(model)
    except (MlflowException, OSError) as exc:
        raise fail(f"cannot load model {model}: {exc}") from None

    def score_pyfunc(blobs: list[bytes]):  # noqa: ANN202
        out_frame = pyfunc.predict(pd.DataFrame({"image": [encode_image(b) for b in blobs]}))
        return out_frame["probability_fake"].to_numpy(dtype=np.float64), out_frame["label"].to_numpy()

    return score_pyfunc


@app.command()
def evaluate(
    model: Annotated[str, typer.Option(help="MLflow model URI (models:/realeyez@champion) or a .keras file.")],
    data: Annotated[Path, typer.Option(help="A folder with REAL/ and FAKE/ images.")],
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line of the metrics.")] = False,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
) -> None:
    """Evaluate a model on a labelled folder: accuracy, ROC-AUC, AP, F1, ECE and counts."""
    import numpy as np

    from pipelines.evaluate import compute_metrics
    from pipelines.manifest import build_manifest

    p = _params(params, set_)
    if not data.is_dir():
        raise fail(f"data directory not found: {data}")
    manifest = build_manifest(data, workers=p.validation.workers)
    usable = manifest[manifest["decodable"] & manifest["label"].isin(["REAL", "FAKE"])]
    skipped = len(manifest) - len(usable)
    if usable.empty:
        raise fail(f"no decodable images in REAL/ or FAKE/ folders under {data}")
    if skipped:
        console.print(f"warning: skipped {skipped} file(s) that are not decodable images in REAL/ or FAKE/")
    y = (usable["label"] == "FAKE").to_numpy(dtype=np.int64)
    if len(np.unique(y)) < 2:
        raise fail(f"evaluation needs images of both classes: {data} has only {usable['label'].iloc[0]}")
    score = _load_scorer(model)
    paths = usable["path"].tolist()
    p_fake, _ = score([(data / rel).read_bytes() for rel in paths])
    try:
        metrics = compute_metrics(y, p_fake, p.evaluate.threshold, p.evaluate.ece_bins)
    except ValueError as exc:
        raise fail(str(exc)) from None
    for key, value in metrics.as_dict().items():
        out.print(f"{key:>18}: {value:.4f}" if isinstance(value, float) else f"{key:>18}: {value}")
    if as_json:
        print(json.dumps(metrics.as_dict()))


class OutputFormat(StrEnum):
    csv = "csv"
    json = "json"


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


@app.command()
def predict(
    paths: Annotated[list[Path], typer.Argument(help="Image files or folders (searched recursively).")],
    model: Annotated[str, typer.Option(help="MLflow model URI or a .keras file.")] = DEFAULT_MODEL,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.csv,
) -> None:
    """Score image files: path, label (REAL/FAKE) and probability_fake for each."""
    import csv

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise fail(f"no such file or folder: {path}")
    if not files:
        raise fail("no image files found in " + ", ".join(map(str, paths)))
    blobs = [f.read_bytes() for f in files]
    _check_images(blobs, [str(f) for f in files])
    score = _load_scorer(model)
    try:
        p_fake, labels = score(blobs)
    except Exception as exc:  # the model server's own failure, after every input was checked
        raise fail(f"scoring failed: {exc}") from None
    rows = [
        {"path": str(f), "label": str(lbl), "probability_fake": round(float(pf), 6)}
        for f, pf, lbl in zip(files, p_fake, labels, strict=True)
    ]
    if fmt is OutputFormat.json:
        print(json.dumps(rows, indent=2))
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=["path", "label", "probability_fake"])
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    app()
