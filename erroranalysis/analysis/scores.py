"""Per-sample scores: prediction, self-confidence, margin, entropy, loss, label quality.

Columns saved (result ``scores``, one row per sample):

``predicted_label``
    Class name of the argmax of the probabilities (first class on ties).
``self_confidence``
    ``p[i, label_i]``, the probability the model gives the current label.
``margin``
    cleanlab's normalised margin ``(p[label] - max_{k != label} p[k] + 1) / 2`` in [0, 1];
    below 0.5 means another class beats the label.
``entropy``
    Entropy of the predicted distribution in nats (``-sum p log p``), not label-dependent.
``loss``
    Cross-entropy of the current label, ``-log(max(p[label], 1e-12))``.
``label_quality``
    cleanlab ``get_label_quality_scores`` with ``method`` (low = probably mislabeled).

All are computed streaming over the probabilities (one block in memory at a time).
:func:`update_scores` re-scores only the samples whose label changed since the scores were
computed, and :func:`attach_metric` adds any user metric as a per-sample column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from erroranalysis.analysis._common import current_codes
from erroranalysis.analysis.base import (
    CHUNK_ELEMENTS,
    Analysis,
    AnalysisError,
    as_float32,
    iter_float32_chunks,
    register,
)
from erroranalysis.errors import ShapeMismatchError, describe

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = [
    "LABEL_DEPENDENT_COLUMNS",
    "METHODS",
    "Scores",
    "attach_metric",
    "compute_scores",
    "metric_columns",
    "update_scores",
]

METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
#: Score columns that change when a sample's label changes.
LABEL_DEPENDENT_COLUMNS = ("self_confidence", "margin", "loss", "label_quality")
#: Floor of the probability inside the log of the loss.
LOSS_EPSILON = 1e-12
_LABELS_ARTIFACT = "scores_labels"
_METRIC_PREFIX = "metric_"


def _block_scores(
    block: np.ndarray, labels: np.ndarray, method: str, with_unlabeled: bool = True
) -> dict[str, np.ndarray]:
    """Scores of one float32 block of rows (``labels`` are the block's current codes).

    The block is modified (it is a private float32 copy). The normalised margin is computed as
    cleanlab does, ``(p[label] - max_{k != label} p[k] + 1) / 2`` in float32, with the maximum
    taken over the row with the label's entry masked (identical values, one pass less than
    cleanlab's ``np.delete``).
    """
    from erroranalysis.analysis._cleanlab import (
        compute_label_quality_scores as _compute_label_quality_scores,
    )

    n = block.shape[0]
    rows = np.arange(n)
    # Unlabelled samples (code -1) get NaN in every label-dependent column.
    unlabelled = np.asarray(labels) < 0
    if unlabelled.any():
        labels = np.where(unlabelled, 0, labels)
    self_conf = block[rows, labels].astype(np.float32)
    out: dict[str, np.ndarray] = {}
    if with_unlabeled:
        out["predicted"] = block.argmax(axis=1).astype(np.int32)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(block, where=block > 0, out=np.zeros_like(block))
        logs *= block
        out["entropy"] = (-logs.sum(axis=1)).astype(np.float32)
        del logs
    if method == "confidence_weighted_entropy":
        quality = np.asarray(
            _compute_label_quality_scores(labels, block, method=method, adjust_pred_probs=False),
            dtype=np.float32,
        )
    block[rows, labels] = -np.inf
    max_other = block.max(axis=1)
    margin = ((self_conf - max_other + 1) / 2).astype(np.float32)
    out["self_confidence"] = self_conf
    out["margin"] = margin
    out["loss"] = (-np.log(np.maximum(self_conf.astype(np.float64), LOSS_EPSILON))).astype(
        np.float32
    )
    if method == "self_confidence":
        quality = self_conf
    elif method == "normalized_margin":
        quality = margin
    out["label_quality"] = quality
    if unlabelled.any():
        for name in LABEL_DEPENDENT_COLUMNS:
            out[name] = np.where(unlabelled, np.float32(np.nan), out[name]).astype(np.float32)
    return out


def compute_scores(
    probs: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    method: str = "self_confidence",
    progress: bool = False,
) -> pd.DataFrame:
    """Compute the score columns for every row of ``probs`` (streamed in float32 blocks).

    Parameters
    ----------
    probs : ndarray (N, K)
        Probabilities (float16/float32, memory-mapped is fine).
    labels : ndarray (N,)
        Current label of each row (class index).
    classes : list of str
        Class names, for ``predicted_label``.
    method : str
        cleanlab label-quality method for ``label_quality``.
    progress : bool
        Show a progress bar.

    Returns
    -------
    DataFrame
        ``predicted_label, self_confidence, margin, entropy, loss, label_quality``.
    """
    if method not in METHODS:
        raise AnalysisError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    n = probs.shape[0]
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (n,):
        raise ShapeMismatchError(f"labels must have {n} entries, got {labels.shape}")
    columns = {
        name: np.empty(n, dtype=np.float32)
        for name in ("self_confidence", "margin", "entropy", "loss", "label_quality")
    }
    predicted = np.empty(n, dtype=np.int32)
    chunks = iter_float32_chunks(probs, copy=True)
    if progress:
        from tqdm.auto import tqdm

        rows = max(1, CHUNK_ELEMENTS // max(probs.shape[1], 1))
        chunks = tqdm(chunks, total=-(-n // rows), desc="scores", unit="block", leave=False)
    for start, stop, block in chunks:
        part = _block_scores(block, labels[start:stop], method)
        predicted[start:stop] = part.pop("predicted")
        for name, values in part.items():
            columns[name][start:stop] = values
    return pd.DataFrame(
        {
            "predicted_label": pd.Categorical.from_codes(predicted, categories=list(classes)),
            **columns,
        },
        columns=[
            "predicted_label",
            "self_confidence",
            "margin",
            "entropy",
            "loss",
            "label_quality",
        ],
    )


@register
class Scores(Analysis):
    """Per-sample prediction and label scores (see the module docstring for each column).

    Parameters
    ----------
    method : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}
        cleanlab's label-quality method for the ``label_quality`` column.

    Attributes
    ----------
    scores_ : DataFrame
        One row per sample (sample order).
    labels_ : ndarray of int32
        The label codes the scores were computed with (for incremental updates).
    """

    name: ClassVar[str] = "scores"
    label_dependent: ClassVar[bool] = True
    result_name: ClassVar[str | None] = "scores"
    artifact_names: ClassVar[tuple[str, ...]] = (_LABELS_ARTIFACT,)

    def __init__(self, method: str = "self_confidence"):
        self.method = method

    def fit(self, store: Store, run: Run, progress: bool = False) -> Scores:
        self._stamp(store)
        self.labels_ = current_codes(store)
        self.scores_ = compute_scores(
            run.probs, self.labels_, store.classes, self.method, progress=progress
        )
        # Later analyses (confusion, slices, evaluation) reuse the predictions of this pass.
        from erroranalysis.analysis import _common

        predicted = self.scores_["predicted_label"].cat.codes.to_numpy(dtype=np.int32)
        predicted.setflags(write=False)
        _common._PREDICTED[(str(run.path), str(run.info.get("created")))] = predicted
        return self

    def save(self, store: Store, run: Run) -> None:
        run.save_result("scores", self.scores_, **self._result_kwargs())
        run.save_artifact(
            _LABELS_ARTIFACT, pd.DataFrame({"code": self.labels_}), **self._artifact_kwargs()
        )

    def summary(self) -> dict[str, Any]:
        return {
            "mean_self_confidence": round(float(self.scores_["self_confidence"].mean()), 4),
            "mean_loss": round(float(self.scores_["loss"].mean()), 4),
        }


def update_scores(
    store: Store, run: Run, positions: np.ndarray | None = None, save: bool = True
) -> pd.DataFrame:
    """Re-score only the samples whose label changed, without a full pass.

    Parameters
    ----------
    store, run
        The store and the run whose cached ``scores`` result is updated.
    positions : array of int, optional
        Row positions to re-score. By default, every position whose current label differs from
        the label the cached scores were computed with (a vectorised comparison, which also
        covers undo and relabels made by other processes).
    save : bool
        Write the updated result (and the label snapshot) back into the run.

    Returns
    -------
    DataFrame
        The re-scored rows (index = row positions), columns
        ``self_confidence, margin, loss, label_quality``.

    Raises
    ------
    AnalysisError
        When the run has no cached scores yet (run ``ea.scan(store, analyses=["scores"])``).
    """
    cached = run.load_result("scores")
    snapshot = run.load_artifact(_LABELS_ARTIFACT)
    record = Scores.cached_info(run)
    if cached is None or snapshot is None or record is None:
        raise AnalysisError(
            f"run {run.name!r} has no cached scores; run ea.scan(store, analyses=['scores']) first"
        )
    method = record.get("parameters", {}).get("method", "self_confidence")
    version = int(store.label_version)
    codes = current_codes(store)
    old = snapshot["code"].to_numpy(dtype=np.int32)
    if positions is None:
        positions = np.flatnonzero(codes != old)
    positions = np.unique(np.asarray(positions, dtype=np.int64))
    if positions.size and (positions.min() < 0 or positions.max() >= len(codes)):
        bad = positions[(positions < 0) | (positions >= len(codes))]
        raise AnalysisError(f"positions out of range: {describe(bad.tolist())}")
    if positions.size:
        block = as_float32(run.probs[positions])
        part = _block_scores(block, codes[positions].astype(np.int64), method, False)
    else:
        part = {name: np.empty(0, dtype=np.float32) for name in LABEL_DEPENDENT_COLUMNS}
    updated = pd.DataFrame(part, index=positions, columns=list(LABEL_DEPENDENT_COLUMNS))
    if save:
        for name in LABEL_DEPENDENT_COLUMNS:
            column = cached[name].to_numpy(dtype=np.float32, copy=True)
            column[positions] = updated[name].to_numpy()
            cached[name] = column
        old = old.copy()
        old[positions] = codes[positions]
        stale_elsewhere = bool((codes != old).any())
        label_version = None if stale_elsewhere else version
        run.save_result(
            "scores",
            cached,
            label_dependent=True,
            parameters=record.get("parameters", {}),
            label_version=label_version,
        )
        run.save_artifact(
            _LABELS_ARTIFACT,
            pd.DataFrame({"code": old}),
            label_dependent=True,
            label_version=label_version,
        )
        record = dict(record)
        record["label_version"] = label_version
        run.save_artifact(f"_scan_{Scores.name}", record)
    return updated


def attach_metric(
    store: Store,
    run: Run | str | None,
    name: str,
    values: Any,
    higher_is_better: bool = True,
) -> None:
    """Attach a user metric (e.g. a competition metric per sample) as a per-sample column.

    It is saved as the run result ``metric_<name>`` with one column ``name``, so
    ``store.frame(run)`` carries it and "lowest-scoring" views can sort by it.

    Parameters
    ----------
    store : Store
    run : Run, str or None
        The run (or its name; ``None`` = the latest run).
    name : str
        Column name; must not clash with the sample table or another result's columns.
    values : array-like of length N, or Series / dict indexed by sample_id
        One number per sample (NaN allowed for samples without a value).
    higher_is_better : bool
        Kept with the result so views sort the worst first.
    """
    if run is None or isinstance(run, str):
        run = store.run(run)
    if not name or not str(name).isidentifier():
        raise AnalysisError(f"metric name must be a Python identifier, got {name!r}")
    reserved = set(store.samples.columns) | {"label", "flags"}
    for result in run.results():
        if result != f"{_METRIC_PREFIX}{name}":
            info = run.result_info(result) or {}
            reserved |= set(info.get("columns", []))
    if name in reserved:
        raise AnalysisError(
            f"metric name {name!r} clashes with an existing column; choose another name"
        )
    n = store.num_samples
    if isinstance(values, (pd.Series, dict)):
        series = pd.Series(values, dtype="float64")
        unknown = series.index.difference(store.sample_ids)
        if len(unknown):
            raise AnalysisError(
                f"metric {name!r} has values for unknown sample ids {describe(list(unknown))}; "
                "use the store's sample_id values"
            )
        if series.index.has_duplicates:
            dup = series.index[series.index.duplicated()].unique()
            raise AnalysisError(f"metric {name!r} repeats sample ids {describe(list(dup))}")
        array = series.reindex(store.sample_ids).to_numpy(dtype=np.float64)
    else:
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise AnalysisError(f"metric {name!r} must be numeric: {error}") from None
        if array.shape != (n,):
            raise ShapeMismatchError(
                f"metric {name!r} must have one value per sample: expected ({n},), got "
                f"{array.shape}; or pass a Series indexed by sample_id"
            )
    if np.isinf(array).any():
        bad = store.sample_ids[np.flatnonzero(np.isinf(array))]
        raise AnalysisError(f"metric {name!r} is infinite for samples {describe(list(bad))}")
    run.save_result(
        f"{_METRIC_PREFIX}{name}",
        pd.DataFrame({name: array}),
        label_dependent=False,
        parameters={"metric": name, "higher_is_better": bool(higher_is_better), "user": True},
    )


def metric_columns(run: Run) -> dict[str, bool]:
    """User metrics attached to ``run``: column name -> ``higher_is_better``."""
    out = {}
    for result in run.results():
        info = run.result_info(result) or {}
        params = info.get("parameters") or {}
        if result.startswith(_METRIC_PREFIX) and params.get("user"):
            out[params["metric"]] = bool(params.get("higher_is_better", True))
    return out
