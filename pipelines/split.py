"""Stratified, deterministic, duplicate-aware train/validation/test split of a validated manifest."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.config import SplitParams

SPLITS = ("train", "validation", "test")


def stratified_split(manifest: pd.DataFrame, params: SplitParams) -> pd.DataFrame:
    """Return `manifest` with a `split` column.

    Images are grouped by sha256 so byte-identical copies always land in the same split (no leakage even if
    duplicates were kept), and each label is split separately so every split keeps the class ratio. The
    order is a seeded permutation of the sorted groups: the same manifest and seed give the same split on
    any machine, whatever order the files were listed in.
    """
    required = {"path", "label", "sha256"}
    missing = required - set(manifest.columns)
    if missing:
        raise ValueError(f"manifest lacks column(s) {sorted(missing)} needed for the split")
    if manifest.empty:
        raise ValueError("cannot split an empty manifest")

    rng = np.random.default_rng(params.seed)
    assignment: dict[str, str] = {}
    for label in sorted(manifest["label"].unique()):
        rows = manifest[manifest["label"] == label]
        groups = rows.groupby("sha256").size().sort_index()
        order = rng.permutation(len(groups))
        sizes = groups.to_numpy()[order]
        hashes = groups.index.to_numpy()[order]
        cumulative = np.cumsum(sizes) / sizes.sum()
        # A group goes to the split in which its first image falls; so fractions hold to within one group.
        starts = cumulative - sizes / sizes.sum()
        for sha, start in zip(hashes, starts, strict=True):
            if start < params.train:
                split = "train"
            elif start < params.train + params.validation:
                split = "validation"
            else:
                split = "test"
            assignment[f"{label}/{sha}"] = split
        counts = {s: 0 for s in SPLITS}
        for sha, size in zip(hashes, sizes, strict=True):
            counts[assignment[f"{label}/{sha}"]] += int(size)
        empty = [s for s, n in counts.items() if n == 0]
        if empty:
            raise ValueError(
                f"class {label} has {len(rows)} image(s): too few to fill split(s) {empty} "
                f"with fractions train={params.train}, validation={params.validation}, test={params.test}"
            )

    keys = manifest["label"].astype(str) + "/" + manifest["sha256"].astype(str)
    out = manifest.copy()
    out["split"] = keys.map(assignment)
    return out.sort_values(["split", "path"], kind="stable").reset_index(drop=True)


def split_counts(split_manifest: pd.DataFrame) -> dict[str, dict[str, int]]:
    """{split: {label: count}} for logs and MLflow params."""
    table = split_manifest.groupby(["split", "label"]).size()
    return {s: {str(lbl): int(n) for lbl, n in table[s].items()} for s in SPLITS if s in table.index}
