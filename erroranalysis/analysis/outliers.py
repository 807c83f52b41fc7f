"""Outliers: the embedding kNN score combined with image-statistics and prediction-based scores.

A 32-pixel CNN trained on a few classes embeds pictures of *no* class (noise, text, a
checkerboard) close to the classes it knows, so the embedding kNN score alone misses many of them
(on the demo, 8–10 of 20 planted outliers in the top 2 %, depending on the build). Three parts,
each a score where high = more outlying, are computed where their input exists and combined:

``embedding`` (column ``knn_outlier_score``)
    ``1 - `` cleanlab's ``OutOfDistribution().fit_score(features=...)`` on the PCA-reduced
    embeddings: ``1 - exp(-mean kNN distance / median mean kNN distance)``.
``image`` (column ``image_outlier_score``)
    The same kNN score on the image statistics of the ``image_properties`` result (brightness,
    contrast, log blur, pixel entropy, log size and aspect ratio), each centred on its median and
    scaled by its interquartile range, Euclidean distance. Noise is far too sharp and too
    high-entropy, text and checkerboards have far too few grey levels; a rare but real kind of
    image (a dark subgroup) has neighbours of its own kind and stays inside.
``probs`` (column ``probs_outlier_score``)
    ``1 - `` cleanlab's ``OutOfDistribution().fit_score(pred_probs=...)`` (entropy of the
    predicted probabilities, not adjusted by the labels, so the result does not go stale on a
    relabel): an image of no class gets a flat prediction.

``outlier_score``
    The combination (``combine="fisher"``, default): each part becomes its tail fraction ``t``
    (the share of samples scoring at least as high), and ``outlier_score`` is the weighted mean of
    ``-log t / log N`` over the parts used, in [0, 1] (1 = the most outlying sample in every
    part); its order is that of a weighted Fisher's method for combining tests. The image part
    weighs 5, the others 1 (:data:`DEFAULT_WEIGHTS`, measured on the demo). ``combine="max"`` takes the largest part
    instead (an outlier in any one part is enough), ``"embedding"`` keeps the kNN score alone
    (the score before this combination).
``is_outlier``
    Datalab's rule applied to ``outlier_score``: above ``Q3 + (1 / threshold - 1) × IQR`` of the
    scores (``threshold = 0.37037``). With ``combine="embedding"`` it is Datalab's rule itself:
    the mean kNN distance in the embedding above that bound of those distances.

Which parts ran is in the result's info (``parts``); on the demo store the measured recall of each
part and of the combination is in BENCHMARKS.md ("Outliers, near-duplicates and weak slices").
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from erroranalysis.analysis._common import knn_features
from erroranalysis.analysis.base import Analysis, AnalysisError, register
from erroranalysis.analysis.issue_types import IssueType

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = [
    "COMBINE",
    "DEFAULT_WEIGHTS",
    "PARTS",
    "Outliers",
    "combine_scores",
    "image_outlier_scores",
    "image_statistics",
    "outlier_scores",
    "probability_outlier_scores",
    "tail_fraction",
]

#: Datalab's default threshold for feature-based outliers.
DEFAULT_THRESHOLD = 0.37037
#: The score parts, in the order they are combined.
PARTS = ("embedding", "image", "probs")
#: How the parts are combined (see the module docstring).
COMBINE = ("fisher", "max", "embedding")
#: Weights of the parts in ``combine="fisher"``, in the order of :data:`PARTS`, chosen by
#: measurement on the demo's planted outliers (BENCHMARKS.md): with equal weights the embedding
#: part's top (rare but real cluttered backgrounds) pushes out the outliers only the image
#: statistics see (12 of 20 in the top 2 %); image weight 3 gives 15, 4 gives 18, 5 gives 20.
DEFAULT_WEIGHTS = (1.0, 5.0, 1.0)
#: Image statistics used by the ``image`` part (``image_properties`` columns); the ones in
#: ``_LOG_STATISTICS`` are log-transformed first.
IMAGE_STATISTICS = ("brightness", "contrast", "blur", "pixel_entropy", "width", "height")
_LOG_STATISTICS = ("blur", "width", "height")


def _iqr_cut(distance: np.ndarray, threshold: float) -> float:
    from scipy.stats import iqr

    finite = distance[np.isfinite(distance)]
    if not len(finite):
        return float("inf")
    return float(np.percentile(finite, 75)) + (1.0 / threshold - 1.0) * float(iqr(finite))


def _check(n: int, k: int, threshold: float) -> None:
    if not 0 < threshold <= 1:
        raise AnalysisError(f"threshold must be in (0, 1], got {threshold}")
    if n <= k:
        raise AnalysisError(
            f"outlier detection needs more samples than neighbours (k={k}), got {n}; "
            "lower k or add samples"
        )


def outlier_scores(
    features: np.ndarray, k: int = 10, threshold: float = DEFAULT_THRESHOLD
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Embedding kNN outlier scores (high = outlying) and flags for already-reduced ``features``.

    Parameters
    ----------
    features : ndarray (N, D)
    k : int
        Neighbours (cleanlab's default is 10).
    threshold : float in (0, 1]
        Datalab's IQR rule parameter (smaller flags fewer).

    Returns
    -------
    score, is_outlier, info
        ``score = 1 - OutOfDistribution().fit_score(features=features)``; ``info`` holds the
        distance threshold used.
    """
    from cleanlab.outlier import OutOfDistribution

    _check(features.shape[0], k, threshold)
    ood = OutOfDistribution(params={"k": k})
    with contextlib.redirect_stdout(io.StringIO()):  # cleanlab prints "Fitting OOD estimator…"
        cleanlab_score = np.asarray(ood.fit_score(features=features), dtype=np.float64)
    scaling = float(ood.params["scaling_factor"])
    t = float(ood.params.get("t", 1))
    with np.errstate(divide="ignore"):
        avg_distance = -np.log(cleanlab_score) * scaling / t
    cut = _iqr_cut(avg_distance, threshold)
    is_outlier = avg_distance > cut
    info = {"distance_threshold": cut, "scaling_factor": scaling, "k": k}
    return (1.0 - cleanlab_score).astype(np.float32), is_outlier, info


