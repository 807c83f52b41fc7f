"""2-D layout of the samples for the embedding scatter: PCA at once, then UMAP.

The features are the run's embeddings (or, for a run without embeddings, its probabilities).

1. **PCA first.** The principal axes are found once, from the covariance of at most
   ``pca_fit_rows`` random rows (an eigendecomposition of a D × D matrix, not an SVD of the data),
   and every row is projected block by block. The first two axes give the first layout (saved
   at once, so the scatter has something to show: about 0.3 s of CPU at 70k × 512); the first
   ``n_components`` axes give the input of UMAP, so the PCA is not computed twice.
2. **UMAP on a sample, the rest placed.** Above ``fit_samples`` points, UMAP (``umap-learn``)
   is fitted on a random sample of ``fit_samples`` rows only (exact kNN with scikit-learn);
   every other point is then placed as UMAP's own ``transform`` does — the fuzzy membership
   weights of its ``n_neighbors`` nearest sampled points, their weighted mean as the start,
   a few epochs of UMAP's optimiser with the sample held fixed — but with an exact blocked kNN
   instead of a search index, so it scales to millions of rows. The cost grows linearly in N.
3. **Threads.** With ``random_state=None`` (default) UMAP's optimiser and the placement run on
   all of numba's threads; the layout is then **not bit-reproducible** (the result says so:
   ``reproducible`` in its parameters and artifact). An integer ``random_state`` makes every
   step single-threaded and seeded, hence reproducible, and slower.

Progress is reported through a callback ``progress(fraction, stage)`` (``Projection.fit(...,
progress=True)`` draws a tqdm bar). Columns saved (result ``projection``): ``x``, ``y``; the
method that produced them is kept in the result's parameters and in the ``projection``
artifact (``{"method": "umap" | "pca", "reproducible": ..., ...}``).

numba's compiled code is cached on disk (``NUMBA_CACHE_DIR``, default
``~/.cache/erroranalysis/numba``), so UMAP's compilation cost is paid once per machine.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from erroranalysis.analysis import numba_cache_dir
from erroranalysis.analysis.base import (
    Analysis,
    AnalysisError,
    MissingEmbeddingsError,
    as_float32,
    register,
)

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = [
    "PCABasis",
    "Projection",
    "ProjectionJob",
    "pca_basis",
    "pca_layout",
    "project",
    "umap_layout",
]

METHODS = ("umap", "pca")
#: Rows the PCA axes are estimated from (the leading axes of 10k random rows are those of 1M).
PCA_FIT_ROWS = 10_000
#: Above this many points UMAP is fitted on a sample of this size and the rest is placed.
FIT_SAMPLES = 20_000
#: Optimiser epochs for the placed points (umap-learn's ``transform`` uses 30 above 10k points).
PLACE_EPOCHS = 30
_BLOCK_ROWS = 65_536
_KNN_BLOCK_ROWS = 16_384

Progress = Callable[[float, str], Any]


def _features(run: Run) -> tuple[np.ndarray, str]:
    """The run's embeddings, else its probabilities (memory-mapped, not copied)."""
    if run.embeddings is not None:
        return run.embeddings, "embeddings"
    return run.probs, "probs"


def _report(progress: Progress | None, fraction: float, stage: str) -> None:
    if progress is not None:
        progress(float(min(max(fraction, 0.0), 1.0)), stage)


# -- PCA ---------------------------------------------------------------------------------------


def _blas_threads(limit: int | None):
    """``threadpool_limits(limit)``, or nothing for ``None``."""
    if limit is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limit)


