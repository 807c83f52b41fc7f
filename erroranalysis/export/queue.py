"""Export the annotator queue: unlabelled samples below the pseudo-label thresholds.

The queue (:func:`erroranalysis.analysis.annotation_queue.annotation_queue`) goes out through the
same formats as the relabel candidates, with the model's suggestion as the pre-annotation: a
Label Studio prediction, a CVAT tag (``source="auto"``), the CSV ``suggested`` column. The
active-learning score (low = label first) takes the place of the label quality, so sorting by it
in the tool keeps the queue's order. Answers come back with
:func:`~erroranalysis.export.annotations.import_annotations`, several annotators per task
included.

>>> import erroranalysis as ea
>>> plan = ea.pseudo_label(store, target_precision=0.98)                # doctest: +SKIP
>>> plan.accept()                                                       # doctest: +SKIP
>>> ea.export_queue(store, "queue.json", format="label-studio", limit=500)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from erroranalysis.export.candidates import ExportResult, export_table
from erroranalysis.export.registry import get_writer

if TYPE_CHECKING:
    from erroranalysis.analysis.pseudo_label import PseudoLabeler

__all__ = ["export_queue"]


def export_queue(
    store,
    path: str | os.PathLike,
    format: str = "label-studio",
    run=None,
    plan: PseudoLabeler | None = None,
    thresholds: dict[str, float] | None = None,
    target_precision: float = 0.98,
    min_support: int = 30,
    method: str = "activelab",
    limit: int | None = None,
    image_urls: str | None = None,
    document_root: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export the annotator queue, label-first order, with the model's suggestion pre-filled.

    Parameters
    ----------
    store : Store
    path : path
        The file to write (see :func:`~erroranalysis.export.candidates.export_candidates`).
    format : str
        ``"label-studio"``, ``"cvat"``, ``"imagenet-txt"`` or ``"csv"``.
    run, plan, thresholds, target_precision, min_support, method, limit
        What the queue holds and its order; see
        :func:`~erroranalysis.analysis.annotation_queue.annotation_queue`.
    image_urls, document_root
        How images are referenced; see :func:`~erroranalysis.export.candidates.export_candidates`.
    overwrite : bool
        Replace files that exist already (default: refuse, naming them, and write nothing).

    Returns
    -------
    ExportResult
        ``kind="queue"`` in the export record; its ``sample_ids`` are the queue's order.

    Raises
    ------
    UnknownFormatError, AnalysisError
        Bad format, queue method, target precision or limit; nothing is written.
    """
    from erroranalysis.analysis.annotation_queue import annotation_queue

    get_writer(format)  # refuse an unknown format before anything is computed
    queue = annotation_queue(
        store,
        run=run,
        plan=plan,
        thresholds=thresholds,
        target_precision=target_precision,
        min_support=min_support,
        method=method,
        limit=limit,
    )
    run_name = queue.attrs.get("run")
    frame = store.frame(run_name).set_index("sample_id", drop=False)
    frame = frame.loc[queue["sample_id"]].reset_index(drop=True)
    frame["suggested_label"] = queue["suggested_label"].to_numpy()
    frame["label_quality"] = queue["score"].to_numpy()
    parameters = {
        "method": method,
        "target_precision": queue.attrs.get("target_precision"),
        "min_support": queue.attrs.get("min_support"),
        "thresholds": queue.attrs.get("thresholds"),
        "limit": limit,
    }
    return export_table(
        store,
        frame,
        path,
        format=format,
        kind="queue",
        run=run_name,
        image_urls=image_urls,
        document_root=document_root,
        parameters=parameters,
        extra_columns={"reasons": queue["reason"].tolist()},
        overwrite=overwrite,
    )
