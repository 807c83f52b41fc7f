"""Image properties: measures and hashes of our own, issue flags from CleanVision.

Computed from each sample's image (``store.image_path``, loaded with
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
``pixel_entropy``
    Shannon entropy (bits, 0–8) of the 256-bin luminance histogram.
``exact_hash``, ``exact_duplicate_set``
    MD5 of the RGB pixels and size; samples sharing it form a set (id, or -1).
``phash``, ``near_duplicate_image_set``
    64-bit perceptual hash (DCT of a 32×32 greyscale, as ``imagehash.phash``); samples sharing
    it form a set (id, or -1).
``is_dark``, ``is_light``, ``is_blurry``, ``is_low_information``, ``is_odd_aspect_ratio``, ``is_odd_size``, ``is_grayscale``
    CleanVision's flags (``Imagelab.find_issues``, its default thresholds), each with its score
    ``dark_score``, … (CleanVision's scale: low = severe). They need the ``cleanvision`` extra;
    without it the scan warns and these columns are absent.
``image_ok``
    False when the image could not be read (the other columns are then missing).

Ours or CleanVision's (issue 15.11; ``bench/image_properties_vs_cleanvision.py``, BENCHMARKS.md,
2026-12-03, 2 cores, AMD EPYC, Python 3.11.7; seconds for all images on one process, best of 3;
a hand-made set of 96 images with planted issues and the demo's 600 synthetic images):

- **exact and near duplicates: ours.** The flags agree exactly on both sets (exact: 6 and 0
  flagged by both; near: 10 and 15 by both, the same images). Near duplicates are faster ours
  (0.54 s against CleanVision's 0.62 s on the hand-made set, 1.04 s against 1.34 s on the demo);
  exact duplicates cost ours 0.03–0.07 s on top of the pass that loads every image anyway
  (0.47 / 0.57 s standalone) against CleanVision's 0.42 / 0.63 s.
- **dark, light, blurry, odd aspect ratio, odd size: CleanVision.** We had measures but no flag.
  CleanVision finds the planted dark (4/4, 29/29), light (3/4), odd-aspect (4/4) and odd-size
  (4/4, with 6 more of the ordinary images flagged) images. Its blurry flag found none of the
  planted blurry images (0/4 at 96×96, 0/29 heavy-blur demo images) where our ``blur`` measure
  ranks them first (AUC 1.0 and 0.80): keep ``blur`` for slices and sorting.
- **low information and grayscale: CleanVision**, since ours disagreed. Our low-information rule
  (entropy below 3 bits) flagged 11 hand-made images (the 4 planted, plus dark and light ones)
  and 8 demo images, CleanVision 0 and 4. Our grayscale rule (channels within 2 of each other)
  found all 4 planted grayscale images, CleanVision the 2 stored as single-channel files (it
  reads the file's mode, so an RGB file with equal channels is not grayscale to it).

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

__all__ = [
    "CLEANVISION_COLUMNS",
    "CLEANVISION_ISSUES",
    "PROPERTY_COLUMNS",
    "ImageProperties",
    "MissingCleanVisionError",
    "cleanvision_issues",
    "image_properties",
    "phash",
]

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

#: Issue types flagged by CleanVision (ours agreed with it on none of them, or has no flag).
CLEANVISION_ISSUES = (
    "dark",
    "light",
    "blurry",
    "low_information",
    "odd_aspect_ratio",
    "odd_size",
    "grayscale",
)
#: The flag columns they add: ``is_dark``, … (and a score ``dark_score``, …; low = severe).
CLEANVISION_COLUMNS = tuple(
    column for issue in CLEANVISION_ISSUES for column in (f"is_{issue}", f"{issue}_score")
)


def phash(gray: Image.Image, hash_size: int = 8, highfreq_factor: int = 4) -> str:
    """Perceptual hash of a greyscale image as a hex string (the ``imagehash.phash`` recipe)."""
    from PIL import Image as PILImage
    from scipy.fft import dct

    size = hash_size * highfreq_factor
    pixels = np.asarray(gray.resize((size, size), PILImage.Resampling.LANCZOS), dtype=np.float64)
    coefficients = dct(dct(pixels, axis=0), axis=1)[:hash_size, :hash_size]
    bits = (coefficients > np.median(coefficients)).ravel()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):0{hash_size * hash_size // 4}x}"


def image_properties(image: Image.Image, max_side: int = 512) -> dict[str, Any]:
    """Measures and hashes of one RGB image (see the module docstring for each value).

    Examples
    --------
    >>> from PIL import Image
    >>> props = image_properties(Image.new("RGB", (4, 2), (255, 255, 255)))
    >>> props["brightness"], props["contrast"], props["pixel_entropy"], props["aspect_ratio"]
    (1.0, 0.0, 0.0, 2.0)
    """
    from PIL import Image as PILImage

    rgb = image.convert("RGB")
    width, height = rgb.size
    array = np.asarray(rgb)
    luma = array.astype(np.float64) @ _LUMA
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
        "pixel_entropy": entropy,
        "exact_hash": digest.hexdigest(),
        "phash": phash(rgb.convert("L")),
    }


class MissingCleanVisionError(AnalysisError):
    """CleanVision (the ``cleanvision`` extra) is not installed."""


def cleanvision_issues(
    paths: list[str], issue_types: tuple[str, ...] = CLEANVISION_ISSUES, n_jobs: int | None = 1
) -> pd.DataFrame:
    """CleanVision's flags and scores for image files, one row per path (in order).

    Parameters
    ----------
    paths : list of str
        Local image files (a file listed twice is measured once).
    issue_types : tuple of str
        CleanVision issue types (``dark``, ``light``, ``blurry``, ``low_information``,
        ``odd_aspect_ratio``, ``odd_size``, ``grayscale``…).
    n_jobs : int or None
        CleanVision's worker processes (``None``: one per core).

    Returns
    -------
    DataFrame
        ``is_<issue>`` (bool) and ``<issue>_score`` (float32; low = severe, CleanVision's scale)
        for each issue type.

    Raises
    ------
    MissingCleanVisionError
        When CleanVision is not installed.
    """
    try:
        from cleanvision import Imagelab
    except ImportError:
        raise MissingCleanVisionError(
            "the dark, light, blurry, low-information, odd aspect ratio, odd size and grayscale "
            "flags come from CleanVision, which is not installed: "
            "pip install 'erroranalysis[cleanvision]'"
        ) from None
    import contextlib
    import io

    unique = list(dict.fromkeys(paths))
    frame = pd.DataFrame(index=range(len(paths)))
    if not unique:
        for issue in issue_types:
            frame[f"is_{issue}"] = np.zeros(0, dtype=bool)
            frame[f"{issue}_score"] = np.zeros(0, dtype=np.float32)
        return frame
    # CleanVision prints a report and progress bars; the scan has its own
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        lab = Imagelab(filepaths=unique, verbose=False)
        lab.find_issues({issue: {} for issue in issue_types}, n_jobs=n_jobs, verbose=False)
    issues = lab.issues.reindex(paths)
    for issue in issue_types:
        frame[f"is_{issue}"] = issues[f"is_{issue}_issue"].fillna(False).to_numpy(dtype=bool)
        frame[f"{issue}_score"] = issues[f"{issue}_score"].to_numpy(dtype=np.float32)
    return frame


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
    n_jobs : int or None
        CleanVision's worker processes for its flags (``None``: one per core).

    Attributes
    ----------
    properties_ : DataFrame
        One row per sample.
    failed_ : list of str
        Sample ids whose image could not be read.
    """

    name: ClassVar[str] = "image_properties"
    result_name: ClassVar[str | None] = "image_properties"

    def __init__(self, max_side: int = 512, n_jobs: int | None = 1):
        self.max_side = max_side
        self.n_jobs = n_jobs

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
            self.cleanvision_ = "is_dark" in reused
            self.failed_ = [
                str(i) for i in store.sample_ids[~reused["image_ok"].to_numpy(dtype=bool)]
            ]
            return self
        load_image = _loader()
        ids = store.sample_ids
        rows: list[dict[str, Any]] = []
        failed: list[str] = []
        files: dict[int, str] = {}  # position -> local file, for CleanVision
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
                row = image_properties(image, self.max_side)
                row["image_ok"] = True
                files[position] = str(path)
            except (OSError, ValueError) as error:  # BadImageError and friends are ValueErrors
                failed.append(str(sample_id))
                row = {"image_ok": False, "_error": str(error)}
            rows.append(row)
        frame = pd.DataFrame(rows)
        for column in ("exact_hash", "phash", *PROPERTY_COLUMNS):
            if column not in frame:
                frame[column] = np.nan
        frame = frame.drop(columns=["_error"], errors="ignore")
        for column in ("width", "height"):
            frame[column] = frame[column].astype("Int32")
        for column in ("aspect_ratio", "brightness", "contrast", "blur", "pixel_entropy"):
            frame[column] = frame[column].astype(np.float32)
        frame["exact_duplicate_set"] = _set_ids(frame["exact_hash"])
        frame["near_duplicate_image_set"] = _set_ids(frame["phash"])
        flag_columns: list[str] = []
        self.cleanvision_ = True
        try:
            positions = list(files)
            flags = cleanvision_issues([files[p] for p in positions], n_jobs=self.n_jobs)
        except MissingCleanVisionError as error:
            self.cleanvision_ = False
            warnings.warn(str(error), stacklevel=2)
        else:
            for column in CLEANVISION_COLUMNS:
                is_flag = column.startswith("is_")
                values = np.zeros(len(frame), bool) if is_flag else np.full(len(frame), np.nan)
                values = values.astype(bool if is_flag else np.float32)
                values[positions] = flags[column].to_numpy()
                frame[column] = values
            flag_columns = list(CLEANVISION_COLUMNS)
        self.properties_ = frame[
            [
                *PROPERTY_COLUMNS,
                *flag_columns,
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
        summary = {
            "unreadable": len(self.failed_),
            "exact_duplicates": int((frame["exact_duplicate_set"] >= 0).sum()),
        }
        for issue in ("dark", "light", "blurry", "grayscale"):
            if f"is_{issue}" in frame:
                summary[issue] = int(frame[f"is_{issue}"].sum())
        return summary
