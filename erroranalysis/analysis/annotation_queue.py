"""The annotator queue: what the pseudo-label thresholds leave for people, most useful first.

:func:`annotation_queue` takes a pseudo-label plan (:func:`~erroranalysis.analysis.pseudo_label.
pseudo_label`) and returns the unlabelled samples that stay *below* their class's threshold, with
the model's suggestion (its predicted class, to pre-fill the annotation) and an active-learning
score, lowest first: label those first. :func:`erroranalysis.export.queue.export_queue` writes the
queue through the hand-off formats (Label Studio predictions, CVAT tags, CSV).

Scores (all in [0, 1], low = label first):

- ``"activelab"`` (default): cleanlab's ActiveLab (:func:`cleanlab.multiannotator.
  get_active_learning_scores`); for unlabelled samples it weighs the model's confidence against
  chance (1/K), with weights fitted on the samples several annotators answered when the journal
  holds such answers (they are also put back in the queue when their consensus is weak).
- ``"least-confidence"``: the predicted class's probability.
- ``"margin"``: top-1 minus top-2 probability.
- ``"entropy"``: one minus the normalised entropy of the prediction.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from erroranalysis.analysis.base import AnalysisError

if TYPE_CHECKING:
    from erroranalysis.analysis.pseudo_label import PseudoLabeler
    from erroranalysis.store import Run, Store

__all__ = ["QUEUE_METHODS", "active_learning_scores", "annotation_queue"]

QUEUE_METHODS = ("activelab", "least-confidence", "margin", "entropy")
QUEUE_COLUMNS = [
    "sample_id",
    "suggested_label",
    "confidence",
    "score",
    "threshold",
    "reason",
]


def active_learning_scores(
    probs: np.ndarray,
    method: str = "activelab",
    labels_multiannotator: np.ndarray | None = None,
    probs_labelled: np.ndarray | None = None,
) -> np.ndarray:
    """Active-learning scores of unlabelled samples (low = label first).

    Parameters
    ----------
    probs : ndarray (n, K)
        The model's probabilities of the samples to score.
    method : str
        One of :data:`QUEUE_METHODS`.
    labels_multiannotator : ndarray (m, A), optional
        For ``"activelab"``: class codes (NaN where missing) that annotators gave ``m``
        already-labelled samples; with ``probs_labelled`` it fits ActiveLab's weights of model
        and annotators.
    probs_labelled : ndarray (m, K), optional

    Returns
    -------
    ndarray of float64 (n,)
    """
    probs = np.asarray(probs, dtype=np.float64)
    if method not in QUEUE_METHODS:
        raise AnalysisError(
            f"unknown queue method {method!r}; choose one of {', '.join(QUEUE_METHODS)}"
        )
    if not len(probs):
        return np.zeros(0)
    if method == "least-confidence":
        return probs.max(axis=1)
    if method == "margin":
        top = np.sort(probs, axis=1)[:, -2:]
        return top[:, 1] - top[:, 0] if probs.shape[1] > 1 else np.ones(len(probs))
    if method == "entropy":
        k = probs.shape[1]
        if k < 2:
            return np.ones(len(probs))
        p = np.clip(probs, 1e-12, 1.0)
        return 1.0 - (-(p * np.log(p)).sum(axis=1) / np.log(k))
    from cleanlab.multiannotator import get_active_learning_scores

    # cleanlab wants rows that sum to one exactly (float16 runs are a little off)
    probs = probs / probs.sum(axis=1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab's notes on annotators with few labels
        if labels_multiannotator is not None and len(labels_multiannotator):
            labelled = np.asarray(probs_labelled, dtype=np.float64)
            labelled = labelled / labelled.sum(axis=1, keepdims=True)
            _, scores = get_active_learning_scores(
                np.asarray(labels_multiannotator, dtype=float), labelled, probs
            )
        else:
            _, scores = get_active_learning_scores(pred_probs_unlabeled=probs)
    return np.asarray(scores, dtype=np.float64)


def _low_consensus(store: Store, run: Run, method: str):
    """Samples whose annotators' consensus stayed doubtful (flagged ``low_consensus`` by an
    import and not relabelled since): their positions, a scorer and their reasons.

    For ``"activelab"`` the scorer takes the unlabelled samples' probabilities and returns
    ``(unlabelled scores, doubtful scores)`` from one ActiveLab fit over every journaled
    answer; it is None for other methods or when no sample is doubtful.
    """
    from erroranalysis.analysis.consensus import (
        LOW_CONSENSUS_FLAG,
        _matrix,
        answers_from_journal,
    )

    flags = store.flags()
    flagged = flags[flags["flag"] == LOW_CONSENSUS_FLAG]
    if flagged.empty:
        return np.zeros(0, dtype=np.int64), None, []
    events = store.events()
    relabels = events[(events["kind"] == "relabel") & ~events["undone"].fillna(False)]
    last_relabel = relabels.groupby("sample_id")["event_id"].max()
    keep = [
        (str(sample_id), note)
        for sample_id, note, event_id in zip(
            flagged["sample_id"], flagged["note"], flagged["event_id"], strict=True
        )
        if last_relabel.get(sample_id, 0) < event_id
    ]
    if not keep:
        return np.zeros(0, dtype=np.int64), None, []
    ids = [sample_id for sample_id, _ in keep]
    positions = store.positions(ids).astype(np.int64)
    reasons = [f"annotators disagree; {note or 'consensus doubtful'}" for _, note in keep]
    if method != "activelab":
        return positions, None, reasons
    answers = answers_from_journal(store)
    matrix, order = _matrix(answers, list(store.classes))
    labelled = np.asarray(run.probs[store.positions(order)], dtype=np.float64)
    where = {sample_id: i for i, sample_id in enumerate(order)}
    missing = [sample_id for sample_id in ids if sample_id not in where]
    if missing:  # flagged, but the answers were undone: no annotator data to weigh
        return positions, None, reasons

    def score(unlabelled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from cleanlab.multiannotator import get_active_learning_scores

        p = labelled / labelled.sum(axis=1, keepdims=True)
        u = unlabelled / unlabelled.sum(axis=1, keepdims=True) if len(unlabelled) else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mine, theirs = get_active_learning_scores(matrix.to_numpy(dtype=float), p, u)
        mine = np.asarray(mine, dtype=np.float64)
        theirs = np.asarray(theirs, dtype=np.float64) if u is not None else np.zeros(0)
        return theirs, mine[[where[sample_id] for sample_id in ids]]

    return positions, score, reasons


def annotation_queue(
    store: Store,
    run: Run | str | None = None,
    plan: PseudoLabeler | None = None,
    thresholds: dict[str, float] | None = None,
    target_precision: float = 0.98,
    min_support: int = 30,
    method: str = "activelab",
    limit: int | None = None,
) -> pd.DataFrame:
    """The unlabelled samples the pseudo-label thresholds leave to people, label-first order.

    Samples several annotators answered whose consensus stayed doubtful (flagged
    ``low_consensus`` by :func:`erroranalysis.import_annotations`, not relabelled since) are in
    the queue too; ActiveLab scores them on the same scale from every journaled answer.

    Parameters
    ----------
    store : Store
    run : Run or str, optional
        The run whose predictions suggest labels and score the queue (default: the plan's, else
        the latest).
    plan : PseudoLabeler, optional
        A plan from :func:`~erroranalysis.analysis.pseudo_label.pseudo_label`; made with
        ``target_precision`` / ``min_support`` when missing, and made again (same parameters)
        when the store's labels changed since (e.g. after ``plan.accept()``).
    thresholds : dict of str to float, optional
        Per-class overrides of the plan's thresholds (as in ``plan.selection``).
    target_precision, min_support : float, int
        For a plan made here.
    method : str
        The active-learning score: ``"activelab"`` (default), ``"least-confidence"``,
        ``"margin"`` or ``"entropy"``; low = label first.
    limit : int, optional
        At most this many (the first in the queue).

    Returns
    -------
    DataFrame
        ``sample_id, suggested_label`` (the model's predicted class, the pre-annotation),
        ``confidence`` (its probability), ``score`` (active learning, low first), ``threshold``
        (of the suggested class; NaN when it has none) and ``reason``; ordered by score.
        ``attrs`` holds the plan's ``run``, ``target_precision``, ``min_support`` and
        ``thresholds``.
    """
    from erroranalysis.analysis.pseudo_label import PseudoLabeler

    if method not in QUEUE_METHODS:
        raise AnalysisError(
            f"unknown queue method {method!r}; choose one of {', '.join(QUEUE_METHODS)}"
        )
    if limit is not None and int(limit) < 0:
        raise AnalysisError(f"limit must be >= 0, got {limit}")
    store.refresh()
    if (
        plan is None
        or plan.label_version_ != store.label_version
        or (run is not None and plan.run_name_ != (run if isinstance(run, str) else run.name))
    ):
        source = plan
        plan = PseudoLabeler(
            target_precision=source.target_precision if source else target_precision,
            min_support=source.min_support if source else min_support,
            confidence_level=source.confidence_level if source else 0.95,
        ).fit(store, run if run is not None else (source.run_name_ if source else None))
    queued = plan.candidates_ & ~plan.above(thresholds)
    chosen = dict(plan.thresholds_)
    chosen.update({k: (np.nan if v is None else float(v)) for k, v in (thresholds or {}).items()})
    run_object = store.run(plan.run_name_)
    doubtful, doubtful_scores, doubtful_reasons = _low_consensus(store, run_object, method)
    queued[doubtful] = False  # once each: a doubtful sample is scored with its answers
    rows = np.flatnonzero(queued)
    probs = np.asarray(run_object.probs[rows], dtype=np.float64) if len(rows) else np.zeros((0, 1))
    if method == "activelab" and doubtful_scores is not None:
        # unlabelled and doubtful samples scored together, on one scale
        scores, doubtful_scores = doubtful_scores(probs)
    else:
        scores = active_learning_scores(probs, method)
        if len(doubtful):
            doubtful_probs = np.asarray(run_object.probs[doubtful], dtype=np.float64)
            doubtful_scores = active_learning_scores(doubtful_probs, method)
        else:
            doubtful_scores = np.zeros(0)
    reason_of = dict(zip(doubtful.tolist(), doubtful_reasons, strict=True))
    rows = np.r_[rows, doubtful].astype(np.int64)
    scores = np.r_[scores, doubtful_scores]
    order = np.lexsort((rows, plan.confidence_[rows], scores))
    rows, scores = rows[order], scores[order]
    if limit is not None:
        rows, scores = rows[: int(limit)], scores[: int(limit)]
    classes = np.asarray(store.classes, dtype=object)
    suggested = classes[plan.predicted_[rows]]
    confidence = plan.confidence_[rows].astype(np.float64)
    per_class = {name: chosen.get(name, np.nan) for name in store.classes}
    threshold = np.array([per_class[name] for name in suggested], dtype=np.float64)
    reasons = [
        reason_of[row]
        if row in reason_of
        else f"unlabelled; {name} has no threshold"
        if np.isnan(cut)
        else f"unlabelled; confidence {value:.3f} below {name}'s threshold {cut:.4f}"
        for row, name, cut, value in zip(
            rows.tolist(), suggested, threshold, confidence, strict=True
        )
    ]
    queue = pd.DataFrame(
        {
            "sample_id": np.asarray(store.sample_ids)[rows],
            "suggested_label": suggested,
            "confidence": confidence,
            "score": scores,
            "threshold": threshold,
            "reason": reasons,
        },
        columns=QUEUE_COLUMNS,
    )
    queue.attrs.update(
        run=plan.run_name_,
        target_precision=float(plan.target_precision),
        min_support=int(plan.min_support),
        thresholds={
            name: None if np.isnan(value) else float(value) for name, value in per_class.items()
        },
    )
    return queue
