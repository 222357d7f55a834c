"""One epoch's training throughput (images/s) at the default input size, frozen and fine-tuning phases.

    .venv/bin/python benchmarks/bench_train_epoch.py [--images 1024] [--set train.image_size=96 ...]

Uses real CIFAKE images from ../shared (the 4k sample), the default params, and times the second epoch of
each phase (the first includes graph tracing).
"""

from __future__ import annotations

import argparse
import os
import platform
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "datasets" / "cifake" / "cifake-sample.tar.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import keras

    from pipelines.backbones import build_backbone, resolve_backbone
    from pipelines.config import load_params
    from pipelines.images import load_images
    from pipelines.train import _compile, build_classifier

    params = load_params(REPO / "params.yaml", args.overrides).train
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(SAMPLE) as tar:
            tar.extractall(tmp, filter="data")
        files = sorted(Path(tmp).rglob("*.jpg"))[: args.images]
        x = load_images(files, params.image_size)
    y = np.array([1.0 if f.parent.name == "FAKE" else 0.0 for f in files], dtype="float32").reshape(-1, 1)
    choice = resolve_backbone(params.backbone, params.weights)
    backbone = build_backbone(choice, params.image_size, bn_momentum=params.bn_momentum)
    model = build_classifier(backbone, params.image_size, params.dropout, params.augment_flip)
    print(f"machine: {platform.node()} {os.cpu_count()} CPUs, keras {keras.__version__} on {keras.backend.backend()}")
    print(f"backbone {choice.name} ({choice.weights_source}), {params.image_size} px, batch {params.batch_size}")
    for phase, trainable in (("frozen backbone", False), ("fine-tuning", True)):
        backbone.trainable = trainable
        _compile(model, params)
        model.fit(x, y, batch_size=params.batch_size, epochs=1, verbose=0)  # trace/compile
        start = time.perf_counter()
        model.fit(x, y, batch_size=params.batch_size, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
        print(f"{phase:>16}: {len(x)} images in {seconds:.1f} s = {len(x) / seconds:.0f} images/s")
    start = time.perf_counter()
    model.predict(x, batch_size=256, verbose=0)
    seconds = time.perf_counter() - start
    print(f"{'inference':>16}: {len(x)} images in {seconds:.1f} s = {len(x) / seconds:.0f} images/s")


if __name__ == "__main__":
    main()
