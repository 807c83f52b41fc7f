"""Weak slices: accuracy per metadata value, per quantile bin and per pair of those, ranked.

A slice is the set of samples with one value of a categorical / low-cardinality metadata column
(``split``, ``source``, ``lighting``…), one quantile bin of a numeric metadata column or of an
image property (``brightness``, ``blur``…, when the ``image_properties`` result is cached), or
the intersection of two of those from different columns (``lighting=dark & camera=cam_b``, as
slice finders do). For each slice: its size, the number of correct predictions (prediction ==
current label), accuracy with a Wilson 95 % interval, macro-F1 (scikit-learn, over the classes
present in the slice's labels or predictions), and a one-sided two-proportion test of the slice
against the other samples: ``p_value``, its Benjamini–Hochberg ``q_value`` over all slices, and
``significant`` (``q_value < 0.05``: the slice is worse than the rest, with the false-discovery
rate controlled at 5 %). ``weak`` means the interval's upper bound is below the overall accuracy
(or, for a one-feature slice less accurate than overall that the greedy ranking below picks,
below the accuracy of the samples the slices ranked above it do not cover).

A two-feature slice is kept only when it is significantly worse (one-sided test, p < 0.05) than
the rest of *each* of its two one-feature parents, so a subgroup does not come back as many of its
own random halves.

Ranking (``rank``), weakest first: one-feature slices are ordered by ``gap_low = overall
accuracy − ci_high`` (how much worse the slice is at least, at 95 % confidence: large, clearly
worse slices before tiny noisy ones), then picked greedily (sequential covering): each next slice
is the one with the largest gap on its samples *not yet covered* by the slices above it, measured
against the accuracy of all the samples not yet covered — once the weakest subgroups are taken
out, the rest is more accurate, and a milder weak subgroup stands out (the demo's heavy blur at
seed 1: 82 % accurate against 88 % overall, not weak by the overall bound, but 93 % once the tiny,
cluttered and dark images are covered; such a slice is ``weak`` given the slices above it, and
its ``q_value``, against all other samples, says whether it is significant on its own). A broad
bin that is weak only because it contains a weak subgroup (the lowest-contrast quartile holds the
dark images) is ranked after that subgroup (``redundant``: weak, but no longer weak once the
slices above are taken out). The weak two-feature slices follow the picked one-feature slices (they
refine them: ``object_size=tiny & contrast=low`` is read after ``object_size=tiny``), then come
the redundant slices, then the rest. Saved as the ``slices`` artifact; widgets read it, and :func:`slice_mask` gives the
members of a slice.
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

__all__ = [
    "Slices",
    "benjamini_hochberg",
    "rank_slices",
    "slice_frame",
    "slice_mask",
    "slice_masks",
    "slice_table",
    "two_proportion_p",
    "wilson_interval",
]

_NOT_METADATA = {"sample_id", "given_label", "label", "path", "flags"}
_COLUMNS = [
    "feature",
    "kind",
    "value",
    "low",
    "high",
    "feature2",
    "kind2",
    "value2",
    "low2",
    "high2",
    "slice",
    "order",
    "size",
    "correct",
    "accuracy",
    "ci_low",
    "ci_high",
    "macro_f1",
    "p_value",
    "q_value",
    "significant",
]


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


def two_proportion_p(
    correct_a: np.ndarray, size_a: np.ndarray, correct_b: np.ndarray, size_b: np.ndarray
) -> np.ndarray:
    """One-sided p-value that group A's accuracy is below group B's (pooled z-test, vectorised).

    1 where either group is empty or both are all right / all wrong.

    Examples
    --------
    >>> p = two_proportion_p(np.array([5]), np.array([10]), np.array([90]), np.array([100]))
    >>> round(float(p[0]), 5)
    0.00022
    """
    from scipy.stats import norm

    ca, na = np.asarray(correct_a, np.float64), np.asarray(size_a, np.float64)
    cb, nb = np.asarray(correct_b, np.float64), np.asarray(size_b, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (ca + cb) / (na + nb)
        se = np.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
        z = (cb / nb - ca / na) / se
    p = norm.sf(z)
    return np.where((na > 0) & (nb > 0) & (se > 0), p, 1.0)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values) of ``p``.

    Examples
    --------
    >>> benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5])).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    """
    p = np.asarray(p, dtype=np.float64)
    n = len(p)
    if n == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def _macro_f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    if len(labels) == 0:
        return float("nan")
    return float(f1_score(labels, predicted, average="macro", zero_division=0))


