"""Pseudo-labels: per-class confidence thresholds that reach a target precision.

:func:`pseudo_label` returns a plan (a fitted :class:`PseudoLabeler`). For each class it finds
the lowest confidence threshold whose precision — estimated on the *labelled* samples the run
predicts as that class with at least that confidence, taking the lower end of a Wilson score
interval — reaches ``target_precision``, and counts the *unlabelled* samples it would label (the
yield). :meth:`PseudoLabeler.accept` writes those labels as one batch of journal events
(``source="pseudo"``, a relabel plus a ``pseudo_labelled`` flag that keeps the score), so that one
``store.undo()`` reverts them all.

The estimate is only honest when the predictions are out-of-sample (``ea.cross_val_predict``);
in-sample runs give a warning, as for label issues. Samples already pseudo-labelled are neither
evidence nor candidates, so rerunning after an acceptance or after new labels updates the plan.
"""

from __future__ import annotations

import warnings
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from erroranalysis.analysis._common import current_codes, predicted_codes
from erroranalysis.analysis.base import AnalysisError, iter_float32_chunks
from erroranalysis.analysis.label_issues import InSampleWarning
from erroranalysis.errors import StalePlanError
from erroranalysis.store.store import PSEUDO_FLAG, PSEUDO_SOURCE

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = ["PSEUDO_FLAG", "PseudoLabeler", "pseudo_label", "wilson_interval"]

# PSEUDO_FLAG: the flag every accepted pseudo-label carries (its note keeps the score). The
# store owns the name: a relabel by a person (any other source) removes the flag.

_CURVE_KEYS = ("threshold", "support", "correct", "precision", "lower", "upper", "yield")


