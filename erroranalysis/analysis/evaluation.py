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
changes once label errors are removed — as it often does (Northcutt et al., 2021). It adds a
fourth version, ``uncorrected``: only the samples whose label people did not correct (their
current label is still the given one), so a ranking that rests on the corrections shows.

:func:`compare_two_runs` is what the dashboard's compare tab and the report show for two runs:
which samples both get right, only one gets right or both get wrong (the 2×2 table, as sample
positions), per-class accuracy and its change, and the ranking of every run of the store
(:func:`compare_runs`, cached in the reference run as the ``run_ranking`` artifact while the
labels and the runs stay the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from erroranalysis.analysis._common import current_codes, predicted_codes
from erroranalysis.analysis.base import Analysis, AnalysisError, register

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = ["CELLS", "Evaluation", "RunComparison", "compare_runs", "compare_two_runs", "evaluate"]

VERSIONS = ("all", "clean", "relabeled")
#: The versions :func:`compare_runs` ranks: :data:`VERSIONS` and the samples nobody corrected.
RANKED_VERSIONS = (*VERSIONS, "uncorrected")
#: The cells of :func:`compare_two_runs`' 2×2 table, in reading order.
CELLS = ("both right", "only A right", "only B right", "both wrong")


def _metrics(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> tuple[float, float]:
    """Accuracy and macro-F1 (scikit-learn's ``f1_score(average="macro", zero_division=0)``:
    the mean over the classes present in the labels or the predictions), from one bincount."""
    if len(labels) == 0:
        return float("nan"), float("nan")
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    hit = labels == predicted
    accuracy = float(hit.mean())
    size = max(num_classes, int(labels.max()) + 1, int(predicted.max()) + 1)
    true_pos = np.bincount(labels[hit], minlength=size)
    support = np.bincount(labels, minlength=size)
    chosen = np.bincount(predicted, minlength=size)
    present = (support + chosen) > 0
    denominator = (support + chosen)[present]
    f1 = np.where(denominator > 0, 2 * true_pos[present] / np.maximum(denominator, 1), 0.0)
    return accuracy, float(f1.mean())


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
        ``rank_clean``, ``rank_relabeled`` (1 = best accuracy; ties share the better rank);
        ``accuracy_uncorrected``, ``macro_f1_uncorrected`` and ``rank_uncorrected`` on the
        samples whose label people did not correct (current label = given label), and
        ``num_corrected``. ``df.attrs["ranking_changed"]`` is True when the accuracy ranking of
        the runs differs between ``all`` and ``clean`` or ``relabeled``;
        ``df.attrs["ranking_changed_uncorrected"]`` when it differs between ``all`` and
        ``uncorrected``; ``df.attrs["reference"]`` names the reference run.
    """
    names = list(runs) if runs is not None else store.runs()
    if not names:
        raise AnalysisError("the store has no runs to compare; add one with store.add_run(...)")
    reference = reference or names[-1]
    ref_run = store.run(reference)
    is_issue, suggested = _issues(store, ref_run)
    labels = current_codes(store)
    given = np.asarray(store.given_codes)
    corrected = (given >= 0) & (labels != given)
    kept = (labels >= 0) & ~corrected
    rows = []
    for name in names:
        predicted = predicted_codes(store.run(name))
        metrics = evaluate(labels, predicted, is_issue, suggested, store.num_classes)
        accuracy, f1 = _metrics(labels[kept], predicted[kept], store.num_classes)
        metrics.update(
            accuracy_uncorrected=accuracy,
            macro_f1_uncorrected=f1,
            num_corrected=int((corrected & (labels >= 0)).sum()),
        )
        rows.append({"run": name, **metrics})
    table = pd.DataFrame(rows)
    for version in RANKED_VERSIONS:
        table[f"rank_{version}"] = (
            table[f"accuracy_{version}"].rank(ascending=False, method="min").astype("Int64")
        )
    changed = bool(
        (table["rank_all"] != table["rank_clean"]).any()
        or (table["rank_all"] != table["rank_relabeled"]).any()
    )
    table.attrs["ranking_changed"] = changed
    table.attrs["ranking_changed_uncorrected"] = bool(
        (table["rank_all"] != table["rank_uncorrected"]).any()
    )
    table.attrs["reference"] = reference
    return table


@dataclass
class RunComparison:
    """Two runs on the same labelled samples and current labels (see :func:`compare_two_runs`).

    Attributes
    ----------
    run_a, run_b : str
        The runs compared.
    cells : dict
        :data:`CELLS` name → int64 positions (store sample order) of the labelled samples in
        that cell of the 2×2 table.
    per_class : DataFrame
        ``class``, ``n`` (labelled samples of the class), ``accuracy_a``, ``accuracy_b``,
        ``delta`` (B − A; NaN for a class without samples).
    ranking : DataFrame
        :func:`compare_runs` of every run of the store (its ``attrs`` included).
    label_version : int
        The store's label version the comparison was made at.
    """

    run_a: str
    run_b: str
    cells: dict[str, np.ndarray]
    per_class: pd.DataFrame
    ranking: pd.DataFrame
    label_version: int

    def counts(self) -> dict[str, int]:
        """Samples per cell of the 2×2 table."""
        return {name: len(positions) for name, positions in self.cells.items()}


def _cached_ranking(store: Store, reference: str) -> pd.DataFrame:
    """:func:`compare_runs` of every run, from the reference run's ``run_ranking`` artifact while
    the labels and the list of runs are the same, else computed and cached (when writable)."""
    import logging

    ref_run = store.run(reference)
    runs = list(store.runs())
    info = ref_run.artifact_info("run_ranking") or {}
    cached = ref_run.load_artifact("run_ranking")
    if (
        isinstance(cached, dict)
        and cached.get("runs") == runs
        and info.get("label_version") == int(store.label_version)
        and cached.get("columns")
    ):
        table = pd.DataFrame(cached["rows"], columns=cached["columns"])
        for version in RANKED_VERSIONS:
            table[f"rank_{version}"] = table[f"rank_{version}"].astype("Int64")
        table.attrs.update(cached["attrs"])
        return table
    table = compare_runs(store, runs, reference=reference)
    if not getattr(store, "read_only", False):
        value = {
            "runs": runs,
            "columns": [str(c) for c in table.columns],
            "rows": [
                [None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in row]
                for row in table.itertuples(index=False)
            ],
            "attrs": dict(table.attrs),
        }
        try:
            ref_run.save_artifact(
                "run_ranking", value, label_dependent=True, label_version=store.label_version
            )
        except OSError as error:  # a cache that cannot be written is only a cache
            logging.getLogger(__name__).debug("run_ranking not cached: %s", error)
    return table


def compare_two_runs(
    store: Store, run_a: str, run_b: str, reference: str | None = None
) -> RunComparison:
    """Who is right where, per-class accuracy deltas, and the ranking of every run.

    Parameters
    ----------
    store : Store
    run_a, run_b : str
        The two runs (A and B).
    reference : str, optional
        The run whose label-issue flags define the ``clean`` and ``relabeled`` versions of the
        ranking (default: ``run_b``).

    Returns
    -------
    RunComparison

    Raises
    ------
    AnalysisError
        When ``run_a`` and ``run_b`` are the same run.
    """
    if run_a == run_b:
        raise AnalysisError(f"compare two different runs (both are {run_a!r})")
    labels = current_codes(store)
    labelled = labels >= 0
    right_a = (predicted_codes(store.run(run_a)) == labels) & labelled
    right_b = (predicted_codes(store.run(run_b)) == labels) & labelled
    wrong_a, wrong_b = labelled & ~right_a, labelled & ~right_b
    cells = {
        name: np.flatnonzero(mask).astype(np.int64)
        for name, mask in zip(
            CELLS,
            (right_a & right_b, right_a & wrong_b, wrong_a & right_b, wrong_a & wrong_b),
            strict=True,
        )
    }
    k = store.num_classes
    codes = np.where(labelled, labels, 0)
    n = np.bincount(codes[labelled], minlength=k)
    hits_a = np.bincount(codes[right_a], minlength=k)
    hits_b = np.bincount(codes[right_b], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc_a = np.where(n > 0, hits_a / np.maximum(n, 1), np.nan)
        acc_b = np.where(n > 0, hits_b / np.maximum(n, 1), np.nan)
    per_class = pd.DataFrame(
        {
            "class": list(store.classes),
            "n": n.astype(np.int64),
            "accuracy_a": acc_a,
            "accuracy_b": acc_b,
            "delta": acc_b - acc_a,
        }
    )
    ranking = _cached_ranking(store, reference or run_b)
    return RunComparison(
        run_a=run_a,
        run_b=run_b,
        cells=cells,
        per_class=per_class,
        ranking=ranking,
        label_version=int(store.label_version),
    )
