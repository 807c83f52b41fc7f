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

:class:`AnnotatorAgreement` (registry name ``annotators``) is that computation as an analysis: it
caches each annotator's quality, the consensus of every sample several annotators answered (the
``low_consensus`` ones first) and every answer against it in the run, where the dashboard's
*annotators* tab reads them. An import of several annotators refreshes it
(:func:`cache_annotators`), and ``ea.scan`` recomputes it whenever the journaled answers changed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from erroranalysis.analysis.base import Analysis, AnalysisError, register

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = [
    "ANSWER_PREFIX",
    "LOW_CONSENSUS_FLAG",
    "AnnotatorAgreement",
    "Consensus",
    "annotator_quality",
    "answers_from_journal",
    "cache_annotators",
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


#: Columns of the cached per-sample consensus (artifact ``consensus``).
CACHED_LABEL_COLUMNS = [*LABEL_COLUMNS, "low_consensus"]
#: Columns of the cached answers (artifact ``annotator_answers``).
ANSWER_COLUMNS = ["sample_id", "annotator", "label", "consensus_label", "agrees"]


def _answers_version(answers: pd.DataFrame) -> list[int]:
    """A fingerprint of the journaled answers: count, latest and sum of their event ids (an
    import adds answers, an undo removes some; either changes it)."""
    ids = answers["event_id"].to_numpy(dtype=np.int64) if len(answers) else np.zeros(0, np.int64)
    return [len(ids), int(ids.max()) if len(ids) else 0, int(ids.sum())]


@register
class AnnotatorAgreement(Analysis):
    """Each annotator's quality and the consensus of every journaled answer (CROWDLAB).

    Reads the answers that imports journaled (:func:`answers_from_journal`) and weighs them
    against the run's probabilities with :func:`crowdlab_consensus` (a majority vote when
    CROWDLAB cannot apply). Nothing is computed when fewer than two annotators answered.

    Parameters
    ----------
    min_consensus_quality : float
        Below this consensus quality, a sample whose annotators disagree is doubtful (the
        import's default, 0.5); samples the import flagged ``low_consensus`` are doubtful too.

    Attributes
    ----------
    annotators_ : DataFrame
        One row per annotator, best first: ``annotator, quality, agreement_with_consensus,
        num_labeled, worst_class``.
    consensus_ : DataFrame
        One row per sample with answers of two annotators or more, the ``low_consensus`` ones
        first, then by consensus quality (lowest first): the columns of :class:`Consensus`'s
        ``labels`` plus ``low_consensus`` (flagged by an import, or doubtful now).
    answers_ : DataFrame
        Every answer counted: ``sample_id, annotator, label, consensus_label, agrees``.
    info_ : dict
        ``method, model_weight, num_answers, num_annotators, num_samples, num_low_consensus,
        answers_version``.
    """

    name = "annotators"
    label_dependent = False
    artifact_names = ("annotators", "consensus", "annotator_answers", "annotators_info")

    def __init__(self, min_consensus_quality: float = 0.5):
        self.min_consensus_quality = min_consensus_quality

    def fit(self, store: Store, run: Run) -> AnnotatorAgreement:
        """Compute the consensus of every journaled answer against ``run``."""
        if not 0 <= float(self.min_consensus_quality) <= 1:
            raise AnalysisError(
                "min_consensus_quality must be between 0 and 1 (e.g. 0.5), got "
                f"{self.min_consensus_quality!r}"
            )
        self._stamp(store)
        answers = answers_from_journal(store)
        version = _answers_version(answers)
        several = answers[answers.groupby("sample_id")["annotator"].transform("nunique") >= 2]
        info = {
            "method": None,
            "model_weight": None,
            "num_answers": len(answers),
            "num_annotators": int(answers["annotator"].nunique()),
            "num_samples": 0,
            "num_low_consensus": 0,
            "answers_version": version,
        }
        if answers["annotator"].nunique() < 2 or several.empty:
            self.annotators_ = pd.DataFrame(columns=ANNOTATOR_COLUMNS)
            self.consensus_ = pd.DataFrame(columns=CACHED_LABEL_COLUMNS)
            self.answers_ = pd.DataFrame(columns=ANSWER_COLUMNS)
            self.info_ = info
            return self
        result = crowdlab_consensus(answers, store, run)
        labels = result.labels.copy()
        flags = store.flags()
        flagged = set(flags.loc[flags["flag"] == LOW_CONSENSUS_FLAG, "sample_id"].astype(str))
        doubtful = ~labels["unanimous"].to_numpy(dtype=bool) & (
            labels["consensus_quality"].to_numpy(dtype=float) < float(self.min_consensus_quality)
        )
        multi = labels["num_annotations"].to_numpy(dtype=int) >= 2
        labels["low_consensus"] = (labels["sample_id"].isin(flagged).to_numpy() | doubtful) & multi
        labels = labels[multi | labels["sample_id"].isin(flagged).to_numpy()]
        labels = labels.sort_values(
            ["low_consensus", "consensus_quality"], ascending=[False, True], kind="stable"
        ).reset_index(drop=True)
        chosen = result.labels.set_index("sample_id")["consensus_label"]
        counted = answers[["sample_id", "annotator", "label"]].copy()
        counted["consensus_label"] = counted["sample_id"].map(chosen).astype(object)
        counted["agrees"] = (counted["label"] == counted["consensus_label"]).to_numpy(bool)
        self.annotators_ = result.annotators.reset_index(drop=True)
        self.consensus_ = labels[CACHED_LABEL_COLUMNS]
        self.answers_ = counted[ANSWER_COLUMNS].reset_index(drop=True)
        model_weight = result.model_weight
        info.update(
            method=result.method,
            model_weight=None if model_weight != model_weight else float(model_weight),
            num_samples=len(labels),
            num_low_consensus=int(labels["low_consensus"].sum()),
        )
        self.info_ = info
        return self

    def save(self, store: Store, run: Run) -> None:
        """Cache the four results in the run (tables as Parquet, the info as JSON)."""
        run.save_artifact("annotators", self.annotators_.astype({"worst_class": str}))
        consensus = self.consensus_.copy()
        for column in ("sample_id", "consensus_label", "answers"):
            consensus[column] = consensus[column].astype(str)
        run.save_artifact("consensus", consensus)
        answers = self.answers_.copy()
        for column in ("sample_id", "annotator", "label", "consensus_label"):
            answers[column] = answers[column].astype(str)
        run.save_artifact("annotator_answers", answers)
        run.save_artifact("annotators_info", self.info_)

    def summary(self) -> dict[str, object]:
        info = self.info_
        return {
            "annotators": info["num_annotators"],
            "samples": info["num_samples"],
            "low_consensus": info["num_low_consensus"],
        }

    @classmethod
    def is_cached(cls, store: Store, run: Run, parameters: dict | None = None) -> bool:
        """Up to date when cached with these parameters from the answers journaled now."""
        if not super().is_cached(store, run, parameters):
            return False
        info = run.load_artifact("annotators_info")
        if not isinstance(info, dict):
            return False
        return list(info.get("answers_version") or []) == _answers_version(
            answers_from_journal(store)
        )


def cache_annotators(store: Store, run: Run | str | None = None) -> AnnotatorAgreement | None:
    """Refresh the cached annotator analysis of ``run`` (default: the latest; none: no-op).

    :func:`erroranalysis.import_annotations` calls it after an import of several annotators, so
    the dashboard's annotators tab shows the new answers without a scan.

    Returns
    -------
    AnnotatorAgreement or None
        The fitted analysis (``None`` when the store has no run).
    """
    if not store.runs():
        return None
    if run is None or isinstance(run, str):
        run = store.run(run)
    store.refresh()
    analysis = AnnotatorAgreement().fit(store, run)
    analysis.save(store, run)
    analysis._record(run)
    return analysis
