"""Score what a scan found against planted truth (for the demo and the tests; never shown in the UI).

The truth table has one row per planted sample: ``sample_id, true_label, is_label_noise (bool),
subgroup (str, "" or None for none), is_outlier (bool), near_duplicate_of (sample_id or None)``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from erroranalysis.analysis.base import AnalysisError
from erroranalysis.errors import describe

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = ["format_detection", "score_detection"]

TRUTH_COLUMNS = ("sample_id", "is_label_noise", "subgroup", "is_outlier", "near_duplicate_of")


def _ratio(num: int, den: int) -> float:
    return float(num / den) if den else math.nan


def _recall_precision(found: np.ndarray, planted: np.ndarray) -> dict[str, Any]:
    hits = int((found & planted).sum())
    return {
        "planted": int(planted.sum()),
        "flagged": int(found.sum()),
        "hits": hits,
        "recall": _ratio(hits, int(planted.sum())),
        "precision": _ratio(hits, int(found.sum())),
    }


def _false_pairs(set_ids: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """Pairs within the found sets, and how many of them are in no planted set together."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(set_ids)
    links = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, planted = connected_components(links, directed=False)
    total = false = 0
    for value in np.unique(set_ids[set_ids >= 0]):
        members = np.flatnonzero(set_ids == value)
        groups = np.bincount(planted[members])
        pairs = len(members) * (len(members) - 1) // 2
        total += pairs
        false += pairs - int((groups * (groups - 1) // 2).sum())
    return total, false


def score_detection(
    store: Store, run: Run | str | None, truth_df: pd.DataFrame, top_fraction: float = 0.02
) -> dict[str, Any]:
    """Recall and precision of the scan's findings against planted truth.

    Parameters
    ----------
    store : Store
    run : Run, str or None
        A scanned run (``None`` = the latest).
    truth_df : DataFrame
        The truth table (see the module docstring); extra columns are ignored.
    top_fraction : float
        Outliers are scored among the top ``top_fraction`` of ``outlier_score``.

    Returns
    -------
    dict
        ``label_noise`` (recall/precision of ``is_label_issue``), ``outliers`` (recall/precision
        of planted outliers among the top 2% by ``outlier_score``, and of ``is_outlier``),
        ``near_duplicates`` (planted pairs found in one ``near_duplicate_set`` — or in one image
        hash set —, and ``pairs_flagged`` / ``false_pairs`` / ``pair_precision``: the pairs within
        the ``near_duplicate_set`` sets and how many are in no planted set together), ``subgroups`` (per planted subgroup: the best-matching slice, its rank and
        whether it is flagged weak). Parts whose analysis did not run are ``None``.
    """
    if run is None or isinstance(run, str):
        run = store.run(run)
    missing = [c for c in TRUTH_COLUMNS if c not in truth_df.columns]
    if missing:
        raise AnalysisError(f"truth table lacks columns {describe(missing)}")
    frame = store.frame(run)
    truth = truth_df.set_index("sample_id")
    unknown = truth.index.difference(frame["sample_id"])
    if len(unknown):
        raise AnalysisError(f"truth names unknown sample ids {describe(list(unknown))}")
    truth = truth.reindex(frame["sample_id"])
    known = truth.index.notna() & truth["is_label_noise"].notna().to_numpy()
    out: dict[str, Any] = {"run": run.name, "num_samples": len(frame)}

    if "is_label_issue" in frame:
        planted = truth["is_label_noise"].fillna(False).to_numpy(dtype=bool)
        found = frame["is_label_issue"].fillna(False).to_numpy(dtype=bool)
        out["label_noise"] = _recall_precision(found & known, planted)
    else:
        out["label_noise"] = None

    if "outlier_score" in frame:
        planted = truth["is_outlier"].fillna(False).to_numpy(dtype=bool)
        scores = frame["outlier_score"].to_numpy(dtype=np.float64)
        top = max(1, math.ceil(top_fraction * len(frame)))
        top_mask = np.zeros(len(frame), dtype=bool)
        top_mask[np.argsort(-scores, kind="stable")[:top]] = True
        out["outliers"] = {
            f"top_{top_fraction:.0%}": _recall_precision(top_mask, planted),
            "is_outlier": _recall_precision(frame["is_outlier"].to_numpy(dtype=bool), planted),
        }
    else:
        out["outliers"] = None

    pairs = truth["near_duplicate_of"]
    pairs = pairs[pairs.notna() & (pairs.astype(str) != "")]
    set_columns = [
        c
        for c in ("near_duplicate_set", "near_duplicate_image_set", "exact_duplicate_set")
        if c in frame
    ]
    if set_columns and len(pairs):
        position = pd.Series(np.arange(len(frame)), index=frame["sample_id"].to_numpy())
        a = position.reindex(pairs.index).to_numpy()
        b = position.reindex(pairs.astype(str).to_numpy()).to_numpy()
        valid = ~(np.isnan(a.astype(float)) | np.isnan(b.astype(float)))
        a, b = a[valid].astype(int), b[valid].astype(int)
        result: dict[str, Any] = {"planted_pairs": len(a)}
        any_found = np.zeros(len(a), dtype=bool)
        for column in set_columns:
            ids = frame[column].to_numpy()
            hit = (ids[a] >= 0) & (ids[a] == ids[b])
            any_found |= hit
            result[f"found_by_{column}"] = int(hit.sum())
        result["found"] = int(any_found.sum())
        result["recall"] = _ratio(int(any_found.sum()), len(a))
        if "is_near_duplicate" in frame:
            involved = np.zeros(len(frame), dtype=bool)
            involved[a] = involved[b] = True
            flagged = frame["is_near_duplicate"].to_numpy(dtype=bool)
            result["precision"] = _ratio(int((flagged & involved).sum()), int(flagged.sum()))
        if "near_duplicate_set" in frame:
            total, false = _false_pairs(frame["near_duplicate_set"].to_numpy(), a, b)
            result["pairs_flagged"] = total
            result["false_pairs"] = false
            result["pair_precision"] = _ratio(total - false, total)
        out["near_duplicates"] = result
    else:
        out["near_duplicates"] = None

    slices = run.load_artifact("slices")
    subgroups = truth["subgroup"].fillna("").astype(str)
    names = sorted(set(subgroups) - {""})
    if isinstance(slices, pd.DataFrame) and names:
        from erroranalysis.analysis.slices import slice_frame, slice_mask

        # the columns exactly as the slices saw them (metadata first, then image properties)
        table = slice_frame(store, run)
        masks = []
        for _, row in slices.iterrows():
            try:
                masks.append(slice_mask(table, row))
            except AnalysisError:
                masks.append(np.zeros(len(table), dtype=bool))
        result = {}
        for name in names:
            members = (subgroups == name).to_numpy()
            best, best_j = None, -1.0
            for (_, row), mask in zip(slices.iterrows(), masks, strict=True):
                union = int((mask | members).sum())
                jaccard = (mask & members).sum() / union if union else 0.0
                if jaccard > best_j:
                    best, best_j = row, float(jaccard)
            result[name] = {
                "size": int(members.sum()),
                "slice": None
                if best is None
                else str(best["slice"])
                if "slice" in best
                else f"{best['feature']}={best['value']}",
                "jaccard": best_j,
                "rank": None if best is None else int(best["rank"]),
                "weak": None if best is None else bool(best["weak"]),
                "accuracy": None if best is None else float(best["accuracy"]),
                "significant": None
                if best is None or "significant" not in best
                else bool(best["significant"]),
                "num_slices": len(slices),
            }
        out["subgroups"] = result
    else:
        out["subgroups"] = None
    return out


def format_detection(result: dict[str, Any]) -> str:
    """A few readable lines summarising :func:`score_detection`'s output."""
    lines = [f"planted problems found in run {result['run']!r} ({result['num_samples']} samples):"]
    noise = result.get("label_noise")
    if noise:
        lines.append(
            f"  label noise: {noise['hits']}/{noise['planted']} found "
            f"(recall {noise['recall']:.0%}, precision {noise['precision']:.0%} of "
            f"{noise['flagged']} flagged)"
        )
    outliers = result.get("outliers")
    if outliers:
        key = next(k for k in outliers if k.startswith("top_"))
        top = outliers[key]
        lines.append(
            f"  outliers: {top['hits']}/{top['planted']} in the {key.replace('_', ' ')} by "
            f"outlier score (is_outlier recall {outliers['is_outlier']['recall']:.0%})"
        )
    dups = result.get("near_duplicates")
    if dups:
        false = (
            f", {dups['false_pairs']} false of {dups['pairs_flagged']} pairs flagged"
            if "false_pairs" in dups
            else ""
        )
        lines.append(
            f"  near-duplicates: {dups['found']}/{dups['planted_pairs']} planted pairs found{false}"
        )
    groups = result.get("subgroups")
    if groups:
        for name, info in groups.items():
            lines.append(
                f"  weak subgroup {name}: slice {info['slice']} ranked {info['rank']} of "
                f"{info['num_slices']}{' (flagged weak)' if info['weak'] else ''}"
                f"{' (significant)' if info.get('significant') else ''}"
            )
    return "\n".join(lines)
