"""Checks on what goes into a store; each failure names the offending rows and the next step."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from erroranalysis.errors import (
    DuplicateSampleIdError,
    InvalidArgumentError,
    InvalidProbabilitiesError,
    PathOutsideRootError,
    ShapeMismatchError,
    UnknownLabelError,
    describe,
)

# A URL: a scheme (RFC 3986: a letter, then letters, digits, "+", "-", ".") and "://", or a data: URI.
# One definition for the whole package (the store, exports, loaders); a Windows drive ("C:\\")
# and a POSIX path ("/data/x.png") are not URLs.
_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|data:)")

# float16 carries about three significant digits, so its rows sum to 1 only that closely.
SUM_TOLERANCE = {np.dtype(np.float16): 1e-2}
DEFAULT_SUM_TOLERANCE = 1e-3
CHUNK_ROWS = 65_536


def check_unique_ids(sample_ids: pd.Series, what: str = "samples") -> None:
    duplicated = sample_ids[sample_ids.duplicated(keep=False)]
    if len(duplicated):
        unique = list(dict.fromkeys(duplicated.tolist()))
        raise DuplicateSampleIdError(
            f"{what} must have unique sample ids; these appear more than once: {describe(unique)}. "
            "Make the ids unique (for example, use the relative image path) and try again."
        )


def missing_labels(labels: pd.Series) -> np.ndarray:
    """Which labels are missing (None, NaN or blank): those samples are unlabelled."""
    missing = labels.isna().to_numpy().copy()
    blank = labels[~missing].astype(str).str.strip() == ""
    missing[np.flatnonzero(~missing)[blank.to_numpy()]] = True
    return missing


def check_labels(labels: pd.Series, sample_ids: pd.Series, classes: Sequence[str]) -> None:
    known = set(classes)
    bad = ~labels.isin(known)
    if bad.any():
        unknown = list(dict.fromkeys(labels[bad].astype(str).tolist()))
        raise UnknownLabelError(
            f"labels must be one of the {len(classes)} classes {describe(classes, 8)}; got unknown "
            f"labels {describe(unknown)} on samples {describe(sample_ids[bad].tolist())}. "
            "Add the classes to `classes=` or fix those rows."
        )


def is_url(path: object) -> bool:
    """Whether a stored image path is a URL (``scheme://…`` or ``data:…``), not a file path.

    Parameters
    ----------
    path : object
        A value of the samples' ``path`` column; anything but a string is not a URL.

    Returns
    -------
    bool
    """
    return isinstance(path, str) and _URL.match(path) is not None


def is_relative_file(path: object) -> bool:
    """Whether ``path`` is a non-empty relative file path (not a URL, not absolute)."""
    return isinstance(path, str) and bool(path) and not is_url(path) and not os.path.isabs(path)


def check_paths(
    paths: pd.Series, sample_ids: pd.Series, image_root: str | None, implicit: bool = False
) -> None:
    """Refuse relative paths that climb out of the image root, and absolute paths under a root.

    Parameters
    ----------
    paths, sample_ids : Series
        The samples' ``path`` and ``sample_id`` columns.
    image_root : str or None
        The store's image root; None: every path must be absolute or a URL.
    implicit : bool
        The root is the current folder at creation (no ``image_root=`` was given): the message
        says so and names ``image_root=``.
    """
    if image_root is None:
        return
    escaping = []
    for sample_id, path in zip(sample_ids, paths, strict=True):
        if not isinstance(path, str) or not path or is_url(path):
            continue
        normalised = posixpath.normpath(path.replace("\\", "/"))
        if os.path.isabs(path) or normalised == ".." or normalised.startswith("../"):
            escaping.append(f"{sample_id}: {path}")
    if escaping and implicit:
        raise PathOutsideRootError(
            "relative image paths are resolved once, at creation, against the image root; no "
            f"image_root= was given, so the root is the current folder {image_root!s}, and these "
            f"paths escape it or are absolute: {describe(escaping)}. Pass image_root= (a folder "
            "holding every image, paths relative to it, without '..'), or make every path absolute."
        )
    if escaping:
        raise PathOutsideRootError(
            f"image paths must stay inside the image root {image_root!s}; these escape it: "
            f"{describe(escaping)}. Use paths relative to the root, without '..'."
        )


def check_probabilities(
    probs: np.ndarray,
    sample_ids: Sequence[str] | pd.Index,
    num_classes: int,
    normalize: bool | str,
) -> np.ndarray:
    """Validate (and if asked, normalise) an N×K probability matrix, chunk by chunk.

    Returns the matrix to store: float16 stays float16, everything else becomes float32.
    """
    if probs.ndim != 2:
        raise ShapeMismatchError(
            f"probs must be a 2-D array (samples × classes); got {probs.ndim} dimensions, shape "
            f"{probs.shape}."
        )
    if probs.shape[1] != num_classes:
        raise ShapeMismatchError(
            f"probs must have one column per class: expected K = {num_classes}, got "
            f"{probs.shape[1]}. Columns follow the order of store.classes."
        )
    if normalize not in (False, True, "softmax"):
        raise InvalidArgumentError(f"normalize must be False, True or 'softmax'; got {normalize!r}")
    dtype = np.dtype(np.float16) if probs.dtype == np.float16 else np.dtype(np.float32)
    output = probs if (probs.dtype == dtype and not normalize) else np.empty(probs.shape, dtype)
    tolerance = SUM_TOLERANCE.get(dtype, DEFAULT_SUM_TOLERANCE)
    # first offending rows (up to 10) and the total count of each problem
    not_finite: list[int] = []
    negative: list[int] = []
    bad_sum: list[int] = []
    totals = {"not_finite": 0, "negative": 0, "bad_sum": 0}
    for start in range(0, probs.shape[0], CHUNK_ROWS):
        chunk = np.asarray(probs[start : start + CHUNK_ROWS], dtype=np.float32)
        rows = np.arange(start, start + len(chunk))
        finite = np.isfinite(chunk).all(axis=1)
        not_finite.extend(rows[~finite][: 10 - len(not_finite)].tolist())
        totals["not_finite"] += int((~finite).sum())
        if normalize == "softmax":
            shifted = chunk - chunk.max(axis=1, keepdims=True)
            chunk = np.exp(shifted)
            chunk /= chunk.sum(axis=1, keepdims=True)
        else:
            has_negative = (chunk < 0).any(axis=1) & finite
            negative.extend(rows[has_negative][: 10 - len(negative)].tolist())
            totals["negative"] += int(has_negative.sum())
            if normalize is True:
                sums = chunk.sum(axis=1, keepdims=True)
                chunk = np.divide(chunk, sums, out=np.zeros_like(chunk), where=sums > 0)
            sums = chunk.sum(axis=1)
            off = (np.abs(sums - 1.0) > tolerance) & finite
            bad_sum.extend(rows[off][: 10 - len(bad_sum)].tolist())
            totals["bad_sum"] += int(off.sum())
        if output is not probs:
            output[start : start + len(chunk)] = chunk

    def name(rows: list[int], total: int) -> str:
        shown = ", ".join(f"row {row} ({sample_ids[row]})" for row in rows[:5])
        return shown + (f" … ({total} rows in all)" if total > 5 else "")

    if not_finite:
        raise InvalidProbabilitiesError(
            f"probs must be finite; NaN or inf in {name(not_finite, totals['not_finite'])}. Fix the model output for "
            "those samples (or drop them) before adding the run."
        )
    if negative:
        raise InvalidProbabilitiesError(
            f"probs must be non-negative; negative values in {name(negative, totals['negative'])}. These look like "
            "logits: apply a softmax first, or pass normalize='softmax'."
        )
    if bad_sum:
        raise InvalidProbabilitiesError(
            f"each row of probs must sum to 1 (±{tolerance}); rows {name(bad_sum, totals['bad_sum'])} do not. "
            "Pass normalize=True to divide each row by its sum, or normalize='softmax' for logits."
        )
    return output


def check_embeddings(embeddings: np.ndarray, sample_ids: Sequence[str] | pd.Index) -> None:
    if embeddings.ndim != 2:
        raise ShapeMismatchError(
            f"embeddings must be a 2-D array (samples × features); got shape {embeddings.shape}."
        )
    bad_rows: list[int] = []
    for start in range(0, embeddings.shape[0], CHUNK_ROWS):
        chunk = np.asarray(embeddings[start : start + CHUNK_ROWS], dtype=np.float32)
        bad = ~np.isfinite(chunk).all(axis=1)
        bad_rows.extend((np.flatnonzero(bad) + start)[:10].tolist())
        if len(bad_rows) >= 10:
            break
    if bad_rows:
        rows = describe([f"row {row} ({sample_ids[row]})" for row in bad_rows])
        raise InvalidProbabilitiesError(f"embeddings must be finite; NaN or inf in {rows}.")
