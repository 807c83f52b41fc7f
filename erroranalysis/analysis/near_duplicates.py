"""Near-duplicate sets from the embeddings and the images' perceptual hashes.

Candidate pairs are each sample's k nearest neighbours (cleanlab's kNN graph on the PCA-reduced
embeddings, exact duplicates corrected, cleanlab's default metric). A candidate pair is a
near-duplicate pair when

- both images have a perceptual hash (``phash`` of the ``image_properties`` result) and the two
  64-bit hashes differ in at most ``hash_bits`` bits, their image statistics agree (each of
  ``brightness``, ``contrast``, ``pixel_entropy`` and ``blur`` — the Laplacian variance, a
  sharpness measure — within its relative tolerance of ``tolerances``), *and* the embedding
  distance is below ``hash_threshold × median nearest-neighbour distance``: the image confirms
  what the embedding suggests, and vetoes what it alone would accept (a small CNN embeds all very
  dark images almost on one point; their hashes differ; two different pictures of one shape on a
  flat background can share a hash and even their brightness and contrast, but rarely also their
  entropy and sharpness);
- otherwise (no hash for one of them, or ``use_hashes=False``), its embedding distance is below
  ``threshold ×`` the median (cleanlab Datalab's ``near_duplicate`` rule, default
  ``threshold = 0.13``).

Without a ``phash`` column (no image paths) the result equals Datalab's. The near-duplicate
relation is made transitive: the sets are the connected components of those pairs.

The defaults were chosen by measurement on the demo's planted pairs (copies shifted by a pixel,
±4 % exposure, a little noise) with the 32-px ``test_resnet`` embeddings, on the default demo
(seed 0) and a second build (seed 1) (BENCHMARKS.md, "Outliers, near-duplicates and weak
slices"): ``hash_bits = 10`` (the usual "similar" bound of a 64-bit pHash), ``hash_threshold =
2.0`` (the embedding is only a loose gate: the small CNN puts some copies 1–5× the median
neighbour distance apart; 1.0, the best radius at seed 0, lost 2 of 21 pairs at seed 1),
tolerances 5 % on brightness and contrast (an exposure change), 10 % on pixel entropy and 30 % on
sharpness (noise and re-encoding change those more). The tolerances sit on plateaus of the
measurement (found and false pairs do not change between 20 % and 30 % sharpness); copies that
were re-compressed hard or resized may need a looser sharpness tolerance
(``tolerances={**DEFAULT_TOLERANCES, "blur": 0.5}``).

Columns saved (result ``near_duplicates``):

``near_duplicate_set``
    Integer id of the sample's set (0, 1, … in order of each set's first sample), or -1.
``is_near_duplicate``
    The sample belongs to a set.
``nearest_neighbor_distance``
    Distance to the nearest other sample in the reduced space.
``nearest_neighbor_hash_distance``
    Bits by which the sample's perceptual hash differs from its nearest neighbour's (-1 when
    unknown).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from erroranalysis.analysis._common import knn_features
from erroranalysis.analysis.base import Analysis, AnalysisError, register
from erroranalysis.analysis.issue_types import IssueType

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = [
    "DEFAULT_TOLERANCES",
    "NearDuplicates",
    "hash_codes",
    "hash_distance",
    "near_duplicate_sets",
]

#: Datalab's default radius, as a fraction of the median nearest-neighbour distance.
DEFAULT_THRESHOLD = 0.13
#: Largest perceptual-hash difference (bits of 64) of a hash-confirmed pair.
DEFAULT_HASH_BITS = 10
#: Radius of a hash-confirmed pair, as a fraction of the median nearest-neighbour distance.
DEFAULT_HASH_THRESHOLD = 2.0
#: Largest relative difference of each ``image_properties`` statistic within a hash-confirmed
#: pair (``|a - b| / max(|a|, |b|)``).
DEFAULT_TOLERANCES: dict[str, float] = {
    "brightness": 0.05,
    "contrast": 0.05,
    "pixel_entropy": 0.10,
    "blur": 0.30,
}
#: The same tolerance for every statistic when ``near_duplicate_sets`` gets a bare array.
DEFAULT_TOLERANCE = 0.05


def hash_codes(hashes) -> tuple[np.ndarray, np.ndarray]:
    """64-bit perceptual hashes (hex strings, None/NaN for unknown) as uint64 codes and a mask.

    Examples
    --------
    >>> codes, known = hash_codes(["ff00", None, "0f00"])
    >>> codes.tolist(), known.tolist()
    ([65280, 0, 3840], [True, False, True])
    """
    values = list(hashes)
    codes = np.zeros(len(values), dtype=np.uint64)
    known = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        if isinstance(value, str) and value:
            try:
                codes[i] = np.uint64(int(value, 16) & 0xFFFFFFFFFFFFFFFF)
                known[i] = True
            except ValueError:
                pass
    return codes, known


def hash_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Number of differing bits between two arrays of uint64 hash codes."""
    return np.bitwise_count(np.asarray(a, dtype=np.uint64) ^ np.asarray(b, dtype=np.uint64))


