"""Did it matter? Metrics with and without the suspected label errors, and across runs.

For a run, accuracy and macro-F1 of its predictions against three versions of the labels:

``all``
    The current labels of every sample.
``clean``
    Only the samples *not* flagged as label issues.
``relabeled``
    Every sample, the flagged ones taking their suggested label.

:func:`compare_runs` puts several runs side by side on the *same* evaluation set (the flags and
suggestions of one reference run), ranks them under each version and says whether the ranking
changes once label errors are removed — as it often does (Northcutt et al., 2021).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from erroranalysis.analysis._common import current_codes, predicted_codes
from erroranalysis.analysis.base import Analysis, AnalysisError, register

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = ["Evaluation", "compare_runs", "evaluate"]

VERSIONS = ("all", "clean", "relabeled")


def _metrics(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> tuple[float, float]:
    from sklearn.metrics import f1_score

    if len(labels) == 0:
        return float("nan"), float("nan")
    accuracy = float((labels == predicted).mean())
    f1 = float(f1_score(labels, predicted, average="macro", zero_division=0))
    return accuracy, f1


def evaluate(
    labels: np.ndarray,
    predicted: np.ndarray,
    is_issue: np.ndarray,
    suggested: np.ndarray,
    num_classes: int,
) -> dict[str, float]:
    """Accuracy and macro-F1 on all samples, on the unflagged ones, and with suggestions applied.

    Returns
    -------
    dict
        ``accuracy_all, macro_f1_all, accuracy_clean, macro_f1_clean, accuracy_relabeled,
        macro_f1_relabeled, num_samples, num_flagged``.

    Examples
    --------
    >>> out = evaluate(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]),
    ...                np.array([False, True, False, False]), np.array([1, 1, 0, 0]), 2)
    >>> out["accuracy_all"], out["accuracy_clean"], out["accuracy_relabeled"]
    (0.75, 1.0, 1.0)
    """
    labels = np.asarray(labels)
    predicted = np.asarray(predicted)
    is_issue = np.asarray(is_issue, dtype=bool)
    labelled = labels >= 0  # unlabelled samples (code -1) are not evaluated
    if not labelled.all():
        labels, predicted = labels[labelled], predicted[labelled]
        is_issue, suggested = is_issue[labelled], np.asarray(suggested)[labelled]
    suggested = np.asarray(suggested)
    # A flagged sample without a suggestion (the model agrees with its label) keeps its label.
    relabeled = np.where(is_issue & (suggested >= 0), suggested, labels)
    out: dict[str, float] = {}
    for version, (lab, pred) in {
        "all": (labels, predicted),
        "clean": (labels[~is_issue], predicted[~is_issue]),
        "relabeled": (relabeled, predicted),
    }.items():
        accuracy, f1 = _metrics(lab, pred, num_classes)
        out[f"accuracy_{version}"] = accuracy
        out[f"macro_f1_{version}"] = f1
    out["num_samples"] = len(labels)
    out["num_flagged"] = int(is_issue.sum())
    return out


def _issues(store: Store, run: Run) -> tuple[np.ndarray, np.ndarray]:
    """Flags and suggested codes of ``run`` (cached if fresh, else computed now, not saved)."""
    from erroranalysis.analysis.label_issues import LabelIssues

    cached = run.load_result("label_issues")
    if cached is not None and not run.is_stale("label_issues", store):
        suggested = pd.Categorical(cached["suggested_label"], categories=store.classes).codes
        return cached["is_label_issue"].to_numpy(dtype=bool), np.asarray(suggested)
    fitted = LabelIssues().fit(store, run)
    return fitted.is_label_issue_, fitted.suggested_


@register
class Evaluation(Analysis):
    """Per-run metrics on all samples, without flagged label issues, and with suggested labels.

    Attributes
    ----------
    metrics_ : dict
        See :func:`evaluate`.
    """

    name: ClassVar[str] = "evaluation"
    label_dependent: ClassVar[bool] = True
    requires: ClassVar[tuple[str, ...]] = ("label_issues",)
    artifact_names: ClassVar[tuple[str, ...]] = ("evaluation",)

    def __init__(self):
        pass

    def fit(self, store: Store, run: Run) -> Evaluation:
        self._stamp(store)
        is_issue, suggested = _issues(store, run)
        self.metrics_ = evaluate(
            current_codes(store), predicted_codes(run), is_issue, suggested, store.num_classes
        )
        return self

    def save(self, store: Store, run: Run) -> None:
        run.save_artifact("evaluation", self.metrics_, **self._artifact_kwargs())

    def summary(self) -> dict[str, Any]:
        return {
            "accuracy_all": round(self.metrics_["accuracy_all"], 4),
            "accuracy_clean": round(self.metrics_["accuracy_clean"], 4),
        }


def compare_runs(
    store: Store, runs: list[str] | None = None, reference: str | None = None
) -> pd.DataFrame:
    """Compare runs on all samples, without label issues, and with suggested labels.

    Parameters
    ----------
    store : Store
    runs : list of str, optional
        Runs to compare (default: all runs of the store).
    reference : str, optional
        The run whose label-issue flags and suggestions define the ``clean`` and ``relabeled``
        evaluation sets, identical for every run (default: the latest of ``runs``).

    Returns
    -------
    DataFrame
        One row per run: ``run``, the metrics of :func:`evaluate`, and ``rank_all``,
        ``rank_clean``, ``rank_relabeled`` (1 = best accuracy; ties share the better rank).
        ``df.attrs["ranking_changed"]`` is True when the accuracy ranking of the runs differs
        between ``all`` and ``clean`` or ``relabeled``; ``df.attrs["reference"]`` names the
        reference run.
    """
    names = list(runs) if runs is not None else store.runs()
    if not names:
        raise AnalysisError("the store has no runs to compare; add one with store.add_run(...)")
    reference = reference or names[-1]
    ref_run = store.run(reference)
    is_issue, suggested = _issues(store, ref_run)
    labels = current_codes(store)
    rows = []
    for name in names:
        metrics = evaluate(
            labels, predicted_codes(store.run(name)), is_issue, suggested, store.num_classes
        )
        rows.append({"run": name, **metrics})
    table = pd.DataFrame(rows)
    for version in VERSIONS:
        table[f"rank_{version}"] = (
            table[f"accuracy_{version}"].rank(ascending=False, method="min").astype("Int64")
        )
    changed = bool(
        (table["rank_all"] != table["rank_clean"]).any()
        or (table["rank_all"] != table["rank_relabeled"]).any()
    )
    table.attrs["ranking_changed"] = changed
    table.attrs["reference"] = reference
    return table