class PCABasis:
    """Principal axes of a feature matrix: ``mean`` (D,) and ``axes`` (D, k), float32.

    Attributes
    ----------
    mean : ndarray (D,)
    axes : ndarray (D, k)
        Columns are unit vectors, by decreasing variance (sign fixed so that each column's
        largest coordinate is positive: the same data gives the same layout).
    variance : ndarray (k,)
        Variance along each axis.
    """

    def __init__(self, mean: np.ndarray, axes: np.ndarray, variance: np.ndarray):
        self.mean = mean
        self.axes = axes
        self.variance = variance

    def project(
        self, features: np.ndarray, n_components: int | None = None, center: bool = True
    ) -> np.ndarray:
        """``features`` on the first ``n_components`` axes (float32, block by block).

        ``center=False`` keeps the mean's offset (``x @ axes``), as
        :func:`erroranalysis.analysis._common.reduce_features` does. Raises
        :class:`~erroranalysis.errors.MissingEmbeddingsError` naming rows with NaN or inf.
        """
        k = self.axes.shape[1] if n_components is None else int(n_components)
        axes = np.ascontiguousarray(self.axes[:, :k])
        shift = (self.mean @ axes).astype(np.float32) if center else np.float32(0)
        n = features.shape[0]
        out = np.empty((n, k), dtype=np.float32)
        # a few columns: memory-bound, one thread is as fast (and far faster on a busy machine)
        with _blas_threads(1 if k <= 4 else None):
            for start in range(0, n, _BLOCK_ROWS):
                block = as_float32(features[start : start + _BLOCK_ROWS])
                np.matmul(block, axes, out=out[start : start + len(block)])
        out -= shift
        if not np.isfinite(out).all():  # NaN/inf anywhere in a row reach its projection
            from erroranalysis.errors import describe

            rows = np.flatnonzero(~np.isfinite(out).all(axis=1)).tolist()
            raise MissingEmbeddingsError(
                f"features contain NaN or inf in rows {describe(rows)}; re-run inference or "
                "drop those samples"
            )
        return out


def pca_basis(
    features: np.ndarray,
    n_components: int,
    random_state: int | None = 0,
    fit_rows: int = PCA_FIT_ROWS,
) -> PCABasis:
    """The top ``n_components`` principal axes, from the covariance of ``fit_rows`` random rows.

    A D × D covariance and its top eigenvectors (LAPACK ``syevr``, only the wanted ones) cost
    far less than scikit-learn's SVD of the data (bench/projection.py). Both run on one BLAS
    thread: at this size a second thread saves nothing on a free machine and, on a busy one,
    waiting for it made the covariance and the eigensolver 5–10× slower.
    """
    import scipy.linalg
    from threadpoolctl import threadpool_limits

    n, d = features.shape
    k = max(1, min(int(n_components), d))
    if n > fit_rows:
        rng = np.random.default_rng(0 if random_state is None else random_state)
        rows = np.sort(rng.choice(n, fit_rows, replace=False))
        sample = as_float32(features[rows])
    else:
        sample = as_float32(features, copy=True)
    mean = sample.mean(axis=0, dtype=np.float64)
    sample -= mean.astype(np.float32)
    with threadpool_limits(1):
        covariance = (sample.T @ sample).astype(np.float64) / max(len(sample) - 1, 1)
        del sample
        values, vectors = scipy.linalg.eigh(covariance, subset_by_index=[d - k, d - 1])
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(k)])
    vectors *= np.where(signs == 0, 1.0, signs)
    return PCABasis(
        mean.astype(np.float32), vectors.astype(np.float32), values.clip(min=0).astype(np.float32)
    )


def pca_layout(
    features: np.ndarray, random_state: int | None = 0, fit_rows: int = PCA_FIT_ROWS
) -> np.ndarray:
    """First two principal components (float32, shape (N, 2)); zeros pad a 1-D input.

    The axes come from at most ``fit_rows`` random rows (:func:`pca_basis`) and every row is
    projected block by block.
    """
    n, d = features.shape
    if d >= 2 and n >= 2:
        return pca_basis(features, 2, random_state, fit_rows).project(features)
    x = np.asarray(features, dtype=np.float32)
    out = np.zeros((n, 2), dtype=np.float32)
    if n:
        out[:, :d] = x[:, :2] - x[:, :2].mean(axis=0)
    return out


# -- UMAP --------------------------------------------------------------------------------------


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
            # umap-learn's note that its optional TensorFlow model is missing is not ours
            warnings.filterwarnings("ignore", message=".*ParametricUMAP will be unavailable")
            import umap
    finally:
        numba.njit, numba.jit = original_njit, original_jit
    return umap


