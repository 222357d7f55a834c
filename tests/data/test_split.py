from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.config import SplitParams
from pipelines.split import split_counts, stratified_split

pytestmark = pytest.mark.data


def _manifest(n_real: int, n_fake: int, dup_groups: int = 0) -> pd.DataFrame:
    rows = []
    for label, n in (("REAL", n_real), ("FAKE", n_fake)):
        for i in range(n):
            sha = f"{label}-{i}" if i >= dup_groups * 3 else f"{label}-dup{i // 3}"
            rows.append({"path": f"{label}/{i:05d}.jpg", "label": label, "sha256": sha})
    return pd.DataFrame(rows)


def test_fractions_are_stratified_and_deterministic() -> None:
    m = _manifest(500, 300)
    a = stratified_split(m, SplitParams(seed=1))
    b = stratified_split(m.sample(frac=1, random_state=3), SplitParams(seed=1))  # input order must not matter
    pd.testing.assert_frame_equal(a, b)
    counts = split_counts(a)
    assert counts["train"] == {"FAKE": 240, "REAL": 400}
    assert counts["validation"] == {"FAKE": 30, "REAL": 50}
    assert counts["test"] == {"FAKE": 30, "REAL": 50}
    c = stratified_split(m, SplitParams(seed=2))
    assert not (a.set_index("path")["split"].sort_index() == c.set_index("path")["split"].sort_index()).all()


def test_identical_images_never_straddle_splits() -> None:
    m = _manifest(300, 300, dup_groups=40)
    s = stratified_split(m, SplitParams(seed=7))
    per_hash = s.groupby("sha256")["split"].nunique()
    assert per_hash.max() == 1
    assert (s.groupby("sha256").size() == 3).sum() == 80  # the duplicate groups are intact


def test_too_small_class_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="class FAKE has 3 image"):
        stratified_split(_manifest(100, 3), SplitParams())


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match="sha256"):
        stratified_split(pd.DataFrame({"path": ["a"], "label": ["REAL"]}), SplitParams())


def test_every_row_gets_a_split() -> None:
    s = stratified_split(_manifest(97, 89), SplitParams(seed=5))
    assert set(s["split"]) == {"train", "validation", "test"}
    assert s["split"].notna().all() and len(s) == 186
    assert np.isclose((s["split"] == "train").mean(), 0.8, atol=0.02)
