"""2-D layout of the samples for the embedding scatter: PCA at once, then UMAP.

The features are the run's embeddings (or, for a run without embeddings, its probabilities). A
PCA layout is computed and saved first (well under a second even at 100k points), so the scatter
has something to show at once; then UMAP (``umap-learn``, fixed ``random_state``) runs on the
features PCA-reduced to ``n_components`` dimensions and replaces it. Columns saved (result
``projection``): ``x``, ``y``; the method that produced them is kept in the result's parameters
and in the ``projection`` artifact (``{"method": "umap" | "pca", ...}``).

numba's compiled code is cached on disk (``NUMBA_CACHE_DIR``, default
``~/.cache/erroranalysis/numba``), so UMAP's compilation cost is paid once per machine.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from erroranalysis.analysis import numba_cache_dir
from erroranalysis.analysis._common import pca_project, reduce_features
from erroranalysis.analysis.base import Analysis, AnalysisError, register

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = ["Projection", "pca_layout", "umap_layout"]

METHODS = ("umap", "pca")


def _features(run: Run) -> tuple[np.ndarray, str]:
    """The run's embeddings, else its probabilities (memory-mapped, not copied)."""
    if run.embeddings is not None:
        return run.embeddings, "embeddings"
    return run.probs, "probs"


def pca_layout(
    features: np.ndarray, random_state: int | None = 0, fit_rows: int = 20_000
) -> np.ndarray:
    """First two principal components (float32, shape (N, 2)); zeros pad a 1-D input.

    The axes are fitted on at most ``fit_rows`` random rows (plenty for the two leading axes
    of a first view) and every row is projected block by block
    (:func:`erroranalysis.analysis._common.pca_project`), so the layout is ready in well under a
    second at 100k points.
    """
    n, d = features.shape
    if d >= 2 and n >= 2:
        return pca_project(features, 2, random_state, center=True, fit_rows=fit_rows)
    x = np.asarray(features, dtype=np.float32)
    out = np.zeros((n, 2), dtype=np.float32)
    if n:
        out[:, :d] = x[:, :2] - x[:, :2].mean(axis=0)
    return out


def _import_umap():
    """Import umap-learn so that its numba functions are cached on disk.

    Most of umap-learn's and pynndescent's functions are compiled without ``cache=True``, so
    numba's disk cache alone does not help them and every new session recompiles them for tens
    of seconds. While umap is first imported, ``numba.njit``/``numba.jit`` default to
    ``cache=True`` (functions that cannot be cached simply are not); the original decorators are
    restored afterwards.
    """
    import sys

    if "umap" in sys.modules:
        return sys.modules["umap"]
    numba_cache_dir()
    import warnings

    import numba

    original_njit, original_jit = numba.njit, numba.jit

    def _cached(decorator):
        def wrapper(*args, **kwargs):
            kwargs.setdefault("cache", True)
            return decorator(*args, **kwargs)

        return wrapper

    numba.njit, numba.jit = _cached(original_njit), _cached(original_jit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", numba.NumbaWarning)
            import umap
    finally:
        numba.njit, numba.jit = original_njit, original_jit
    return umap


def umap_layout(
    features: np.ndarray,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "euclidean",
    random_state: int | None = 0,
    n_epochs: int | None = None,
    exact_knn_max: int = 100_000,
) -> np.ndarray:
    """UMAP 2-D layout (float32, shape (N, 2)) with numba's disk cache enabled.

    Up to ``exact_knn_max`` points the nearest neighbours are found exactly with scikit-learn
    (a few seconds at 70k points) and handed to UMAP, which skips pynndescent: pynndescent's
    main loop takes a function argument, so numba cannot cache it and would recompile it (about
    40 s of CPU) in every new session.
    """
    import warnings

    umap = _import_umap()

    n = features.shape[0]
    if n <= 2:
        return pca_layout(features, random_state)
    neighbours = min(n_neighbors, n - 1)
    precomputed = None
    if n <= exact_knn_max:
        from sklearn.neighbors import NearestNeighbors

        knn = NearestNeighbors(n_neighbors=neighbours, algorithm="brute", metric=metric)
        distances, indices = knn.fit(features).kneighbors(features)
        precomputed = (indices, distances.astype(np.float32), None)
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=neighbours,
        min_dist=min_dist,
        metric=metric,
        random_state=random_state,
        n_epochs=n_epochs,
        low_memory=True,
        n_jobs=1,  # a fixed random_state makes UMAP single-threaded anyway
        precomputed_knn=precomputed if precomputed is not None else (None, None, None),
    )
    with warnings.catch_warnings():
        # numba says which functions it could not cache; sklearn warns on disconnected graphs.
        warnings.filterwarnings("ignore", message=".*cannot cache.*")
        warnings.filterwarnings("ignore", message="Graph is not fully connected")
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        layout = reducer.fit_transform(features)
    return np.ascontiguousarray(layout, dtype=np.float32)