@contextlib.contextmanager
def _epoch_progress(progress: Progress | None, start: float, stop: float, stage: str) -> Iterator:
    """Report umap-learn's optimiser epochs as ``start`` → ``stop`` of the progress.

    umap-learn counts its epochs with ``tqdm`` (``umap.layouts.tqdm``, silent unless verbose);
    for the duration of the call that name is a wrapper which also reports each epoch. Without
    a callback, or if umap-learn stops using that name, nothing is patched.
    """
    import umap.layouts as layouts

    original = getattr(layouts, "tqdm", None)
    if progress is None or original is None:
        yield
        return

    def counting(iterable, *args, **kwargs):
        total = len(iterable) if hasattr(iterable, "__len__") else 0
        step = max(1, total // 50)
        for i, item in enumerate(original(iterable, *args, **kwargs)):
            if total and i % step == 0:
                _report(progress, start + (stop - start) * i / total, stage)
            yield item
        _report(progress, stop, stage)

    layouts.tqdm = counting
    try:
        yield
    finally:
        layouts.tqdm = original


def _exact_knn(
    reference: np.ndarray,
    queries: np.ndarray | None,
    k: int,
    metric: str,
    progress: Progress | None = None,
    span: tuple[float, float] = (0.0, 1.0),
    stage: str = "kNN",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest neighbours in ``reference`` (of itself when ``queries`` is None).

    Returns int32 indices and float32 distances, (Q, k), nearest first; scikit-learn's blocked
    brute force (GEMM + heap, all threads) is run on blocks of queries to report progress.
    """
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=k, algorithm="brute", metric=metric).fit(reference)
    source = reference if queries is None else queries
    n = source.shape[0]
    indices = np.empty((n, k), dtype=np.int32)
    distances = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, _KNN_BLOCK_ROWS):
        stop = min(n, start + _KNN_BLOCK_ROWS)
        d, i = index.kneighbors(source[start:stop])
        indices[start:stop], distances[start:stop] = i, d
        _report(progress, span[0] + (span[1] - span[0]) * stop / n, stage)
    return indices, distances


def _place(
    reducer: Any,
    sample_layout: np.ndarray,
    indices: np.ndarray,
    distances: np.ndarray,
    n_epochs: int,
    random_state: int | None,
    progress: Progress | None,
    span: tuple[float, float],
) -> np.ndarray:
    """Place points by their nearest sampled points, as umap-learn's ``transform`` does.

    Fuzzy membership weights of the neighbours (``smooth_knn_dist`` and
    ``compute_membership_strengths``), start at their weighted mean, then ``n_epochs`` of the
    optimiser with the sample held fixed (``move_other=False``).
    """
    from sklearn.utils import check_random_state
    from umap.layouts import optimize_layout_euclidean
    from umap.umap_ import compute_membership_strengths, make_epochs_per_sample, smooth_knn_dist

    n, k = indices.shape
    local_connectivity = max(0.0, float(reducer.local_connectivity) - 1.0)
    sigmas, rhos = smooth_knn_dist(distances, float(k), local_connectivity=local_connectivity)
    rows, cols, weights, _ = compute_membership_strengths(
        indices, distances, sigmas, rhos, bipartite=True
    )
    w = weights.reshape(n, k).astype(np.float64)
    total = w.sum(axis=1, keepdims=True)
    start = np.where(
        total > 0,
        np.einsum("nk,nkd->nd", w, sample_layout[indices]) / np.where(total > 0, total, 1),
        sample_layout[indices[:, 0]],
    ).astype(np.float32)
    if n_epochs <= 0:
        return start
    keep = weights >= weights.max() / float(n_epochs)
    rows, cols, weights = rows[keep], cols[keep], weights[keep]
    epochs_per_sample = make_epochs_per_sample(weights, n_epochs)
    rng = check_random_state(random_state)
    rng_state = rng.randint(np.iinfo(np.int32).min, np.iinfo(np.int32).max, 3).astype(np.int64)
    head_embedding = np.ascontiguousarray(start)
    with _epoch_progress(progress, span[0], span[1], "placing the rest"):
        return optimize_layout_euclidean(
            head_embedding,
            np.array(sample_layout, dtype=np.float32, copy=True),
            rows.astype(np.int32),
            cols.astype(np.int32),
            n_epochs,
            sample_layout.shape[0],
            epochs_per_sample,
            reducer._a,
            reducer._b,
            rng_state,
            float(reducer.repulsion_strength),
            float(reducer.learning_rate) / 4.0,
            float(reducer.negative_sample_rate),
            parallel=random_state is None,
            move_other=False,
        )


def umap_layout(
    features: np.ndarray,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "euclidean",
    random_state: int | None = None,
    n_epochs: int | None = None,
    exact_knn_max: int = 100_000,
    fit_samples: int | None = FIT_SAMPLES,
    place_epochs: int = PLACE_EPOCHS,
    progress: Progress | None = None,
) -> np.ndarray:
    """UMAP 2-D layout (float32, shape (N, 2)) with numba's disk cache enabled.

    Parameters
    ----------
    features : ndarray (N, D)
        Usually PCA-reduced features (D ≈ 50).
    n_neighbors, min_dist, metric, n_epochs
        UMAP's parameters (``n_epochs=None``: umap-learn's default, 200 above 10k points).
    random_state : int or None
        ``None`` (default): every step runs on all of numba's threads and the layout is not
        bit-reproducible; an integer: single-threaded, seeded and reproducible.
    exact_knn_max : int
        Up to this many fitted points the nearest neighbours are found exactly with
        scikit-learn and handed to UMAP, which then skips pynndescent (whose main loop numba
        cannot cache: about 40 s of CPU of compilation in every new session).
    fit_samples : int or None
        Fit UMAP on a random sample of this many points when there are more than 1.25× as
        many, and place the rest (:func:`_place`); ``None`` fits on every point.
    place_epochs : int
        Optimiser epochs for the placed points (0: weighted mean of the neighbours only).
    progress : callable, optional
        ``progress(fraction, stage)``, called as the layout advances (fraction from 0 to 1).
    """
    import warnings

    umap = _import_umap()

    n = features.shape[0]
    if n <= 2:
        return pca_layout(features, random_state)
    rng = np.random.default_rng(random_state)
    sampled = fit_samples is not None and n > 1.25 * fit_samples
    if sampled:
        rows = np.sort(rng.choice(n, int(fit_samples), replace=False))
        fitted_features = np.ascontiguousarray(features[rows], dtype=np.float32)
    else:
        rows = None
        fitted_features = np.ascontiguousarray(features, dtype=np.float32)
    m = fitted_features.shape[0]
    neighbours = min(n_neighbors, m - 1)
    # progress spans: kNN of the sample, UMAP on the sample, kNN of the rest, placement
    spans = (0.15, 0.55, 0.85, 1.0) if sampled else (0.3, 1.0, 1.0, 1.0)
    precomputed = (None, None, None)
    if m <= exact_knn_max:
        indices, distances = _exact_knn(
            fitted_features, None, neighbours, metric, progress, (0.0, spans[0])
        )
        precomputed = (indices, distances, None)
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=neighbours,
        min_dist=min_dist,
        metric=metric,
        random_state=random_state,
        n_epochs=n_epochs,
        low_memory=True,
        # a fixed random_state makes UMAP single-threaded anyway; None: all numba threads
        n_jobs=1 if random_state is not None else -1,
        precomputed_knn=precomputed,
    )
    with warnings.catch_warnings():
        # numba says which functions it could not cache; sklearn warns on disconnected graphs.
        warnings.filterwarnings("ignore", message=".*cannot cache.*")
        warnings.filterwarnings("ignore", message="Graph is not fully connected")
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        warnings.filterwarnings("ignore", message=".*n_jobs.*")
        with _epoch_progress(progress, spans[0], spans[1], "UMAP"):
            fitted = np.ascontiguousarray(reducer.fit_transform(fitted_features), np.float32)
    if not sampled:
        return fitted
    rest = np.ones(n, dtype=bool)
    rest[rows] = False
    rest_features = np.ascontiguousarray(features[rest], dtype=np.float32)
    indices, distances = _exact_knn(
        fitted_features, rest_features, neighbours, metric, progress, spans[1:3], "kNN of the rest"
    )
    del rest_features
    layout = np.empty((n, 2), dtype=np.float32)
    layout[rows] = fitted
    layout[rest] = _place(
        reducer, fitted, indices, distances, place_epochs, random_state, progress, spans[2:4]
    )
    _report(progress, 1.0, "done")
    return layout


@register
class Projection(Analysis):
    """2-D projection for the embedding scatter.

    Parameters
    ----------
    method : {"umap", "pca"}
        ``"umap"`` (default) saves the PCA layout first, then the UMAP layout; ``"pca"`` stops
        after PCA.
    n_components : int or None
        PCA dimensions UMAP runs on (the same PCA gives the first layout).
    n_neighbors, min_dist, metric, n_epochs
        UMAP parameters.
    random_state : int or None
        ``None`` (default): UMAP runs on all of numba's threads and the layout is **not
        bit-reproducible** (``reproducible_`` is False, and the saved result says so); an
        integer seeds PCA and UMAP and makes UMAP single-threaded, so the layout is
        reproducible (and slower).
    fit_samples : int or None
        Above 1.25× this many samples, UMAP is fitted on a random sample of this size and
        the rest is placed among it (see the module docstring); ``None``: fit on every sample.
    place_epochs : int
        Optimiser epochs for the placed samples.
    umap_max_samples : int
        Above this many samples the layout stays PCA; the summary says so.

    Attributes
    ----------
    layout_ : ndarray (N, 2) of float32
    method_ : str
        The method that produced ``layout_``.
    pca_layout_ : ndarray (N, 2)
    reproducible_ : bool
        Whether the same inputs and parameters give a bit-identical layout.
    seconds_ : dict
        Wall time per step (``pca`` is the first layout, ``umap`` the rest).
    cpu_seconds_ : dict
        CPU time of this process per step.
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
        random_state: int | None = None,
        fit_samples: int | None = FIT_SAMPLES,
        place_epochs: int = PLACE_EPOCHS,
        umap_max_samples: int = 5_000_000,
    ):
        self.method = method
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.n_epochs = n_epochs
        self.random_state = random_state
        self.fit_samples = fit_samples
        self.place_epochs = place_epochs
        self.umap_max_samples = umap_max_samples

    def fit(
        self,
        store: Store,
        run: Run,
        on_pca: Callable[[Projection], Any] | None = None,
        progress: bool | Progress = False,
    ) -> Projection:
        """Compute the layout; ``on_pca(self)`` is called once the PCA layout is ready.

        ``progress``: ``True`` draws a tqdm bar; a callable is called as
        ``progress(fraction, stage)``.
        """
        if self.method not in METHODS:
            raise AnalysisError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        self._stamp(store)
        self.seconds_, self.cpu_seconds_ = {}, {}
        features, self.source_ = _features(run)
        with _progress_bar(progress, self.method == "umap") as report:
            self._fit(features, on_pca, report)
        return self

    def _fit(self, features: np.ndarray, on_pca: Any, report: Progress | None) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        n, d = features.shape
        pca_seed = 0 if self.random_state is None else self.random_state
        basis = None
        _report(report, 0.0, "PCA")
        if d >= 2 and n >= 2:
            k = 2 if self.method == "pca" or self.n_components is None else self.n_components
            basis = pca_basis(features, max(2, min(k, d)), pca_seed)
            self.pca_layout_ = basis.project(features, 2)
        else:
            self.pca_layout_ = pca_layout(features, pca_seed)
        self.seconds_["pca"] = time.perf_counter() - wall
        self.cpu_seconds_["pca"] = time.process_time() - cpu
        self.layout_, self.method_ = self.pca_layout_, "pca"
        self.reproducible_ = True
        self.note_ = None
        if self.method == "pca":
            _report(report, 1.0, "PCA")
            return
        if n > self.umap_max_samples:
            self.note_ = (
                f"UMAP skipped above umap_max_samples={self.umap_max_samples:,} samples "
                f"(got {n:,}); the layout is PCA"
            )
            return
        if on_pca is not None:
            on_pca(self)
        wall, cpu = time.perf_counter(), time.process_time()
        if self.n_components is None or basis is None or d <= self.n_components:
            from erroranalysis.analysis._common import reduce_features

            reduced = reduce_features(features, None)
        else:  # the PCA-k axes found for the first layout, uncentred as reduce_features does
            reduced = basis.project(features, center=False)
        self.seconds_["umap_pca"] = time.perf_counter() - wall
        _report(report, 0.05, "UMAP")

        def umap_progress(fraction: float, stage: str) -> None:
            _report(report, 0.05 + 0.95 * fraction, stage)

        self.layout_ = umap_layout(
            reduced,
            n_neighbors=self.n_neighbors,
            min_dist=self.min_dist,
            metric=self.metric,
            random_state=self.random_state,
            n_epochs=self.n_epochs,
            fit_samples=self.fit_samples,
            place_epochs=self.place_epochs,
            progress=umap_progress if report is not None else None,
        )
        self.method_ = "umap"
        self.reproducible_ = self.random_state is not None
        self.sampled_ = self.fit_samples is not None and n > 1.25 * self.fit_samples
        self.seconds_["umap"] = time.perf_counter() - wall
        self.cpu_seconds_["umap"] = time.process_time() - cpu

    def _record_parameters(self) -> dict[str, Any]:
        params = self.get_params()
        params["method_used"] = self.method_
        params["reproducible"] = self.reproducible_
        return params

    def save(self, store: Store, run: Run) -> None:
        run.save_result(
            "projection",
            pd.DataFrame({"x": self.layout_[:, 0], "y": self.layout_[:, 1]}),
            label_dependent=False,
            parameters=self._record_parameters(),
            label_version=self.label_version_,
        )
        run.save_artifact(
            "projection",
            {
                "method": self.method_,
                "source": self.source_,
                "reproducible": self.reproducible_,
                "reproducibility": _reproducibility(self.method_, self.random_state),
                "seconds": self.seconds_,
                "cpu_seconds": self.cpu_seconds_,
                "note": self.note_,
                "parameters": self.get_params(),
            },
        )

    def summary(self) -> dict[str, Any]:
        out = {
            "method": self.method_,
            "reproducible": self.reproducible_,
            **{f"{k}_s": round(v, 2) for k, v in self.seconds_.items()},
        }
        if self.note_:
            out["note"] = self.note_
        return out


