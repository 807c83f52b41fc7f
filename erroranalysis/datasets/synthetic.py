"""A procedurally generated image dataset with planted problems.

The images are coloured shapes (circle, square, triangle, star, cross, ring) on varied backgrounds,
drawn at random positions, sizes and rotations. Planted in them, with the truth kept in a separate
table that the user interface never shows:

- **label noise**: about 5% of the given labels are wrong, class-conditionally (some classes are
  noisier than others, and most wrong labels name the look-alike class: circle/ring, square/
  triangle, star/cross);
- **weak spots**: rare subgroups that are genuinely harder and that the visible metadata describe
  (``object_size == "tiny"``, ``lighting == "dark"``, ``blur == "heavy"``,
  ``background == "clutter"``);
- **near-duplicates**: a few sets of slightly perturbed copies of one image;
- **outliers**: a few images that show none of the classes (pure noise, text, checkerboards).

Everything is seeded: the same parameters give byte-identical images and identical tables.

>>> from erroranalysis.datasets import make_synthetic
>>> data = make_synthetic("synthetic-data", n_samples=600)      # doctest: +SKIP
>>> store = data.create_store("synthetic-store")                  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from erroranalysis.datasets._base import ImageFolderDataset

if TYPE_CHECKING:
    pass

__all__ = [
    "CLASSES",
    "LOOKALIKES",
    "SUBGROUPS",
    "SyntheticDataset",
    "make_synthetic",
]

#: The class names, in the order of the store's classes.
CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring")

#: The class a noisy label most often names instead of the true one.
LOOKALIKES: dict[str, str] = {
    "circle": "ring",
    "ring": "circle",
    "square": "triangle",
    "triangle": "square",
    "star": "cross",
    "cross": "star",
}

#: Weak-spot subgroups: truth name -> (visible metadata column, its value for the subgroup).
SUBGROUPS: dict[str, tuple[str, str]] = {
    "tiny_object": ("object_size", "tiny"),
    "dark": ("lighting", "dark"),
    "heavy_blur": ("blur", "heavy"),
    "rare_background": ("background", "clutter"),
}

_FORMAT = "erroranalysis-synthetic/1"
_OUTLIER_KINDS = ("noise", "text", "checkerboard")
# Common values of the visible metadata (weak-spot values are assigned separately).
_SIZES = {
    "small": (0.17, 0.23),
    "medium": (0.23, 0.31),
    "large": (0.31, 0.40),
    "tiny": (0.065, 0.09),
}
_SUPERSAMPLE = 4


@dataclass
class SyntheticDataset(ImageFolderDataset):
    """A generated dataset on disk: images, the visible samples table and the hidden truth.

    Attributes
    ----------
    path : Path
        The dataset folder (``images/``, ``samples.parquet``, ``truth.parquet``, ``dataset.json``).
    classes : list of str
        The class names.
    samples : DataFrame
        What a user would have: ``sample_id``, ``label`` (the given, partly wrong label), ``path``
        (relative to :attr:`image_root`) and the metadata columns ``object_size``, ``background``,
        ``lighting``, ``blur``, ``pattern``, ``camera``.
    truth : DataFrame
        What only the generator knows, for scoring detection: ``sample_id``, ``true_label`` (None
        for outliers), ``given_label``, ``is_label_noise``, ``subgroup`` (None, or a key of
        :data:`SUBGROUPS`), ``is_outlier``, ``outlier_kind``, ``near_duplicate_of`` (the id of
        the original for a copy, else None) and ``near_duplicate_set`` (-1 when not in a set), and the object's centre and radius
        as fractions of the image side, ``object_x``, ``object_y``, ``object_radius`` (NaN for
        outliers).
    parameters : dict
        The generation parameters (and the generation time in seconds, ``seconds``).
    """

    path: Path
    classes: list[str]
    samples: pd.DataFrame
    truth: pd.DataFrame
    parameters: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SyntheticDataset:
        """Open a dataset written by :func:`make_synthetic`.

        Parameters
        ----------
        path : path-like
            The dataset folder.

        Returns
        -------
        SyntheticDataset
        """
        from erroranalysis.errors import StoreFormatError

        path = Path(path)
        info_file = path / "dataset.json"
        if not info_file.is_file():
            raise StoreFormatError(
                f"{path} is not a synthetic dataset (no dataset.json); create one with make_synthetic()"
            )
        info = json.loads(info_file.read_text())
        if info.get("format") != _FORMAT:
            raise StoreFormatError(
                f"{path} holds dataset format {info.get('format')!r}, expected {_FORMAT!r}; "
                "generate it again with make_synthetic()"
            )
        return cls(
            path=path,
            classes=list(info["classes"]),
            samples=pd.read_parquet(path / "samples.parquet"),
            truth=pd.read_parquet(path / "truth.parquet"),
            parameters=info["parameters"],
        )


def make_synthetic(
    out_dir: str | os.PathLike,
    n_samples: int = 2400,
    image_size: int = 64,
    seed: int = 0,
    *,
    label_noise: float = 0.05,
    weak_fraction: float = 0.05,
    outlier_fraction: float = 0.01,
    near_duplicate_sets: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> SyntheticDataset:
    """Generate the synthetic shapes dataset with planted problems.

    Parameters
    ----------
    out_dir : path-like
        The folder to write (it must not exist unless ``overwrite``). It receives ``images/*.png``,
        ``samples.parquet`` (the visible table), ``truth.parquet`` (the hidden truth) and
        ``dataset.json``. The folder appears whole or not at all.
    n_samples : int
        Number of images in all (originals, near-duplicate copies and outliers); at least 60.
    image_size : int
        Width and height of the square RGB images, in pixels (16 to 512).
    seed : int
        Random seed; the same seed and parameters give byte-identical images and tables.
    label_noise : float
        Average fraction of wrong given labels (class-conditional; most name the look-alike).
    weak_fraction : float
        Fraction of the samples in each of the four weak-spot subgroups (``0.05`` puts 5% in
        each, 20% in all); each subgroup is rarer than the common samples and harder.
    outlier_fraction : float
        Fraction of images that show none of the classes.
    near_duplicate_sets : int, optional
        How many sets of near-duplicates (2 to 4 images each); default about 0.5% of
        ``n_samples`` (at least 2).
    overwrite : bool
        Replace ``out_dir`` if it exists.
    progress : bool
        Show a progress bar.

    Returns
    -------
    SyntheticDataset

    Raises
    ------
    FileExistsError
        If ``out_dir`` exists and ``overwrite`` is False.
    ValueError
        If a parameter is out of range.
    """
    from PIL import Image

    n_samples = int(n_samples)
    image_size = int(image_size)
    if n_samples < 60:
        raise ValueError(f"n_samples must be at least 60 (got {n_samples})")
    if not 16 <= image_size <= 512:
        raise ValueError(f"image_size must be between 16 and 512 pixels (got {image_size})")
    for name, value, high in (
        ("label_noise", label_noise, 0.5),
        ("weak_fraction", weak_fraction, 0.2),
        ("outlier_fraction", outlier_fraction, 0.2),
    ):
        if not 0.0 <= float(value) <= high:
            raise ValueError(f"{name} must be between 0 and {high} (got {value})")
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise FileExistsError(
            f"{out_dir} already exists; choose another folder or pass overwrite=True"
        )

    started = time.perf_counter()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xE4]))
    parameters = {
        "n_samples": n_samples,
        "image_size": image_size,
        "seed": int(seed),
        "label_noise": float(label_noise),
        "weak_fraction": float(weak_fraction),
        "outlier_fraction": float(outlier_fraction),
        "near_duplicate_sets": near_duplicate_sets,
    }
    rows = _plan(rng, n_samples, label_noise, weak_fraction, outlier_fraction, near_duplicate_sets)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        _make_public(staging)  # mkdtemp makes it private (0700); the dataset is not
        (staging / "images").mkdir()
        pixels: dict[int, np.ndarray] = {}
        iterator = range(len(rows))
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(iterator, desc="generating images", unit="img", leave=False)
        for i in iterator:
            row = rows[i]
            sample_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xE4, i]))
            if row["copy_of"] is not None:
                array = _perturb(pixels[row["copy_of"]], sample_rng)
                for key in ("object_x", "object_y", "object_radius"):
                    if key in rows[row["copy_of"]]:
                        row[key] = rows[row["copy_of"]][key]
            elif row["is_outlier"]:
                array = _render_outlier(row["outlier_kind"], image_size, sample_rng)
            else:
                array = _render_shape(row, image_size, sample_rng)
            if row["keep_pixels"]:
                pixels[i] = array
            Image.fromarray(array).save(staging / row["path"], format="PNG")
        samples, truth = _tables(rows)
        samples.to_parquet(staging / "samples.parquet", index=False)
        truth.to_parquet(staging / "truth.parquet", index=False)
        parameters["seconds"] = round(time.perf_counter() - started, 3)
        info = {"format": _FORMAT, "classes": list(CLASSES), "parameters": parameters}
        (staging / "dataset.json").write_text(json.dumps(info, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return SyntheticDataset(
        path=out_dir, classes=list(CLASSES), samples=samples, truth=truth, parameters=parameters
    )


# --------------------------------------------------------------------------------------------
# planning: who is what


def _plan(
    rng: np.random.Generator,
    n_samples: int,
    label_noise: float,
    weak_fraction: float,
    outlier_fraction: float,
    near_duplicate_sets: int | None,
) -> list[dict[str, Any]]:
    """Decide every sample's class, metadata, planted problem and final position."""
    n_classes = len(CLASSES)
    n_outliers = round(n_samples * outlier_fraction)
    n_sets = (
        max(2, round(n_samples * 0.005))
        if near_duplicate_sets is None
        else int(near_duplicate_sets)
    )
    copies_per_set = rng.integers(1, 4, size=n_sets)  # 1..3 copies -> sets of 2..4 images
    n_copies = int(copies_per_set.sum())
    n_base = n_samples - n_outliers - n_copies
    if n_base < n_samples // 2:
        raise ValueError("too many outliers and near-duplicates for n_samples")

    # Originals: balanced classes, weak-spot subgroups at weak_fraction each.
    true_codes = rng.permutation(np.arange(n_base) % n_classes)
    subgroup = np.full(n_base, "none", dtype=object)
    n_weak = round(n_base * weak_fraction)
    order = rng.permutation(n_base)
    for k, name in enumerate(SUBGROUPS):
        subgroup[order[k * n_weak : (k + 1) * n_weak]] = name

    # Class-conditional label noise: per-class rates spread around label_noise; most flips go to
    # the look-alike class, the rest anywhere else.
    multipliers = rng.permutation(np.linspace(0.5, 1.5, n_classes))
    given_codes = true_codes.copy()
    flip = rng.random(n_base) < label_noise * multipliers[true_codes]
    to_lookalike = rng.random(n_base) < 0.7
    other = rng.integers(1, n_classes, size=n_base)
    lookalike_code = np.array([CLASSES.index(LOOKALIKES[c]) for c in CLASSES])
    for i in np.flatnonzero(flip):
        t = true_codes[i]
        given_codes[i] = lookalike_code[t] if to_lookalike[i] else (t + other[i]) % n_classes

    rows: list[dict[str, Any]] = []
    for i in range(n_base):
        rows.append(
            {
                "true": CLASSES[true_codes[i]],
                "given": CLASSES[given_codes[i]],
                "subgroup": subgroup[i],
                "is_outlier": False,
                "outlier_kind": None,
                **_metadata(rng, subgroup[i]),
                "copy_of": None,
                "set": -1,
            }
        )
    # Near-duplicate sets: originals drawn from the common (non-weak) samples.
    common = np.flatnonzero(subgroup == "none")
    originals = rng.choice(common, size=min(n_sets, len(common)), replace=False)
    for set_id, (original, n_copy) in enumerate(zip(originals, copies_per_set, strict=False)):
        rows[original]["set"] = set_id
        for _ in range(int(n_copy)):
            rows.append({**rows[original], "copy_of": int(original), "set": set_id})
    for _ in range(n_outliers):
        rows.append(
            {
                "true": None,
                "given": CLASSES[int(rng.integers(n_classes))],
                "subgroup": "none",
                "is_outlier": True,
                "outlier_kind": _OUTLIER_KINDS[int(rng.integers(len(_OUTLIER_KINDS)))],
                **_metadata(rng, "none"),
                "copy_of": None,
                "set": -1,
            }
        )

    # Shuffle so that copies and outliers are scattered; ids follow the final order. Rendering
    # runs in the planned order (originals before their copies); `index` is the final position.
    final = rng.permutation(len(rows))
    width = max(5, len(str(len(rows) - 1)))
    for planned, position in enumerate(final):
        row = rows[planned]
        row["index"] = int(position)
        row["sample_id"] = f"syn-{int(position):0{width}d}"
        row["path"] = f"images/{row['sample_id']}.png"
        row["keep_pixels"] = False
    for row in rows:
        if row["copy_of"] is not None:
            rows[row["copy_of"]]["keep_pixels"] = True
    for row in rows:
        row["copy_of_id"] = None if row["copy_of"] is None else rows[row["copy_of"]]["sample_id"]
    return rows


def _metadata(rng: np.random.Generator, subgroup: str) -> dict[str, Any]:
    """Visible metadata (and the drawing parameters they imply) of one sample."""
    meta = {
        "object_size": str(rng.choice(["small", "medium", "large"])),
        "background": str(rng.choice(["plain", "gradient"])),
        "lighting": str(rng.choice(["normal", "bright"], p=[0.7, 0.3])),
        "blur": str(rng.choice(["none", "slight"], p=[0.6, 0.4])),
        "pattern": str(rng.choice(["solid", "striped", "speckled"], p=[0.6, 0.2, 0.2])),
        "camera": str(rng.choice(["cam_a", "cam_b", "cam_c"])),
    }
    if subgroup != "none":
        column, value = SUBGROUPS[subgroup]
        meta[column] = value
    return meta


def _tables(rows: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    ordered = sorted(rows, key=lambda row: row["index"])
    samples = pd.DataFrame(
        {
            "sample_id": [r["sample_id"] for r in ordered],
            "label": [r["given"] for r in ordered],
            "path": [r["path"] for r in ordered],
            **{
                column: [r[column] for r in ordered]
                for column in ("object_size", "background", "lighting", "blur", "pattern", "camera")
            },
        }
    )
    truth = pd.DataFrame(
        {
            "sample_id": [r["sample_id"] for r in ordered],
            "true_label": [r["true"] for r in ordered],
            "given_label": [r["given"] for r in ordered],
            "is_label_noise": [(not r["is_outlier"]) and r["true"] != r["given"] for r in ordered],
            "subgroup": [None if r["subgroup"] == "none" else r["subgroup"] for r in ordered],
            "is_outlier": [bool(r["is_outlier"]) for r in ordered],
            "outlier_kind": [r["outlier_kind"] for r in ordered],
            "near_duplicate_of": [r["copy_of_id"] for r in ordered],
            "near_duplicate_set": np.array([r["set"] for r in ordered], dtype=np.int64),
            **{
                key: np.array([r.get(key, np.nan) for r in ordered], dtype=np.float32)
                for key in ("object_x", "object_y", "object_radius")
            },
        }
    )
    return samples, truth


# --------------------------------------------------------------------------------------------
# drawing


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    """One HSV colour (all in [0, 1]) as RGB floats in [0, 1]."""
    i = int(h * 6.0) % 6
    f = h * 6.0 - math.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array(
        [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i], dtype=np.float32
    )


def _shape_mask(shape: str, size: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Anti-aliased coverage mask (size×size float32 in [0, 1]) of one shape."""
    from PIL import Image, ImageDraw

    s = _SUPERSAMPLE
    big = Image.new("L", (size * s, size * s), 0)
    draw = ImageDraw.Draw(big)
    cx, cy, r = cx * s, cy * s, r * s

    def polygon(radii: list[float], offset: float = 0.0) -> list[tuple[float, float]]:
        n = len(radii)
        return [
            (
                cx + radii[k] * math.cos(angle + offset + 2 * math.pi * k / n),
                cy + radii[k] * math.sin(angle + offset + 2 * math.pi * k / n),
            )
            for k in range(n)
        ]

    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    elif shape == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        inner = 0.55 * r
        draw.ellipse([cx - inner, cy - inner, cx + inner, cy + inner], fill=0)
    elif shape == "square":
        draw.polygon(polygon([r * 1.05] * 4, math.pi / 4), fill=255)
    elif shape == "triangle":
        draw.polygon(polygon([r * 1.15] * 3, -math.pi / 2), fill=255)
    elif shape == "star":
        draw.polygon(polygon([r * 1.1, r * 0.45] * 5, -math.pi / 2), fill=255)
    elif shape == "cross":
        w = 0.32 * r
        points = [
            (w, r), (-w, r), (-w, w), (-r, w), (-r, -w), (-w, -w),
            (-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w),
        ]  # fmt: skip
        cos, sin = math.cos(angle), math.sin(angle)
        draw.polygon(
            [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in points], fill=255
        )
    else:  # pragma: no cover - the plan only uses CLASSES
        raise ValueError(f"unknown shape {shape!r}")
    small = big.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def _background(kind: str, size: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Background image (size×size×3 float32 in [0, 1]) and its mean brightness."""
    value = float(rng.uniform(0.3, 0.9))
    base = _hsv(float(rng.random()), float(rng.uniform(0.0, 0.4)), value)
    if kind == "gradient":
        other = _hsv(float(rng.random()), float(rng.uniform(0.0, 0.4)), value)
        theta = float(rng.uniform(0, 2 * math.pi))
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
        t = np.clip(0.5 + (xx - 0.5) * math.cos(theta) + (yy - 0.5) * math.sin(theta), 0, 1)
        image = base * (1 - t[..., None]) + other * t[..., None]
    else:
        image = np.broadcast_to(base, (size, size, 3)).copy()
    if kind == "clutter":
        from PIL import Image, ImageDraw

        canvas = Image.fromarray((image * 255).astype(np.uint8))
        draw = ImageDraw.Draw(canvas)
        scale = size / 64.0
        for _ in range(int(rng.integers(10, 18))):
            colour = tuple(
                int(c * 255) for c in _hsv(rng.random(), rng.uniform(0.3, 1), rng.random())
            )
            if rng.random() < 0.5:
                x0, y0, x1, y1 = (float(v) for v in rng.uniform(0, size, 4))
                draw.line(
                    [x0, y0, x1, y1], fill=colour, width=max(1, round(rng.uniform(1, 3) * scale))
                )
            else:
                x, y = (float(v) for v in rng.uniform(0, size, 2))
                rr = float(rng.uniform(1.5, 5.0) * scale)
                draw.rectangle([x - rr, y - rr, x + rr, y + rr], fill=colour)
        image = np.asarray(canvas, dtype=np.float32) / 255.0
    return image.astype(np.float32), value


def _render_shape(row: dict[str, Any], size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw one sample of class ``row['true']`` with the look its metadata describe."""
    from PIL import Image, ImageFilter

    low, high = _SIZES[row["object_size"]]
    r = float(rng.uniform(low, high)) * size
    margin = r * 1.15 + 1
    cx, cy = (float(v) for v in rng.uniform(margin, size - margin, 2))
    angle = float(rng.uniform(0, 2 * math.pi))
    # Where the object is, as fractions of the image side (truth only: scores saliency maps).
    row["object_x"], row["object_y"], row["object_radius"] = cx / size, cy / size, r / size
    mask = _shape_mask(row["true"], size, cx, cy, r, angle)[..., None]

    background, bg_value = _background(row["background"], size, rng)
    # Foreground clearly brighter or darker than the background.
    delta = float(rng.uniform(0.35, 0.55))
    fg_value = bg_value + delta if rng.random() < 0.5 else bg_value - delta
    if not 0.05 <= fg_value <= 1.0:
        fg_value = bg_value - delta if fg_value > 1.0 else bg_value + delta
    fg_value = float(np.clip(fg_value, 0.05, 1.0))
    colour = _hsv(float(rng.random()), float(rng.uniform(0.3, 1.0)), fg_value)
    if row["pattern"] == "striped":
        period = float(rng.uniform(3.0, 6.0)) * size / 64.0
        theta = float(rng.uniform(0, math.pi))
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        stripes = np.sin((xx * math.cos(theta) + yy * math.sin(theta)) * 2 * math.pi / period) > 0
        foreground = np.where(stripes[..., None], colour, colour * 0.8)
    elif row["pattern"] == "speckled":
        foreground = colour * rng.uniform(0.8, 1.0, (size, size, 1)).astype(np.float32)
    else:
        foreground = np.broadcast_to(colour, (size, size, 3))
    image = background * (1 - mask) + foreground * mask

    sigma = {"none": 0.0, "slight": 0.6, "heavy": 3.2}[row["blur"]] * size / 64.0
    if sigma > 0:
        pil = Image.fromarray(np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8))
        image = np.asarray(pil.filter(ImageFilter.GaussianBlur(sigma)), dtype=np.float32) / 255.0

    tint = {"cam_a": (1.0, 1.0, 1.0), "cam_b": (1.04, 1.0, 0.96), "cam_c": (0.96, 1.0, 1.04)}
    image = image * np.array(tint[row["camera"]], dtype=np.float32)
    if row["lighting"] == "bright":
        image = 0.15 + 0.85 * image
    elif row["lighting"] == "dark":
        image = 0.02 + 0.16 * image  # dark and low-contrast
    noise = float(rng.uniform(0.008, 0.03))
    image = image + rng.normal(0.0, noise, image.shape).astype(np.float32)
    return np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)


def _render_outlier(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """An image that shows none of the classes."""
    from PIL import Image, ImageDraw, ImageFont

    if kind == "noise":
        return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    if kind == "checkerboard":
        cell = int(rng.integers(3, 9)) * max(1, size // 64)
        yy, xx = np.mgrid[0:size, 0:size]
        board = ((yy // cell + xx // cell) % 2).astype(np.float32)[..., None]
        a, b = _hsv(rng.random(), rng.random(), rng.random()), _hsv(rng.random(), rng.random(), 1.0)
        image = a * board + b * (1 - board)
        return np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)
    # text: a few characters drawn large
    colour_bg = tuple(int(c * 255) for c in _hsv(rng.random(), 0.2, rng.uniform(0.6, 1)))
    colour_fg = tuple(int(c * 255) for c in _hsv(rng.random(), 0.8, rng.uniform(0.0, 0.35)))
    canvas = Image.new("RGB", (size, size), colour_bg)
    draw = ImageDraw.Draw(canvas)
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    text = "".join(letters[int(k)] for k in rng.integers(0, len(letters), int(rng.integers(2, 4))))
    font = ImageFont.load_default(size=max(8, size * 0.38))
    draw.text((size * 0.08, size * 0.25), text, fill=colour_fg, font=font)
    return np.asarray(canvas, dtype=np.uint8).copy()


def _perturb(array: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A near-duplicate: shifted by a pixel, slightly brighter or darker, a little new noise."""
    dy, dx = (int(v) for v in rng.integers(-1, 2, 2))
    shifted = np.roll(array, (dy, dx), axis=(0, 1)).astype(np.float32)
    shifted = shifted * float(rng.uniform(0.96, 1.04)) + rng.normal(0, 2.0, array.shape)
    return np.clip(shifted + 0.5, 0, 255).astype(np.uint8)


def _make_public(folder: Path) -> None:
    """Give a folder from ``mkdtemp`` the usual permissions (0777 minus the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
