"""import_dataset: archives, folders and URLs normalised to dest/REAL and dest/FAKE; nothing stored is lost."""

from __future__ import annotations

import functools
import http.server
import io
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipelines.ingest import DatasetImportError, ImportSummary, import_dataset


def make_image(path: Path, seed: int) -> Path:
    """A tiny noise JPEG (different bytes per seed)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)).save(path, format="JPEG")
    return path


def make_tree(root: Path, real: str = "REAL", fake: str = "FAKE", n: int = 3, seed: int = 0) -> Path:
    for i in range(n):
        make_image(root / real / f"{i}.jpg", seed + i)
        make_image(root / fake / f"{i}.jpg", seed + 100 + i)
    return root


def make_tar(src: Path, archive: Path, arcname: str = "cifake-sample") -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname=arcname)
    return archive


def make_zip(src: Path, archive: Path, prefix: str = "dataset") -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(src.rglob("*")):
            zf.write(path, f"{prefix}/{path.relative_to(src).as_posix()}")
    return archive


def listing(dest: Path) -> list[str]:
    return sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())


def no_leftovers(parent: Path) -> bool:
    """The staging folder beside dest is gone."""
    return not [p for p in parent.iterdir() if p.name.startswith(".") and ".import-" in p.name]


EXPECTED = [f"{c}/{i}.jpg" for c in ("FAKE", "REAL") for i in range(3)]


def test_tar_gz(tmp_path: Path) -> None:
    archive = make_tar(make_tree(tmp_path / "src"), tmp_path / "data.tar.gz")
    summary = import_dataset(archive, tmp_path / "data", progress=False)
    assert summary == ImportSummary(dest=tmp_path / "data", n_real=3, n_fake=3, source=str(archive))
    assert listing(tmp_path / "data") == EXPECTED
    # File contents are the source's, byte for byte.
    assert (tmp_path / "data" / "REAL" / "1.jpg").read_bytes() == (tmp_path / "src" / "REAL" / "1.jpg").read_bytes()
    assert no_leftovers(tmp_path)


def test_zip(tmp_path: Path) -> None:
    archive = make_zip(make_tree(tmp_path / "src"), tmp_path / "data.zip")
    summary = import_dataset(archive, tmp_path / "data", progress=False)
    assert (summary.n_real, summary.n_fake) == (3, 3)
    assert listing(tmp_path / "data") == EXPECTED


def test_directory_is_copied_not_moved(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    before = listing(src)
    import_dataset(src, tmp_path / "data", progress=False)
    assert listing(tmp_path / "data") == EXPECTED
    assert listing(src) == before


def test_lowercase_names_and_nested_depth(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src" / "a" / "b" / "c", real="real", fake="Fake")
    (tmp_path / "src" / "README.md").write_text("not an image: ignored")
    (src / "real" / ".DS_Store").write_bytes(b"hidden: not imported")
    make_image(tmp_path / "src" / "__MACOSX" / "a" / "x.jpg", 1)  # macOS archive droppings: ignored
    summary = import_dataset(tmp_path / "src", tmp_path / "data", progress=False)
    assert (summary.n_real, summary.n_fake) == (3, 3)
    assert listing(tmp_path / "data") == EXPECTED
    assert src.exists()


def test_cifake_train_test_layout_imports_train_only(tmp_path: Path) -> None:
    root = tmp_path / "src" / "CIFAKE"
    make_tree(root / "train", n=3)
    make_tree(root / "test", n=2, seed=50)  # same file names as train: they would collide
    summary = import_dataset(make_tar(tmp_path / "src", tmp_path / "cifake.tgz"), tmp_path / "data", progress=False)
    assert (summary.n_real, summary.n_fake) == (3, 3)
    assert listing(tmp_path / "data") == EXPECTED
    assert any("train/" in note and "test/" in note and "4 files" in note for note in summary.notes)
    assert (tmp_path / "data" / "REAL" / "0.jpg").read_bytes() == (root / "train" / "REAL" / "0.jpg").read_bytes()


def test_unknown_image_folder_is_an_error(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    make_image(src / "cats" / "c.jpg", 9)
    with pytest.raises(DatasetImportError, match="'cats/'"):
        import_dataset(src, tmp_path / "data", progress=False)
    assert not (tmp_path / "data").exists()
    assert no_leftovers(tmp_path)


def test_no_class_folders_names_the_source(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "docs").mkdir(parents=True)
    (src / "docs" / "README.md").write_text("no images here")
    with pytest.raises(DatasetImportError, match=f"{src}.*no REAL or FAKE"):
        import_dataset(src, tmp_path / "data", progress=False)


def test_colliding_class_folders_are_an_error(tmp_path: Path) -> None:
    make_tree(tmp_path / "src" / "part1")
    make_tree(tmp_path / "src" / "part2", seed=10)
    with pytest.raises(DatasetImportError, match="collide.*part1/FAKE/0.jpg.*part2/FAKE/0.jpg"):
        import_dataset(tmp_path / "src", tmp_path / "data", progress=False)


def test_non_empty_dest_is_refused(tmp_path: Path) -> None:
    dest = make_tree(tmp_path / "data", n=1, seed=70)
    before = listing(dest)
    with pytest.raises(DatasetImportError, match="--replace"):
        import_dataset(make_tree(tmp_path / "src"), dest, progress=False)
    assert listing(dest) == before


def test_replace_swaps_in_new_data(tmp_path: Path) -> None:
    dest = make_tree(tmp_path / "data", n=1, seed=70)
    (dest / "REAL" / "old-only.jpg").write_bytes(b"old")
    import_dataset(make_tree(tmp_path / "src"), dest, replace=True, progress=False)
    assert listing(dest) == EXPECTED
    assert no_leftovers(tmp_path)


def test_failed_replace_keeps_the_old_data(tmp_path: Path) -> None:
    dest = make_tree(tmp_path / "data", n=2, seed=70)
    before = {p: (dest / p).read_bytes() for p in listing(dest)}
    good = make_tar(make_tree(tmp_path / "src"), tmp_path / "good.tar.gz").read_bytes()
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(good[: len(good) // 2])  # truncated archive

    with pytest.raises(DatasetImportError, match="broken.tar.gz"):
        import_dataset(broken, dest, replace=True, progress=False)

    assert {p: (dest / p).read_bytes() for p in listing(dest)} == before
    assert no_leftovers(tmp_path)


def test_not_an_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "data.zip"
    bogus.write_text("hello")
    with pytest.raises(DatasetImportError, match="not a .tar.gz"):
        import_dataset(bogus, tmp_path / "data", progress=False)
    with pytest.raises(DatasetImportError, match="source not found"):
        import_dataset(tmp_path / "missing.tar.gz", tmp_path / "data", progress=False)


def test_zip_path_traversal_is_rejected(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ds/REAL/0.jpg", b"x")
        zf.writestr("../../evil.jpg", b"pwned")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(DatasetImportError, match=r"unsafe path.*\.\./\.\./evil\.jpg"):
        import_dataset(archive, work / "data", progress=False)
    assert not list(tmp_path.rglob("evil.jpg"))
    assert not (work / "data").exists() and no_leftovers(work)


def test_tar_path_traversal_is_rejected(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../evil.jpg")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"pwned"))
    with pytest.raises(DatasetImportError, match="unsafe member"):
        import_dataset(archive, tmp_path / "work" / "data", progress=False)
    assert not list(tmp_path.rglob("evil.jpg"))


def test_source_inside_dest_is_refused(tmp_path: Path) -> None:
    dest = tmp_path / "data"
    make_tree(dest / "incoming")
    with pytest.raises(DatasetImportError, match="overlap"):
        import_dataset(dest / "incoming", dest, replace=True, progress=False)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib signature)
        pass


class _ShortBodyHandler(http.server.BaseHTTPRequestHandler):
    """Promises 10,000 bytes and sends 10: a download cut short."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "10000")
        self.end_headers()
        self.wfile.write(b"0123456789")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local http.server on 127.0.0.1 (ephemeral port) serving a folder: no real network."""
    folder = tmp_path / "www"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=folder))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_url_import(tmp_path: Path, http_root: tuple[str, Path]) -> None:
    base, folder = http_root
    make_tar(make_tree(tmp_path / "src"), folder / "cifake.tar.gz")
    summary = import_dataset(f"{base}/cifake.tar.gz", tmp_path / "data", progress=True)
    assert (summary.n_real, summary.n_fake) == (3, 3)
    assert summary.source == f"{base}/cifake.tar.gz"
    assert listing(tmp_path / "data") == EXPECTED
    assert no_leftovers(tmp_path)


def test_url_not_found_leaves_nothing(tmp_path: Path, http_root: tuple[str, Path]) -> None:
    base, _ = http_root
    with pytest.raises(DatasetImportError, match="HTTP 404"):
        import_dataset(f"{base}/missing.zip", tmp_path / "data", progress=False)
    assert not (tmp_path / "data").exists() and no_leftovers(tmp_path)


def test_url_cut_short_leaves_nothing_and_keeps_old_data(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ShortBodyHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    dest = make_tree(tmp_path / "data", n=1, seed=70)
    before = listing(dest)
    try:
        with pytest.raises(DatasetImportError, match="download of .* (failed|incomplete)"):
            import_dataset(f"http://127.0.0.1:{server.server_address[1]}/x.zip", dest, replace=True, progress=False)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert listing(dest) == before and no_leftovers(tmp_path)