def _reproducibility(method: str, random_state: int | None) -> str:
    if method == "pca":
        return "bit-reproducible (PCA with a fixed row sample)"
    if random_state is None:
        return (
            "not bit-reproducible: UMAP ran on all threads without a fixed random_state "
            "(pass random_state=<int> for a reproducible, single-threaded layout)"
        )
    return f"bit-reproducible: single-threaded UMAP with random_state={random_state}"


@contextlib.contextmanager
def _progress_bar(progress: bool | Progress, umap: bool) -> Iterator[Progress | None]:
    """``True``: a tqdm bar (per cent, with the stage); a callable is passed through."""
    if callable(progress):
        yield progress
        return
    if not progress:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=100, desc="UMAP" if umap else "PCA", unit="%", leave=True)

    def update(fraction: float, stage: str) -> None:
        target = round(100 * fraction)
        if target > bar.n:
            bar.update(target - bar.n)
        if stage != bar.desc:
            bar.set_description_str(stage, refresh=False)

    try:
        yield update
    finally:
        bar.close()


# -- running it beside a dashboard ------------------------------------------------------------


class ProjectionJob:
    """A projection computed by a child process (see :func:`project`).

    The child saves the PCA layout at once and UMAP's when it lands; an open dashboard's poller
    swaps each in. The kernel stays free: this process only reads the child's progress lines
    (on a thread that waits on a pipe, so it holds no lock the kernel needs).

    Attributes
    ----------
    fraction : float
        Progress, 0 to 1.
    stage : str
        What the child is doing.
    returncode : int or None
        The child's exit status once it has finished.
    summary : dict or None
        ``Projection.summary()`` of the finished layout (method, reproducible, seconds).
    error : str or None
        The end of the child's error output when it failed.
    """

    def __init__(self, args: list[str], progress: bool):
        import subprocess
        import sys
        import tempfile
        import threading

        self.fraction, self.stage = 0.0, "starting"
        self.returncode: int | None = None
        self.summary: dict[str, Any] | None = None
        self.error: str | None = None
        # stderr to a file: warnings filling a pipe nobody reads would stall the child
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by _follow)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "erroranalysis.analysis.projection", *args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        # the bar is made here, so that a notebook shows it under the calling cell
        self._bar = _progress_bar(progress, True)
        report = self._bar.__enter__()
        self._thread = threading.Thread(target=self._follow, args=(report,), daemon=True)
        self._thread.start()

    def _follow(self, report: Progress | None) -> None:
        import json

        try:
            for line in self._process.stdout:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if "summary" in message:
                    self.summary = message["summary"]
                    continue
                self.fraction, self.stage = float(message["fraction"]), str(message["stage"])
                _report(report, self.fraction, self.stage)
        finally:
            self._bar.__exit__(None, None, None)
        self.returncode = self._process.wait()
        self._stderr.seek(0)
        stderr = self._stderr.read()
        self._stderr.close()
        if self.returncode != 0:
            self.error = stderr.strip()[-2000:] or f"exit status {self.returncode}"

    def done(self) -> bool:
        """Whether the child has finished (successfully or not)."""
        return self.returncode is not None

    def wait(self, timeout: float | None = None) -> ProjectionJob:
        """Block until the child has finished; raises :class:`AnalysisError` if it failed."""
        self._thread.join(timeout)
        if self.error is not None:
            raise AnalysisError(f"the projection failed: {self.error}")
        return self

    def cancel(self) -> None:
        """Stop the child (the layout saved so far stays)."""
        if self._process.poll() is None:
            self._process.terminate()

    def __repr__(self) -> str:
        state = "done" if self.done() else f"{self.fraction:.0%} {self.stage}"
        return f"<ProjectionJob {state}>"


