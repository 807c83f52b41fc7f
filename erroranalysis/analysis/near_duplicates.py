"""Near-duplicate sets from the embeddings, the way cleanlab Datalab's ``near_duplicate`` check does.

Two samples are near-duplicates when one is among the other's k nearest neighbours (cleanlab's
kNN graph on the PCA-reduced embeddings, exact duplicates corrected, cleanlab's default metric)
at a distance below ``threshold × median nearest-neighbour distance`` (Datalab's rule, default
``threshold = 0.13``). The near-duplicate relation is made transitive: the sets are the connected
components of those pairs.

Columns saved (result ``near_duplicates``):

``near_duplicate_set``
    Integer id of the sample's set (0, 1, … in order of each set's first sample), or -1.
``is_near_duplicate``
    The sample belongs to a set (equals Datalab's ``is_near_duplicate_issue``).
``nearest_neighbor_distance``
    Distance to the nearest other sample in the reduced space.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from erroranalysis.analysis._common import knn_features
from erroranalysis.analysis.base import Analysis, AnalysisError, register
from erroranalysis.analysis.issue_types import IssueType

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = ["NearDuplicates", "near_duplicate_sets"]

#: Datalab's default radius, as a fraction of the median nearest-neighbour distance.
DEFAULT_THRESHOLD = 0.13


def near_duplicate_sets(
    features: np.ndarray, k: int = 10, threshold: float = DEFAULT_THRESHOLD
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Near-duplicate set ids (-1 = none), nearest distances and info, from ``features``.

    Parameters
    ----------
    features : ndarray (N, D)
        Already reduced features.
    k : int
        Neighbours searched per sample.
    threshold : float
        Radius as a fraction of the median nearest-neighbour distance.

    Returns
    -------
    set_id : ndarray of int32
    nearest_distance : ndarray of float32
    info : dict (``radius``, ``median_nn_distance``, ``metric``, ``num_sets``)
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from erroranalysis.analysis._cleanlab import EPSILON, create_knn_graph_and_index

    if threshold < 0:
        raise AnalysisError(f"threshold must be non-negative, got {threshold}")
    n = features.shape[0]
    if n < 2:
        raise AnalysisError("near-duplicate detection needs at least two samples")
    k = min(k, n - 1)
    graph, knn = create_knn_graph_and_index(features, n_neighbors=k)
    distances = graph.data.reshape(n, -1)
    neighbours = graph.indices.reshape(n, -1)
    nearest = distances[:, 0]
    median = max(float(np.median(nearest)), EPSILON)
    radius = threshold * median
    rows, cols = np.nonzero(distances < radius)
    pairs = coo_matrix(
        (np.ones(len(rows), dtype=np.int8), (rows, neighbours[rows, cols])), shape=(n, n)
    )
    _, component = connected_components(pairs, directed=True, connection="weak")
    sizes = np.bincount(component)
    in_set = sizes[component] > 1
    set_id = np.full(n, -1, dtype=np.int32)
    if in_set.any():
        # Renumber the components of size > 1 by their first sample.
        first_ids, first_positions = np.unique(component[in_set], return_index=True)
        order = np.argsort(np.flatnonzero(in_set)[first_positions], kind="stable")
        remap = np.full(len(sizes), -1, dtype=np.int32)
        remap[first_ids[order]] = np.arange(len(first_ids), dtype=np.int32)
        set_id[in_set] = remap[component[in_set]]
    info = {
        "radius": radius,
        "median_nn_distance": median,
        "metric": str(getattr(knn.metric, "__name__", knn.metric)),
        "num_sets": int(set_id.max() + 1) if in_set.any() else 0,
        "k": k,
    }
    return set_id, nearest.astype(np.float32), info


@register
class NearDuplicates(Analysis):
    """Near-duplicate sets of the (PCA-reduced) embeddings.

    Parameters
    ----------
    n_components : int or None
        PCA dimensions before the kNN (``None`` = the embeddings as they are).
    k : int
        Neighbours searched per sample.
    threshold : float
        Datalab's radius parameter (fraction of the median nearest-neighbour distance).
    max_samples : int
        Larger stores are skipped with a reason (exact kNN is quadratic in N).
    random_state : int
        Seed of the PCA.

    Attributes
    ----------
    near_duplicate_set_ : ndarray of int32 (-1 = not in a set)
    is_near_duplicate_ : ndarray of bool
    nearest_distance_ : ndarray of float32
    info_ : dict
    """

    name: ClassVar[str] = "near_duplicates"
    needs_embeddings: ClassVar[bool] = True
    result_name: ClassVar[str | None] = "near_duplicates"
    issue_types: ClassVar[tuple[IssueType, ...]] = (
        IssueType(
            "near_duplicate",
            "near-duplicate",
            flag_column="is_near_duplicate",
            score_column="nearest_neighbor_distance",
            severe="low",
            colour="#CC79A7",
            aliases=("duplicate", "duplicates"),
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

    def fit(self, store: Store, run: Run) -> NearDuplicates:
        self._stamp(store)
        features = knn_features(self, store, run)
        self.near_duplicate_set_, self.nearest_distance_, self.info_ = near_duplicate_sets(
            features, self.k, self.threshold
        )
        self.is_near_duplicate_ = self.near_duplicate_set_ >= 0
        return self

    def save(self, store: Store, run: Run) -> None:
        run.save_result(
            "near_duplicates",
            pd.DataFrame(
                {
                    "near_duplicate_set": self.near_duplicate_set_,
                    "is_near_duplicate": self.is_near_duplicate_,
                    "nearest_neighbor_distance": self.nearest_distance_,
                }
            ),
            **self._result_kwargs(),
        )

    def summary(self) -> dict[str, Any]:
        return {
            "near_duplicate_sets": self.info_["num_sets"],
            "near_duplicates": int(self.is_near_duplicate_.sum()),
        }
