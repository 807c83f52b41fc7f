"""Image properties: size, brightness, contrast, blur, greyscale, information, hashes.

Computed with Pillow and numpy from each sample's image (``store.image_path``, loaded with
:func:`erroranalysis.ingest.images.load_image`: EXIF orientation applied, 16-bit scaled, bombs
refused). Columns saved (result ``image_properties``):

``width``, ``height``, ``aspect_ratio``
    Pixel size of the (EXIF-rotated) image; ``aspect_ratio = width / height``.
``brightness``
    Mean luminance (ITU-R 601: ``0.299 R + 0.587 G + 0.114 B``) scaled to [0, 1].
``contrast``
    RMS contrast: standard deviation of the luminance, scaled to [0, 1].
``blur``
    Variance of the 4-neighbour Laplacian of the luminance (in 0–255 units), computed on the
    image downscaled to at most ``max_side`` pixels; **low = blurry**.
``is_grayscale``
    All pixels have R, G and B within ``gray_tolerance`` of each other.
``pixel_entropy``, ``is_low_information``
    Shannon entropy (bits, 0–8) of the 256-bin luminance histogram; low-information when below
    ``low_information_bits``.
``exact_hash``, ``exact_duplicate_set``
    MD5 of the RGB pixels and size; samples sharing it form a set (id, or -1).
``phash``, ``near_duplicate_image_set``
    64-bit perceptual hash (DCT of a 32×32 greyscale, as ``imagehash.phash``); samples sharing
    it form a set (id, or -1).
``image_ok``
    False when the image could not be read (the other columns are then missing).

Not label-dependent, so it is computed once per run and reused.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from erroranalysis.analysis.base import Analysis, AnalysisError, register
from erroranalysis.errors import describe

if TYPE_CHECKING:
    from PIL import Image

    from erroranalysis.store import Run, Store

__all__ = ["PROPERTY_COLUMNS", "ImageProperties", "image_properties", "phash"]

#: Numeric property columns (the ones slices bin).
PROPERTY_COLUMNS = (
    "width",
    "height",
    "aspect_ratio",
    "brightness",
    "contrast",
    "blur",
    "pixel_entropy",
)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)


def phash(gray: Image.Image, hash_size: int = 8, highfreq_factor: int = 4) -> str:
    """Perceptual hash of a greyscale image as a hex string (the ``imagehash.phash`` recipe)."""
    from PIL import Image as PILImage
    from scipy.fft import dct

    size = hash_size * highfreq_factor
    pixels = np.asarray(gray.resize((size, size), PILImage.Resampling.LANCZOS), dtype=np.float64)
    coefficients = dct(dct(pixels, axis=0), axis=1)[:hash_size, :hash_size]
    bits = (coefficients > np.median(coefficients)).ravel()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):0{hash_size * hash_size // 4}x}"


def image_properties(
    image: Image.Image,
    max_side: int = 512,
    gray_tolerance: int = 2,
    low_information_bits: float = 3.0,
) -> dict[str, Any]:
    """Properties of one RGB image (see the module docstring for each value).

    Examples
    --------
    >>> from PIL import Image
    >>> props = image_properties(Image.new("RGB", (4, 2), (255, 255, 255)))
    >>> props["brightness"], props["contrast"], props["is_grayscale"], props["aspect_ratio"]
    (1.0, 0.0, True, 2.0)
    """
    from PIL import Image as PILImage

    rgb = image.convert("RGB")
    width, height = rgb.size
    array = np.asarray(rgb)
    luma = array.astype(np.float64) @ _LUMA
    spread = array.max(axis=2).astype(np.int16) - array.min(axis=2).astype(np.int16)
    hist = np.bincount(np.clip(np.rint(luma), 0, 255).astype(np.int64).ravel(), minlength=256)
    p = hist[hist > 0] / hist.sum()
    entropy = float(-(p * np.log2(p)).sum()) + 0.0
    small = rgb
    if max(width, height) > max_side:
        scale = max_side / max(width, height)
        small = rgb.resize(
            (max(1, round(width * scale)), max(1, round(height * scale))),
            PILImage.Resampling.BILINEAR,
        )
    small_luma = np.asarray(small).astype(np.float64) @ _LUMA
    if min(small_luma.shape) >= 3:
        lap = (
            small_luma[:-2, 1:-1]
            + small_luma[2:, 1:-1]
            + small_luma[1:-1, :-2]
            + small_luma[1:-1, 2:]
            - 4.0 * small_luma[1:-1, 1:-1]
        )
        blur = float(lap.var())
    else:
        blur = 0.0
    digest = hashlib.md5(usedforsecurity=False)
    digest.update(f"{width}x{height}".encode())
    digest.update(array.tobytes())
    return {
        "width": int(width),
        "height": int(height),
        "aspect_ratio": float(width / height),
        "brightness": float(luma.mean() / 255.0),
        "contrast": float(luma.std() / 255.0),
        "blur": blur,
        "is_grayscale": bool(spread.max() <= gray_tolerance),
        "pixel_entropy": entropy,
        "is_low_information": bool(entropy < low_information_bits),
        "exact_hash": digest.hexdigest(),
        "phash": phash(rgb.convert("L")),
    }


def _set_ids(keys: pd.Series) -> np.ndarray:
    """Ids of groups of equal non-null keys with more than one member (-1 otherwise)."""
    out = np.full(len(keys), -1, dtype=np.int32)
    valid = keys.notna().to_numpy()
    if not valid.any():
        return out
    codes, uniques = pd.factorize(keys[valid], sort=False)
    sizes = np.bincount(codes, minlength=len(uniques))
    shared = sizes[codes] > 1
    renumber = np.full(len(uniques), -1, dtype=np.int32)
    first = np.unique(codes[shared])  # factorize numbers by first appearance
    renumber[first] = np.arange(len(first), dtype=np.int32)
    values = np.where(shared, renumber[codes], -1)
    out[np.flatnonzero(valid)] = values
    return out


def _loader():
    try:
        from erroranalysis.ingest.images import load_image
    except ImportError:  # pragma: no cover - the ingest package ships with erroranalysis
        from PIL import Image as PILImage

        def load_image(path):
            with PILImage.open(path) as image:
                return image.convert("RGB")

    return load_image


@register
class ImageProperties(Analysis):
    """Per-image properties (see the module docstring).

    Parameters
    ----------
    max_side : int
        Images are downscaled to at most this side for the blur measure.
    gray_tolerance : int
        Largest per-pixel channel spread (0–255) still counted as greyscale.
    low_information_bits : float
        Entropy (bits) below which an image counts as low-information.

    Attributes
    ----------
    properties_ : DataFrame
        One row per sample.
    failed_ : list of str
        Sample ids whose image could not be read.
    """

    name: ClassVar[str] = "image_properties"
    result_name: ClassVar[str | None] = "image_properties"

    def __init__(
        self, max_side: int = 512, gray_tolerance: int = 2, low_information_bits: float = 3.0
    ):
        self.max_side = max_side
        self.gray_tolerance = gray_tolerance
        self.low_information_bits = low_information_bits

    def fit(self, store: Store, run: Run, progress: bool = False) -> ImageProperties:
        self._stamp(store)
        if "path" not in store.samples.columns:
            raise AnalysisError(
                "image_properties needs image paths, and this store's samples have no 'path' "
                "column; skip it with scan(..., analyses=[...])"
            )
        reused = self._from_other_run(store, run)
        if reused is not None:
            self.properties_ = reused
            self.failed_ = [
                str(i) for i in store.sample_ids[~reused["image_ok"].to_numpy(dtype=bool)]
            ]
            return self
        load_image = _loader()
        ids = store.sample_ids
        rows: list[dict[str, Any]] = []
        failed: list[str] = []
        iterator = range(len(ids))
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(iterator, desc="image properties", unit="img", leave=False)
        for position in iterator:
            sample_id = ids[position]
            try:
                path = store.image_path(sample_id)
                if isinstance(path, str) and "://" in path:
                    raise AnalysisError(f"remote image {path} is not fetched")
                image = load_image(path)
                row = image_properties(
                    image, self.max_side, self.gray_tolerance, self.low_information_bits
                )
                row["image_ok"] = True
            except (OSError, ValueError) as error:  # BadImageError and friends are ValueErrors
                failed.append(str(sample_id))
                row = {"image_ok": False, "_error": str(error)}
            rows.append(row)
        frame = pd.DataFrame(rows)
        for column in ("exact_hash", "phash", *PROPERTY_COLUMNS):
            if column not in frame:
                frame[column] = np.nan
        for column in ("is_grayscale", "is_low_information"):
            if column not in frame:
                frame[column] = False
            frame[column] = frame[column].fillna(False).astype(bool)
        frame = frame.drop(columns=["_error"], errors="ignore")
        for column in ("width", "height"):
            frame[column] = frame[column].astype("Int32")
        for column in ("aspect_ratio", "brightness", "contrast", "blur", "pixel_entropy"):
            frame[column] = frame[column].astype(np.float32)
        frame["exact_duplicate_set"] = _set_ids(frame["exact_hash"])
        frame["near_duplicate_image_set"] = _set_ids(frame["phash"])
        self.properties_ = frame[
            [
                *PROPERTY_COLUMNS,
                "is_grayscale",
                "is_low_information",
                "exact_hash",
                "exact_duplicate_set",
                "phash",
                "near_duplicate_image_set",
                "image_ok",
            ]
        ]
        self.failed_ = failed
        if failed:
            warnings.warn(
                f"{len(failed)} image(s) could not be read: {describe(failed)}; their property "
                "columns are empty (image_ok=False). Check the files or the store's image root.",
                stacklevel=2,
            )
        return self

    def _from_other_run(self, store: Store, run: Run) -> pd.DataFrame | None:
        """The same images were measured for another run of the store: reuse that result."""
        for name in store.runs():
            if name == run.name:
                continue
            other = store.run(name)
            info = other.result_info(self.name)
            if info and info.get("parameters") == self.get_params():
                frame = other.load_result(self.name)
                if frame is not None and len(frame) == store.num_samples:
                    return frame
        return None

    def save(self, store: Store, run: Run) -> None:
        run.save_result("image_properties", self.properties_, **self._result_kwargs())

    def summary(self) -> dict[str, Any]:
        frame = self.properties_
        return {
            "unreadable": len(self.failed_),
            "exact_duplicates": int((frame["exact_duplicate_set"] >= 0).sum()),
            "grayscale": int(frame["is_grayscale"].sum()),
        }
