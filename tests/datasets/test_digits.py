"""scikit-learn's digits written as RGB images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from erroranalysis.datasets.digits import load_digits


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return load_digits(tmp_path_factory.mktemp("digits") / "data", image_size=24, progress=False)


def test_all_digits_as_rgb_images(digits):
    assert len(digits) == 1797
    assert digits.classes == [str(d) for d in range(10)]
    assert digits.samples["sample_id"].is_unique
    assert set(digits.samples["label"]) == set(digits.classes)
    with Image.open(digits.path / digits.samples["path"][0]) as image:
        assert image.mode == "RGB" and image.size == (24, 24)


def test_pixels_follow_the_source(digits):
    from sklearn.datasets import load_digits as sklearn_digits

    source = sklearn_digits()
    for i in (0, 500, 1796):
        assert digits.samples["label"][i] == str(source.target[i])
        image = np.asarray(Image.open(digits.path / digits.samples["path"][i]).convert("L"), float)
        small = np.asarray(Image.fromarray(image.astype(np.uint8)).resize((8, 8), Image.BOX), float)
        ink = 255 - source.images[i] * 255 / 16  # dark ink on white paper
        assert np.corrcoef(small.ravel(), ink.ravel())[0, 1] > 0.9


def test_reused_when_present_and_store(digits, tmp_path):
    again = load_digits(digits.path, image_size=24, progress=False)
    assert again.samples.equals(digits.samples)
    with pytest.raises(FileExistsError):
        load_digits(digits.path, image_size=32, progress=False)
    store = digits.create_store(tmp_path / "store")
    assert store.num_samples == 1797 and store.classes == digits.classes
    assert store.image_path("digit-0000").is_file()
