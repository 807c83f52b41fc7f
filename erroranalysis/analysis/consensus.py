"""Consensus of several annotators: CROWDLAB (cleanlab's multi-annotator method).

:func:`crowdlab_consensus` turns answers (one row per sample and annotator) and a run's
probabilities into a consensus label per sample, the quality of that consensus (low = the answers
and the model disagree: a person should look) and a quality score per annotator
(:func:`cleanlab.multiannotator.get_label_quality_multiannotator`). Without a run it falls back to
a majority vote whose quality is the share of annotators agreeing.

An import of several annotators' answers (:func:`erroranalysis.import_annotations`) journals each
answer as a note ``"answer: <label>"`` by its annotator; :func:`answers_from_journal` reads them
back, so :func:`annotator_quality` can rank the annotators at any time, and the annotator queue
can score samples whose consensus stayed weak.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from erroranalysis.analysis.base import AnalysisError

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = [
    "ANSWER_PREFIX",
    "LOW_CONSENSUS_FLAG",
    "Consensus",
    "annotator_quality",
    "answers_from_journal",
    "crowdlab_consensus",
    "majority_vote",
]

#: How an import journals one annotator's answer (a note by that annotator).
ANSWER_PREFIX = "answer: "
#: The flag of samples whose consensus was too weak to apply: back to the annotator queue.
LOW_CONSENSUS_FLAG = "low_consensus"

LABEL_COLUMNS = [
    "sample_id",
    "consensus_label",
    "consensus_quality",
    "annotator_agreement",
    "num_annotations",
    "unanimous",
    "answers",
]
ANNOTATOR_COLUMNS = [
    "annotator",
    "quality",
    "agreement_with_consensus",
    "num_labeled",
    "worst_class",
]


@dataclass
class Consensus:
    """A consensus of several annotators.

    Attributes
    ----------
    labels : DataFrame
        One row per sample: ``sample_id, consensus_label, consensus_quality`` (in [0, 1], low =
        doubtful), ``annotator_agreement`` (share of its annotators giving the consensus label),
        ``num_annotations, unanimous, answers`` (``"ann1=dog, ann2=cat"``).
    annotators : DataFrame
        One row per annotator, best first: ``annotator, quality`` (in [0, 1]),
        ``agreement_with_consensus, num_labeled, worst_class``.
    method : str
        ``"crowdlab"`` or ``"majority"`` (no run to weigh the answers against).
    model_weight : float
        CROWDLAB's weight of the model relative to one annotator (NaN for the majority vote).
    """

    labels: pd.DataFrame
    annotators: pd.DataFrame
    method: str
    model_weight: float = float("nan")


def _matrix(answers: pd.DataFrame, classes: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Answers as CROWDLAB's (samples × annotators) matrix of class codes, NaN where missing."""
    missing = [c for c in ("sample_id", "annotator", "label") if c not in answers.columns]
    if missing:
        raise AnalysisError(
            f"answers need the columns sample_id, annotator, label; missing {missing}"
        )
    if answers["annotator"].isna().any():
        raise AnalysisError("every answer needs its annotator for a consensus; some rows have none")
    index = {name: code for code, name in enumerate(classes)}
    unknown = sorted(set(answers["label"].astype(str)) - set(index))
    if unknown:
        raise AnalysisError(f"answers name labels that are not classes: {unknown[:10]}")
    latest = answers.drop_duplicates(["sample_id", "annotator"], keep="last")
    codes = latest.assign(code=latest["label"].astype(str).map(index).astype(float))
    matrix = codes.pivot(index="sample_id", columns="annotator", values="code")
    order = list(dict.fromkeys(latest["sample_id"].astype(str)))
    return matrix.reindex(order), order


def _answers_text(matrix: pd.DataFrame, classes: list[str]) -> list[str]:
    names = np.asarray(classes, dtype=object)
    columns = list(matrix.columns)
    values = matrix.to_numpy()
    return [
        ", ".join(
            f"{columns[j]}={names[int(value)]}"
            for j, value in enumerate(row)
            if not np.isnan(value)
        )
        for row in values
    ]


def majority_vote(answers: pd.DataFrame, classes: list[str]) -> Consensus:
    """The most frequent answer per sample (ties: the first given); quality = its share."""
    matrix, order = _matrix(answers, classes)
    values = matrix.to_numpy()
    k = len(classes)
    counts = np.stack([(values == code).sum(axis=1) for code in range(k)], axis=1)
    total = counts.sum(axis=1)
    winner = counts.argmax(axis=1)
    share = counts[np.arange(len(order)), winner] / np.maximum(total, 1)
    labels = pd.DataFrame(
        {
            "sample_id": order,
            "consensus_label": np.asarray(classes, dtype=object)[winner],
            "consensus_quality": share,
            "annotator_agreement": share,
            "num_annotations": total,
            "unanimous": share == 1.0,
            "answers": _answers_text(matrix, classes),
        },
        columns=LABEL_COLUMNS,
    )
    rows = []
    for j, name in enumerate(matrix.columns):
        given = ~np.isnan(values[:, j])
        agree = float((values[given, j] == winner[given]).mean()) if given.any() else np.nan
        rows.append(
            {
                "annotator": name,
                "quality": agree,
                "agreement_with_consensus": agree,
                "num_labeled": int(given.sum()),
                "worst_class": "",
            }
        )
    annotators = pd.DataFrame(rows, columns=ANNOTATOR_COLUMNS)
    annotators = annotators.sort_values("quality", ascending=False, kind="stable")
    return Consensus(labels, annotators.reset_index(drop=True), "majority")


