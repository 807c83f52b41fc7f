"""Small helpers shared by the analyses (label codes, predictions, reduced embeddings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from erroranalysis.analysis.base import (
    AnalysisError,
    MissingEmbeddingsError,
    as_float32,
    iter_float32_chunks,
)

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = [
    "current_codes",
    "pca_project",
    "predicted_codes",
    "reduce_features",
    "run_features",
]

_PREDICTED: dict[tuple[str, str], np.ndarray] = {}
_BLOCK_ROWS = 65_536
#: PCA is fitted on at most this many (random) rows (the leading axes need no more).
FIT_ROWS = 25_000


def current_codes(store: Store) -> np.ndarray:
    """The current label of every sample as an int32 class index (a private copy)."""
    return np.array(store.label_codes(), dtype=np.int32, copy=True)


def predicted_codes(run: Run) -> np.ndarray:
    """Argmax of the run's probabilities (first class on ties), computed once per process."""
    key = (str(run.path), str(run.info.get("created")))
    cached = _PREDICTED.get(key)
    if cached is not None:
        return cached
    probs = run.probs
    out = np.empty(probs.shape[0], dtype=np.int32)
    for start, stop, block in iter_float32_chunks(probs):
        out[start:stop] = block.argmax(axis=1)
    out.setflags(write=False)
    _PREDICTED[key] = out
    return out


def _check_finite(x: np.ndarray) -> None:
    from erroranalysis.errors import describe

    bad: list[int] = []
    for start in range(0, x.shape[0], _BLOCK_ROWS):
        block = as_float32(x[start : start + _BLOCK_ROWS])
        rows = np.flatnonzero(~np.isfinite(block).all(axis=1))
        bad.extend((rows + start).tolist())
    if bad:
        raise MissingEmbeddingsError(
            f"features contain NaN or inf in rows {describe(bad)}; re-run inference or drop "
            "those samples"
        )


def pca_project(
    features: np.ndarray,
    n_components: int,
    random_state: int | None = 0,
    center: bool = True,
    fit_rows: int = FIT_ROWS,
) -> np.ndarray:
    """Project ``features`` (N × D, memory-mapped is fine) on their top principal axes.

    The PCA is fitted on all rows, or on a random subset of ``fit_rows`` rows when there are more
    (the leading axes of 25k random rows are as good as those of a million for a layout or a
    kNN), and the projection is computed block by block, so a 1M × 2,048 float32 input never
    needs a second full-size copy. ``center=False`` keeps the mean's offset (``x @ components.T``).

    Returns
    -------
    ndarray (N, n_components) of float32
    """
    from sklearn.decomposition import PCA

    n, d = features.shape
    if n > fit_rows:
        rows = np.sort(np.random.default_rng(random_state).choice(n, fit_rows, replace=False))
        sample = as_float32(features[rows])
    else:
        sample = np.asarray(features, dtype=np.float32)
    solver = "randomized" if sample.shape[0] * d > 5_000_000 else "full"
    pca = PCA(n_components=n_components, svd_solver=solver, random_state=random_state)
    pca.fit(sample)
    del sample
    axes = pca.components_.T.astype(np.float32)
    shift = (pca.mean_ @ pca.components_.T).astype(np.float32) if center else 0.0
    out = np.empty((n, n_components), dtype=np.float32)
    for start in range(0, n, _BLOCK_ROWS):
        block = as_float32(features[start : start + _BLOCK_ROWS])
        out[start : start + len(block)] = block @ axes - shift
    return out


def reduce_features(
    features: np.ndarray, n_components: int | None, random_state: int | None = 0
) -> np.ndarray:
    """PCA-reduce ``features`` to ``n_components`` dimensions (float32, C order).

    The features are projected on their top principal axes *without* removing the mean
    (``x @ components.T``), so directions relative to the origin survive: cleanlab's kNN
    default metric for more than 3 dimensions is cosine, and cosine similarity on mean-centred
    PCA scores would measure something else than on the embeddings themselves (on the planted
    synthetic data, centring hid the outliers; the uncentred projection ranks them as the raw
    embeddings do). Euclidean distances are the same either way. See :func:`pca_project` for
    how large inputs are handled.

    When the features already have at most ``n_components`` columns (or ``n_components`` is
    ``None``) they are returned as float32 unchanged, so that kNN-based analyses stay fast.
    """
    if features.ndim != 2:
        raise ValueError(f"features must be 2-D, got shape {features.shape}")
    _check_finite(features)
    n, d = features.shape
    if n_components is None or d <= n_components or n <= n_components:
        return np.ascontiguousarray(features, dtype=np.float32)
    return pca_project(features, n_components, random_state, center=False)


def run_features(run: Run, analysis: str) -> np.ndarray:
    """The run's embeddings, or a clear error naming the analysis that needs them."""
    embeddings = run.embeddings
    if embeddings is None:
        raise MissingEmbeddingsError(
            f"analysis {analysis!r} needs embeddings but run {run.name!r} has none; "
            "add the run again with embeddings=... (ea.predict stores them), or skip it with "
            "scan(..., analyses=[...])"
        )
    return embeddings


def knn_features(analysis, store, run: Run) -> np.ndarray:
    """PCA-reduced embeddings for a kNN analysis, refusing stores past its ``max_samples``.

    Shared by the outlier and near-duplicate analyses, which both run cleanlab-style exact kNN.
    """
    if store.num_samples > analysis.max_samples:
        raise AnalysisError(
            f"{analysis.name} is skipped above max_samples={analysis.max_samples:,} samples (got "
            f"{store.num_samples:,}): cleanlab's exact kNN grows with N²; raise max_samples "
            "to force it"
        )
    return reduce_features(
        run_features(run, analysis.name), analysis.n_components, analysis.random_state
    )