def wilson_interval(
    correct: np.ndarray | int, total: np.ndarray | int, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion ``correct / total`` (``total > 0``).

    Returns
    -------
    lower, upper : ndarray of float64
    """
    k = np.asarray(correct, dtype=np.float64)
    n = np.asarray(total, dtype=np.float64)
    p = k / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


class PseudoLabeler:
    """Per-class confidence thresholds for pseudo-labelling (scikit-learn style).

    Parameters
    ----------
    target_precision : float
        Precision the pseudo-labels of each class must reach, strictly between 0 and 1; the
        *lower* end of the Wilson interval is held to it.
    min_support : int
        Fewest labelled samples predicted as a class, at or above its threshold, that an
        estimate may rest on; a class with fewer gets no threshold.
    confidence_level : float
        Two-sided level of the Wilson interval (0.95: the lower end is a 97.5 % bound).

    Attributes
    ----------
    table_ : DataFrame
        One row per class: ``class, threshold`` (NaN when none), ``precision, precision_low,
        precision_high`` (estimated at the threshold), ``support`` (labelled samples at or
        above it), ``predicted_labelled`` (all labelled samples predicted as the class),
        ``yield`` (unlabelled samples it would label) and ``reason`` (why there is no
        threshold; empty otherwise).
    thresholds_ : dict of str to float
        The classes that got a threshold.
    curves_ : dict of str to dict of ndarray
        Per class, for every candidate threshold (the distinct confidences of its labelled
        samples, highest first): ``threshold, support, correct, precision, lower, upper,
        yield``. Views index these instead of recomputing.
    global_ : dict
        The same search with one threshold for all classes (``threshold, precision,
        precision_low, support, yield``), for comparison.
    confidence_ : ndarray of float32 (N,)
        The predicted class's probability for every sample.
    predicted_ : ndarray of int32 (N,)
        The predicted class of every sample.
    candidates_ : ndarray of bool (N,)
        Unlabelled samples that may be pseudo-labelled (not labelled, not pseudo-labelled yet).
    in_sample_ : bool
        True when the run's predictions are in-sample (a warning was issued).
    run_name_ : str
    label_version_ : int
        The store's label version the plan was made at (accepting later refuses if it moved).
    """

    def __init__(
        self,
        target_precision: float = 0.98,
        min_support: int = 30,
        confidence_level: float = 0.95,
    ):
        self.target_precision = target_precision
        self.min_support = min_support
        self.confidence_level = confidence_level

    def _check_params(self) -> None:
        target = self.target_precision
        if not isinstance(target, (int, float)) or not 0 < float(target) < 1:
            raise AnalysisError(
                f"target_precision must be strictly between 0 and 1 (e.g. 0.98), got {target!r}"
            )
        if not isinstance(self.min_support, (int, np.integer)) or self.min_support < 1:
            raise AnalysisError(
                f"min_support must be a positive whole number of labelled samples, got "
                f"{self.min_support!r}"
            )
        if not 0 < float(self.confidence_level) < 1:
            raise AnalysisError(
                f"confidence_level must be strictly between 0 and 1 (e.g. 0.95), got "
                f"{self.confidence_level!r}"
            )

    # -- fitting -------------------------------------------------------------------------------

    def fit(self, store: Store, run: Run | str | None = None) -> PseudoLabeler:
        """Estimate every class's threshold from the store's labelled samples."""
        self._check_params()
        if run is None or isinstance(run, str):
            run = store.run(run)
        store.refresh()
        self._store = store
        self.run_name_ = run.name
        self.label_version_ = store.label_version
        self.in_sample_ = not bool(run.out_of_sample)
        if self.in_sample_:
            warnings.warn(
                f"run {run.name!r} has in-sample predictions (out_of_sample=False): precision "
                "estimated on the training data is optimistic (the model memorised those labels), "
                "so pseudo-labels may fall short of the target; use ea.cross_val_predict for "
                "out-of-sample probabilities",
                InSampleWarning,
                stacklevel=2,
            )
        probs = run.probs
        confidence = np.empty(probs.shape[0], dtype=np.float32)
        for start, stop, block in iter_float32_chunks(probs):
            confidence[start:stop] = block.max(axis=1)
        predicted = np.asarray(predicted_codes(run))
        labels = current_codes(store)
        already = np.zeros(len(labels), dtype=bool)
        flags = store.flags()
        pseudo_ids = flags.loc[flags["flag"] == PSEUDO_FLAG, "sample_id"]
        if len(pseudo_ids):
            already[store.positions(pseudo_ids.tolist())] = True
        evidence = (labels >= 0) & ~already
        candidates = (labels < 0) & ~already
        self.confidence_ = confidence
        self.predicted_ = predicted
        self.candidates_ = candidates
        z = NormalDist().inv_cdf(1 - (1 - float(self.confidence_level)) / 2)

        rows, curves = [], {}
        for code, name in enumerate(store.classes):
            mine = evidence & (predicted == code)
            curve = _curve(
                confidence[mine],
                labels[mine] == code,
                confidence[candidates & (predicted == code)],
                z,
            )
            curves[name] = curve
            rows.append({"class": name, **self._choose(curve, name, int(mine.sum()))})
        self.curves_ = curves
        self.table_ = pd.DataFrame(rows)
        self.thresholds_ = {
            row["class"]: float(row["threshold"]) for row in rows if not np.isnan(row["threshold"])
        }
        all_curve = _curve(
            confidence[evidence],
            labels[evidence] == predicted[evidence],
            confidence[candidates],
            z,
        )
        chosen = self._choose(all_curve, "all classes", int(evidence.sum()))
        self.global_ = {
            key: chosen[key] for key in ("threshold", "precision", "precision_low", "support")
        } | {"yield": chosen["yield"]}
        return self

    def _choose(self, curve: dict[str, np.ndarray], name: str, total: int) -> dict[str, Any]:
        target, minimum = float(self.target_precision), int(self.min_support)
        empty = {
            "threshold": np.nan,
            "precision": np.nan,
            "precision_low": np.nan,
            "precision_high": np.nan,
            "support": 0,
            "predicted_labelled": total,
            "yield": 0,
        }
        if total < minimum:
            reason = (
                f"only {total} labelled sample(s) are predicted as {name}, fewer than "
                f"min_support={minimum}: label more {name} samples (or lower min_support)"
            )
            return empty | {"reason": reason}
        ok = np.flatnonzero((curve["lower"] >= target) & (curve["support"] >= minimum))
        if not ok.size:
            eligible = np.flatnonzero(curve["support"] >= minimum)
            best = eligible[np.argmax(curve["lower"][eligible])]
            reason = (
                f"no threshold reaches precision {target:g}: the best lower bound is "
                f"{curve['lower'][best]:.3f} (threshold {curve['threshold'][best]:.4f}, "
                f"{int(curve['support'][best])} labelled samples); label more {name} samples or "
                "lower target_precision"
            )
            return empty | {"reason": reason}
        i = int(ok[-1])  # curves run from the highest threshold down: the last is the lowest
        return {
            "threshold": float(curve["threshold"][i]),
            "precision": float(curve["precision"][i]),
            "precision_low": float(curve["lower"][i]),
            "precision_high": float(curve["upper"][i]),
            "support": int(curve["support"][i]),
            "predicted_labelled": total,
            "yield": int(curve["yield"][i]),
            "reason": "",
        }

    # -- using the plan ------------------------------------------------------------------------

    def curve(self, name: str) -> pd.DataFrame:
        """One class's curve (see ``curves_``) as a DataFrame."""
        return pd.DataFrame(self.curves_[name])

    def selection(self, thresholds: dict[str, float] | None = None) -> pd.DataFrame:
        """The unlabelled samples the plan would label.

        Parameters
        ----------
        thresholds : dict of str to float, optional
            Per-class thresholds overriding ``thresholds_`` (a class missing from the dict
            keeps the plan's; ``None`` or NaN for a class labels none of it).

        Returns
        -------
        DataFrame
            ``sample_id, label, score`` (the confidence), highest score first.
        """
        store = self._store
        rows = np.flatnonzero(self.above(thresholds))
        rows = rows[np.argsort(-self.confidence_[rows], kind="stable")]
        return pd.DataFrame(
            {
                "sample_id": np.asarray(store.sample_ids)[rows],
                "label": np.asarray(store.classes, dtype=object)[self.predicted_[rows]],
                "score": self.confidence_[rows].astype(np.float64),
            }
        )

    def above(self, thresholds: dict[str, float] | None = None) -> np.ndarray:
        """Which samples the plan would label: candidates at or above their class's threshold.

        Parameters
        ----------
        thresholds : dict of str to float, optional
            Per-class overrides, as in :meth:`selection`.

        Returns
        -------
        ndarray of bool (N,)
            ``candidates_ & ~above(...)`` is what stays for people (the annotator queue).
        """
        store = self._store
        chosen = dict(self.thresholds_)
        for name, value in (thresholds or {}).items():
            if name not in store.class_index:
                raise AnalysisError(
                    f"thresholds names {name!r}, which is not one of the classes "
                    f"{list(store.classes)[:10]}"
                )
            chosen[name] = np.nan if value is None else float(value)
        per_code = np.full(store.num_classes, np.inf)
        for name, value in chosen.items():
            if not np.isnan(value):
                per_code[store.class_index[name]] = value
        return self.candidates_ & (self.confidence_ >= per_code[self.predicted_])

    def near_threshold(
        self, name: str, threshold: float | None, count: int = 8
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The unlabelled samples predicted as ``name`` just above and just below a threshold.

        For spot checks: ``above`` are the least confident samples the threshold would label
        (lowest score first), ``below`` the most confident ones it would not (highest first).
        ``threshold=None`` puts every candidate below.

        Returns
        -------
        above, below : DataFrame
            ``sample_id, score`` each, at most ``count`` rows.
        """
        store = self._store
        code = store.class_index[name]
        rows = np.flatnonzero(self.candidates_ & (self.predicted_ == code))
        rows = rows[np.argsort(self.confidence_[rows], kind="stable")]  # lowest score first
        scores = self.confidence_[rows]
        cut = len(rows) if threshold is None else int(np.searchsorted(scores, threshold, "left"))
        ids = np.asarray(store.sample_ids)

        def table(picked: np.ndarray) -> pd.DataFrame:
            return pd.DataFrame(
                {"sample_id": ids[picked], "score": self.confidence_[picked].astype(np.float64)}
            )

        return table(rows[cut : cut + count]), table(rows[max(cut - count, 0) : cut][::-1])

    def accept(
        self,
        thresholds: dict[str, float] | None = None,
        author: str | None = None,
        session: str | None = None,
    ) -> list[int]:
        """Write the pseudo-labels as one batch of journal events; one undo reverts them all.

        Each selected sample gets a relabel to its predicted class and a ``pseudo_labelled``
        flag whose note keeps the score, all with ``source="pseudo"`` in one transaction (all
        written or none).

        Parameters
        ----------
        thresholds : dict of str to float, optional
            Per-class overrides, as in :meth:`selection`.
        author, session : str, optional
            Recorded on the events (a dashboard passes its session so its undo finds them).

        Returns
        -------
        list of int
            The new event ids (empty when nothing is above the thresholds).

        Raises
        ------
        StalePlanError
            The store's labels changed since the plan was made: run ``ea.pseudo_label`` again.
        """
        store = self._store
        store.refresh()
        if store.label_version != self.label_version_:
            raise StalePlanError(
                f"the store's labels changed since this plan was made (label version "
                f"{self.label_version_} → {store.label_version}); make a new plan with "
                "ea.pseudo_label(store, ...) and accept that"
            )
        chosen = self.selection(thresholds)
        events: list[dict[str, Any]] = []
        for sample_id, label, score in chosen.itertuples(index=False):
            note = f"score {score:.6f} (run {self.run_name_!r}, target {self.target_precision:g})"
            events.append({"kind": "relabel", "sample_id": sample_id, "label": label, "note": note})
            events.append(
                {
                    "kind": "flag",
                    "sample_id": sample_id,
                    "flag": PSEUDO_FLAG,
                    "note": f"{score:.6f}",
                }
            )
        return store.apply_events(events, source=PSEUDO_SOURCE, author=author, session=session)

    def summary(self) -> str:
        """The per-class plan as text (what the CLI prints)."""
        lines = [
            f"pseudo-label plan for run {self.run_name_!r}, target precision "
            f"{self.target_precision:g} (Wilson lower bound, {self.confidence_level:g} interval)"
        ]
        header = (
            f"{'class':<20} {'threshold':>9} {'precision':>9} {'interval':>15} "
            f"{'support':>8} {'yield':>7}"
        )
        lines.append(header)
        for row in self.table_.to_dict("records"):
            name = str(row["class"])[:20]
            if np.isnan(row["threshold"]):
                lines.append(f"{name:<20} {'-':>9}  no threshold: {row['reason']}")
                continue
            interval = f"[{row['precision_low']:.3f}, {row['precision_high']:.3f}]"
            lines.append(
                f"{name:<20} {row['threshold']:>9.4f} {row['precision']:>9.3f} "
                f"{interval:>15} {row['support']:>8} {row['yield']:>7}"
            )
        total = int(self.table_["yield"].sum())
        g = self.global_
        lines.append(f"total yield: {total} of {int(self.candidates_.sum())} unlabelled samples")
        if np.isnan(g["threshold"]):
            lines.append("one global threshold: none reaches the target")
        else:
            lines.append(
                f"one global threshold instead: {g['threshold']:.4f}, yield {g['yield']} "
                f"(estimated precision {g['precision']:.3f}, lower {g['precision_low']:.3f})"
            )
        return "\n".join(lines)


def _curve(
    confidence: np.ndarray, correct: np.ndarray, unlabelled: np.ndarray, z: float
) -> dict[str, np.ndarray]:
    """Support, precision, Wilson interval and yield at every distinct labelled confidence."""
    order = np.argsort(-confidence, kind="stable")
    values = confidence[order]
    hits = np.cumsum(correct[order], dtype=np.int64)
    support = np.arange(1, len(values) + 1, dtype=np.int64)
    last = np.r_[values[1:] != values[:-1], True] if len(values) else np.zeros(0, dtype=bool)
    values, hits, support = values[last], hits[last], support[last]
    if len(values):
        lower, upper = wilson_interval(hits, support, z)
        precision = hits / support
    else:
        lower = upper = precision = np.zeros(0)
    ranked = np.sort(unlabelled)
    yields = len(ranked) - np.searchsorted(ranked, values, side="left")
    return dict(
        zip(
            _CURVE_KEYS,
            (values, support, hits, precision, lower, upper, yields.astype(np.int64)),
            strict=True,
        )
    )


def pseudo_label(
    store: Store,
    run: Run | str | None = None,
    target_precision: float = 0.98,
    min_support: int = 30,
    confidence_level: float = 0.95,
) -> PseudoLabeler:
    """Plan pseudo-labels: per-class thresholds reaching ``target_precision``.

    Parameters
    ----------
    store : Store
    run : Run or str, optional
        The run whose predictions to use (default: the latest); out-of-sample predictions
        (``ea.cross_val_predict``) give an honest estimate, in-sample ones a warning.
    target_precision : float
        Strictly between 0 and 1.
    min_support : int
        Fewest labelled samples an estimate may rest on (see :class:`PseudoLabeler`).
    confidence_level : float
        Level of the Wilson interval.

    Returns
    -------
    PseudoLabeler
        The fitted plan: ``plan.table_`` per class, ``plan.accept()`` to write it.

    Examples
    --------
    >>> plan = ea.pseudo_label(store, target_precision=0.98)   # doctest: +SKIP
    >>> print(plan.summary())                                   # doctest: +SKIP
    >>> plan.accept()                                           # doctest: +SKIP
    """
    return PseudoLabeler(
        target_precision=target_precision,
        min_support=min_support,
        confidence_level=confidence_level,
    ).fit(store, run)
