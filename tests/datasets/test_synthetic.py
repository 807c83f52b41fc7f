"""The synthetic dataset: deterministic, planted problems as documented, truth kept apart."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from erroranalysis.datasets.synthetic import (
    CLASSES,
    LOOKALIKES,
    SUBGROUPS,
    SyntheticDataset,
    make_synthetic,
)

N = 360


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> SyntheticDataset:
    return make_synthetic(
        tmp_path_factory.mktemp("syn") / "data", n_samples=N, seed=7, progress=False
    )


def digest(dataset: SyntheticDataset) -> dict[str, str]:
    return {
        path: hashlib.sha256((dataset.path / path).read_bytes()).hexdigest()
        for path in dataset.samples["path"]
    }


def test_layout_and_tables(data):
    assert (data.path / "samples.parquet").is_file() and (data.path / "truth.parquet").is_file()
    assert len(data) == N
    assert list(data.samples.columns) == [
        "sample_id", "label", "path", "object_size", "background", "lighting", "blur", "pattern",
        "camera",
    ]  # fmt: skip
    assert data.samples["sample_id"].is_unique
    assert set(data.samples["label"]) == set(CLASSES)
    assert len(CLASSES) >= 6
    # The visible table holds nothing of the truth.
    hidden = {"true_label", "is_label_noise", "subgroup", "is_outlier", "near_duplicate_of"}
    assert not hidden & set(data.samples.columns)
    assert list(data.truth["sample_id"]) == list(data.samples["sample_id"])
    assert (data.truth["given_label"] == data.samples["label"]).all()
    # The files on disk match the frames.
    pd.testing.assert_frame_equal(pd.read_parquet(data.path / "samples.parquet"), data.samples)
    reloaded = SyntheticDataset.load(data.path)
    pd.testing.assert_frame_equal(reloaded.truth, data.truth)
    assert reloaded.classes == list(CLASSES)


def test_images_are_rgb_png_of_the_requested_size(data):
    for path in data.samples["path"].iloc[:20]:
        with Image.open(data.path / path) as image:
            assert image.format == "PNG" and image.mode == "RGB" and image.size == (64, 64)


def test_same_seed_is_byte_identical_other_seed_differs(data, tmp_path):
    again = make_synthetic(tmp_path / "again", n_samples=N, seed=7, progress=False)
    pd.testing.assert_frame_equal(again.samples, data.samples)
    pd.testing.assert_frame_equal(again.truth, data.truth)
    assert digest(again) == digest(data)
    other = make_synthetic(tmp_path / "other", n_samples=N, seed=8, progress=False)
    assert not other.truth.equals(data.truth)
    same_names = digest(other)
    assert sum(same_names[p] == h for p, h in digest(data).items()) == 0


@pytest.mark.slow
def test_label_noise_is_about_five_percent_and_prefers_lookalikes(tmp_path):
    big = make_synthetic(tmp_path / "big", n_samples=2400, seed=0, progress=False)
    truth = big.truth[~big.truth["is_outlier"]]
    noisy = truth[truth["is_label_noise"]]
    rate = len(noisy) / len(truth)
    assert 0.035 <= rate <= 0.065
    assert (noisy["true_label"] != noisy["given_label"]).all()
    clean = truth[~truth["is_label_noise"]]
    assert (clean["true_label"] == clean["given_label"]).all()
    lookalike = (noisy["given_label"] == noisy["true_label"].map(LOOKALIKES)).mean()
    assert lookalike > 0.55  # 70% by design; a uniform flip would give 20%
    per_class = truth.groupby("true_label")["is_label_noise"].mean()
    assert per_class.max() > 1.5 * per_class.min()  # class-conditional, not uniform


def test_subgroups_are_rare_and_described_by_metadata(data):
    truth = data.truth.set_index("sample_id")
    samples = data.samples.set_index("sample_id")
    counts = truth["subgroup"].value_counts()
    common = truth["subgroup"].isna() & ~truth["is_outlier"]
    assert set(counts.index) == set(SUBGROUPS)
    for name, (column, value) in SUBGROUPS.items():
        members = truth["subgroup"] == name
        assert counts[name] < common.sum() / 4  # each rarer than the rest
        # The metadata describe the subgroup exactly.
        assert (samples.loc[members, column] == value).all()
        assert (samples.loc[~members, column] != value).all()


def test_outliers_and_near_duplicates(data):
    truth = data.truth
    outliers = truth[truth["is_outlier"]]
    assert 1 <= len(outliers) <= 0.03 * N
    assert outliers["true_label"].isna().all() and not outliers["is_label_noise"].any()
    assert set(outliers["given_label"]) <= set(CLASSES)

    copies = truth[truth["near_duplicate_of"].notna()]
    assert len(copies) >= 2
    by_id = truth.set_index("sample_id")
    for sample_id, original in zip(copies["sample_id"], copies["near_duplicate_of"], strict=True):
        assert pd.isna(by_id.loc[original, "near_duplicate_of"])
        assert (
            by_id.loc[sample_id, "near_duplicate_set"] == by_id.loc[original, "near_duplicate_set"]
        )
        assert by_id.loc[sample_id, "true_label"] == by_id.loc[original, "true_label"]
        a = np.asarray(Image.open(data.path / f"images/{sample_id}.png"), dtype=float)
        b = np.asarray(Image.open(data.path / f"images/{original}.png"), dtype=float)
        assert not np.array_equal(a, b)  # perturbed …
        shifts = [
            np.abs(np.roll(b, (dy, dx), axis=(0, 1)) - a).mean()
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        ]
        assert min(shifts) < 8  # … but nearly the same image
    sets = truth.loc[truth["near_duplicate_set"] >= 0].groupby("near_duplicate_set").size()
    assert sets.between(2, 4).all()


def test_weak_spots_are_visibly_harder(data):
    """Dark images have little contrast, blurred ones no sharp edges."""
    truth = data.truth.set_index("sample_id")

    def stats(sample_id):
        grey = np.asarray(Image.open(data.path / f"images/{sample_id}.png").convert("L"), float)
        # the strongest edges: sharp outlines give steep steps, pixel noise only small ones
        edges = np.percentile(np.abs(np.diff(grey, axis=1)), 99.5)
        return grey.std(), edges

    def mean_stats(mask):
        ids = truth.index[mask.to_numpy()][:15]
        return np.mean([stats(i) for i in ids], axis=0)

    common = truth["subgroup"].isna() & ~truth["is_outlier"]
    common_std, common_edges = mean_stats(common)
    dark_std, _ = mean_stats(truth["subgroup"] == "dark")
    _, blur_edges = mean_stats(truth["subgroup"] == "heavy_blur")
    assert dark_std < common_std / 3
    assert blur_edges < common_edges / 2


def test_store_gets_given_labels_only(data, tmp_path):
    store = data.create_store(tmp_path / "store")
    assert store.classes == list(CLASSES)
    assert store.num_samples == N
    assert store.labels().tolist() == data.samples["label"].tolist()
    assert "true_label" not in store.samples.columns
    assert store.image_path(data.samples["sample_id"][0]).is_file()


def test_refuses_existing_folder_and_bad_parameters(data, tmp_path):
    with pytest.raises(FileExistsError):
        make_synthetic(data.path, n_samples=N, progress=False)
    with pytest.raises(ValueError, match="n_samples"):
        make_synthetic(tmp_path / "x", n_samples=10, progress=False)
    with pytest.raises(ValueError, match="image_size"):
        make_synthetic(tmp_path / "x", n_samples=100, image_size=4, progress=False)
    with pytest.raises(ValueError, match="label_noise"):
        make_synthetic(tmp_path / "x", n_samples=100, label_noise=0.9, progress=False)
    assert not (tmp_path / "x").exists()
    assert not list(tmp_path.glob(".x.tmp-*"))


def test_other_image_size_and_overwrite(tmp_path):
    small = make_synthetic(tmp_path / "d", n_samples=80, image_size=32, seed=1, progress=False)
    with Image.open(small.path / small.samples["path"][0]) as image:
        assert image.size == (32, 32)
    again = make_synthetic(tmp_path / "d", n_samples=90, seed=1, overwrite=True, progress=False)
    assert len(again) == 90 and len(list((tmp_path / "d" / "images").iterdir())) == 90
