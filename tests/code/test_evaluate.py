from __future__ import annotations

import numpy as np
import pytest

from pipelines.evaluate import (
    compute_metrics,
    confusion,
    curve_data,
    expected_calibration_error,
    misclassified_grid,
)


def test_metrics_match_hand_computed_values() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    m = compute_metrics(y, p)
    assert m.accuracy == pytest.approx(0.5)
    assert m.roc_auc == pytest.approx(0.75)  # 3 of 4 (fake, real) pairs ranked right
    assert m.f1 == pytest.approx(0.5)
    assert (m.n_real, m.n_fake) == (2, 2)
    assert confusion(y, p).tolist() == [[1, 1], [1, 1]]


def test_ece_zero_when_calibrated_and_large_when_overconfident() -> None:
    y = np.array([1] * 8 + [0] * 2)
    assert expected_calibration_error(y, np.full(10, 0.8), n_bins=10) == pytest.approx(0.0, abs=1e-12)
    # Always 99% sure of FAKE but right only half the time: ECE = |0.5 - 0.99|.
    y2 = np.array([1, 0] * 5)
    assert expected_calibration_error(y2, np.full(10, 0.99), n_bins=10) == pytest.approx(0.49)


def test_single_class_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="both classes"):
        compute_metrics(np.array([1, 1]), np.array([0.2, 0.9]))


def test_curves_and_grid() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50)
    p = rng.random(50)
    curves = curve_data(y, p)
    assert curves["roc"][0] == {"fpr": 0.0, "tpr": 0.0} and curves["roc"][-1] == {"fpr": 1.0, "tpr": 1.0}
    images = rng.integers(0, 255, (50, 8, 8, 3), dtype=np.uint8)
    fig = misclassified_grid(images, y, p, [f"img{i}.jpg" for i in range(50)], limit=7)
    assert fig is not None and sum(ax.has_data() for ax in fig.axes) == 7
    assert misclassified_grid(images, y, y.astype(float), ["x"] * 50) is None
