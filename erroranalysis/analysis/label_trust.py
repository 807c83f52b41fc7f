"""Can a run's label-issue flags be trusted? A model too weak for them says so.

Label-issue detection (confident learning) flags the samples where a model confidently disagrees
with the given label. That only finds label errors when the model agrees with the labels far
better than chance: a weak model's disagreements are mostly its own mistakes, and cleanlab flags
them all the same (the bring-your-own-model notebook's pixel model: 49 % accuracy on three
balanced classes, 53 of 120 samples flagged).

The rule (:func:`label_issue_trust`):

- **agreement beyond chance**: Cohen's κ between the run's predictions and the current labels
  (labelled samples only) must be at least :data:`MIN_KAPPA` = 0.6, the lower end of
  "substantial agreement" on Landis & Koch's (1977) scale. κ corrects the accuracy for the
  agreement that class frequencies give by chance (always predicting the majority class scores
  its share, κ = 0), so one bar fits balanced and imbalanced data and any number of classes:
  on K balanced classes κ = 0.6 is an accuracy of 0.6 + 0.4 / K (80 % for 2 classes, 73 % for
  3, 64 % for 10). The notebook's model has κ = 0.24; the demo's quick run 0.67, its full run
  0.82 (label-error precision 0.37 and 0.78 against the planted truth).
- **out-of-sample predictions**: a run marked ``out_of_sample=False`` (predictions on the
  model's own training images) flags too little, because the model has learnt the labels; a
  run that does not say is "unknown". Either is reported, as a caution rather than a verdict.

Views (the issue table) and the static report show :attr:`LabelIssueTrust.message` when
:attr:`LabelIssueTrust.trusted` is False or a caution applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["MIN_KAPPA", "LabelIssueTrust", "label_issue_trust", "run_label_issue_trust"]

#: Cohen's κ (predictions vs labels) below which label-issue flags are not trusted.
MIN_KAPPA = 0.6


@dataclass
class LabelIssueTrust:
    """How far a run's label-issue flags can be trusted.

    Attributes
    ----------
    trusted : bool
        False when the model agrees with the labels too little beyond chance (κ below
        :data:`MIN_KAPPA`, or no labelled sample with a prediction).
    kappa : float
        Cohen's κ of predictions vs current labels (NaN when undefined).
    accuracy : float
        Share of labelled samples predicted as labelled.
    chance : float
        The agreement expected by chance from the label and prediction frequencies.
    num_labelled : int
    num_flagged : int or None
        Samples flagged as label issues, when known.
    out_of_sample : bool or None
        The run's ``out_of_sample`` (None: not recorded).
    cautions : list of str
        Short reasons besides κ (in-sample or unknown predictions).
    """

    trusted: bool
    kappa: float
    accuracy: float
    chance: float
    num_labelled: int
    num_flagged: int | None = None
    out_of_sample: bool | None = True
    cautions: list[str] = field(default_factory=list)

    @property
    def warn(self) -> bool:
        """Whether a view should say something (untrusted, or a caution applies)."""
        return not self.trusted or bool(self.cautions)

    @property
    def message(self) -> str:
        """One paragraph for the user ("" when there is nothing to say)."""
        parts: list[str] = []
        if not self.trusted:
            if self.num_labelled == 0:
                parts.append(
                    "Label-issue flags cannot be checked: no labelled sample has a prediction."
                )
            else:
                flagged = (
                    f"most of the {self.num_flagged:,} flagged samples"
                    if self.num_flagged
                    else "most flags"
                )
                parts.append(
                    "Label-issue flags are not reliable for this run: the model agrees with the "
                    f"labels on {self.accuracy:.1%} of {self.num_labelled:,} labelled samples, "
                    f"where chance agreement is {self.chance:.1%} (Cohen's κ = "
                    f"{self.kappa:.2f}; flags are trusted from κ ≥ {MIN_KAPPA}). With a model "
                    f"this weak, {flagged} are likely its own mistakes, not label errors: "
                    "improve the model before relabelling from this list."
                )
        parts.extend(self.cautions)
        return " ".join(parts)


def _kappa(label_codes: np.ndarray, pred_codes: np.ndarray, k: int) -> tuple[float, float, float]:
    n = len(label_codes)
    counts = np.bincount(label_codes * k + pred_codes, minlength=k * k).reshape(k, k)
    accuracy = float(np.trace(counts)) / n
    chance = float((counts.sum(axis=1) / n) @ (counts.sum(axis=0) / n))
    kappa = (accuracy - chance) / (1.0 - chance) if chance < 1.0 else float("nan")
    return kappa, accuracy, chance


def label_issue_trust(
    label_codes: np.ndarray,
    pred_codes: np.ndarray,
    num_classes: int,
    num_flagged: int | None = None,
    out_of_sample: bool | None = True,
    min_kappa: float = MIN_KAPPA,
) -> LabelIssueTrust:
    """Whether label-issue flags computed from these predictions can be trusted.

    Parameters
    ----------
    label_codes, pred_codes : numpy.ndarray
        Current label and predicted class codes per sample (-1: unlabelled / no prediction;
        such samples are left out).
    num_classes : int
    num_flagged : int, optional
        How many samples are flagged as label issues (named in the message).
    out_of_sample : bool or None
        The run's ``out_of_sample``; False or None adds a caution.
    min_kappa : float
        The bar (default :data:`MIN_KAPPA`).

    Returns
    -------
    LabelIssueTrust
    """
    labels = np.asarray(label_codes, dtype=np.int64)
    preds = np.asarray(pred_codes, dtype=np.int64)
    keep = (labels >= 0) & (preds >= 0) & (labels < num_classes) & (preds < num_classes)
    labels, preds = labels[keep], preds[keep]
    cautions: list[str] = []
    if out_of_sample is False:
        cautions.append(
            "The predictions are in-sample (the model saw these labels in training): it has "
            "learnt their mistakes too, so it flags fewer label errors than there are; "
            "ea.cross_val_predict gives out-of-sample predictions."
        )
    elif out_of_sample is None:
        cautions.append(
            "The run does not record whether its predictions are out-of-sample; flags from "
            "in-sample predictions miss label errors the model has learnt."
        )
    if not len(labels):
        return LabelIssueTrust(
            False, float("nan"), float("nan"), float("nan"), 0, num_flagged, out_of_sample,
            cautions,
        )  # fmt: skip
    kappa, accuracy, chance = _kappa(labels, preds, int(num_classes))
    trusted = bool(np.isfinite(kappa) and kappa >= min_kappa)
    return LabelIssueTrust(
        trusted, kappa, accuracy, chance, len(labels), num_flagged, out_of_sample, cautions
    )


def run_label_issue_trust(store, run=None, frame=None) -> LabelIssueTrust | None:
    """:func:`label_issue_trust` of a scanned run (None when it has no predictions yet).

    Parameters
    ----------
    store : Store
    run : str or Run, optional
        Default: the latest.
    frame : DataFrame, optional
        ``store.frame(run)`` when the caller has it already.
    """
    opened = run if hasattr(run, "info") and hasattr(run, "name") else store.run(run)
    frame = store.frame(opened.name) if frame is None else frame
    if "predicted_label" not in frame.columns:
        return None
    index = {name: code for code, name in enumerate(store.classes)}
    labels = frame["label"].astype(object).map(index).fillna(-1).to_numpy(dtype=np.int64)
    preds = frame["predicted_label"].astype(object).map(index).fillna(-1).to_numpy(dtype=np.int64)
    flagged = (
        int(frame["is_label_issue"].fillna(False).astype(bool).sum())
        if "is_label_issue" in frame.columns
        else None
    )
    raw = opened.info.get("out_of_sample")
    out_of_sample = None if raw is None else bool(raw)
    return label_issue_trust(labels, preds, store.num_classes, flagged, out_of_sample)
