"""Label-issue rankings: which samples a user should review first, chosen by measurement.

A *ranking* orders every labelled sample from most to least likely mislabeled and flags the
first ones (``flagged``). The candidate list a user reviews is the top of that order. cleanlab
offers several building blocks; :data:`RANKINGS` names each combination we measured
(``bench/detection.py``; results in BENCHMARKS.md):

``cleanlab``
    ``cleanlab.filter.find_label_issues(filter_by="prune_by_noise_rate")`` ranked by
    self-confidence: cleanlab's default and the floor. Unflagged samples follow, by the same score.
``prune_by_class``, ``both``, ``confident_learning``, ``predicted_neq_given``
    The other ``find_label_issues`` filters, ranked by self-confidence.
``self_confidence``, ``normalized_margin``, ``confidence_weighted_entropy``
    cleanlab's label-quality scores (``cleanlab.rank.get_label_quality_scores``) ranking every
    sample; the first ``n`` are flagged, ``n`` = cleanlab's estimate of the number of label
    issues (``cleanlab.count.num_label_issues``, the calibrated confident joint's off-diagonal).
``self_confidence_adjusted``, ``normalized_margin_adjusted``
    The same with ``adjust_pred_probs=True`` (each class's average self-confidence subtracted
    first), which evens out classes the model is less sure of.
``noise_rate_margin``
    The ``prune_by_noise_rate`` flags, ranked by normalized margin, then the rest by margin.

An *ensemble* is not a ranking of its own: :func:`average_probs` averages the out-of-sample
probabilities of several runs (models, seeds or fold splits), and any ranking runs on the
average. (A scan does not average runs yet: call :func:`average_probs` and add the result as a
run of its own with ``store.add_run``.)

>>> labels = np.array([0, 0, 1, 1])
>>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
>>> ranked = rank_label_issues(labels, probs, "normalized_margin")
>>> ranked.order[:2].tolist()
[1, 3]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from erroranalysis.analysis.base import AnalysisError

if TYPE_CHECKING:
    from erroranalysis.store import Store

__all__ = [
    "DEFAULT_RANKING",
    "RANKINGS",
    "RankedIssues",
    "average_probs",
    "rank_label_issues",
    "ranking_quality",
]

#: The ranking the scan uses unless told otherwise, chosen by bench/detection.py (BENCHMARKS.md,
#: "Label-issue ranking"): on one model's probabilities no other ranking found more true errors
#: in the top k on any of the five datasets (digits with look-alike flips at 10 % and 25 %, the
#: demo, the demo with class-dependent and with 25 % noise); self-confidence over all samples
#: lost up to 0.10 of recall@k on the demo sets. What helps is an ensemble: the same ranking on
#: the mean of several out-of-sample runs (:func:`average_probs`) gained 0.02-0.05 recall@k on
#: four of the five sets. For the highest precision of the flagged list, pick
#: ``confident_learning`` on an ensemble; for a short list in a noisy, unbalanced set,
#: ``normalized_margin_adjusted``.
DEFAULT_RANKING = "cleanlab"

_FILTERS = {
    "cleanlab": "prune_by_noise_rate",
    "noise_rate_margin": "prune_by_noise_rate",
    "prune_by_class": "prune_by_class",
    "both": "both",
    "confident_learning": "confident_learning",
    "predicted_neq_given": "predicted_neq_given",
}
_SCORES = {
    "self_confidence": ("self_confidence", False),
    "normalized_margin": ("normalized_margin", False),
    "confidence_weighted_entropy": ("confidence_weighted_entropy", False),
    "self_confidence_adjusted": ("self_confidence", True),
    "normalized_margin_adjusted": ("normalized_margin", True),
}

#: Every ranking by name, with a one-line description (what the docs and the CLI list).
RANKINGS: dict[str, str] = {
    "cleanlab": "find_label_issues(prune_by_noise_rate), ranked by self-confidence (cleanlab's default)",
    "noise_rate_margin": "find_label_issues(prune_by_noise_rate), ranked by normalized margin",
    "prune_by_class": "find_label_issues(prune_by_class), ranked by self-confidence",
    "both": "find_label_issues(both), ranked by self-confidence",
    "confident_learning": "find_label_issues(confident_learning), ranked by self-confidence",
    "predicted_neq_given": "prediction differs from the label, ranked by self-confidence",
    "self_confidence": "all samples by self-confidence; flags cleanlab's estimated issue count",
    "normalized_margin": "all samples by normalized margin; flags cleanlab's estimated count",
    "confidence_weighted_entropy": "all samples by confidence-weighted entropy; estimated count",
    "self_confidence_adjusted": "self-confidence on class-threshold-adjusted probabilities",
    "normalized_margin_adjusted": "normalized margin on class-threshold-adjusted probabilities",
}


@dataclass
class RankedIssues:
    """What :func:`rank_label_issues` returns.

    Attributes
    ----------
    order : ndarray of int64 (N,)
        Every row position, most likely mislabeled first.
    flagged : ndarray of bool (N,)
        The rows the ranking flags as label issues (always a prefix of ``order``).
    score : ndarray of float32 (N,)
        The score behind the order (low = more suspicious).
    method : str
    """

    order: np.ndarray
    flagged: np.ndarray
    score: np.ndarray
    method: str

    @property
    def num_flagged(self) -> int:
        return int(self.flagged.sum())


def _check(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or labels.shape != (probs.shape[0],):
        raise AnalysisError(
            f"labels must have one entry per row of probs: got labels {labels.shape}, probs "
            f"{probs.shape}"
        )
    return labels, probs


def _quality(labels, probs, method: str, adjust: bool) -> np.ndarray:
    from cleanlab.rank import get_label_quality_scores

    return np.asarray(
        get_label_quality_scores(labels, probs, method=method, adjust_pred_probs=adjust),
        dtype=np.float32,
    )


def _flagged_first(mask: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Flagged rows by score, then the others by score (both lowest first, stable)."""
    order = np.argsort(score, kind="stable")
    return np.concatenate([order[mask[order]], order[~mask[order]]]).astype(np.int64)


