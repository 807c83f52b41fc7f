"""Weak slices: accuracy and macro-F1 per metadata value and per binned image property.

A slice is the set of samples with one value of a categorical / low-cardinality metadata column
(``split``, ``source``, ``lighting``…) or one quantile bin of an image property (``brightness``,
``blur``…, when the ``image_properties`` result is cached). For each slice: its size, the number
of correct predictions (prediction == current label), accuracy with a Wilson 95% interval, and
macro-F1 (scikit-learn, over the classes present in the slice's labels or predictions).

Slices are ranked weakest first: those whose interval's upper bound is below the overall
accuracy come first, then by ``gap × size`` (``gap`` = overall accuracy − slice accuracy), which
favours large, clearly worse slices over tiny noisy ones. Saved as the ``slices`` artifact;
widgets read it, and :func:`slice_mask` gives the members of a slice.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from erroranalysis.analysis._common import current_codes, predicted_codes
from erroranalysis.analysis.base import Analysis, AnalysisError, register
from erroranalysis.analysis.image_properties import PROPERTY_COLUMNS

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = ["Slices", "rank_slices", "slice_mask", "slice_table", "wilson_interval"]

_NOT_METADATA = {"sample_id", "given_label", "label", "path", "flags"}


def wilson_interval(successes: np.ndarray, n: np.ndarray, z: float = 1.959963984540054):
    """Wilson score interval for a binomial proportion (vectorised).

    Returns ``(low, high)``; both are NaN where ``n == 0``.

    Examples
    --------
    >>> low, high = wilson_interval(np.array([5]), np.array([10]))
    >>> round(float(low[0]), 4), round(float(high[0]), 4)
    (0.2366, 0.7634)
    """
    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre - half, centre + half


def _macro_f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    if len(labels) == 0:
        return float("nan")
    return float(f1_score(labels, predicted, average="macro", zero_division=0))


def slice_table(
    frame: pd.DataFrame,
    labels: np.ndarray,
    predicted: np.ndarray,
    categorical: list[str],
    numeric: list[str],
    bins: int = 4,
    min_size: int = 1,
) -> pd.DataFrame:
    """Metrics per slice (unranked) for the given categorical and binned numeric columns.

    Parameters
    ----------
    frame : DataFrame
        One row per sample holding the slice columns.
    labels, predicted : arrays of int
        Current label and prediction per sample.
    categorical : list of str
        Columns whose values define slices (missing values form no slice).
    numeric : list of str
        Columns cut into ``bins`` quantile bins.
    bins : int
    min_size : int
        Slices smaller than this are left out.

    Returns
    -------
    DataFrame
        ``feature, kind, value, low, high, size, correct, accuracy, ci_low, ci_high, macro_f1``.
    """
    labels = np.asarray(labels)
    predicted = np.asarray(predicted)
    correct = labels == predicted
    rows: list[dict[str, Any]] = []

    def add(feature: str, kind: str, value: Any, low: float, high: float, mask: np.ndarray):
        size = int(mask.sum())
        if size < max(min_size, 1):
            return
        rows.append(
            {
                "feature": feature,
                "kind": kind,
                "value": str(value),
                "low": low,
                "high": high,
                "size": size,
                "correct": int(correct[mask].sum()),
                "macro_f1": _macro_f1(labels[mask], predicted[mask]),
            }
        )

    for column in categorical:
        values = frame[column]
        codes, uniques = pd.factorize(values, sort=True)
        for code, value in enumerate(uniques):
            add(column, "category", value, np.nan, np.nan, codes == code)
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        if finite.sum() < 2 or np.nanmin(values) == np.nanmax(values):
            continue
        edges = np.unique(np.quantile(values[finite], np.linspace(0, 1, bins + 1)))
        for i in range(len(edges) - 1):
            low, high = float(edges[i]), float(edges[i + 1])
            last = i == len(edges) - 2
            mask = finite & (values >= low) & ((values <= high) if last else (values < high))
            add(column, "bin", f"[{low:.4g}, {high:.4g}{']' if last else ')'}", low, high, mask)
    table = pd.DataFrame(
        rows,
        columns=["feature", "kind", "value", "low", "high", "size", "correct", "macro_f1"],
    )
    table["accuracy"] = table["correct"] / table["size"].where(table["size"] > 0)
    low, high = wilson_interval(table["correct"].to_numpy(), table["size"].to_numpy())
    table["ci_low"], table["ci_high"] = low, high
    return table[
        [
            "feature",
            "kind",
            "value",
            "low",
            "high",
            "size",
            "correct",
            "accuracy",
            "ci_low",
            "ci_high",
            "macro_f1",
        ]
    ]


def rank_slices(table: pd.DataFrame, overall_accuracy: float) -> pd.DataFrame:
    """Rank slices weakest first (see the module docstring); adds ``gap, weak, score, rank``."""
    out = table.copy()
    out["gap"] = overall_accuracy - out["accuracy"]
    out["weak"] = out["ci_high"] < overall_accuracy
    out["score"] = out["gap"] * out["size"]
    out = out.sort_values(
        ["weak", "score", "feature", "value"], ascending=[False, False, True, True], kind="stable"
    ).reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def slice_mask(frame: pd.DataFrame, row: pd.Series | dict[str, Any]) -> np.ndarray:
    """Boolean mask of the samples in one slice (a row of the ``slices`` table)."""
    feature = row["feature"]
    if feature not in frame.columns:
        raise AnalysisError(f"slice column {feature!r} is not in the frame")
    if row["kind"] == "category":
        return (frame[feature].astype("string") == str(row["value"])).fillna(False).to_numpy()
    values = pd.to_numeric(frame[feature], errors="coerce").to_numpy(dtype=np.float64)
    closed = str(row["value"]).endswith("]")
    upper = values <= row["high"] if closed else values < row["high"]
    return np.isfinite(values) & (values >= row["low"]) & upper


@register
class Slices(Analysis):
    """Accuracy and macro-F1 per metadata value and per binned image property, ranked.

    Parameters
    ----------
    max_categories : int
        Metadata columns with more distinct values than this are not sliced.
    bins : int
        Quantile bins per numeric property.
    min_size : int
        Smallest slice kept.

    Attributes
    ----------
    slices_ : DataFrame
        Ranked table (see :func:`rank_slices`).
    overall_accuracy_ : float
    """

    name: ClassVar[str] = "slices"
    label_dependent: ClassVar[bool] = True
    requires: ClassVar[tuple[str, ...]] = ("image_properties",)
    artifact_names: ClassVar[tuple[str, ...]] = ("slices",)

    def __init__(self, max_categories: int = 50, bins: int = 4, min_size: int = 5):
        self.max_categories = max_categories
        self.bins = bins
        self.min_size = min_size

    def fit(self, store: Store, run: Run) -> Slices:
        self._stamp(store)
        labels = current_codes(store)
        predicted = predicted_codes(run)
        samples = store.samples
        categorical = []
        for column in samples.columns:
            if column in _NOT_METADATA:
                continue
            values = samples[column]
            is_numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(
                values
            )
            unique = values.nunique(dropna=True)
            if 1 < unique <= self.max_categories and (not is_numeric or unique <= 10):
                categorical.append(column)
        frame = samples[categorical].copy()
        numeric: list[str] = []
        properties = run.load_result("image_properties")
        if properties is not None and len(properties) == len(frame):
            for column in PROPERTY_COLUMNS:
                if column in properties.columns:
                    frame[column] = properties[column].to_numpy()
                    numeric.append(column)
        # slices are measured on labelled samples only
        labelled = labels >= 0
        if not labelled.all():
            frame = frame[labelled].reset_index(drop=True)
            labels, predicted = labels[labelled], predicted[labelled]
        self.overall_accuracy_ = float((labels == predicted).mean()) if len(labels) else math.nan
        table = slice_table(
            frame, labels, predicted, categorical, numeric, self.bins, self.min_size
        )
        self.slices_ = rank_slices(table, self.overall_accuracy_)
        return self

    def save(self, store: Store, run: Run) -> None:
        run.save_artifact("slices", self.slices_, **self._artifact_kwargs())

    def summary(self) -> dict[str, Any]:
        weak = self.slices_[self.slices_["weak"]]
        top = f"{weak['feature'].iloc[0]}={weak['value'].iloc[0]}" if len(weak) else "-"
        return {"slices": len(self.slices_), "weak_slices": len(weak), "weakest": top}
