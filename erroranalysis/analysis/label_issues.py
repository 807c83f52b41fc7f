"""Probable label errors (cleanlab confident learning), streamed so it stays memory-lean.

:func:`find_label_issues_lean` gives exactly what ``cleanlab.filter.find_label_issues(labels,
probs.astype(float32), filter_by="prune_by_noise_rate", return_indices_ranked_by=...)`` gives,
but never materialises the N×K matrix in float32: cleanlab's own call keeps the input, a per-class
copy of it and another full copy (in ``_reduce_issues``) — about three float32 copies of the
matrix, 15 GB at 1.28M × 1,000 — while this reads the (float16 or float32, memory-mapped)
probabilities in blocks of about 16 MB and gathers one class's rows at a time. It uses cleanlab's
own pieces for everything that is not the N×K streaming (calibration, prune counts, per-class
pruning order, label-quality scores), so the results are identical; the tests check that.

Per-sample columns saved (result ``label_issues``):

``is_label_issue``
    cleanlab flags the current label as probably wrong.
``suggested_label``
    The model's prediction (argmax, first class on ties) where it differs from the current
    label; empty (missing) where the prediction agrees with the label, so a suggestion never
    names the label itself or a class the model ranks below it.
``label_issue_rank``
    1 = most severe flagged sample (ranked by ``rank_by``, lowest score first); ``<NA>`` when
    not flagged.

Artifacts: ``class_label_quality`` (cleanlab ``rank_classes_by_label_quality``),
``overlapping_classes`` (``find_overlapping_classes``) and ``label_health`` (overall label health
score, the confident joint and a flag when the probabilities are in-sample).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from erroranalysis.analysis._common import current_codes, predicted_codes
from erroranalysis.analysis.base import (
    Analysis,
    AnalysisError,
    as_float32,
    iter_float32_chunks,
    register,
)
from erroranalysis.analysis.issue_types import IssueType
from erroranalysis.errors import ShapeMismatchError, describe

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = [
    "InSampleWarning",
    "LabelIssueResult",
    "LabelIssues",
    "find_label_issues_lean",
    "suggested_codes",
]

RANK_METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")


class InSampleWarning(UserWarning):
    """Label issues were computed from in-sample (training) predictions."""


class LabelIssueResult:
    """What :func:`find_label_issues_lean` returns.

    Attributes
    ----------
    mask : ndarray of bool (N,)
        ``is_label_issue``.
    ranked : ndarray of int64
        Flagged row positions, most severe first (cleanlab's ``return_indices_ranked_by``).
    confident_joint : ndarray (K, K)
        The uncalibrated confident joint (diagonal clipped to at least 1), rows = given label.
    calibrated_joint : ndarray (K, K)
        cleanlab's calibrated confident joint.
    thresholds : ndarray (K,)
        Per-class confident thresholds.
    best_other : ndarray of int32 (N,)
        Most probable class other than the label, per sample.
    suggested : ndarray of int32 (N,)
        The prediction where it differs from the label, else -1 (see :func:`suggested_codes`).
    num_label_issues : int
        cleanlab's ``count.num_label_issues`` (``estimation_method="off_diagonal"``), which
        ``dataset.overall_label_health_score`` uses: ``1 - num_label_issues / N``.
    """

    def __init__(self, **values: Any):
        self.__dict__.update(values)


def find_label_issues_lean(
    labels: np.ndarray,
    probs: np.ndarray,
    *,
    rank_by: str = "self_confidence",
    min_examples_per_class: int = 1,
    frac_noise: float = 1.0,
    block_rows: int | None = None,
    progress: bool = False,
) -> LabelIssueResult:
    """cleanlab's ``find_label_issues`` (``filter_by="prune_by_noise_rate"``), streamed.

    Parameters
    ----------
    labels : array of int (N,)
        Class index of each sample's (current) label.
    probs : array (N, K)
        Out-of-sample predicted probabilities; float16 or float32, memory-mapped is fine.
        Results equal cleanlab's on ``probs.astype(np.float32)``.
    rank_by : str
        Label-quality score used to rank the flagged samples.
    min_examples_per_class, frac_noise
        As in cleanlab.
    block_rows : int, optional
        Rows per streamed block (default: about 16 MB of float32).
    progress : bool
        Show a progress bar over the passes.

    Returns
    -------
    LabelIssueResult
    """
    from cleanlab.count import calibrate_confident_joint

    from erroranalysis.analysis._cleanlab import (
        CONFIDENT_THRESHOLDS_LOWER_BOUND,
        FLOATING_POINT_COMPARISON,
    )
    from erroranalysis.analysis._cleanlab import (
        compute_label_quality_scores as _compute_label_quality_scores,
    )
    from erroranalysis.analysis._cleanlab import (
        keep_at_least_n_per_class as _keep_at_least_n_per_class,
    )

    if rank_by not in RANK_METHODS:
        raise AnalysisError(f"rank_by must be one of {', '.join(RANK_METHODS)}, got {rank_by!r}")
    n, k = probs.shape
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ShapeMismatchError(f"labels must have {n} entries (one per row), got {labels.shape}")
    labels = labels.astype(np.int64, copy=False)
    if n and (labels.min() < 0 or labels.max() >= k):
        bad = np.flatnonzero((labels < 0) | (labels >= k))
        raise AnalysisError(f"labels at rows {describe(bad.tolist())} are not in [0, {k})")
    if len(np.unique(labels)) < 2:
        raise AnalysisError("label issues need at least two classes among the labels; got only one")

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=3 * n, desc="label issues", unit="row", unit_scale=True, leave=False)

    # Pass 1: self-confidence, cleanlab's _reduce_issues mask, best other class.
    self_conf = np.empty(n, dtype=np.float32)
    reduce_mask = np.empty(n, dtype=bool)
    best_other = np.empty(n, dtype=np.int32)
    suggested = np.empty(n, dtype=np.int32)
    for start, stop, block in iter_float32_chunks(probs, block_rows, copy=True):
        lab = labels[start:stop]
        rows = np.arange(stop - start)
        conf = block[rows, lab]
        self_conf[start:stop] = conf
        block[rows, lab] += FLOATING_POINT_COMPARISON  # the block is our own float32 copy
        reduce_mask[start:stop] = block.argmax(axis=1) == lab
        block[rows, lab] = -np.inf
        best = block.argmax(axis=1)
        best_other[start:stop] = best
        suggested[start:stop] = _suggest(lab, conf, best, block[rows, best])
        if bar is not None:
            bar.update(stop - start)

    # Per-class groups in the original row order (what ``labels == k`` selects).
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=k)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    sorted_conf = self_conf[order]
    thresholds_list: list[Any] = [
        np.mean(sorted_conf[bounds[c] : bounds[c + 1]]) if counts[c] else 2 for c in range(k)
    ]
    thresholds = np.clip(thresholds_list, a_min=CONFIDENT_THRESHOLDS_LOWER_BOUND, a_max=None)
    del sorted_conf

    # Pass 2: the confident joint.
    shifted = thresholds - 1e-6
    joint_counts = np.zeros(k * k, dtype=np.int64)
    off_diagonal = 0  # cleanlab's num_label_issues (estimation_method="off_diagonal")
    for start, stop, block in iter_float32_chunks(probs, block_rows):
        confident = block >= shifted
        num_confident = confident.sum(axis=1)
        guess = np.where(num_confident > 1, block.argmax(axis=1), confident.argmax(axis=1))
        keep = num_confident > 0
        lab = labels[start:stop]
        joint_counts += np.bincount(lab[keep] * k + guess[keep], minlength=k * k).astype(np.int64)
        off_diagonal += int((keep & (guess != lab) & ~reduce_mask[start:stop]).sum())
        if bar is not None:
            bar.update(stop - start)
    confident_joint = joint_counts.reshape(k, k)
    np.fill_diagonal(confident_joint, confident_joint.diagonal().clip(min=1))
    calibrated = calibrate_confident_joint(confident_joint.copy(), labels)

    # Pass 3: prune by noise rate, one class's rows at a time.
    prune = _keep_at_least_n_per_class(
        prune_count_matrix=calibrated.T, n=min_examples_per_class, frac_noise=frac_noise
    )
    mask = np.zeros(n, dtype=bool)
    for c in range(k):
        members = order[bounds[c] : bounds[c + 1]]
        if bar is not None:
            bar.update(len(members))
        if len(members) <= min_examples_per_class:
            if len(members):
                warnings.warn(
                    f"May not flag all label issues in class: {c}, it has too few examples "
                    "(see `min_examples_per_class` argument)",
                    stacklevel=2,
                )
            continue
        column = prune[:, c]
        targets = [j for j in range(k) if j != c and column[j] > 0]
        if not targets or len(members) <= 1:
            continue
        block = as_float32(probs[members])
        class_mask = np.zeros(len(members), dtype=bool)
        for j in targets:
            margin = block[:, j] - block[:, c]
            class_mask[np.argsort(-margin)[: column[j]]] = True
        mask[members] = class_mask
    if bar is not None:
        bar.close()
    mask[reduce_mask] = False

    # Rank the flagged samples (cleanlab's order_label_issues on their rows only).
    flagged = np.flatnonzero(mask)
    if flagged.size:
        rows = as_float32(probs[flagged])
        scores = _compute_label_quality_scores(
            labels=labels[flagged], pred_probs=rows, method=rank_by, adjust_pred_probs=False
        )
        ranked = flagged[np.argsort(scores)]
    else:
        ranked = flagged
    return LabelIssueResult(
        mask=mask,
        ranked=ranked.astype(np.int64),
        confident_joint=confident_joint,
        calibrated_joint=calibrated,
        thresholds=thresholds,
        best_other=best_other,
        suggested=suggested,
        num_label_issues=off_diagonal,
    )


def _suggest(
    labels: np.ndarray, self_conf: np.ndarray, best_other: np.ndarray, best_conf: np.ndarray
) -> np.ndarray:
    """The argmax where it is not the label (ties go to the lower class index, as argmax), else -1."""
    beats = (best_conf > self_conf) | ((best_conf == self_conf) & (best_other < labels))
    return np.where(beats, best_other, -1).astype(np.int32)


def suggested_codes(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Suggested class per sample: the prediction where it disagrees with the label, else -1.

    Parameters
    ----------
    labels : array of int (N,)
    probs : array (N, K)

    Returns
    -------
    ndarray of int32 (N,)

    Examples
    --------
    >>> suggested_codes(np.array([0, 1]), np.array([[0.2, 0.8], [0.3, 0.7]])).tolist()
    [1, -1]
    """
    dense = np.array(probs, dtype=np.float32, copy=True)
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.arange(len(labels))
    conf = dense[rows, labels].copy()
    dense[rows, labels] = -np.inf
    best = dense.argmax(axis=1)
    return _suggest(labels, conf, best, dense[rows, best])


def _to_all_samples(
    labelled: np.ndarray,
    mask: np.ndarray,
    ranked: np.ndarray,
    suggested: np.ndarray,
    predicted: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Results on the labelled subset, placed back at every sample's position.

    Unlabelled samples are never flagged; their suggested label is the model's prediction.
    """
    positions = np.flatnonzero(labelled)
    full_mask = np.zeros(len(labelled), dtype=bool)
    full_mask[positions] = mask
    full_suggested = np.asarray(predicted, dtype=np.int32).copy()
    full_suggested[positions] = suggested
    return full_mask, positions[np.asarray(ranked, dtype=np.int64)], full_suggested


@register
class LabelIssues(Analysis):
    """cleanlab label issues on the current labels, plus class-level label quality.

    Parameters
    ----------
    rank_by : str
        Score that ranks the flagged samples (``"self_confidence"``, cleanlab's default ranking
        in Datalab is similar).
    filter_by : str
        ``"prune_by_noise_rate"`` (cleanlab's default; streamed and memory-lean) or any other
        cleanlab ``filter_by`` (then cleanlab is called directly on a float32 copy).
    min_examples_per_class : int
    frac_noise : float

    Attributes
    ----------
    is_label_issue_ : ndarray of bool
    ranked_ : ndarray of int64
        Flagged positions, most severe first.
    suggested_ : ndarray of int32
        Suggested class index per sample: the prediction where it differs from the label,
        -1 where they agree.
    class_quality_ : DataFrame
        cleanlab ``rank_classes_by_label_quality``.
    overlapping_classes_ : DataFrame
        cleanlab ``find_overlapping_classes``.
    health_score_ : float
        cleanlab ``overall_label_health_score``.
    in_sample_ : bool
        True when the run's probabilities are in-sample (a warning was issued).
    """

    name: ClassVar[str] = "label_issues"
    label_dependent: ClassVar[bool] = True
    result_name: ClassVar[str | None] = "label_issues"
    issue_types: ClassVar[tuple[IssueType, ...]] = (
        IssueType(
            "label_issue",
            "label issue",
            flag_column="is_label_issue",
            score_column="label_quality",
            severe="low",
            colour="#D55E00",
            aliases=("label", "label_issues", "suspected label error"),
        ),
    )
    artifact_names: ClassVar[tuple[str, ...]] = (
        "class_label_quality",
        "overlapping_classes",
        "label_health",
    )

    def __init__(
        self,
        rank_by: str = "self_confidence",
        filter_by: str = "prune_by_noise_rate",
        min_examples_per_class: int = 1,
        frac_noise: float = 1.0,
    ):
        self.rank_by = rank_by
        self.filter_by = filter_by
        self.min_examples_per_class = min_examples_per_class
        self.frac_noise = frac_noise

    def fit(self, store: Store, run: Run, progress: bool = False) -> LabelIssues:
        from cleanlab.dataset import find_overlapping_classes, rank_classes_by_label_quality

        self._stamp(store)
        # cleanlab sees the labelled samples only; results are scattered back to every sample
        all_labels = current_codes(store).astype(np.int64)
        labelled = all_labels >= 0
        labels = all_labels if labelled.all() else all_labels[labelled]
        probs = run.probs if labelled.all() else np.asarray(run.probs[labelled])
        self.in_sample_ = not bool(run.out_of_sample)
        if self.in_sample_:
            warnings.warn(
                f"run {run.name!r} has in-sample predictions (out_of_sample=False): label issues "
                "found from predictions on the training data are unreliable (the model memorised "
                "the labels, so most errors go unflagged); use ea.cross_val_predict for "
                "out-of-sample probabilities",
                InSampleWarning,
                stacklevel=2,
            )
        if self.filter_by == "prune_by_noise_rate":
            result = find_label_issues_lean(
                labels,
                probs,
                rank_by=self.rank_by,
                min_examples_per_class=self.min_examples_per_class,
                frac_noise=self.frac_noise,
                progress=progress,
            )
            mask, ranked, raw_joint = result.mask, result.ranked, result.confident_joint
            suggested, num_issues = result.suggested, result.num_label_issues
        else:
            mask, ranked, raw_joint, suggested, num_issues = self._direct(labels, probs)
        if not labelled.all():
            mask, ranked, suggested = _to_all_samples(
                labelled, mask, ranked, suggested, predicted_codes(run)
            )
        self.is_label_issue_ = mask
        self.ranked_ = ranked
        self.suggested_ = suggested
        self.confident_joint_ = raw_joint
        names = list(store.classes)
        self.class_quality_ = rank_classes_by_label_quality(
            labels=labels, confident_joint=raw_joint.copy(), class_names=names
        )
        self.overlapping_classes_ = find_overlapping_classes(
            labels=labels, confident_joint=raw_joint.copy(), class_names=names
        )
        # cleanlab's overall_label_health_score(labels, pred_probs) = 1 - num_label_issues / N
        self.health_score_ = float(1 - num_issues / len(labels))
        self.classes_ = names
        return self

    def _direct(self, labels: np.ndarray, probs: np.ndarray):
        from cleanlab.count import compute_confident_joint, num_label_issues
        from cleanlab.filter import find_label_issues

        dense = np.asarray(probs, dtype=np.float32)
        mask = find_label_issues(
            labels,
            dense,
            filter_by=self.filter_by,
            min_examples_per_class=self.min_examples_per_class,
            frac_noise=self.frac_noise,
        )
        ranked = find_label_issues(
            labels,
            dense,
            filter_by=self.filter_by,
            min_examples_per_class=self.min_examples_per_class,
            frac_noise=self.frac_noise,
            return_indices_ranked_by=self.rank_by,
        )
        joint = compute_confident_joint(labels, dense, calibrate=False)
        issues = int(num_label_issues(labels, dense))
        suggested = suggested_codes(labels, dense)
        return mask, np.asarray(ranked, dtype=np.int64), joint, suggested, issues

    def frame(self) -> pd.DataFrame:
        """The per-sample result columns (sample order)."""
        n = len(self.is_label_issue_)
        rank = np.full(n, -1, dtype=np.int64)
        rank[self.ranked_] = np.arange(1, len(self.ranked_) + 1)
        ranks = pd.array(rank, dtype="Int32")
        ranks[rank < 0] = pd.NA
        return pd.DataFrame(
            {
                "is_label_issue": self.is_label_issue_,
                "suggested_label": pd.Categorical.from_codes(
                    self.suggested_, categories=self.classes_
                ),
                "label_issue_rank": ranks,
            }
        )

    def save(self, store: Store, run: Run) -> None:
        run.save_result("label_issues", self.frame(), **self._result_kwargs())
        kwargs = self._artifact_kwargs()
        run.save_artifact("class_label_quality", self.class_quality_, **kwargs)
        run.save_artifact("overlapping_classes", self.overlapping_classes_, **kwargs)
        run.save_artifact(
            "label_health",
            {
                "overall_label_health_score": self.health_score_,
                "num_label_issues": int(self.is_label_issue_.sum()),
                "in_sample": self.in_sample_,
                "confident_joint": self.confident_joint_.tolist(),
                "classes": self.classes_,
            },
            **kwargs,
        )

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "label_issues": int(self.is_label_issue_.sum()),
            "health_score": round(self.health_score_, 4),
        }
        if self.in_sample_:
            out["in_sample"] = True
        return out