def crowdlab_consensus(
    answers: pd.DataFrame,
    store: Store,
    run: Run | str | None = None,
) -> Consensus:
    """CROWDLAB consensus of several annotators' answers, weighed against a run's predictions.

    Parameters
    ----------
    answers : DataFrame
        ``sample_id, annotator, label`` (class names); an annotator's later answer for a sample
        replaces an earlier one.
    store : Store
    run : Run or str, optional
        Whose probabilities weigh in (default: the latest run); a store without runs gets a
        majority vote.

    Returns
    -------
    Consensus
    """
    classes = list(store.classes)
    if not store.runs():
        return majority_vote(answers, classes)
    if run is None or isinstance(run, str):
        run = store.run(run)
    matrix, order = _matrix(answers, classes)
    values = matrix.to_numpy()
    if values.shape[1] < 2 or (np.sum(~np.isnan(values), axis=1) < 2).all():
        # CROWDLAB needs a sample answered twice to weigh annotators: count votes instead
        return majority_vote(answers, classes)
    probs = np.asarray(run.probs[store.positions(order)], dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)
    from cleanlab.multiannotator import get_label_quality_multiannotator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # notes on annotators with few labels or no agreement
        result = get_label_quality_multiannotator(
            matrix.reset_index(drop=True),
            probs,
            return_detailed_quality=False,
            return_annotator_stats=True,
            return_weights=True,
            verbose=False,
        )
    quality = result["label_quality"]
    names = np.asarray(classes, dtype=object)
    labels = pd.DataFrame(
        {
            "sample_id": order,
            "consensus_label": names[quality["consensus_label"].to_numpy(dtype=int)],
            "consensus_quality": quality["consensus_quality_score"].to_numpy(dtype=float),
            "annotator_agreement": quality["annotator_agreement"].to_numpy(dtype=float),
            "num_annotations": quality["num_annotations"].to_numpy(dtype=int),
            "unanimous": quality["annotator_agreement"].to_numpy(dtype=float) == 1.0,
            "answers": _answers_text(matrix, classes),
        },
        columns=LABEL_COLUMNS,
    )
    stats = result["annotator_stats"].copy()
    stats.index.name = "annotator"
    stats = stats.reset_index().rename(
        columns={"annotator_quality": "quality", "num_examples_labeled": "num_labeled"}
    )
    worst = stats["worst_class"]
    stats["worst_class"] = [
        names[int(value)] if value == value and value is not None else "" for value in worst
    ]
    annotators = stats[ANNOTATOR_COLUMNS].sort_values("quality", ascending=False, kind="stable")
    return Consensus(
        labels,
        annotators.reset_index(drop=True),
        "crowdlab",
        float(result.get("model_weight", np.nan)),
    )


def answers_from_journal(store: Store) -> pd.DataFrame:
    """Every annotator answer that imports journaled (and nobody undid), oldest first.

    Returns
    -------
    DataFrame
        ``sample_id, annotator, label, event_id, source``; an annotator's later answer for the
        same sample replaces the earlier one.
    """
    columns = ["sample_id", "annotator", "label", "event_id", "source"]
    events = store.events()
    if events.empty:
        return pd.DataFrame(columns=columns)
    notes = events[
        (events["kind"] == "note")
        & events["source"].astype(str).str.startswith("import:")
        & events["note"].astype(str).str.startswith(ANSWER_PREFIX)
        & ~events["undone"].fillna(False).astype(bool)
    ]
    answers = pd.DataFrame(
        {
            "sample_id": notes["sample_id"].astype(str),
            "annotator": notes["author"].astype(str),
            "label": notes["note"].astype(str).str[len(ANSWER_PREFIX) :].str.strip(),
            "event_id": notes["event_id"].astype(int),
            "source": notes["source"].astype(str),
        },
        columns=columns,
    )
    answers = answers[answers["label"].isin(store.classes)]
    return answers.drop_duplicates(["sample_id", "annotator"], keep="last").reset_index(drop=True)


def annotator_quality(store: Store, run: Run | str | None = None) -> pd.DataFrame:
    """Each annotator's quality over every answer journaled so far (CROWDLAB), best first.

    Returns
    -------
    DataFrame
        ``annotator, quality, agreement_with_consensus, num_labeled, worst_class``; empty when
        no import journaled answers of several annotators.
    """
    answers = answers_from_journal(store)
    if answers.empty:
        return pd.DataFrame(columns=ANNOTATOR_COLUMNS)
    return crowdlab_consensus(answers, store, run).annotators