def project(
    store: Store | str,
    run: str | None = None,
    background: bool = True,
    progress: bool = True,
    **params: Any,
) -> ProjectionJob | Projection:
    """Compute and save the run's 2-D projection (PCA at once, then UMAP), with a progress bar.

    Parameters
    ----------
    store : Store or path
    run : str, optional
        Which run (default: the latest).
    background : bool
        ``True`` (default): run in a child process and return a :class:`ProjectionJob` at once,
        so the notebook (and an open dashboard, which swaps each saved layout in) stays usable;
        ``False``: compute here and return the fitted :class:`Projection`.
    progress : bool
        Draw a tqdm bar.
    **params
        :class:`Projection` parameters (``random_state=0`` for a reproducible layout).
    """
    import json

    if not background:
        from erroranalysis.store import Store

        handle = store if hasattr(store, "run") else Store.open(store)
        target = handle.run(run)
        fitted = Projection(**params)
        fitted.fit(handle, target, on_pca=lambda f: f.save(handle, target), progress=progress)
        fitted.save(handle, target)
        fitted._record(target)
        return fitted
    Projection(**params)  # refuse unknown parameters here, not in the child
    path = str(getattr(store, "path", store))
    args = [path, "--params", json.dumps(params)]
    if run is not None:
        args += ["--run", run]
    return ProjectionJob(args, progress)


def main(argv: list[str] | None = None) -> int:
    """``python -m erroranalysis.analysis.projection STORE [--run R] [--params JSON]``.

    Fits and saves the projection (PCA result first, then UMAP); prints one JSON line per
    progress step (``{"fraction": ..., "stage": ...}``) and the summary last.
    """
    import argparse
    import json
    import sys

    from erroranalysis.store import Store

    parser = argparse.ArgumentParser(description="compute and save a run's 2-D projection")
    parser.add_argument("store")
    parser.add_argument("--run", default=None)
    parser.add_argument("--params", default="{}", help="Projection parameters as JSON")
    args = parser.parse_args(argv)
    store = Store.open(args.store)
    run = store.run(args.run)
    fitted = Projection(**json.loads(args.params))

    def report(fraction: float, stage: str) -> None:
        print(json.dumps({"fraction": round(fraction, 4), "stage": stage}), flush=True)

    fitted.fit(store, run, on_pca=lambda f: f.save(store, run), progress=report)
    fitted.save(store, run)
    fitted._record(run)
    print(json.dumps({"summary": fitted.summary()}, default=str), flush=True)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