def image_statistics(properties: pd.DataFrame) -> np.ndarray | None:
    """Robustly standardised image statistics (N × m), or None when none vary.

    Each column of :data:`IMAGE_STATISTICS` present in ``properties`` (log-transformed for blur
    and size) is centred on its median and divided by its interquartile range / 1.349 (its
    standard deviation when the IQR is 0); constant columns are dropped, and unreadable images
    (missing values) sit at the median.
    """
    columns = []
    for name in IMAGE_STATISTICS:
        if name not in properties.columns:
            continue
        values = pd.to_numeric(properties[name], errors="coerce").to_numpy(dtype=np.float64)
        if name in _LOG_STATISTICS:
            with np.errstate(invalid="ignore", divide="ignore"):
                values = np.log1p(np.maximum(values, 0.0))
        finite = np.isfinite(values)
        if finite.sum() < 2:
            continue
        centre = float(np.median(values[finite]))
        q75, q25 = np.percentile(values[finite], [75, 25])
        scale = float(q75 - q25) / 1.349
        if scale <= 1e-12:
            scale = float(values[finite].std())
        if scale <= 1e-12:
            continue
        column = np.zeros(len(values))
        column[finite] = (values[finite] - centre) / scale
        columns.append(column)
    if not columns:
        return None
    return np.column_stack(columns).astype(np.float32)


def image_outlier_scores(
    statistics: np.ndarray, k: int = 10, threshold: float = DEFAULT_THRESHOLD
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """kNN outlier score of standardised image statistics (see :func:`image_statistics`).

    The mean Euclidean distance to the ``k`` nearest other samples, turned into a score the
    way cleanlab does for embeddings: ``1 - exp(-distance / median distance)``.

    Returns
    -------
    score, is_outlier, info
        As :func:`outlier_scores`.
    """
    from sklearn.neighbors import NearestNeighbors

    _check(statistics.shape[0], k, threshold)
    knn = NearestNeighbors(n_neighbors=k).fit(statistics)
    distances, _ = knn.kneighbors()  # the sample itself is left out
    avg_distance = distances.mean(axis=1)
    scaling = max(float(np.median(avg_distance)), 1e-12)
    score = 1.0 - np.exp(-avg_distance / scaling)
    cut = _iqr_cut(avg_distance, threshold)
    info = {"distance_threshold": cut, "scaling_factor": scaling, "k": k}
    return score.astype(np.float32), avg_distance > cut, info


def probability_outlier_scores(probs: np.ndarray) -> np.ndarray:
    """``1 - `` cleanlab's out-of-distribution score from the predicted probabilities.

    Entropy-based and not adjusted by the labels (``adjust_pred_probs=False``), so it stays
    valid after a relabel. High = flat prediction = more outlying.
    """
    from cleanlab.outlier import OutOfDistribution

    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)
    ood = OutOfDistribution(params={"adjust_pred_probs": False, "method": "entropy"})
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No estimates need to be")
        score = np.asarray(ood.fit_score(pred_probs=probs), dtype=np.float64)
    return (1.0 - score).astype(np.float32)


