"""Manifest ingest: CSV/TSV/Parquet, refusals naming rows, all or nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from erroranalysis.errors import (
    BadImageError,
    DuplicateSampleIdError,
    PathOutsideRootError,
    UnknownLabelError,
)
from erroranalysis.ingest.manifest import ManifestError, ingest_manifest, read_manifest

from .conftest import write_good, write_truncated_jpeg


@pytest.fixture
def images(tmp_path):
    root = tmp_path / "images"
    for i in range(6):
        write_good(root / f"img{i}.png", seed=i)
    return root


def manifest_frame(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": [f"img{i}.png" for i in range(n)],
            "label": ["a", "b", "c"] * (n // 3),
            "split": ["train", "train", "test"] * (n // 3),
            "source": [f"s{i % 2}" for i in range(n)],
        }
    )


def test_csv_manifest_with_metadata(images, tmp_path):
    frame = manifest_frame()
    frame.insert(0, "sample_id", [f"id{i}" for i in range(6)])
    frame.to_csv(tmp_path / "m.csv", index=False)
    store = ingest_manifest(tmp_path / "m.csv", images, tmp_path / "store", progress=False)
    assert store.classes == ["a", "b", "c"]
    assert list(store.sample_ids) == [f"id{i}" for i in range(6)]
    samples = store.samples.set_index("sample_id")
    assert samples.loc["id4", "split"] == "train"
    assert samples.loc["id4", "source"] == "s0"
    assert samples.loc["id4", "given_label"] == "b"
    assert str(store.image_path("id2")).endswith("img2.png")


def test_ids_default_to_paths_and_numeric_labels_stay_strings(images, tmp_path):
    frame = manifest_frame()
    frame["label"] = [0, 1, 2, 0, 1, 2]
    frame.to_csv(tmp_path / "m.csv", index=False)
    store = ingest_manifest(tmp_path / "m.csv", images, tmp_path / "store", progress=False)
    assert store.classes == ["0", "1", "2"]
    assert list(store.sample_ids) == [f"img{i}.png" for i in range(6)]


@pytest.mark.parametrize("suffix", [".parquet", ".tsv"])
def test_parquet_and_tsv(images, tmp_path, suffix):
    frame = manifest_frame()
    path = tmp_path / f"m{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, sep="\t", index=False)
    store = ingest_manifest(path, images, tmp_path / "store", progress=False)
    assert store.num_samples == 6


def test_dataframe_and_absolute_paths_inside_root(images, tmp_path):
    frame = manifest_frame()
    frame["path"] = [str(images / p) for p in frame["path"]]
    store = ingest_manifest(frame, images, tmp_path / "store", progress=False)
    assert store.samples["path"].tolist() == [f"img{i}.png" for i in range(6)]


def test_duplicate_ids_are_refused_listing_them(images, tmp_path):
    frame = manifest_frame()
    frame.insert(0, "sample_id", ["x", "y", "x", "z", "y", "w"])
    frame.to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(DuplicateSampleIdError) as info:
        ingest_manifest(tmp_path / "m.csv", images, tmp_path / "store", progress=False)
    message = str(info.value)
    assert "'x' (lines 2, 4)" in message and "'y' (lines 3, 6)" in message
    assert "2 sample id(s)" in message
    assert not (tmp_path / "store").exists()


def test_unknown_labels_are_refused_listing_them(images, tmp_path):
    frame = manifest_frame()
    frame.to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(UnknownLabelError) as info:
        ingest_manifest(
            tmp_path / "m.csv", images, tmp_path / "store", classes=["a", "b"], progress=False
        )
    assert "'c'" in str(info.value) and "lines 4, 7" in str(info.value)
    assert not (tmp_path / "store").exists()


def test_missing_columns_and_values_are_named(images, tmp_path):
    with pytest.raises(ManifestError, match=r"lacks the column.*'label'"):
        ingest_manifest(manifest_frame().drop(columns="label"), images, tmp_path / "s")
    frame = manifest_frame()
    frame.loc[3, "path"] = None
    frame.to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(ManifestError, match="empty 'path' on lines 5"):
        ingest_manifest(tmp_path / "m.csv", images, tmp_path / "s", progress=False)
    # an empty label is no error since issue 13: that sample is unlabelled
    frame = manifest_frame()
    frame.loc[3, "label"] = None
    frame.to_csv(tmp_path / "m.csv", index=False)
    store = ingest_manifest(tmp_path / "m.csv", images, tmp_path / "s", progress=False)
    assert store.is_labelled().tolist().count(False) == 1
    (tmp_path / "m.xlsx").write_text("")
    with pytest.raises(ManifestError, match="unknown file type"):
        read_manifest(tmp_path / "m.xlsx")
    with pytest.raises(FileNotFoundError):
        read_manifest(tmp_path / "absent.csv")


@pytest.mark.parametrize("bad_path", ["../outside.png", "a/../../outside.png", "/etc/passwd"])
def test_paths_escaping_the_root_are_refused(images, tmp_path, bad_path):
    write_good(tmp_path / "outside.png")
    frame = manifest_frame()
    frame.loc[2, "path"] = bad_path
    with pytest.raises(PathOutsideRootError) as info:
        ingest_manifest(frame, images, tmp_path / "store", progress=False)
    assert "row 2" in str(info.value)
    assert not (tmp_path / "store").exists()


def test_symlink_escaping_the_root_is_refused(images, tmp_path):
    outside = write_good(tmp_path / "outside.png")
    (images / "link.png").symlink_to(outside)
    frame = manifest_frame()
    frame.loc[0, "path"] = "link.png"
    with pytest.raises(PathOutsideRootError, match=r"link\.png"):
        ingest_manifest(frame, images, tmp_path / "store", progress=False)
    assert not (tmp_path / "store").exists()


def test_bad_image_fails_whole_unless_skip_bad(images, tmp_path):
    write_truncated_jpeg(images / "cut.jpg")
    frame = manifest_frame()
    frame.loc[1, "path"] = "cut.jpg"
    frame.loc[4, "path"] = "missing.png"
    with pytest.raises(BadImageError) as info:
        ingest_manifest(frame, images, tmp_path / "store", progress=False)
    assert "2 of 6 images" in str(info.value)
    assert "cut.jpg" in str(info.value) and "missing.png" in str(info.value)
    assert not (tmp_path / "store").exists()

    with pytest.warns(UserWarning, match="skipped.csv"):
        store = ingest_manifest(frame, images, tmp_path / "store", skip_bad=True, progress=False)
    assert store.num_samples == 4
    skipped = pd.read_csv(store.path / "skipped.csv")
    assert skipped["path"].tolist() == ["cut.jpg", "missing.png"]
    # The class of a skipped image is kept, so probability columns stay as the user expects.
    assert store.classes == ["a", "b", "c"]


def test_urls_are_refused_with_a_hint(images, tmp_path):
    frame = manifest_frame()
    frame.loc[0, "path"] = "https://example.com/a.png"
    with pytest.raises(ManifestError, match="download"):
        ingest_manifest(frame, images, tmp_path / "store", progress=False)


def test_metadata_column_named_like_a_store_column_is_kept(images, tmp_path):
    frame = manifest_frame()
    frame["given_label"] = "x"
    store = ingest_manifest(frame, images, tmp_path / "store", progress=False)
    assert (store.samples["meta_given_label"] == "x").all()
