"""Confusion matrix of the current labels against the model's predictions.

Rows are the current (given + journal) label, columns the predicted label (argmax of the
probabilities), as scikit-learn draws it. :class:`ConfusionState` keeps the matrix up to date after
relabels in O(1) per relabel, so views never recount a million samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from erroranalysis.analysis._common import current_codes, predicted_codes
from erroranalysis.analysis.base import Analysis, AnalysisError, register

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = ["Confusion", "ConfusionState", "class_metrics", "most_confused"]


def class_metrics(matrix: np.ndarray, classes: list[str] | None = None) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support from a confusion matrix (rows = true).

    Divisions by zero give 0, like scikit-learn's ``zero_division=0``.

    Parameters
    ----------
    matrix : ndarray of shape (K, K)
        Counts, rows = true (current) label, columns = predicted label.
    classes : list of str, optional
        Class names for the ``class`` column (default: the class indices).

    Returns
    -------
    DataFrame
        Columns ``class, precision, recall, f1, support, predicted`` (one row per class).
    """
    m = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(m)
    support = m.sum(axis=1)
    predicted = m.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
    names = list(classes) if classes is not None else list(range(m.shape[0]))
    return pd.DataFrame(
        {
            "class": names,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support.astype(np.int64),
            "predicted": predicted.astype(np.int64),
        }
    )


def most_confused(
    matrix: np.ndarray, classes: list[str] | None = None, top: int | None = 20
) -> pd.DataFrame:
    """Off-diagonal cells by count, largest first (ties by true then predicted class index).

    Returns
    -------
    DataFrame
        Columns ``true, predicted, count, fraction_of_true`` (fraction of the true class's
        samples predicted as the other class); only cells with a positive count.
    """
    m = np.asarray(matrix, dtype=np.int64)
    k = m.shape[0]
    off = m.copy()
    np.fill_diagonal(off, 0)
    rows, cols = np.nonzero(off)
    counts = off[rows, cols]
    order = np.lexsort((cols, rows, -counts))
    if top is not None:
        order = order[:top]
    rows, cols, counts = rows[order], cols[order], counts[order]
    support = m.sum(axis=1)
    names = np.asarray(list(classes) if classes is not None else list(range(k)), dtype=object)
    return pd.DataFrame(
        {
            "true": names[rows] if len(rows) else np.array([], dtype=object),
            "predicted": names[cols] if len(cols) else np.array([], dtype=object),
            "count": counts.astype(np.int64),
            "fraction_of_true": counts / np.maximum(support[rows], 1),
        }
    )


