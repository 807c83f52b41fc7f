"""Create a store from a manifest: a CSV/TSV/Parquet table ``path,label[,sample_id,split,...]``.

Every image is checked before anything is written: one bad image fails the whole ingest (nothing
is created) unless ``skip_bad=True``, which leaves the bad images out, lists them in
``<store>/skipped.csv`` and warns.

>>> import erroranalysis as ea
>>> store = ea.ingest_manifest("labels.csv", "images/", "my-store")   # doctest: +SKIP
"""

from __future__ import annotations

import os
import posixpath
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from erroranalysis.errors import (
    BadImageError,
    DuplicateSampleIdError,
    ErrorAnalysisError,
    PathOutsideRootError,
    StoreExistsError,
    UnknownLabelError,
    describe,
)
from erroranalysis.ingest.images import DEFAULT_MAX_PIXELS, check_images
from erroranalysis.store.validation import is_url

if TYPE_CHECKING:
    from erroranalysis.store import Store

__all__ = [
    "ManifestError",
    "create_checked_store",
    "ingest_manifest",
    "manifest_samples",
    "read_manifest",
    "remove_created_store",
]

SKIPPED_FILE = "skipped.csv"


class ManifestError(ErrorAnalysisError):
    """The manifest cannot be read or lacks required columns or values."""


def read_manifest(
    manifest: str | os.PathLike | pd.DataFrame,
    path_column: str = "path",
    label_column: str = "label",
    id_column: str = "sample_id",
) -> pd.DataFrame:
    """Read a manifest into a DataFrame (CSV, TSV or Parquet; or pass a DataFrame through).

    Parameters
    ----------
    manifest : path-like or DataFrame
        ``.csv``, ``.tsv``/``.tab`` or ``.parquet``/``.pq`` file, or a DataFrame.
    path_column, label_column, id_column : str
        Column names of the image path, the label and the (optional) sample id. They are read
        as strings (labels ``0``, ``1``… stay the strings ``"0"``, ``"1"``).

    Returns
    -------
    DataFrame

    Raises
    ------
    ManifestError
        If the file type is unknown or the file cannot be parsed.
    FileNotFoundError
        If the file does not exist.
    """
    if isinstance(manifest, pd.DataFrame):
        return manifest.copy()
    path = Path(manifest)
    if not path.exists():
        raise FileNotFoundError(f"manifest {path} does not exist")
    suffix = path.suffix.lower()
    text_columns = {path_column: str, label_column: str, id_column: str}
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt"):
            return pd.read_csv(path, dtype=text_columns)
        if suffix in (".tsv", ".tab"):
            return pd.read_csv(path, sep="\t", dtype=text_columns)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise ManifestError(f"cannot read manifest {path}: {error}") from None
    raise ManifestError(
        f"manifest {path}: unknown file type {suffix!r}; use .csv, .tsv or .parquet"
    )


