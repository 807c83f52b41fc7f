"""Class-per-folder ingest: all or nothing, skip_bad, classes, symlinks."""

from __future__ import annotations

import pandas as pd
import pytest

import erroranalysis as ea
from erroranalysis.errors import (
    BadImageError,
    PathOutsideRootError,
    StoreExistsError,
    UnknownLabelError,
)
from erroranalysis.ingest.folder import ingest_folder
from erroranalysis.ingest.manifest import ManifestError

from .conftest import write_good, write_truncated_jpeg


def test_folder_becomes_a_store(class_tree, tmp_path):
    store = ingest_folder(class_tree, tmp_path / "store", progress=False)
    assert store.classes == ["cat", "dog", "fox"]
    assert store.num_samples == 12
    samples = store.samples
    assert "cat/nested/3.png" in set(samples["sample_id"])
    row = samples.set_index("sample_id").loc["dog/1.png"]
    assert row["given_label"] == "dog" and row["path"] == "dog/1.png"
    assert store.labels()["fox/nested/3.png"] == "fox"
    # Paths resolve through the store's image root to the real files.
    assert ea.load_image(store.image_path("cat/0.png")).size == (48, 32)
    assert not (store.path / "skipped.csv").exists()


def test_hidden_and_non_image_files_are_ignored(class_tree, tmp_path):
    (class_tree / "cat" / "README.txt").write_text("not an image")
    write_good(class_tree / "cat" / ".hidden.png")
    write_good(class_tree / ".cache" / "x.png")
    store = ingest_folder(class_tree, tmp_path / "store", progress=False)
    assert store.num_samples == 12
    assert store.classes == ["cat", "dog", "fox"]


def test_one_corrupt_image_fails_whole_and_creates_nothing(class_tree, tmp_path):
    write_truncated_jpeg(class_tree / "dog" / "broken.jpg")
    target = tmp_path / "store"
    with pytest.raises(BadImageError) as info:
        ingest_folder(class_tree, target, progress=False)
    assert "dog/broken.jpg" in str(info.value)
    assert "1 of 13 images" in str(info.value)
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_skip_bad_records_what_was_skipped(class_tree, tmp_path):
    write_truncated_jpeg(class_tree / "dog" / "broken.jpg")
    (class_tree / "fox" / "empty.png").write_bytes(b"")
    with pytest.warns(UserWarning, match="2 of 14 images cannot be read"):
        store = ingest_folder(class_tree, tmp_path / "store", skip_bad=True, progress=False)
    assert store.num_samples == 12
    assert "dog/broken.jpg" not in set(store.sample_ids)
    skipped = pd.read_csv(store.path / "skipped.csv")
    assert skipped["path"].tolist() == ["dog/broken.jpg", "fox/empty.png"]
    assert skipped["sample_id"].tolist() == ["dog/broken.jpg", "fox/empty.png"]
    assert skipped["reason"].str.len().min() > 0
    # The store still opens cleanly with the skipped file next to it.
    assert ea.Store.open(store.path).num_samples == 12


def test_explicit_classes_keep_order_and_allow_empty_classes(class_tree, tmp_path):
    store = ingest_folder(
        class_tree, tmp_path / "store", classes=["fox", "cat", "dog", "owl"], progress=False
    )
    assert store.classes == ["fox", "cat", "dog", "owl"]
    assert store.num_samples == 12


def test_folder_not_in_classes_is_refused(class_tree, tmp_path):
    with pytest.raises(UnknownLabelError, match="'fox'"):
        ingest_folder(class_tree, tmp_path / "store", classes=["cat", "dog"], progress=False)
    assert not (tmp_path / "store").exists()


def test_symlink_escaping_the_root_is_refused(class_tree, tmp_path):
    outside = write_good(tmp_path / "elsewhere" / "secret.png")
    (class_tree / "cat" / "link.png").symlink_to(outside)
    with pytest.raises(PathOutsideRootError, match=r"link\.png"):
        ingest_folder(class_tree, tmp_path / "store", skip_bad=True, progress=False)
    assert not (tmp_path / "store").exists()


def test_symlinked_class_folder_escaping_is_refused(class_tree, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    write_good(elsewhere / "a.png")
    (class_tree / "owl").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(PathOutsideRootError, match="owl"):
        ingest_folder(class_tree, tmp_path / "store", progress=False)


def test_symlink_inside_the_root_is_fine(class_tree, tmp_path):
    (class_tree / "cat" / "alias.png").symlink_to(class_tree / "dog" / "0.png")
    store = ingest_folder(class_tree, tmp_path / "store", progress=False)
    assert "cat/alias.png" in set(store.sample_ids)


def test_existing_store_is_not_replaced_without_overwrite(class_tree, tmp_path):
    ingest_folder(class_tree, tmp_path / "store", progress=False)
    write_good(class_tree / "cat" / "new.png")
    with pytest.raises(StoreExistsError):
        ingest_folder(class_tree, tmp_path / "store", progress=False)
    store = ingest_folder(class_tree, tmp_path / "store", overwrite=True, progress=False)
    assert store.num_samples == 13


@pytest.mark.filterwarnings("ignore:.*belong to no class folder")
def test_empty_or_flat_folders_are_explained(tmp_path):
    flat = tmp_path / "flat"
    write_good(flat / "a.png")
    with pytest.raises(ManifestError, match="no class sub-folders"):
        ingest_folder(flat, tmp_path / "store", progress=False)
    (flat / "cat").mkdir()
    with pytest.raises(ManifestError, match="no images"):
        ingest_folder(flat, tmp_path / "store", progress=False)
    with pytest.raises(FileNotFoundError):
        ingest_folder(tmp_path / "missing", tmp_path / "store", progress=False)


def test_loose_images_in_root_warn(class_tree, tmp_path):
    write_good(class_tree / "stray.png")
    with pytest.warns(UserWarning, match="stray.png"):
        store = ingest_folder(class_tree, tmp_path / "store", progress=False)
    assert store.num_samples == 12


def test_awkward_but_valid_images_are_accepted(class_tree, corpus, tmp_path):
    for name in ("cmyk", "deep16", "exif", "palette_alpha", "grey_alpha", "rgba", "grey"):
        source = corpus[name]
        (class_tree / "cat" / f"{name}{source.suffix}").write_bytes(source.read_bytes())
    store = ingest_folder(class_tree, tmp_path / "store", progress=False)
    assert store.num_samples == 19