@register
class Projection(Analysis):
    """2-D projection for the embedding scatter.

    Parameters
    ----------
    method : {"umap", "pca"}
        ``"umap"`` (default) saves the PCA layout first, then the UMAP layout; ``"pca"`` stops
        after PCA.
    n_components : int or None
        PCA dimensions UMAP runs on.
    n_neighbors, min_dist, metric, n_epochs
        UMAP parameters.
    random_state : int
        Seed (PCA and UMAP); fixed, so the layout is reproducible.
    umap_max_samples : int
        Above this many samples the layout stays PCA (single-threaded UMAP on millions of points
        takes too long); the summary says so.

    Attributes
    ----------
    layout_ : ndarray (N, 2) of float32
    method_ : str
        The method that produced ``layout_``.
    pca_layout_ : ndarray (N, 2)
    seconds_ : dict
        Time spent per step.
    """

    name: ClassVar[str] = "projection"
    result_name: ClassVar[str | None] = "projection"
    artifact_names: ClassVar[tuple[str, ...]] = ("projection",)

    def __init__(
        self,
        method: str = "umap",
        n_components: int | None = 50,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        metric: str = "euclidean",
        n_epochs: int | None = None,
        random_state: int = 0,
        umap_max_samples: int = 300_000,
    ):
        self.method = method
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.n_epochs = n_epochs
        self.random_state = random_state
        self.umap_max_samples = umap_max_samples

    def fit(self, store: Store, run: Run, on_pca: Any = None, progress: bool = False) -> Projection:
        """Compute the layout; ``on_pca(self)`` is called once the PCA layout is ready."""
        if self.method not in METHODS:
            raise AnalysisError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        self._stamp(store)
        self.seconds_ = {}
        started = time.perf_counter()
        features, self.source_ = _features(run)
        self.pca_layout_ = pca_layout(features, self.random_state)
        self.seconds_["pca"] = time.perf_counter() - started
        self.layout_, self.method_ = self.pca_layout_, "pca"
        self.note_ = None
        if self.method == "pca":
            return self
        if features.shape[0] > self.umap_max_samples:
            self.note_ = (
                f"UMAP skipped above umap_max_samples={self.umap_max_samples:,} samples "
                f"(got {features.shape[0]:,}); the layout is PCA"
            )
            return self
        if on_pca is not None:
            on_pca(self)
        started = time.perf_counter()
        reduced = reduce_features(features, self.n_components, self.random_state)
        del features
        self.layout_ = umap_layout(
            reduced,
            n_neighbors=self.n_neighbors,
            min_dist=self.min_dist,
            metric=self.metric,
            random_state=self.random_state,
            n_epochs=self.n_epochs,
        )
        self.method_ = "umap"
        self.seconds_["umap"] = time.perf_counter() - started
        return self

    def save(self, store: Store, run: Run) -> None:
        params = self.get_params()
        params["method_used"] = self.method_
        run.save_result(
            "projection",
            pd.DataFrame({"x": self.layout_[:, 0], "y": self.layout_[:, 1]}),
            label_dependent=False,
            parameters=params,
            label_version=self.label_version_,
        )
        run.save_artifact(
            "projection",
            {
                "method": self.method_,
                "source": self.source_,
                "seconds": self.seconds_,
                "note": self.note_,
                "parameters": self.get_params(),
            },
        )

    def summary(self) -> dict[str, Any]:
        out = {"method": self.method_, **{f"{k}_s": round(v, 2) for k, v in self.seconds_.items()}}
        if self.note_:
            out["note"] = self.note_
        return out