def rank_label_issues(
    labels: np.ndarray, probs: np.ndarray, method: str = DEFAULT_RANKING
) -> RankedIssues:
    """Rank every sample by how likely its label is wrong, with one of :data:`RANKINGS`.

    Parameters
    ----------
    labels : array of int (N,)
        Current label codes.
    probs : array (N, K)
        Out-of-sample probabilities (or an average of several runs', :func:`average_probs`).
    method : str
        A key of :data:`RANKINGS`.

    Returns
    -------
    RankedIssues
    """
    if method not in RANKINGS:
        raise AnalysisError(f"unknown ranking {method!r}; choose one of {', '.join(RANKINGS)}")
    labels, probs = _check(labels, probs)
    if method in _FILTERS:
        from cleanlab.filter import find_label_issues

        mask = np.asarray(find_label_issues(labels, probs, filter_by=_FILTERS[method]), dtype=bool)
        score_method = "normalized_margin" if method == "noise_rate_margin" else "self_confidence"
        score = _quality(labels, probs, score_method, False)
        return RankedIssues(_flagged_first(mask, score), mask, score, method)
    from cleanlab.count import num_label_issues

    score_method, adjust = _SCORES[method]
    score = _quality(labels, probs, score_method, adjust)
    order = np.argsort(score, kind="stable").astype(np.int64)
    count = int(num_label_issues(labels, probs))
    flagged = np.zeros(len(labels), dtype=bool)
    flagged[order[:count]] = True
    return RankedIssues(order, flagged, score, method)


def ranking_quality(ranked: RankedIssues, is_error: np.ndarray) -> dict[str, Any]:
    """recall@k (k = the number of true errors, and twice that) and precision at the flagged count.

    Parameters
    ----------
    ranked : RankedIssues
    is_error : array of bool (N,)
        The planted (true) label errors.

    Returns
    -------
    dict
        ``errors, flagged, recall_at_k, recall_at_2k, precision_flagged, recall_flagged``.

    Examples
    --------
    >>> ranked = RankedIssues(np.array([2, 0, 1, 3]), np.array([True, False, True, False]),
    ...                       np.zeros(4, np.float32), "x")
    >>> ranking_quality(ranked, np.array([False, False, True, True]))["recall_at_k"]
    0.5
    """
    is_error = np.asarray(is_error, dtype=bool)
    errors = int(is_error.sum())
    hits = np.cumsum(is_error[ranked.order])

    def recall_at(k: int) -> float:
        if not errors:
            return math.nan
        return float(hits[min(k, len(hits)) - 1] / errors) if k else 0.0

    flagged = ranked.num_flagged
    found = int((ranked.flagged & is_error).sum())
    return {
        "errors": errors,
        "flagged": flagged,
        "recall_at_k": recall_at(errors),
        "recall_at_2k": recall_at(2 * errors),
        "precision_flagged": float(found / flagged) if flagged else math.nan,
        "recall_flagged": float(found / errors) if errors else math.nan,
    }


def average_probs(store: Store, runs: list[str]) -> np.ndarray:
    """The mean of several runs' probabilities (an ensemble of models, seeds or fold splits).

    Parameters
    ----------
    store : Store
    runs : list of str
        Run names; every run must cover the store's samples with the same classes. In-sample
        runs are refused (averaging them would hide the label errors they memorised).

    Returns
    -------
    ndarray (N, K) of float32
    """
    from erroranalysis.analysis.base import iter_float32_chunks

    if not runs:
        raise AnalysisError(
            "an ensemble needs at least one run; pass the names of the runs to average"
        )
    total: np.ndarray | None = None
    for name in runs:
        if name not in store.runs():
            raise AnalysisError(
                f"ensemble run {name!r} is not in the store; runs: {', '.join(store.runs())}"
            )
        run = store.run(name)
        if not run.out_of_sample:
            raise AnalysisError(
                f"ensemble run {name!r} has in-sample probabilities; average only out-of-sample "
                "runs (ea.cross_val_predict)"
            )
        probs = run.probs
        if total is None:
            total = np.zeros(probs.shape, dtype=np.float32)
        elif probs.shape != total.shape:
            raise AnalysisError(
                f"ensemble run {name!r} has probabilities of shape {probs.shape}, expected "
                f"{total.shape} like {runs[0]!r}"
            )
        for start, stop, block in iter_float32_chunks(probs):
            total[start:stop] += block
    assert total is not None
    total /= len(runs)
    return total
