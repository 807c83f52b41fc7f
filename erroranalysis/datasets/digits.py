"""scikit-learn's handwritten digits (shipped with scikit-learn, no download) as RGB images.

1,797 scans of digits 0–9 by 43 writers, 8×8 pixels with 17 grey levels, upscaled to
``image_size`` and written as dark ink on white paper in PNG files, with a samples table ready
for :meth:`erroranalysis.Store.create`.

>>> from erroranalysis.datasets import load_digits
>>> digits = load_digits("digits-data")              # doctest: +SKIP
>>> store = digits.create_store("digits-store")      # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from erroranalysis.datasets._base import ImageFolderDataset

if TYPE_CHECKING:
    pass

__all__ = ["DigitsDataset", "load_digits"]

_FORMAT = "erroranalysis-digits/1"


@dataclass
class DigitsDataset(ImageFolderDataset):
    """The digits written to disk.

    Attributes
    ----------
    path : Path
        The dataset folder (``images/``, ``samples.parquet``, ``dataset.json``); the image root.
    classes : list of str
        ``"0"`` to ``"9"``.
    samples : DataFrame
        ``sample_id``, ``label``, ``path`` (relative to :attr:`path`) and ``ink`` (the fraction of
        the 8×8 cells with ink, a real per-image property usable as metadata).
    """

    path: Path
    classes: list[str]
    samples: pd.DataFrame


def load_digits(
    out_dir: str | os.PathLike,
    image_size: int = 32,
    overwrite: bool = False,
    progress: bool = True,
) -> DigitsDataset:
    """Write scikit-learn's digits as upscaled RGB PNG images.

    If ``out_dir`` already holds the digits at this ``image_size`` they are reused.

    Parameters
    ----------
    out_dir : path-like
        The folder to write (appears whole or not at all).
    image_size : int
        Width and height of the images (8 to 256 pixels); upscaled with bicubic interpolation.
    overwrite : bool
        Rewrite ``out_dir`` even if it exists.
    progress : bool
        Show a progress bar.

    Returns
    -------
    DigitsDataset

    Raises
    ------
    FileExistsError
        If ``out_dir`` exists, is not the digits at this size, and ``overwrite`` is False.
    """
    from PIL import Image
    from sklearn.datasets import load_digits as sklearn_digits

    from erroranalysis.datasets.synthetic import _make_public

    image_size = int(image_size)
    if not 8 <= image_size <= 256:
        raise ValueError(f"image_size must be between 8 and 256 pixels (got {image_size})")
    out_dir = Path(out_dir)
    classes = [str(d) for d in range(10)]
    info_file = out_dir / "dataset.json"
    if out_dir.exists() and not overwrite:
        if info_file.is_file():
            info = json.loads(info_file.read_text())
            if info.get("format") == _FORMAT and info.get("image_size") == image_size:
                samples = pd.read_parquet(out_dir / "samples.parquet")
                return DigitsDataset(path=out_dir, classes=classes, samples=samples)
        raise FileExistsError(
            f"{out_dir} already exists and does not hold the digits at {image_size}px; choose "
            "another folder or pass overwrite=True"
        )

    bunch = sklearn_digits()
    images = bunch.images  # (1797, 8, 8) floats 0..16
    targets = bunch.target
    n = len(images)
    ids = [f"digit-{i:04d}" for i in range(n)]
    paths = [f"images/{sample_id}.png" for sample_id in ids]

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        _make_public(staging)  # mkdtemp makes it private (0700); the dataset is not
        (staging / "images").mkdir()
        iterator = range(n)
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(iterator, desc="writing digits", unit="img", leave=False)
        for i in iterator:
            grey = np.clip(255.0 - images[i] * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
            small = Image.fromarray(grey)
            big = small.resize((image_size, image_size), Image.Resampling.BICUBIC)
            big.convert("RGB").save(staging / paths[i], format="PNG")
        samples = pd.DataFrame(
            {
                "sample_id": ids,
                "label": [classes[int(t)] for t in targets],
                "path": paths,
                "ink": (images > 0).reshape(n, -1).mean(axis=1).round(4),
            }
        )
        samples.to_parquet(staging / "samples.parquet", index=False)
        info = {"format": _FORMAT, "image_size": image_size, "num_samples": n}
        (staging / "dataset.json").write_text(json.dumps(info, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return DigitsDataset(path=out_dir, classes=classes, samples=samples)
