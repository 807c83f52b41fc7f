"""Outliers from the embeddings: cleanlab's ``OutOfDistribution`` (kNN) on PCA-reduced features.

Columns saved (result ``outliers``):

``outlier_score``
    ``1 - `` cleanlab's out-of-distribution score, so **high = more outlying** (in [0, 1]).
    cleanlab's score is ``exp(-mean kNN distance / median mean kNN distance)``.
``is_outlier``
    Datalab's rule: the mean distance to the k nearest neighbours is above
    ``Q3 + (1 / threshold - 1) × IQR`` of those mean distances (``threshold = 0.37037``).

The embeddings are reduced with PCA first (``n_components``, default 32) so the kNN search stays
fast; :func:`erroranalysis.analysis._common.reduce_features` does the reduction.
"""

from __future__ import annotations

import contextlib
import io
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from erroranalysis.analysis._common import knn_features
from erroranalysis.analysis.base import Analysis, AnalysisError, register
from erroranalysis.analysis.issue_types import IssueType

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = ["Outliers", "outlier_scores"]

#: Datalab's default threshold for feature-based outliers.
DEFAULT_THRESHOLD = 0.37037


def outlier_scores(
    features: np.ndarray, k: int = 10, threshold: float = DEFAULT_THRESHOLD
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Outlier scores (high = outlying) and flags for already-reduced ``features``.

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
    from scipy.stats import iqr

    if not 0 < threshold <= 1:
        raise AnalysisError(f"threshold must be in (0, 1], got {threshold}")
    n = features.shape[0]
    if n <= k:
        raise AnalysisError(
            f"outlier detection needs more samples than neighbours (k={k}), got {n}; "
            "lower k or add samples"
        )
    ood = OutOfDistribution(params={"k": k})
    with contextlib.redirect_stdout(io.StringIO()):  # cleanlab prints "Fitting OOD estimator…"
        cleanlab_score = np.asarray(ood.fit_score(features=features), dtype=np.float64)
    scaling = float(ood.params["scaling_factor"])
    t = float(ood.params.get("t", 1))
    with np.errstate(divide="ignore"):
        avg_distance = -np.log(cleanlab_score) * scaling / t
    finite = avg_distance[np.isfinite(avg_distance)]
    q3 = float(np.percentile(finite, 75))
    cut = q3 + (1.0 / threshold - 1.0) * float(iqr(finite))
    is_outlier = avg_distance > cut
    info = {"distance_threshold": cut, "scaling_factor": scaling, "k": k}
    return (1.0 - cleanlab_score).astype(np.float32), is_outlier, info


@register
class Outliers(Analysis):
    """kNN outliers of the (PCA-reduced) embeddings, via cleanlab.

    Parameters
    ----------
    n_components : int or None
        PCA dimensions before the kNN (``None`` = use the embeddings as they are).
    k : int
        Neighbours.
    threshold : float
        Datalab's IQR rule parameter for ``is_outlier``.
    max_samples : int
        Larger stores are skipped with a reason (exact kNN is quadratic in N).
    random_state : int
        Seed of the (randomised) PCA.

    Attributes
    ----------
    outlier_score_ : ndarray of float32 (high = more outlying)
    is_outlier_ : ndarray of bool
    info_ : dict
    """

    name: ClassVar[str] = "outliers"
    needs_embeddings: ClassVar[bool] = True
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
        random_state: int = 0,
        max_samples: int = 300_000,
    ):
        self.n_components = n_components
        self.k = k
        self.threshold = threshold
        self.random_state = random_state
        self.max_samples = max_samples

    def fit(self, store: Store, run: Run) -> Outliers:
        self._stamp(store)
        features = knn_features(self, store, run)
        self.outlier_score_, self.is_outlier_, self.info_ = outlier_scores(
            features, self.k, self.threshold
        )
        return self

    def save(self, store: Store, run: Run) -> None:
        run.save_result(
            "outliers",
            pd.DataFrame({"outlier_score": self.outlier_score_, "is_outlier": self.is_outlier_}),
            **self._result_kwargs(),
        )

    def summary(self) -> dict[str, Any]:
        return {"outliers": int(self.is_outlier_.sum())}
