from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import erroranalysis as ea
from erroranalysis.analysis.image_properties import ImageProperties, image_properties, phash


def test_exact_values_on_hand_made_images():
    white = image_properties(Image.new("RGB", (8, 4), (255, 255, 255)))
    assert white["brightness"] == 1.0 and white["contrast"] == 0.0 and white["blur"] == 0.0
    assert white["width"] == 8 and white["height"] == 4 and white["aspect_ratio"] == 2.0
    assert white["pixel_entropy"] == 0.0
    half = np.zeros((4, 4, 3), dtype=np.uint8)
    half[:, 2:] = 255
    props = image_properties(Image.fromarray(half))
    assert props["brightness"] == pytest.approx(0.5)
    assert props["contrast"] == pytest.approx(0.5)
    assert props["pixel_entropy"] == pytest.approx(1.0)
    # Laplacian of the 2x2 interior: columns 1 and 2 -> +255 and -255
    assert props["blur"] == pytest.approx(255.0**2)
    red = image_properties(Image.new("RGB", (3, 3), (200, 10, 10)))
    assert red["brightness"] == pytest.approx((0.299 * 200 + 0.587 * 10 + 0.114 * 10) / 255)


def test_blur_orders_sharp_above_blurred():
    rng = np.random.default_rng(0)
    sharp = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    from PIL import ImageFilter

    blurred = sharp.filter(ImageFilter.GaussianBlur(3))
    assert image_properties(sharp)["blur"] > 10 * image_properties(blurred)["blur"]


def test_phash_matches_imagehash():
    imagehash = pytest.importorskip("imagehash")
    rng = np.random.default_rng(1)
    for _ in range(5):
        image = Image.fromarray(rng.integers(0, 256, (40, 30), dtype=np.uint8), mode="L")
        assert phash(image) == str(imagehash.phash(image))


@pytest.fixture
def image_store(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    images = {
        "a.png": base,
        "b.png": base.copy(),  # exact duplicate of a
        "c.png": np.full((10, 10, 3), 30, dtype=np.uint8),
        "d.png": rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),
    }
    for name, array in images.items():
        Image.fromarray(array).save(root / name)
    (root / "e.png").write_bytes(b"not an image")
    samples = pd.DataFrame(
        {
            "sample_id": list("abcde"),
            "label": ["x", "y", "x", "y", "x"],
            "path": [f"{c}.png" for c in "abcde"],
        }
    )
    store = ea.Store.create(tmp_path / "s", classes=["x", "y"], samples=samples, image_root=root)
    store.add_run("r", np.full((5, 2), 0.5, dtype=np.float32))
    return store


def test_image_properties_analysis(image_store):
    store = image_store
    with pytest.warns(UserWarning, match="could not be read"):
        summary = ea.scan(store, analyses=["image_properties"], progress=False)
    assert summary.status("image_properties") == "computed"
    frame = store.frame()
    assert frame["image_ok"].tolist() == [True, True, True, True, False]
    assert frame["width"].tolist()[:4] == [32, 32, 10, 16]
    assert frame["exact_duplicate_set"].tolist() == [0, 0, -1, -1, -1]
    assert (
        frame["near_duplicate_image_set"].iloc[0] == frame["near_duplicate_image_set"].iloc[1] >= 0
    )
    assert frame["brightness"].iloc[2] == pytest.approx(30 / 255, rel=1e-5)
    assert np.isnan(frame["brightness"].iloc[4])
    # not label-dependent: a relabel does not recompute it
    store.relabel("a", "y")
    assert (
        ea.scan(store, analyses=["image_properties"], progress=False).status("image_properties")
        == "cached"
    )
    assert not ImageProperties.label_dependent


def test_second_run_reuses_the_measurements(image_store, monkeypatch):
    store = image_store
    with pytest.warns(UserWarning):
        ea.scan(store, analyses=["image_properties"], progress=False)
    store.add_run("r2", np.full((5, 2), 0.5, dtype=np.float32))
    import erroranalysis.analysis.image_properties as module

    monkeypatch.setattr(module, "_loader", lambda: pytest.fail("images were read again"))
    fitted = ImageProperties().fit(store, store.run("r2"))
    pd.testing.assert_frame_equal(
        fitted.properties_, store.run("r").load_result("image_properties")
    )
    assert fitted.failed_ == ["e"]