def ingest_manifest(
    manifest: str | os.PathLike | pd.DataFrame,
    image_root: str | os.PathLike,
    store_path: str | os.PathLike,
    classes: Sequence[str] | None = None,
    skip_bad: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    *,
    path_column: str = "path",
    label_column: str = "label",
    id_column: str = "sample_id",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Store:
    """Create a store from a manifest table and a folder of images.

    Parameters
    ----------
    manifest : path-like or DataFrame
        A CSV/TSV/Parquet file (or DataFrame) with columns ``path`` (relative to ``image_root``;
        absolute paths must lie inside it) and ``label``, optionally ``sample_id`` (default: the
        path) and ``split``; every other column is kept as metadata.
    image_root : path-like
        The folder the image paths are relative to. No path may escape it (``..``, absolute
        paths elsewhere, symlinks pointing outside).
    store_path : path-like
        The store folder to create.
    classes : sequence of str, optional
        The class names in probability-column order; default: the sorted distinct labels. A
        label outside ``classes`` is refused.
    skip_bad : bool
        Leave unreadable images out (listed in ``<store>/skipped.csv``, with a warning) instead
        of failing the whole ingest.
    overwrite : bool
        Replace an existing store at ``store_path``.
    progress : bool
        Show progress bars.
    path_column, label_column, id_column : str
        Names of the path, label and sample-id columns in the manifest.
    max_pixels : int or None
        Refuse images larger than this (decompression bombs), see
        :func:`erroranalysis.ingest.images.load_image`.

    Returns
    -------
    Store
        The new store.

    Raises
    ------
    ManifestError
        Missing columns or empty paths/labels (naming the rows).
    DuplicateSampleIdError, UnknownLabelError
        Repeated sample ids, labels outside ``classes`` (naming them and their rows).
    PathOutsideRootError
        Paths escaping ``image_root``.
    BadImageError
        Unreadable images when ``skip_bad`` is False. Nothing is created.
    StoreExistsError
        ``store_path`` exists and ``overwrite`` is False.
    """
    image_root = Path(image_root)
    if not image_root.is_dir():
        raise NotADirectoryError(f"image root {image_root} is not a folder")
    table = read_manifest(manifest, path_column, label_column, id_column)
    source = "the manifest" if isinstance(manifest, pd.DataFrame) else f"manifest {manifest}"
    # Row numbers as a user sees them: the line in a CSV file (header is line 1).
    first_line = 0 if isinstance(manifest, pd.DataFrame) else 2
    samples = manifest_samples(
        table,
        image_root,
        classes,
        source=source,
        first_line=first_line,
        path_column=path_column,
        label_column=label_column,
        id_column=id_column,
    )
    return create_checked_store(
        samples,
        image_root,
        store_path,
        classes=classes,
        skip_bad=skip_bad,
        overwrite=overwrite,
        progress=progress,
        max_pixels=max_pixels,
    )


def _rows(mask: pd.Series, first_line: int) -> list[int]:
    return [int(i) + first_line for i in mask.to_numpy().nonzero()[0]]


def manifest_samples(
    table: pd.DataFrame,
    image_root: str | os.PathLike,
    classes: Sequence[str] | None = None,
    *,
    source: str = "the manifest",
    first_line: int = 0,
    path_column: str = "path",
    label_column: str = "label",
    id_column: str = "sample_id",
) -> pd.DataFrame:
    """Validate a manifest table and turn it into a store samples table (no image is read).

    Parameters
    ----------
    table : DataFrame
        The manifest.
    image_root : path-like
        The image root (absolute paths inside it become relative).
    classes : sequence of str, optional
        When given, labels outside it are refused.
    source : str
        How to name the manifest in errors.
    first_line : int
        Number of the first row in errors (2 for a CSV file with a header line, 0 for a frame).
    path_column, label_column, id_column : str
        Column names.

    Returns
    -------
    DataFrame
        ``sample_id``, ``label``, ``path`` and the other columns as metadata.

    Raises
    ------
    ManifestError, DuplicateSampleIdError, UnknownLabelError, PathOutsideRootError
        Naming the offending rows.
    """
    image_root = Path(image_root)
    table = table.reset_index(drop=True)
    what = "lines" if first_line == 2 else "rows"
    missing = [c for c in (path_column, label_column) if c not in table.columns]
    if missing:
        raise ManifestError(
            f"{source} lacks the column(s) {describe(missing)}; it has {describe(list(table.columns), 12)}. "
            f"A manifest needs '{path_column}' and '{label_column}' (and optionally '{id_column}')."
        )
    for column in (path_column,):  # an empty label is allowed: that sample is unlabelled
        empty = table[column].isna() | (table[column].astype(str).str.strip() == "")
        if empty.any():
            raise ManifestError(
                f"{source}: empty '{column}' on {what} {describe(_rows(empty, first_line))}; "
                "fill them in or remove those rows"
            )
    paths = table[path_column].astype(str).str.strip()
    urls = paths.map(is_url).astype(bool)
    if urls.any():
        raise ManifestError(
            f"{source}: image URLs are not supported by ingest ({what} "
            f"{describe(_rows(urls, first_line))}); download the images under the image root first"
        )
    paths = [_relative(p, image_root) for p in paths]
    outside = [f"{p!r} ({what[:-1]} {i + first_line})" for i, p in enumerate(paths) if p is None]
    if outside:
        raise PathOutsideRootError(
            f"{source}: {len(outside)} path(s) escape the image root {image_root}: "
            f"{describe(outside)}; use paths relative to the root, without '..'"
        )
    labels = table[label_column].astype(str).str.strip()
    no_label = table[label_column].isna().to_numpy() | (labels == "").to_numpy()
    labels = labels.where(~no_label, None)

    if id_column in table.columns:
        empty = table[id_column].isna() | (table[id_column].astype(str).str.strip() == "")
        if empty.any():
            raise ManifestError(
                f"{source}: empty '{id_column}' on {what} {describe(_rows(empty, first_line))}; "
                f"give every row an id or drop the '{id_column}' column to use the paths"
            )
        ids = table[id_column].astype(str).str.strip()
    else:
        ids = pd.Series(paths, dtype=str)
    duplicated = ids.duplicated(keep=False)
    if duplicated.any():
        groups = {}
        for i in duplicated.to_numpy().nonzero()[0]:
            groups.setdefault(ids.iloc[i], []).append(int(i) + first_line)
        shown = [f"{key!r} ({what} {', '.join(map(str, lines))})" for key, lines in groups.items()]
        raise DuplicateSampleIdError(
            f"{source}: {len(groups)} sample id(s) appear more than once: {describe(shown)}. "
            "Make the ids unique (or drop the id column to use the image paths)."
        )
    if classes is not None:
        known = {str(c) for c in classes}
        unknown = ~labels.isin(known) & ~no_label
        if unknown.any():
            names = list(dict.fromkeys(labels[unknown].tolist()))
            raise UnknownLabelError(
                f"{source}: labels {describe(names)} are not among the {len(known)} classes "
                f"{describe([str(c) for c in classes], 8)} ({what} "
                f"{describe(_rows(unknown, first_line))}); add them to classes or fix those rows"
            )

    samples = pd.DataFrame({"sample_id": ids.to_numpy(), "label": labels.to_numpy(), "path": paths})
    for column in table.columns:
        if column in (path_column, label_column, id_column):
            continue
        name = column
        if name in samples.columns or name == "given_label":
            name = f"meta_{column}"
        samples[name] = table[column].to_numpy()
    return samples


def _relative(path: str, image_root: Path) -> str | None:
    """The path relative to the root as posix text, or None when it escapes the root.

    Only the text is checked here (``..`` and absolute paths); symlinks are resolved when the
    images are checked.
    """
    path = path.replace("\\", "/")
    if os.path.isabs(path):
        real_root = os.path.realpath(image_root)
        absolute = os.path.normpath(path)
        for base in (os.path.abspath(image_root), real_root):
            if absolute == base or absolute.startswith(base.rstrip(os.sep) + os.sep):
                return Path(os.path.relpath(absolute, base)).as_posix()
        return None
    normalised = posixpath.normpath(path)
    if normalised == ".." or normalised.startswith("../"):
        return None
    return normalised


def create_checked_store(
    samples: pd.DataFrame,
    image_root: str | os.PathLike,
    store_path: str | os.PathLike,
    classes: Sequence[str] | None = None,
    skip_bad: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Store:
    """Check every image of ``samples`` and create the store, all or nothing.

    Parameters
    ----------
    samples : DataFrame
        ``sample_id``, ``label``, ``path`` (relative to ``image_root``) and metadata columns.
    image_root : path-like
        The image root.
    store_path : path-like
        The store to create.
    classes : sequence of str, optional
        Class names (default: sorted labels, computed before any image is skipped, so a class
        whose only images are bad is kept).
    skip_bad : bool
        Leave bad images out, listing them in ``<store>/skipped.csv``, instead of failing.
    overwrite : bool
        Replace an existing store.
    progress : bool
        Show a progress bar while checking.
    max_pixels : int or None
        Decompression-bomb limit.

    Returns
    -------
    Store
    """
    from erroranalysis.store import Store

    store_path = Path(store_path)
    if store_path.exists() and not overwrite:
        raise StoreExistsError(
            f"{store_path} already exists; choose another --out / store_path, or pass "
            "overwrite=True (--overwrite) to replace it"
        )
    if len(samples) == 0:
        raise ManifestError("no images to ingest: the manifest or folder is empty")
    if classes is None:
        classes = sorted(samples["label"].dropna().astype(str).unique().tolist())
    report = check_images(
        samples["path"].tolist(),
        root=image_root,
        skip_bad=skip_bad,
        progress=progress,
        max_pixels=max_pixels,
    )
    skipped = None
    if report.bad:
        bad_paths = set(report.bad_paths)
        keep = ~samples["path"].isin(bad_paths)
        if not keep.any():
            raise BadImageError(f"every image is unreadable: {report.summary()}")
        reasons = dict(report.bad)
        dropped = samples.loc[~keep, ["sample_id", "path"]]
        skipped = dropped.assign(reason=[reasons[p] for p in dropped["path"]])
        samples = samples.loc[keep].reset_index(drop=True)
    store = Store.create(
        store_path,
        classes=list(classes),
        samples=samples,
        image_root=image_root,
        overwrite=overwrite,
    )
    if skipped is not None:
        skipped.to_csv(store.path / SKIPPED_FILE, index=False)
        warnings.warn(
            f"{report.summary(limit=3)}. They were left out; the list is in "
            f"{store.path / SKIPPED_FILE}",
            stacklevel=3,
        )
    return store


def remove_created_store(store: Store | Path) -> None:
    """Delete a store this ingest just created (used when a later step of the ingest fails)."""
    path = Path(getattr(store, "path", store))
    close = getattr(store, "close", None)
    if callable(close):
        close()
    shutil.rmtree(path, ignore_errors=True)
