"""Test-set metrics (sklearn) and the figures logged beside them. Labels: 0 = REAL, 1 = FAKE."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CLASS_NAMES = ("REAL", "FAKE")


@dataclass(frozen=True)
class Metrics:
    accuracy: float
    roc_auc: float
    average_precision: float
    f1: float
    ece: float
    n_real: int
    n_fake: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def expected_calibration_error(y_true: np.ndarray, p_fake: np.ndarray, n_bins: int = 15) -> float:
    """ECE of the predicted class's confidence, equal-width bins over [0.5, 1] (binary case)."""
    y_true = np.asarray(y_true).astype(int)
    p_fake = np.asarray(p_fake, dtype=np.float64)
    pred = (p_fake >= 0.5).astype(int)
    confidence = np.where(pred == 1, p_fake, 1.0 - p_fake)
    correct = (pred == y_true).astype(np.float64)
    edges = np.linspace(0.5, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = idx == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def compute_metrics(y_true: np.ndarray, p_fake: np.ndarray, threshold: float = 0.5, ece_bins: int = 15) -> Metrics:
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score

    y_true = np.asarray(y_true).astype(int)
    p_fake = np.asarray(p_fake, dtype=np.float64)
    if y_true.shape != p_fake.shape or y_true.ndim != 1:
        raise ValueError(f"labels {y_true.shape} and probabilities {p_fake.shape} must be 1-D of one length")
    if len(np.unique(y_true)) < 2:
        raise ValueError("evaluation needs images of both classes (REAL and FAKE)")
    pred = (p_fake >= threshold).astype(int)
    return Metrics(
        accuracy=float(accuracy_score(y_true, pred)),
        roc_auc=float(roc_auc_score(y_true, p_fake)),
        average_precision=float(average_precision_score(y_true, p_fake)),
        f1=float(f1_score(y_true, pred)),
        ece=expected_calibration_error(y_true, p_fake, ece_bins),
        n_real=int((y_true == 0).sum()),
        n_fake=int((y_true == 1).sum()),
    )


def confusion(y_true: np.ndarray, p_fake: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(
        np.asarray(y_true).astype(int), (np.asarray(p_fake) >= threshold).astype(int), labels=[0, 1]
    )


def curve_data(y_true: np.ndarray, p_fake: np.ndarray) -> dict[str, list[dict[str, float]]]:
    """ROC and PR points, in the row format `dvc plots` and MLflow tables read."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(y_true, p_fake)
    precision, recall, _ = precision_recall_curve(y_true, p_fake)
    return {
        "roc": [{"fpr": float(a), "tpr": float(b)} for a, b in zip(fpr, tpr, strict=True)],
        "pr": [{"recall": float(a), "precision": float(b)} for a, b in zip(recall, precision, strict=True)],
    }


def plot_roc(y_true: np.ndarray, p_fake: np.ndarray) -> Figure:
    from sklearn.metrics import RocCurveDisplay

    display = RocCurveDisplay.from_predictions(y_true, p_fake, name="FAKE vs REAL")
    display.ax_.set_title("ROC curve (test split)")
    return display.figure_


def plot_pr(y_true: np.ndarray, p_fake: np.ndarray) -> Figure:
    from sklearn.metrics import PrecisionRecallDisplay

    display = PrecisionRecallDisplay.from_predictions(y_true, p_fake, name="FAKE")
    display.ax_.set_title("Precision-recall curve (test split)")
    return display.figure_


def plot_confusion(y_true: np.ndarray, p_fake: np.ndarray, threshold: float = 0.5) -> Figure:
    from sklearn.metrics import ConfusionMatrixDisplay

    display = ConfusionMatrixDisplay(confusion(y_true, p_fake, threshold), display_labels=list(CLASS_NAMES))
    display.plot(colorbar=False)
    display.ax_.set_title(f"Confusion matrix (threshold {threshold})")
    return display.figure_


def misclassified_grid(
    images: np.ndarray,
    y_true: np.ndarray,
    p_fake: np.ndarray,
    names: Sequence[str],
    limit: int = 25,
    threshold: float = 0.5,
) -> Figure | None:
    """A grid of the most confidently wrong test images, titled with truth and probability; None if none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pred = (p_fake >= threshold).astype(int)
    wrong = np.flatnonzero(pred != y_true)
    if wrong.size == 0 or limit == 0:
        return None
    worst = wrong[np.argsort(-np.abs(p_fake[wrong] - 0.5))][:limit]
    cols = min(5, len(worst))
    rows = int(np.ceil(len(worst) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.5 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), worst, strict=False):
        ax.imshow(images[i])
        ax.set_title(f"{CLASS_NAMES[int(y_true[i])]} p_fake={p_fake[i]:.2f}\n{names[i][-22:]}", fontsize=7)
    fig.suptitle("Misclassified test images (most confident first)")
    fig.tight_layout()
    return fig