def near_duplicate_sets(
    features: np.ndarray,
    k: int = 10,
    threshold: float = DEFAULT_THRESHOLD,
    hashes=None,
    hash_bits: int = DEFAULT_HASH_BITS,
    hash_threshold: float = DEFAULT_HASH_THRESHOLD,
    statistics: np.ndarray | None = None,
    tolerance: float | Sequence[float] = DEFAULT_TOLERANCE,
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
    hashes : sequence of str, optional
        Perceptual hashes (hex, as ``image_properties`` writes them; None = unknown). A pair
        whose two hashes are known is judged by the hash rule, any other by the Datalab rule.
    hash_bits : int
        Largest hash difference (bits) of a hash-confirmed pair.
    hash_threshold : float
        Radius of a hash-confirmed pair, as a fraction of the median nearest-neighbour distance.
    statistics : ndarray (N, m), optional
        Image statistics a hash-confirmed pair must also share (``brightness``, ``contrast``…
        of ``image_properties``): each within its ``tolerance`` relative difference; NaN =
        unknown (no check).
    tolerance : float or sequence of m floats
        Largest relative difference ``|a - b| / max(|a|, |b|)`` of each statistic (one value for
        all, or one per column of ``statistics``).

    Returns
    -------
    set_id : ndarray of int32
    nearest_distance : ndarray of float32
    info : dict (``radius``, ``median_nn_distance``, ``metric``, ``num_sets``, ``pairs``,
        ``hash_pairs``, ``nearest_hash_distance``)
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from erroranalysis.analysis._cleanlab import EPSILON, create_knn_graph_and_index

    if threshold < 0 or hash_threshold < 0:
        raise AnalysisError(
            f"thresholds must be non-negative, got {threshold} and hash_threshold {hash_threshold}"
        )
    if not 0 <= hash_bits <= 64:
        raise AnalysisError(f"hash_bits must be in 0..64, got {hash_bits}")
    n = features.shape[0]
    if n < 2:
        raise AnalysisError("near-duplicate detection needs at least two samples")
    if hashes is not None and len(hashes) != n:
        raise AnalysisError(f"got {len(hashes)} hashes for {n} samples")
    k = min(k, n - 1)
    graph, knn = create_knn_graph_and_index(features, n_neighbors=k)
    distances = graph.data.reshape(n, -1)
    neighbours = graph.indices.reshape(n, -1)
    nearest = distances[:, 0]
    median = max(float(np.median(nearest)), EPSILON)
    radius = threshold * median
    close = distances < radius
    nearest_bits = np.full(n, -1, dtype=np.int16)
    hash_pairs = 0
    if hashes is not None:
        codes, known = hash_codes(hashes)
        bits = hash_distance(codes[:, None], codes[neighbours]).astype(np.int16)
        both = known[:, None] & known[neighbours]
        confirmed = both & (bits <= hash_bits) & (distances < hash_threshold * median)
        if statistics is not None:
            values = np.asarray(statistics, dtype=np.float64).reshape(n, -1)
            limits = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), values.shape[1:])
            if (limits < 0).any():
                raise AnalysisError(f"tolerances must be non-negative, got {tolerance}")
            for column, limit in zip(values.T, limits, strict=True):
                a, b = column[:, None], column[neighbours]
                with np.errstate(invalid="ignore", divide="ignore"):
                    relative = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-9)
                confirmed &= ~(relative > limit)  # NaN (unknown) passes
        hash_pairs = int((confirmed & ~close).sum())
        close = np.where(both, confirmed, close)
        nearest_bits = np.where(both[:, 0], bits[:, 0], -1).astype(np.int16)
    rows, cols = np.nonzero(close)
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
        "hash_radius": hash_threshold * median if hashes is not None else None,
        "median_nn_distance": median,
        "metric": str(getattr(knn.metric, "__name__", knn.metric)),
        "num_sets": int(set_id.max() + 1) if in_set.any() else 0,
        "k": k,
        "pairs": len(rows),
        "hash_pairs": hash_pairs,
        "nearest_hash_distance": nearest_bits,
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
    use_hashes : bool
        Judge pairs with the perceptual hashes of the ``image_properties`` result (when it is
        cached); False gives Datalab's rule alone.
    hash_bits : int
        Largest hash difference (bits of 64) of a hash-confirmed pair.
    hash_threshold : float
        Radius of a hash-confirmed pair (fraction of the median nearest-neighbour distance).
    tolerances : dict of str to float, optional
        Largest relative difference of each ``image_properties`` statistic within a
        hash-confirmed pair (default :data:`DEFAULT_TOLERANCES`; a statistic the result lacks is
        not checked).
    max_samples : int
        Larger stores are skipped with a reason (exact kNN is quadratic in N).
    random_state : int
        Seed of the PCA.

    Attributes
    ----------
    near_duplicate_set_ : ndarray of int32 (-1 = not in a set)
    is_near_duplicate_ : ndarray of bool
    nearest_distance_ : ndarray of float32
    nearest_hash_distance_ : ndarray of int16 (-1 = unknown)
    info_ : dict
    """

    name: ClassVar[str] = "near_duplicates"
    needs_embeddings: ClassVar[bool] = True
    requires: ClassVar[tuple[str, ...]] = ("image_properties",)
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
        use_hashes: bool = True,
        hash_bits: int = DEFAULT_HASH_BITS,
        hash_threshold: float = DEFAULT_HASH_THRESHOLD,
        tolerances: Mapping[str, float] | None = None,
        random_state: int = 0,
        max_samples: int = 300_000,
    ):
        self.n_components = n_components
        self.k = k
        self.threshold = threshold
        self.use_hashes = use_hashes
        self.hash_bits = hash_bits
        self.hash_threshold = hash_threshold
        self.tolerances = tolerances
        self.random_state = random_state
        self.max_samples = max_samples

    def fit(self, store: Store, run: Run) -> NearDuplicates:
        self._stamp(store)
        features = knn_features(self, store, run)
        hashes = statistics = None
        tolerances = dict(DEFAULT_TOLERANCES if self.tolerances is None else self.tolerances)
        if self.use_hashes:
            properties = run.load_result("image_properties")
            if (
                properties is not None
                and "phash" in properties.columns
                and len(properties) == store.num_samples
            ):
                hashes = properties["phash"].tolist()
                shared = [c for c in tolerances if c in properties.columns]
                if shared:
                    statistics = properties[shared].to_numpy(dtype=np.float64, na_value=np.nan)
                tolerances = {c: tolerances[c] for c in shared}
        self.near_duplicate_set_, self.nearest_distance_, self.info_ = near_duplicate_sets(
            features,
            self.k,
            self.threshold,
            hashes=hashes,
            hash_bits=self.hash_bits,
            hash_threshold=self.hash_threshold,
            statistics=statistics,
            tolerance=list(tolerances.values()) or DEFAULT_TOLERANCE,
        )
        self.nearest_hash_distance_ = self.info_.pop("nearest_hash_distance")
        self.info_["hashes"] = hashes is not None
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
                    "nearest_neighbor_hash_distance": self.nearest_hash_distance_,
                }
            ),
            **self._result_kwargs(),
        )

    def summary(self) -> dict[str, Any]:
        return {
            "near_duplicate_sets": self.info_["num_sets"],
            "near_duplicates": int(self.is_near_duplicate_.sum()),
        }
