"""Create a store from a class-per-folder tree (``root/<class>/**/<image>``, as torchvision's
``ImageFolder`` reads it).

The sample id and the path of each image are its path relative to ``root`` (``cat/001.jpg``).
Every image is checked first; one bad image fails the whole ingest (nothing is created) unless
``skip_bad=True``.

>>> import erroranalysis as ea
>>> store = ea.ingest_folder("pets/", "pets-store")     # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from erroranalysis.errors import PathOutsideRootError, UnknownLabelError, describe
from erroranalysis.ingest.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    list_image_files,
)
from erroranalysis.ingest.manifest import ManifestError, create_checked_store

if TYPE_CHECKING:
    from erroranalysis.store import Store

__all__ = ["folder_samples", "ingest_folder"]


def folder_samples(
    root: str | os.PathLike,
    classes: Sequence[str] | None = None,
    unlabelled_folder: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """List the images of a class-per-folder tree as a samples table.

    Parameters
    ----------
    root : path-like
        The folder holding one sub-folder per class.
    classes : sequence of str, optional
        The classes, in probability-column order. Default: the sub-folder names, sorted. A
        sub-folder that is not a class is refused; a class without a sub-folder is allowed.
    unlabelled_folder : str, optional
        Name of a sub-folder whose images have no label yet (they become unlabelled samples).

    Returns
    -------
    samples : DataFrame
        ``sample_id``, ``label``, ``path`` (the path relative to ``root``, with ``/``).
    classes : list of str
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"image folder {root} does not exist")
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    real_root = Path(os.path.realpath(root))
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = [p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if not folders:
        raise ManifestError(
            f"{root} has no class sub-folders; put each class's images in root/<class>/ "
            "(or use a manifest: ingest_manifest / --manifest)"
        )
    unlabelled_dir = next((p for p in folders if p.name == unlabelled_folder), None)
    if unlabelled_folder is not None and unlabelled_dir is None:
        raise ManifestError(
            f"{root} has no sub-folder {unlabelled_folder!r} for the unlabelled images; its "
            f"sub-folders are {describe([p.name for p in folders])}"
        )
    folders = [p for p in folders if p is not unlabelled_dir]
    names = [p.name for p in folders]
    if classes is None:
        classes = names
    else:
        classes = [str(c) for c in classes]
        unknown = [name for name in names if name not in classes]
        if unknown:
            raise UnknownLabelError(
                f"{root} has sub-folders {describe(unknown)} that are not among the classes "
                f"{describe(classes, 8)}; add them to classes or move those folders out"
            )
    checked = [*folders, *([unlabelled_dir] if unlabelled_dir is not None else [])]
    escaping = [str(p) for p in checked if real_root not in Path(os.path.realpath(p)).parents]
    if escaping:
        raise PathOutsideRootError(
            f"class folder(s) {describe(escaping)} are symlinks pointing outside {real_root}; "
            "copy the images in instead"
        )
    if loose:
        warnings.warn(
            f"{len(loose)} image(s) directly in {root} belong to no class folder and were left "
            f"out: {describe(loose, 3)}",
            stacklevel=3,
        )
    rows = []
    for folder in folders:
        for file in list_image_files(folder, root):
            relative = file.relative_to(root).as_posix()
            rows.append((relative, folder.name, relative))
    if unlabelled_dir is not None:
        for file in list_image_files(unlabelled_dir, root):
            relative = file.relative_to(root).as_posix()
            rows.append((relative, None, relative))
    samples = pd.DataFrame(rows, columns=["sample_id", "label", "path"])
    return samples, list(classes)


def ingest_folder(
    root: str | os.PathLike,
    store_path: str | os.PathLike,
    classes: Sequence[str] | None = None,
    skip_bad: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    unlabelled_folder: str | None = None,
) -> Store:
    """Create a store from a class-per-folder image tree.

    Parameters
    ----------
    root : path-like
        The folder holding one sub-folder per class (images may sit in nested folders below a
        class folder). It becomes the store's image root.
    store_path : path-like
        The store folder to create.
    classes : sequence of str, optional
        The classes in probability-column order (default: the sub-folder names, sorted).
    skip_bad : bool
        Leave unreadable images out (listed in ``<store>/skipped.csv``, with a warning) instead
        of failing the whole ingest.
    overwrite : bool
        Replace an existing store at ``store_path``.
    progress : bool
        Show a progress bar while the images are checked.
    max_pixels : int or None
        Refuse images larger than this many pixels (decompression bombs).
    unlabelled_folder : str, optional
        A sub-folder of ``root`` (for example ``"unlabelled"``) whose images have no label yet.

    Returns
    -------
    Store
        The new store.

    Raises
    ------
    BadImageError
        Unreadable images (when ``skip_bad`` is False), naming the first few and the count.
    PathOutsideRootError
        Symlinks pointing outside ``root``.
    UnknownLabelError
        A sub-folder that is not one of ``classes``.
    StoreExistsError
        ``store_path`` exists and ``overwrite`` is False.
    """
    samples, classes = folder_samples(root, classes, unlabelled_folder)
    if samples.empty:
        raise ManifestError(
            f"{root} has class folders {describe(classes)} but no images in them (looked for "
            f"{', '.join(sorted(IMAGE_EXTENSIONS))})"
        )
    return create_checked_store(
        samples,
        root,
        store_path,
        classes=classes,
        skip_bad=skip_bad,
        overwrite=overwrite,
        progress=progress,
        max_pixels=max_pixels,
    )
