"""Weak spots: flag them, export them, and find look-alikes to collect more data like them.

A weak spot is a sample the user marks as representative of where the model is weak (a dark
image of a rare class, a tiny object). "Collect more like these" lists, for each weak spot, its
nearest neighbours in the model's embedding space (PCA-reduced) among the other samples, so that
annotators or data collectors know what to look for.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from erroranalysis.errors import ErrorAnalysisError
from erroranalysis.export.candidates import ExportResult, export_table

__all__ = ["export_weak_spots", "find_look_alikes", "flag_weak_spot", "weak_spots"]

WEAK_SPOT = "weak_spot"


def flag_weak_spot(
    store, sample_id: str, reason: str | None = None, author: str | None = None
) -> int:
    """Flag a sample as a weak spot.

    Parameters
    ----------
    store : Store
    sample_id : str
    reason : str, optional
        Why (kept as the flag's note, and exported).
    author : str, optional

    Returns
    -------
    int
        The event id.
    """
    return store.flag(sample_id, WEAK_SPOT, note=reason, author=author)


def weak_spots(store) -> pd.DataFrame:
    """The samples currently flagged as weak spots: ``sample_id, reason, event_id``."""
    flags = store.flags()
    if not len(flags):
        return pd.DataFrame(columns=["sample_id", "reason", "event_id"])
    chosen = flags[flags["flag"] == WEAK_SPOT]
    return (
        chosen.rename(columns={"note": "reason"})[["sample_id", "reason", "event_id"]]
        .sort_values("event_id")
        .reset_index(drop=True)
    )


def find_look_alikes(
    store,
    run=None,
    per_spot: int = 50,
    n_components: int = 50,
    seeds: Sequence[str] | None = None,
    exclude_flagged: Sequence[str] = (WEAK_SPOT, "reviewed", "not_an_issue"),
    random_state: int = 0,
) -> pd.DataFrame:
    """Nearest neighbours of each weak spot in the run's embedding space.

    Parameters
    ----------
    store : Store
    run : str, optional
        The run whose embeddings are used (default: the latest).
    per_spot : int
        Neighbours per weak spot.
    n_components : int
        PCA dimensions the embeddings are reduced to before the search (cosine distance).
    seeds : list of str, optional
        The samples to start from (default: every weak spot).
    exclude_flagged : list of str
        Samples carrying any of these flags are not proposed.
    random_state : int

    Returns
    -------
    DataFrame
        ``sample_id, seed, rank, distance``, one row per (weak spot, neighbour); a sample near
        several weak spots is listed once, under its nearest.
    """
    if per_spot < 1:
        raise ErrorAnalysisError(f"per_spot must be at least 1, got {per_spot}")
    opened = store.run(run)
    embeddings = opened.embeddings
    if embeddings is None:
        raise ErrorAnalysisError(
            f"run {opened.name!r} has no embeddings; add them with store.add_run(..., "
            "embeddings=...) or ea.predict, which keeps the model's features"
        )
    if seeds is None:
        seeds = weak_spots(store)["sample_id"].astype(str).tolist()
    seeds = list(dict.fromkeys(map(str, seeds)))
    columns = ["sample_id", "seed", "rank", "distance"]
    if not seeds:
        return pd.DataFrame(columns=columns)
    seed_positions = store.positions(seeds)
    excluded = np.zeros(store.num_samples, dtype=bool)
    flags = store.flags()
    if len(flags):
        chosen = flags[flags["flag"].isin(list(exclude_flagged))]["sample_id"].unique()
        if len(chosen):
            excluded[store.positions(chosen)] = True
    excluded[seed_positions] = True
    pool = np.flatnonzero(~excluded)
    if not len(pool):
        return pd.DataFrame(columns=columns)

    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    features = np.asarray(embeddings, dtype=np.float32)
    components = min(n_components, features.shape[1], features.shape[0])
    if components < features.shape[1]:
        features = PCA(n_components=components, random_state=random_state).fit_transform(features)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    features = features / np.where(norms == 0, 1, norms)
    k = min(per_spot, len(pool))
    search = NearestNeighbors(n_neighbors=k, metric="euclidean").fit(features[pool])
    distances, indices = search.kneighbors(features[seed_positions])
    sample_ids = store.sample_ids
    rows = []
    for seed, seed_distances, seed_indices in zip(seeds, distances, indices, strict=True):
        for rank, (distance, index) in enumerate(zip(seed_distances, seed_indices, strict=True), 1):
            # cosine distance from the euclidean distance of unit vectors
            rows.append((str(sample_ids[pool[index]]), seed, rank, float(distance) ** 2 / 2))
    table = pd.DataFrame(rows, columns=columns)
    table = table.sort_values(["distance", "rank"]).drop_duplicates("sample_id", keep="first")
    seed_order = table["seed"].map({seed: position for position, seed in enumerate(seeds)})
    table = table.assign(_seed_order=seed_order).sort_values(["_seed_order", "rank"])
    return table.drop(columns="_seed_order").reset_index(drop=True)


def export_weak_spots(
    store,
    path: str | os.PathLike,
    format: str = "csv",
    run=None,
    look_alikes: bool = False,
    per_spot: int = 50,
    n_components: int = 50,
    image_urls: str | None = None,
    document_root: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export the weak spots, or (``look_alikes=True``) the samples that look like them.

    Parameters
    ----------
    store : Store
    path : path
    format : str
        ``"csv"`` (default), ``"label-studio"``, ``"cvat"`` or ``"imagenet-txt"``.
    run : str, optional
    look_alikes : bool
        Export each weak spot's nearest neighbours ("collect more like these") instead of the
        weak spots themselves; the files gain ``seed`` and ``distance`` columns.
    per_spot, n_components : int
        See :func:`find_look_alikes`.
    image_urls, document_root, overwrite
        See :func:`~erroranalysis.export.candidates.export_candidates`.

    Returns
    -------
    ExportResult
    """
    frame = store.frame(run).set_index("sample_id", drop=False)
    spots = weak_spots(store)
    if spots.empty:
        raise ErrorAnalysisError(
            "no sample is flagged as a weak spot; flag some first with "
            "ea.export.flag_weak_spot(store, sample_id, reason) or the inspector's weak-spot button"
        )
    if look_alikes:
        table = find_look_alikes(store, run=run, per_spot=per_spot, n_components=n_components)
        selected = frame.loc[table["sample_id"]].reset_index(drop=True)
        reasons = dict(zip(spots["sample_id"], spots["reason"].fillna(""), strict=True))
        extra = {
            "seed": table["seed"].tolist(),
            "distance": table["distance"].round(6).tolist(),
            "reasons": [
                f"looks like weak spot {seed}"
                + (f" ({reasons[seed]})" if reasons.get(seed) else "")
                for seed in table["seed"]
            ],
        }
        parameters = {"per_spot": per_spot, "n_components": n_components, "seeds": len(spots)}
        kind = "look_alikes"
    else:
        selected = frame.loc[spots["sample_id"]].reset_index(drop=True)
        extra = {
            "reasons": [
                "weak spot" + (f": {reason}" if reason else "")
                for reason in spots["reason"].fillna("")
            ]
        }
        parameters = {}
        kind = "weak_spots"
    return export_table(
        store,
        selected,
        path,
        format=format,
        kind=kind,
        run=run,
        image_urls=image_urls,
        document_root=document_root,
        parameters=parameters,
        extra_columns=extra,
        overwrite=overwrite,
    )