def _base_slices(
    frame: pd.DataFrame, categorical: list[str], numeric: list[str], bins: int
) -> list[tuple[dict[str, Any], np.ndarray]]:
    """(condition, mask) of every one-feature slice."""
    out: list[tuple[dict[str, Any], np.ndarray]] = []
    for column in categorical:
        codes, uniques = pd.factorize(frame[column], sort=True)
        for code, value in enumerate(uniques):
            condition = {"feature": column, "kind": "category", "value": str(value)}
            out.append(({**condition, "low": np.nan, "high": np.nan}, codes == code))
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
            value = f"[{low:.4g}, {high:.4g}{']' if last else ')'}"
            out.append(
                ({"feature": column, "kind": "bin", "value": value, "low": low, "high": high}, mask)
            )
    return out


def slice_table(
    frame: pd.DataFrame,
    labels: np.ndarray,
    predicted: np.ndarray,
    categorical: list[str],
    numeric: list[str],
    bins: int = 4,
    min_size: int = 1,
    pairs: bool = False,
    pair_min_size: int = 20,
    pair_alpha: float = 0.05,
    return_masks: bool = False,
):
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
    pairs : bool
        Also intersect every two one-feature slices of different columns (kept when at least
        ``pair_min_size`` large and significantly worse, at ``pair_alpha``, than the rest of
        each parent).
    return_masks : bool
        Also return the boolean members matrix (slices × samples), in the table's row order.

    Returns
    -------
    DataFrame (and the masks when ``return_masks``)
        Columns ``feature, kind, value, low, high`` (the first condition), ``feature2, kind2,
        value2, low2, high2`` (the second, empty for one-feature slices), ``slice`` (readable),
        ``order`` (1 or 2), ``size, correct, accuracy, ci_low, ci_high, macro_f1, p_value,
        q_value, significant``.
    """
    labels = np.asarray(labels)
    predicted = np.asarray(predicted)
    correct = labels == predicted
    n, total_correct = len(correct), int(correct.sum())
    rows: list[dict[str, Any]] = []
    masks: list[np.ndarray] = []
    empty = {"feature2": None, "kind2": None, "value2": None, "low2": np.nan, "high2": np.nan}

    base = []
    for condition, mask in _base_slices(frame, categorical, numeric, bins):
        size = int(mask.sum())
        if size < max(min_size, 1):
            continue
        base.append((condition, mask, size, int(correct[mask].sum())))
        rows.append(
            {
                **condition,
                **empty,
                "slice": f"{condition['feature']}={condition['value']}",
                "order": 1,
                "size": size,
                "correct": base[-1][3],
            }
        )
        masks.append(mask)
    if pairs:
        for i, (cond_a, mask_a, size_a, correct_a) in enumerate(base):
            for cond_b, mask_b, size_b, correct_b in base[i + 1 :]:
                if cond_a["feature"] == cond_b["feature"]:
                    continue
                mask = mask_a & mask_b
                size = int(mask.sum())
                if size < max(min_size, pair_min_size, 1) or size in (size_a, size_b):
                    continue
                right = int(correct[mask].sum())
                p_a = two_proportion_p(right, size, correct_a - right, size_a - size)[()]
                p_b = two_proportion_p(right, size, correct_b - right, size_b - size)[()]
                if max(p_a, p_b) >= pair_alpha:
                    continue
                rows.append(
                    {
                        **cond_a,
                        "feature2": cond_b["feature"],
                        "kind2": cond_b["kind"],
                        "value2": cond_b["value"],
                        "low2": cond_b["low"],
                        "high2": cond_b["high"],
                        "slice": f"{cond_a['feature']}={cond_a['value']} & "
                        f"{cond_b['feature']}={cond_b['value']}",
                        "order": 2,
                        "size": size,
                        "correct": right,
                    }
                )
                masks.append(mask)
    table = pd.DataFrame(rows, columns=_COLUMNS[:14])
    table["macro_f1"] = [_macro_f1(labels[m], predicted[m]) for m in masks]
    table["accuracy"] = table["correct"] / table["size"].where(table["size"] > 0)
    low, high = wilson_interval(table["correct"].to_numpy(), table["size"].to_numpy())
    table["ci_low"], table["ci_high"] = low, high
    size, right = table["size"].to_numpy(), table["correct"].to_numpy()
    table["p_value"] = two_proportion_p(right, size, total_correct - right, n - size)
    table["q_value"] = benjamini_hochberg(table["p_value"].to_numpy())
    table["significant"] = table["q_value"] < 0.05
    table = table[_COLUMNS]
    if return_masks:
        members = np.vstack(masks) if masks else np.zeros((0, n), dtype=bool)
        return table, members
    return table


def rank_slices(
    table: pd.DataFrame,
    overall_accuracy: float,
    masks: np.ndarray | None = None,
    correct: np.ndarray | None = None,
    max_greedy: int = 50,
) -> pd.DataFrame:
    """Rank slices weakest first (see the module docstring); adds ``gap, gap_low, weak,
    redundant, score, rank``.

    Without ``masks`` (slices × samples) and ``correct`` (per sample) the order is by ``gap_low``
    alone; with them, the ``max_greedy`` weakest one-feature slices are re-ordered greedily on
    the samples the slices above them do not cover (against those samples' accuracy; a slice
    less accurate than overall can be picked so even when its bound is not below the overall
    accuracy, and is then ``weak`` given the slices above it), and a weak slice that is no
    longer weak there is ``redundant``. Order: the one-feature slices picked, then the weak two-feature slices (by
    ``gap_low``; they refine the subgroups above them), then the redundant ones, then the rest.
    """
    out = table.copy()
    out["gap"] = overall_accuracy - out["accuracy"]
    out["gap_low"] = overall_accuracy - out["ci_high"]
    out["weak"] = out["ci_high"] < overall_accuracy
    out["redundant"] = False
    out["score"] = out["gap_low"].fillna(-np.inf)
    order = np.lexsort(
        (
            out["value"].astype(str).to_numpy(),
            out["feature"].astype(str).to_numpy(),
            -out["score"].to_numpy(),
        )
    )
    if masks is not None and correct is not None and len(out):
        correct = np.asarray(correct, dtype=bool)
        weak = out["weak"].to_numpy(dtype=bool)
        single = out["order"].to_numpy() == 1 if "order" in out else np.ones(len(out), bool)
        # every one-feature slice less accurate than overall is a candidate: one that is not
        # weak against the overall bound can be once the weaker slices above it are taken out
        below = (out["gap"] > 0).to_numpy(dtype=bool)
        candidates = [int(i) for i in order if single[i] and (weak[i] or below[i])][:max_greedy]
        pairs = [int(i) for i in order if weak[i] and not single[i]]
        covered = np.zeros(masks.shape[1], dtype=bool)
        picked: list[int] = []
        redundant: list[int] = []
        remaining = list(candidates)
        while remaining:
            free = ~covered
            # the baseline rises as the weak slices above are taken out: the accuracy of the
            # samples they do not cover (the overall accuracy at the first step)
            baseline = float(correct[free].mean()) if free.any() else overall_accuracy
            sizes = np.array([np.count_nonzero(masks[i] & free) for i in remaining])
            rights = np.array([np.count_nonzero(masks[i] & free & correct) for i in remaining])
            _, high = wilson_interval(rights, sizes)
            residual = np.where(sizes > 0, baseline - high, -np.inf)
            best = int(np.argmax(residual))
            if residual[best] <= 0:  # nothing left is weak on its own samples
                redundant.extend(i for i in remaining if weak[i])
                break
            picked.append(remaining.pop(best))
            covered |= masks[picked[-1]]
        position = {int(i): k for k, i in enumerate(order)}
        redundant_rows = sorted(redundant, key=position.__getitem__)
        taken = set(picked) | set(redundant_rows) | set(pairs)
        rest = [int(i) for i in order if int(i) not in taken]
        order = np.array(picked + pairs + redundant_rows + rest, dtype=np.int64)
        out.loc[out.index[redundant_rows], "redundant"] = True
        out.loc[out.index[picked], "weak"] = True  # weak given the slices above it
    out = out.iloc[order].reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def _condition_mask(frame: pd.DataFrame, feature: str, kind: str, value, low, high) -> np.ndarray:
    if feature not in frame.columns:
        raise AnalysisError(f"slice column {feature!r} is not in the frame")
    if kind == "category":
        return (frame[feature].astype("string") == str(value)).fillna(False).to_numpy()
    values = pd.to_numeric(frame[feature], errors="coerce").to_numpy(dtype=np.float64)
    closed = str(value).endswith("]")
    upper = values <= high if closed else values < high
    return np.isfinite(values) & (values >= low) & upper


def slice_mask(frame: pd.DataFrame, row: pd.Series | dict[str, Any]) -> np.ndarray:
    """Boolean mask of the samples in one slice (a row of the ``slices`` table)."""
    mask = _condition_mask(
        frame, row["feature"], row["kind"], row["value"], row.get("low"), row.get("high")
    )
    second = row.get("feature2")
    if isinstance(second, str) and second:
        mask &= _condition_mask(
            frame, second, row["kind2"], row["value2"], row.get("low2"), row.get("high2")
        )
    return mask


def slice_frame(store: Store, run: Run) -> pd.DataFrame:
    """The columns slices are defined on, one row per sample, in the store's order.

    The store's metadata, then each image property (``image_properties`` result, when cached)
    that no metadata column of the same name shadows: a metadata ``blur`` (``none`` / ``heavy``)
    stays the metadata, as in ``store.frame(run)`` (which joins the property as
    ``image_properties.blur``), so a ``blur=heavy`` slice matches the same samples there.
    """
    frame = store.samples.reset_index(drop=True).copy()
    properties = run.load_result("image_properties")
    if properties is not None and len(properties) == len(frame):
        for column in PROPERTY_COLUMNS:
            if column in properties.columns and column not in frame.columns:
                frame[column] = properties[column].to_numpy()
    return frame


def slice_masks(frame: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    """Members of every slice of ``table`` (slices × samples)."""
    return np.vstack([slice_mask(frame, row) for _, row in table.iterrows()])


@register
class Slices(Analysis):
    """Accuracy and macro-F1 per metadata value, binned property and pair of them, ranked.

    Parameters
    ----------
    max_categories : int
        Metadata columns with more distinct values than this are not sliced as categories
        (numeric ones are binned instead).
    bins : int
        Quantile bins per numeric metadata column or image property.
    min_size : int
        Smallest slice kept.
    pairs : bool
        Also consider two-feature slices (see the module docstring).
    pair_min_size : int
        Smallest two-feature slice kept.

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

    def __init__(
        self,
        max_categories: int = 50,
        bins: int = 4,
        min_size: int = 5,
        pairs: bool = True,
        pair_min_size: int = 20,
    ):
        self.max_categories = max_categories
        self.bins = bins
        self.min_size = min_size
        self.pairs = pairs
        self.pair_min_size = pair_min_size

    def fit(self, store: Store, run: Run) -> Slices:
        self._stamp(store)
        labels = current_codes(store)
        predicted = predicted_codes(run)
        samples = store.samples
        categorical: list[str] = []
        numeric: list[str] = []
        for column in samples.columns:
            if column in _NOT_METADATA:
                continue
            values = samples[column]
            is_numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(
                values
            )
            unique = values.nunique(dropna=True)
            if unique <= 1:
                continue
            if is_numeric and unique > 10:
                numeric.append(column)
            elif unique <= self.max_categories:
                categorical.append(column)
        frame = samples[categorical + numeric].copy()
        properties = run.load_result("image_properties")
        if properties is not None and len(properties) == len(frame):
            for column in PROPERTY_COLUMNS:
                if column in properties.columns and column not in frame.columns:
                    frame[column] = properties[column].to_numpy()
                    numeric.append(column)
        # slices are measured on labelled samples only
        labelled = labels >= 0
        if not labelled.all():
            frame = frame[labelled].reset_index(drop=True)
            labels, predicted = labels[labelled], predicted[labelled]
        self.overall_accuracy_ = float((labels == predicted).mean()) if len(labels) else math.nan
        table, masks = slice_table(
            frame,
            labels,
            predicted,
            categorical,
            numeric,
            self.bins,
            self.min_size,
            pairs=self.pairs,
            pair_min_size=self.pair_min_size,
            return_masks=True,
        )
        self.slices_ = rank_slices(table, self.overall_accuracy_, masks, labels == predicted)
        return self

    def save(self, store: Store, run: Run) -> None:
        run.save_artifact("slices", self.slices_, **self._artifact_kwargs())

    def summary(self) -> dict[str, Any]:
        weak = self.slices_[self.slices_["weak"]]
        top = str(weak["slice"].iloc[0]) if len(weak) else "-"
        return {
            "slices": len(self.slices_),
            "weak_slices": len(weak),
            "significant": int(self.slices_["significant"].sum()),
            "weakest": top,
        }
