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
    assert white["is_grayscale"] and white["pixel_entropy"] == 0.0 and white["is_low_information"]
    half = np.zeros((4, 4, 3), dtype=np.uint8)
    half[:, 2:] = 255
    props = image_properties(Image.fromarray(half))
    assert props["brightness"] == pytest.approx(0.5)
    assert props["contrast"] == pytest.approx(0.5)
    assert props["pixel_entropy"] == pytest.approx(1.0)
    # Laplacian of the 2x2 interior: columns 1 and 2 -> +255 and -255
    assert props["blur"] == pytest.approx(255.0**2)
    red = image_properties(Image.new("RGB", (3, 3), (200, 10, 10)))
    assert not red["is_grayscale"]
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
