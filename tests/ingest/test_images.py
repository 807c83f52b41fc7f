"""The safe loader against the bad-image corpus (design.md §8)."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from PIL import Image

from erroranalysis.errors import BadImageError, PathOutsideRootError
from erroranalysis.ingest.images import (
    DecompressionBombRefused,
    check_images,
    load_image,
    resolve_image_path,
)

from .conftest import bomb_png, write_good


def pixels(image: Image.Image) -> np.ndarray:
    assert image.mode == "RGB"
    return np.asarray(image).astype(int)


def test_good_png_round_trips(corpus):
    image = load_image("good.png", root=corpus["root"])
    with Image.open(corpus["good"]) as original:
        np.testing.assert_array_equal(pixels(image), np.asarray(original.convert("RGB")))


@pytest.mark.parametrize("name", ["truncated", "corrupt", "not_image"])
def test_unreadable_files_raise_naming_the_path(corpus, name):
    with pytest.raises(BadImageError) as info:
        load_image(corpus[name])
    assert corpus[name].name in str(info.value)
    assert "skip_bad" in str(info.value)


def test_missing_file_is_a_bad_image(tmp_path):
    with pytest.raises(BadImageError, match="no such file"):
        load_image(tmp_path / "nope.png")


def test_cmyk_becomes_rgb(corpus):
    array = pixels(load_image(corpus["cmyk"]))
    # CMYK (0, 255, 255, 0) is red; JPEG is lossy, so allow a little slack.
    assert np.all(np.abs(array - [255, 0, 0]) <= 6)


def test_16_bit_is_scaled_not_clipped(corpus):
    with Image.open(corpus["deep16"]) as raw:
        assert raw.mode.startswith("I")  # really a 16-bit image on disk
        source = np.asarray(raw).astype(np.float64)
    assert source.max() == 65535
    array = pixels(load_image(corpus["deep16"]))[..., 0]
    expected = np.rint(source / 257.0)
    np.testing.assert_array_equal(array, expected)
    # Clipping would turn everything above 255 white; scaling keeps the ramp.
    assert len(np.unique(array)) > 200
    assert array[0, 128] in (127, 128)


def test_32_bit_integer_image_is_scaled(tmp_path):
    data = np.array([[0, 1000, 70000, 140000]], dtype=np.int32)
    Image.fromarray(data).save(tmp_path / "deep32.tif")
    array = pixels(load_image(tmp_path / "deep32.tif"))[..., 0]
    assert array[0, 0] == 0 and array[0, -1] == 255
    assert 0 < array[0, 1] < array[0, 2] < 255


def test_exif_orientation_is_applied(corpus):
    image = load_image(corpus["exif"])
    assert image.size == (20, 40)  # stored 40×20, displayed rotated 90° clockwise
    array = pixels(image)
    # Orientation 6: the stored left (red) half becomes the top.
    assert np.all(np.abs(array[5, 10] - [255, 0, 0]) < 20)
    assert np.all(np.abs(array[35, 10] - [0, 0, 255]) < 20)


def test_palette_with_transparency_is_composited_on_white(corpus):
    array = pixels(load_image(corpus["palette_alpha"]))
    np.testing.assert_array_equal(array[0, 0], [255, 0, 0])  # opaque red index
    np.testing.assert_array_equal(array[0, 9], [255, 255, 255])  # transparent green -> white


@pytest.mark.parametrize(
    ("name", "opaque", "transparent_at"),
    [("grey_alpha", [0, 0, 0], (0, 7)), ("rgba", [0, 0, 255], (7, 0))],
)
def test_alpha_is_composited_on_white(corpus, name, opaque, transparent_at):
    array = pixels(load_image(corpus[name]))
    np.testing.assert_array_equal(array[0, 0], opaque)
    np.testing.assert_array_equal(array[transparent_at], [255, 255, 255])


def test_grey_becomes_three_equal_channels(corpus):
    array = pixels(load_image(corpus["grey"]))
    assert np.all(array == 77)


def test_decompression_bomb_refused_with_pixel_count(corpus):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no stray DecompressionBombWarning either
        with pytest.raises(DecompressionBombRefused) as info:
            load_image(corpus["bomb"])
    assert isinstance(info.value, BadImageError)
    assert "10000000000" in str(info.value).replace(",", "")
    assert "bomb.png" in str(info.value)


def test_our_pixel_limit_is_checked_before_decoding(tmp_path, monkeypatch):
    # Within Pillow's limit but above ours: refused from the header alone.
    path = tmp_path / "big.png"
    path.write_bytes(bomb_png(5000, 4000))  # header only: decoding would fail, it must not start
    decoded = []
    original_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(1) or original_load(self))
    with pytest.raises(DecompressionBombRefused) as info:
        load_image(path, max_pixels=1_000_000)
    message = str(info.value)
    assert "5000×4000" in message and "20,000,000 pixels" in message
    assert not decoded


def test_pillow_warning_range_is_refused_without_warning(tmp_path):
    # Between Pillow's limit and twice it, Pillow only warns; we refuse, quietly.
    path = tmp_path / "warn.png"
    path.write_bytes(bomb_png(20000, 10000))  # 200 Mpx: > 178,956,970, < 2× that
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DecompressionBombRefused) as info:
            load_image(path)
    assert "200000000 pixels" in str(info.value).replace(",", "")


@pytest.mark.parametrize(
    "make_path",
    [
        lambda f: "../outside.png",
        lambda f: "sub/../../outside.png",
        lambda f: f["outside"],  # absolute, outside the root
        lambda f: "escape.png",  # symlink pointing outside
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink"],
)
def test_paths_escaping_the_root_are_refused(corpus, make_path):
    with pytest.raises(PathOutsideRootError, match="outside the image root"):
        load_image(make_path(corpus), root=corpus["root"])


def test_paths_inside_the_root_are_fine(corpus):
    assert load_image(corpus["good"], root=corpus["root"]).size == (48, 32)  # absolute inside
    assert load_image("inside_link.png", root=corpus["root"]).size == (48, 32)  # symlink inside
    assert load_image("sub/../good.png", root=corpus["root"]).size == (48, 32)
    assert resolve_image_path("good.png", corpus["root"]) == corpus["root"] / "good.png"


def test_without_root_no_containment_check(corpus):
    assert load_image(corpus["outside"]).size == (48, 32)


def test_check_images_reports_every_bad_file(corpus):
    names = ["good.png", "truncated.jpg", "corrupt.png", "cmyk.jpg", "bomb.png", "deep16.png"]
    with pytest.raises(BadImageError) as info:
        check_images(names, root=corpus["root"], progress=False)
    message = str(info.value)
    assert "3 of 6 images cannot be read" in message
    for bad in ("truncated.jpg", "corrupt.png", "bomb.png"):
        assert bad in message
    for fine in ("'good.png'", "'cmyk.jpg'", "'deep16.png'"):
        assert fine not in message
    assert "--skip-bad" in message

    report = check_images(names, root=corpus["root"], skip_bad=True, progress=False)
    assert report.ok == ["good.png", "cmyk.jpg", "deep16.png"]
    assert report.bad_paths == ["truncated.jpg", "corrupt.png", "bomb.png"]
    assert "truncated" in dict(report.bad)["truncated.jpg"]


def test_check_images_lists_first_few_and_count(tmp_path):
    for i in range(9):
        (tmp_path / f"bad{i}.png").write_bytes(b"nope")
    write_good(tmp_path / "ok.png")
    with pytest.raises(BadImageError) as info:
        check_images([f"bad{i}.png" for i in range(9)] + ["ok.png"], root=tmp_path, progress=False)
    message = str(info.value)
    assert "9 of 10 images cannot be read" in message
    assert "bad0.png" in message and "and 4 more" in message and "bad8.png" not in message


def test_check_images_refuses_escapes_even_with_skip_bad(corpus):
    with pytest.raises(PathOutsideRootError, match=r"escape\.png"):
        check_images(["good.png", "escape.png"], root=corpus["root"], skip_bad=True, progress=False)


def test_check_images_detects_truncated_jpeg_in_draft_mode(tmp_path):
    # check_images decodes JPEGs at reduced scale; truncation must still be caught.
    from .conftest import write_truncated_jpeg

    big = tmp_path / "big.jpg"
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)).save(big, quality=90)
    write_truncated_jpeg(tmp_path / "cut.jpg")
    data = big.read_bytes()
    (tmp_path / "cut_big.jpg").write_bytes(data[: int(len(data) * 0.7)])
    report = check_images(
        ["big.jpg", "cut.jpg", "cut_big.jpg"], root=tmp_path, skip_bad=True, progress=False
    )
    assert report.ok == ["big.jpg"]
    assert report.bad_paths == ["cut.jpg", "cut_big.jpg"]


def test_loading_is_thread_safe_and_restores_warning_filters(corpus):
    before = list(warnings.filters)
    errors: list[Exception] = []

    def work():
        try:
            for _ in range(20):
                load_image(corpus["good"])
                with pytest.raises(DecompressionBombRefused):
                    load_image(corpus["bomb"])
        except Exception as error:  # collected and re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert list(warnings.filters) == before