def tail_fraction(score: np.ndarray) -> np.ndarray:
    """The share of samples whose score is at least this sample's (in (0, 1]; NaN counts low)."""
    from scipy.stats import rankdata

    score = np.where(np.isfinite(score), score, -np.inf)
    n = len(score)
    return (n - rankdata(score, method="min") + 1) / n


def combine_scores(
    parts: dict[str, np.ndarray],
    combine: str = "fisher",
    weights: dict[str, float] | None = None,
) -> np.ndarray:
    """Combine part scores (high = outlying) into one score in [0, 1].

    Parameters
    ----------
    parts : dict of name -> ndarray (N,)
        At least one part.
    combine : {"fisher", "max", "embedding"}
        ``fisher``: the weighted mean of ``-log tail / log N`` over the parts (the order of
        Fisher's combined test, weighted); ``max``: the largest ``-log tail / log N``;
        ``embedding``: the ``embedding`` part as it is.
    weights : dict of name -> float, optional
        Weight of each part in ``fisher`` (default 1 each; see :data:`DEFAULT_WEIGHTS`).

    Examples
    --------
    >>> a = np.array([0.1, 0.2, 0.3, 0.9])
    >>> b = np.array([0.9, 0.1, 0.2, 0.8])
    >>> combine_scores({"a": a, "b": b}).argmax()
    np.int64(3)
    """
    if combine not in COMBINE:
        raise AnalysisError(f"combine must be one of {', '.join(COMBINE)}, got {combine!r}")
    if not parts:
        raise AnalysisError("no outlier score part could be computed")
    if combine == "embedding":
        if "embedding" not in parts:
            raise AnalysisError("combine='embedding' needs the embedding part (embeddings)")
        return np.asarray(parts["embedding"], dtype=np.float32)
    n = len(next(iter(parts.values())))
    if n < 2:
        return np.zeros(n, dtype=np.float32)
    surprise = np.column_stack([-np.log(tail_fraction(np.asarray(p))) for p in parts.values()])
    surprise /= np.log(n)
    if combine == "max":
        out = surprise.max(axis=1)
    else:
        w = np.array([float((weights or {}).get(name, 1.0)) for name in parts])
        if (w < 0).any() or w.sum() <= 0:
            raise AnalysisError(f"outlier part weights must be >= 0 and not all 0, got {w}")
        out = surprise @ (w / w.sum())
    return np.clip(out, 0.0, 1.0).astype(np.float32)