# ------------------------------------------------ CleanVision's flags (issue 15.11)


@pytest.fixture
def issue_store(tmp_path):
    """Ordinary images and one image per CleanVision issue type; a broken file."""
    root = tmp_path / "images"
    root.mkdir()
    rng = np.random.default_rng(0)

    def ordinary(width=48, height=48):
        x = np.mgrid[0:height, 0:width][1] / max(width, height)
        image = rng.uniform(60, 190, 3) + x[..., None] * rng.uniform(-60, 60, 3)
        image = image + rng.normal(0, 25, (height, width, 3))
        return np.clip(image, 0, 255).astype(np.uint8)

    images = {f"ordinary_{i}.png": ordinary() for i in range(12)}
    images["dark.png"] = (ordinary() * 0.05).astype(np.uint8)
    images["light.png"] = (255 - (255 - ordinary()) * 0.03).astype(np.uint8)
    images["wide.png"] = ordinary(400, 40)
    images["huge.png"] = ordinary(900, 900)
    for name, array in images.items():
        Image.fromarray(array).save(root / name)
    Image.fromarray(ordinary()).convert("L").save(root / "gray.png")
    (root / "broken.png").write_bytes(b"not an image")
    names = [*images, "gray.png", "broken.png"]
    samples = pd.DataFrame(
        {"sample_id": names, "label": ["x", "y"] * (len(names) // 2), "path": names}
    )
    store = ea.Store.create(tmp_path / "s", classes=["x", "y"], samples=samples, image_root=root)
    store.add_run("r", np.full((len(names), 2), 0.5, dtype=np.float32))
    return store


def test_issue_flags_come_from_cleanvision(issue_store):
    pytest.importorskip("cleanvision")
    from erroranalysis.analysis.image_properties import CLEANVISION_COLUMNS, cleanvision_issues

    with pytest.warns(UserWarning, match="could not be read"):
        ea.scan(issue_store, analyses=["image_properties"], progress=False)
    frame = issue_store.frame().set_index("sample_id")
    assert set(CLEANVISION_COLUMNS) <= set(frame.columns)
    flagged = {c[3:]: set(frame.index[frame[c]]) for c in CLEANVISION_COLUMNS if c[:3] == "is_"}
    assert "dark.png" in flagged["dark"] and "light.png" in flagged["light"]
    assert "wide.png" in flagged["odd_aspect_ratio"] and "huge.png" in flagged["odd_size"]
    assert flagged["grayscale"] == {"gray.png"}
    assert not any("broken.png" in names for names in flagged.values())
    assert np.isnan(frame.loc["broken.png", "dark_score"])
    # the same flags as CleanVision's own, on the readable files
    readable = frame.index[frame["image_ok"]]
    files = [str(issue_store.image_path(sample_id)) for sample_id in readable]
    theirs = cleanvision_issues(files)
    for column in CLEANVISION_COLUMNS:
        np.testing.assert_array_equal(frame.loc[readable, column].to_numpy(), theirs[column])


def test_without_cleanvision_the_measures_stay_and_a_warning_names_the_extra(
    issue_store, monkeypatch
):
    import builtins

    real_import = builtins.__import__

    def no_cleanvision(name, *args, **kwargs):
        if name == "cleanvision" or name.startswith("cleanvision."):
            raise ImportError("No module named 'cleanvision'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cleanvision)
    with pytest.warns(UserWarning) as caught:
        fitted = ImageProperties().fit(issue_store, issue_store.run())
    assert any("pip install 'erroranalysis[cleanvision]'" in str(w.message) for w in caught)
    assert not fitted.cleanvision_
    assert "is_dark" not in fitted.properties_.columns
    assert fitted.properties_["brightness"].notna().sum() == issue_store.num_samples - 1