class ConfusionState:
    """A confusion matrix that follows relabels incrementally.

    Parameters
    ----------
    label_codes : array of int, shape (N,)
        Current label of each sample (class index; -1 for an unlabelled sample, which is left
        out of the matrix until it gets a label).
    predicted : array of int, shape (N,)
        Predicted class index of each sample.
    num_classes : int
        K.
    classes : list of str, optional
        Class names (for the tables).

    Examples
    --------
    >>> state = ConfusionState([0, 1, 1], [0, 1, 0], 2)
    >>> state.matrix.tolist()
    [[1, 0], [1, 1]]
    >>> state.apply_relabel(2, 1, 0)
    >>> state.matrix.tolist()
    [[2, 0], [0, 1]]
    """

    def __init__(
        self,
        label_codes: np.ndarray,
        predicted: np.ndarray,
        num_classes: int,
        classes: list[str] | None = None,
    ):
        labels = np.array(label_codes, dtype=np.int32, copy=True)
        pred = np.asarray(predicted, dtype=np.int32)
        if labels.shape != pred.shape or labels.ndim != 1:
            raise AnalysisError(
                f"labels and predictions must be 1-D of equal length, got {labels.shape} and "
                f"{pred.shape}"
            )
        k = int(num_classes)
        for name, codes, low in (("labels", labels, -1), ("predictions", pred, 0)):
            if codes.size and (codes.min() < low or codes.max() >= k):
                bad = np.flatnonzero((codes < low) | (codes >= k))
                from erroranalysis.errors import describe

                raise AnalysisError(
                    f"{name} at rows {describe(bad.tolist())} are not class indices in [0, {k})"
                )
        self.num_classes = k
        self.classes = list(classes) if classes is not None else None
        self.labels = labels
        self.predicted = pred
        labelled = labels >= 0
        self.matrix = np.bincount(
            labels[labelled].astype(np.int64) * k + pred[labelled], minlength=k * k
        ).reshape(k, k)

    @classmethod
    def from_store(cls, store: Store, run: Run) -> ConfusionState:
        """Build the state from the store's current labels and the run's predictions."""
        return cls(current_codes(store), predicted_codes(run), store.num_classes, store.classes)

    # -- updates -------------------------------------------------------------------------------

    def apply_relabel(self, position: int, old_code: int | None, new_code: int) -> None:
        """Move sample ``position`` from row ``old_code`` to row ``new_code`` (O(1)).

        ``old_code`` may be ``None`` (the state knows the sample's label); when given it must
        match, which catches views that missed an event.
        """
        known = int(self.labels[position])
        if old_code is not None and int(old_code) != known:
            raise AnalysisError(
                f"sample at position {position} has label {known} in the confusion state, not "
                f"{old_code}; call sync(store.label_codes()) to catch up"
            )
        new = int(new_code)
        if not -1 <= new < self.num_classes:
            raise AnalysisError(
                f"label {new} is not a class index in [0, {self.num_classes}) nor -1 (unlabelled)"
            )
        if new == known:
            return
        p = int(self.predicted[position])
        if known >= 0:
            self.matrix[known, p] -= 1
        if new >= 0:
            self.matrix[new, p] += 1
        self.labels[position] = new

    def sync(self, label_codes: np.ndarray) -> np.ndarray:
        """Apply every difference between ``label_codes`` and the state; returns the positions.

        A vectorised comparison (about 1 ms at N = 1M) plus O(1) per changed sample, which also
        covers undo and relabels made by other processes.
        """
        codes = np.asarray(label_codes)
        changed = np.flatnonzero(codes != self.labels)
        for position in changed:
            self.apply_relabel(int(position), None, int(codes[position]))
        return changed

    # -- views ---------------------------------------------------------------------------------

    @property
    def counts(self) -> np.ndarray:
        """The K×K count matrix (rows = current label, columns = predicted)."""
        return self.matrix

    def normalized(self, by: str | None = "true") -> np.ndarray:
        """The matrix normalised by row (``"true"``), column (``"pred"``) or total (``"all"``).

        Empty rows/columns give zeros, as scikit-learn does.
        """
        m = self.matrix.astype(np.float64)
        if by is None:
            return m
        with np.errstate(divide="ignore", invalid="ignore"):
            if by == "true":
                out = m / m.sum(axis=1, keepdims=True)
            elif by == "pred":
                out = m / m.sum(axis=0, keepdims=True)
            elif by == "all":
                out = m / m.sum()
            else:
                raise AnalysisError(f"normalize must be 'true', 'pred', 'all' or None, got {by!r}")
        return np.nan_to_num(out)

    @property
    def accuracy(self) -> float:
        """Fraction of samples whose prediction equals the current label."""
        total = self.matrix.sum()
        return float(np.trace(self.matrix) / total) if total else 0.0

    def class_metrics(self) -> pd.DataFrame:
        """Per-class precision / recall / F1 / support (see :func:`class_metrics`)."""
        return class_metrics(self.matrix, self.classes)

    def most_confused(self, top: int | None = 20) -> pd.DataFrame:
        """The most confused (true, predicted) pairs (see :func:`most_confused`)."""
        return most_confused(self.matrix, self.classes, top)

    def cell_positions(self, true_code: int, predicted_code: int) -> np.ndarray:
        """Row positions of the samples in one cell (for "click the number, see the images")."""
        return np.flatnonzero((self.labels == true_code) & (self.predicted == predicted_code))

    def frame(self) -> pd.DataFrame:
        """The count matrix as a DataFrame (index = current label, columns = predicted)."""
        names = self.classes or [str(i) for i in range(self.num_classes)]
        out = pd.DataFrame(self.matrix, index=pd.Index(names, name="label"), columns=names)
        out.columns.name = "predicted"
        return out


@register
class Confusion(Analysis):
    """Confusion matrix, per-class metrics and most-confused pairs on the current labels.

    Parameters
    ----------
    top_pairs : int
        How many most-confused pairs to keep in the ``confused_pairs`` artifact.

    Attributes
    ----------
    state_ : ConfusionState
        The incremental state (``state_.matrix`` is the count matrix).
    matrix_ : ndarray (K, K)
        Counts; rows = current label, columns = predicted.
    class_metrics_ : DataFrame
        ``class, precision, recall, f1, support, predicted``.
    confused_pairs_ : DataFrame
        ``true, predicted, count, fraction_of_true``, largest first.
    accuracy_ : float
    """

    name: ClassVar[str] = "confusion"
    label_dependent: ClassVar[bool] = True
    artifact_names: ClassVar[tuple[str, ...]] = ("confusion", "class_metrics", "confused_pairs")

    def __init__(self, top_pairs: int = 50):
        self.top_pairs = top_pairs

    def fit(self, store: Store, run: Run) -> Confusion:
        self._stamp(store)
        self.state_ = ConfusionState.from_store(store, run)
        self.matrix_ = self.state_.matrix.copy()
        self.class_metrics_ = self.state_.class_metrics()
        self.confused_pairs_ = self.state_.most_confused(self.top_pairs)
        self.accuracy_ = self.state_.accuracy
        return self

    def save(self, store: Store, run: Run) -> None:
        kwargs = self._artifact_kwargs()
        run.save_artifact("confusion", self.state_.frame(), **kwargs)
        run.save_artifact("class_metrics", self.class_metrics_, **kwargs)
        run.save_artifact("confused_pairs", self.confused_pairs_, **kwargs)

    def summary(self) -> dict[str, Any]:
        top = self.confused_pairs_.head(1)
        pair = f"{top['true'].iloc[0]}→{top['predicted'].iloc[0]}" if len(top) else "-"
        return {"accuracy": round(self.accuracy_, 4), "most_confused": pair}