@register
class Outliers(Analysis):
    """Outliers from the embeddings, the image statistics and the predictions, combined.

    Parameters
    ----------
    n_components : int or None
        PCA dimensions before the embedding kNN (``None`` = the embeddings as they are).
    k : int
        Neighbours of both kNN parts.
    threshold : float
        Datalab's IQR rule parameter for ``is_outlier``.
    parts : tuple of str
        The parts to use, a subset of :data:`PARTS`; a part whose input is missing (no
        ``image_properties`` result, e.g. a store without image paths) is left out.
    combine : {"fisher", "max", "embedding"}
        How the parts are combined into ``outlier_score`` (see :func:`combine_scores`).
    weights : tuple of float
        Weight of each part (order of :data:`PARTS`) in ``combine="fisher"``.
    max_samples : int
        Larger stores are skipped with a reason (exact kNN is quadratic in N).
    random_state : int
        Seed of the (randomised) PCA.

    Attributes
    ----------
    outlier_score_ : ndarray of float32 (high = more outlying)
    is_outlier_ : ndarray of bool
    part_scores_ : dict of part name -> ndarray of float32
    info_ : dict
    """

    name: ClassVar[str] = "outliers"
    needs_embeddings: ClassVar[bool] = True
    requires: ClassVar[tuple[str, ...]] = ("image_properties",)
    result_name: ClassVar[str | None] = "outliers"
    issue_types: ClassVar[tuple[IssueType, ...]] = (
        IssueType(
            "outlier",
            "outlier",
            flag_column="is_outlier",
            score_column="outlier_score",
            severe="high",
            colour="#E69F00",
        ),
    )

    def __init__(
        self,
        n_components: int | None = 32,
        k: int = 10,
        threshold: float = DEFAULT_THRESHOLD,
        parts: tuple[str, ...] = PARTS,
        combine: str = "fisher",
        weights: tuple[float, ...] = DEFAULT_WEIGHTS,
        random_state: int = 0,
        max_samples: int = 300_000,
    ):
        self.n_components = n_components
        self.k = k
        self.threshold = threshold
        self.parts = parts
        self.combine = combine
        self.weights = weights
        self.random_state = random_state
        self.max_samples = max_samples

    def _parts(self) -> list[str]:
        parts = [self.parts] if isinstance(self.parts, str) else list(self.parts)
        unknown = [p for p in parts if p not in PARTS]
        if unknown or not parts:
            raise AnalysisError(
                f"outlier parts must be a non-empty subset of {', '.join(PARTS)}, got {parts!r}"
            )
        if self.combine not in COMBINE:
            raise AnalysisError(
                f"combine must be one of {', '.join(COMBINE)}, got {self.combine!r}"
            )
        if self.combine == "embedding" and "embedding" not in parts:
            raise AnalysisError("combine='embedding' needs 'embedding' in parts")
        return parts

    def fit(self, store: Store, run: Run) -> Outliers:
        self._stamp(store)
        parts = self._parts()
        scores: dict[str, np.ndarray] = {}
        flags = np.zeros(store.num_samples, dtype=bool)  # the embedding rule (combine="embedding")
        self.info_: dict[str, Any] = {}
        if "embedding" in parts:
            features = knn_features(self, store, run)
            scores["embedding"], flagged, info = outlier_scores(features, self.k, self.threshold)
            flags |= flagged
            self.info_.update(info)
        if "image" in parts:
            properties = run.load_result("image_properties")
            statistics = (
                image_statistics(properties)
                if properties is not None and len(properties) == store.num_samples
                else None
            )
            if statistics is not None:
                scores["image"], _, info = image_outlier_scores(statistics, self.k, self.threshold)
                self.info_["image_distance_threshold"] = info["distance_threshold"]
        if "probs" in parts:
            scores["probs"] = probability_outlier_scores(run.probs)
        self.part_scores_ = scores
        self.info_["parts"] = list(scores)
        if len(self.weights) != len(PARTS):
            raise AnalysisError(
                f"weights must give one number per part ({', '.join(PARTS)}), got {self.weights!r}"
            )
        weights = dict(zip(PARTS, map(float, self.weights), strict=True))
        self.outlier_score_ = combine_scores(scores, self.combine, weights)
        if self.combine == "embedding":
            self.is_outlier_ = flags
        else:
            cut = _iqr_cut(self.outlier_score_.astype(np.float64), self.threshold)
            self.info_["score_threshold"] = cut
            self.is_outlier_ = self.outlier_score_ > cut
        return self

    def save(self, store: Store, run: Run) -> None:
        n = len(self.outlier_score_)
        missing = np.full(n, np.nan, dtype=np.float32)
        run.save_result(
            "outliers",
            pd.DataFrame(
                {
                    "outlier_score": self.outlier_score_,
                    "is_outlier": self.is_outlier_,
                    "knn_outlier_score": self.part_scores_.get("embedding", missing),
                    "image_outlier_score": self.part_scores_.get("image", missing),
                    "probs_outlier_score": self.part_scores_.get("probs", missing),
                }
            ),
            **self._result_kwargs(),
        )

    def summary(self) -> dict[str, Any]:
        return {"outliers": int(self.is_outlier_.sum()), "parts": "+".join(self.info_["parts"])}
