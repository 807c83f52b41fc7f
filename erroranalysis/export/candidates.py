"""Export the relabel candidates (and weak spots, and their look-alikes) to annotators.

>>> import erroranalysis as ea
>>> store = ea.Store.open("demo-store")                                   # doctest: +SKIP
>>> ea.export_candidates(store, "tasks.json", format="label-studio", limit=200)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from erroranalysis.errors import ErrorAnalysisError, UnknownLabelError, describe
from erroranalysis.export._common import (
    ExportRecord,
    MissingScanError,
    display_name,
    image_references,
    new_export_id,
    now_iso,
    save_record,
)
from erroranalysis.export.registry import ExportContext, get_writer

__all__ = [
    "ExportResult",
    "export_candidates",
    "export_table",
    "select_candidates",
]

REVIEWED_FLAGS = ("not_an_issue", "reviewed")
DEFAULT_IMAGE_URLS = {"label-studio": "local-files", "csv": "absolute"}


@dataclass
class ExportResult:
    """What an export wrote.

    Attributes
    ----------
    export_id : str
    format : str
    files : list of Path
        The files written (e.g. the Label Studio tasks and the labeling config).
    count : int
        How many samples were exported.
    sample_ids : list of str
        The exported samples, worst first.
    record : Path
        The export record kept in the store (labels at export time).
    """

    export_id: str
    format: str
    files: list[Path]
    count: int
    sample_ids: list[str]
    record: Path

    @property
    def path(self) -> Path:
        """The main file written."""
        return self.files[0]

    def __str__(self) -> str:
        names = ", ".join(str(path) for path in self.files)
        return (
            f"exported {self.count} samples as {self.format} (export id {self.export_id}): {names}"
        )

    def __fspath__(self) -> str:
        return str(self.path)


def _require_columns(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise MissingScanError(
            f"the run has no scan results ({', '.join(missing)} missing); run `ea.scan(store)` "
            "or `erroranalysis scan STORE` first"
        )


def _normalise_issue_types(issue_types) -> list[str] | None:
    if issue_types is None:
        return ["label_issue"]
    if isinstance(issue_types, str):
        if issue_types in ("all", "any"):
            return None
        issue_types = [part for part in issue_types.replace(",", " ").split() if part]
    from erroranalysis.analysis.issue_types import get_issue_type

    return list(dict.fromkeys(get_issue_type(name).name for name in issue_types))


def _parse_slices(slice_) -> dict[str, list[str]]:
    if slice_ is None:
        return {}
    if isinstance(slice_, Mapping):
        items = list(slice_.items())
    else:
        if isinstance(slice_, str):
            slice_ = [slice_]
        items = []
        for text in slice_:
            if "=" not in text:
                raise ErrorAnalysisError(f"slice {text!r} must read column=value")
            column, value = text.split("=", 1)
            items.append((column.strip(), value.strip()))
    parsed: dict[str, list[str]] = {}
    for column, value in items:
        values = value if isinstance(value, list | tuple | set) else [value]
        parsed.setdefault(str(column), []).extend(str(v) for v in values)
    return parsed


def _flags_mask(frame: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    wanted = set(names)
    return np.fromiter(
        (bool(wanted.intersection(flags or ())) for flags in frame["flags"]),
        dtype=bool,
        count=len(frame),
    )


def _reasons(frame: pd.DataFrame) -> list[str]:
    from erroranalysis.analysis.issue_types import issue_types

    parts: list[list[str]] = [[] for _ in range(len(frame))]
    for issue in issue_types():
        for position in np.flatnonzero(issue.mask(frame)):
            parts[position].append(issue.display_name)
    flags = frame["flags"] if "flags" in frame.columns else [()] * len(frame)
    for position, sample_flags in enumerate(flags):
        if sample_flags and "weak_spot" in sample_flags:
            parts[position].append("weak spot")
    return ["; ".join(items) for items in parts]


def select_candidates(
    store,
    run=None,
    issue_types: str | Sequence[str] | None = None,
    max_quality: float | None = None,
    min_score: float | None = None,
    classes: Sequence[str] | None = None,
    slice: Mapping[str, Any] | str | Sequence[str] | None = None,
    weak_spots: bool | None = None,
    limit: int | None = None,
    include_reviewed: bool = False,
    sample_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The relabel candidates, worst (lowest label quality) first.

    Parameters
    ----------
    store : Store
    run : str, optional
        The run whose scan results rank the samples (default: the latest).
    issue_types : str or list of str, optional
        Which flagged issues make a candidate: ``"label_issue"`` (default), or any names of
        :func:`erroranalysis.analysis.issue_types.issue_types` (``"outlier"``,
        ``"near_duplicate"``, …; any of them), or ``"all"`` for every sample (use with
        ``max_quality`` / ``limit``).
    max_quality : float, optional
        Keep samples whose ``label_quality`` is at most this.
    min_score : float, optional
        Keep samples whose badness ``1 - label_quality`` is at least this.
    classes : list of str, optional
        Keep samples whose current label is one of these.
    slice : dict, str or list of str, optional
        Metadata filters: ``{"source": "rare"}`` or ``"source=rare"``; several are combined with
        AND, several values of one column with OR.
    weak_spots : bool, optional
        True: only samples flagged ``weak_spot``; False: leave them out; None: no filter.
    limit : int, optional
        At most this many (the worst).
    include_reviewed : bool
        Also keep samples flagged ``not_an_issue`` or ``reviewed`` (left out by default).
    sample_ids : iterable of str, optional
        Restrict to these samples (e.g. a widget selection).

    Returns
    -------
    DataFrame
        Rows of ``store.frame(run)``, worst first.
    """
    store.refresh()  # see relabels and flags other processes wrote meanwhile
    frame = store.frame(run)
    _require_columns(frame, ["label_quality"])
    keep = np.ones(len(frame), dtype=bool)
    kinds = _normalise_issue_types(issue_types)
    if kinds is not None:
        from erroranalysis.analysis.issue_types import get_issue_type

        chosen = [get_issue_type(kind) for kind in kinds]
        _require_columns(frame, [issue.flag_column for issue in chosen])
        any_issue = np.zeros(len(frame), dtype=bool)
        for issue in chosen:
            any_issue |= issue.mask(frame)
        keep &= any_issue
    if not include_reviewed:
        keep &= ~_flags_mask(frame, REVIEWED_FLAGS)
    quality = frame["label_quality"].to_numpy(dtype=float)
    if max_quality is not None:
        keep &= quality <= float(max_quality)
    if min_score is not None:
        keep &= (1.0 - quality) >= float(min_score)
    if classes is not None:
        classes = [classes] if isinstance(classes, str) else list(classes)
        unknown = [name for name in classes if name not in store.class_index]
        if unknown:
            raise UnknownLabelError(
                f"classes {describe(unknown)} are not in the store's classes "
                f"{describe(store.classes, 10)}"
            )
        keep &= frame["label"].astype(str).isin(classes).to_numpy()
    for column, values in _parse_slices(slice).items():
        if column not in frame.columns:
            raise ErrorAnalysisError(
                f"slice column {column!r} is not a metadata column; the samples have "
                f"{describe([c for c in store.samples.columns if c != 'sample_id'], 12)}"
            )
        keep &= frame[column].astype(str).isin(values).to_numpy()
    if weak_spots is not None:
        flagged = _flags_mask(frame, ["weak_spot"])
        keep &= flagged if weak_spots else ~flagged
    if sample_ids is not None:
        wanted = set(map(str, sample_ids))
        keep &= frame["sample_id"].astype(str).isin(wanted).to_numpy()
    selected = frame.loc[keep]
    order = np.lexsort((np.arange(len(selected)), np.nan_to_num(quality[keep], nan=np.inf)))
    selected = selected.iloc[order]
    if limit is not None:
        if int(limit) < 0:
            raise ErrorAnalysisError(f"limit must be >= 0, got {limit}")
        selected = selected.iloc[: int(limit)]
    return selected


def _image_sizes(store, frame: pd.DataFrame) -> tuple[list, list]:
    """Width and height per row, from the scan's image properties or the image headers."""
    if {"width", "height"}.issubset(frame.columns):
        return frame["width"].tolist(), frame["height"].tolist()
    if "path" not in frame.columns:
        return [None] * len(frame), [None] * len(frame)
    from PIL import Image

    from erroranalysis.export._common import absolute_image_path
    from erroranalysis.store.validation import is_url

    root = None if store.image_root is None else os.path.realpath(store.image_root)
    widths, heights = [], []
    for raw in frame["path"]:
        width = height = None
        if isinstance(raw, str) and raw and not is_url(raw):
            location = absolute_image_path(root, raw, resolve=True)
            if location is not None:
                try:
                    with Image.open(location) as image:  # reads the header only
                        width, height = image.size
                except (OSError, ValueError, Image.DecompressionBombError):
                    pass
        widths.append(width)
        heights.append(height)
    return widths, heights


def export_table(
    store,
    frame: pd.DataFrame,
    path: str | os.PathLike,
    format: str = "label-studio",
    kind: str = "candidates",
    run=None,
    image_urls: str | None = None,
    document_root: str | os.PathLike | None = None,
    parameters: dict[str, Any] | None = None,
    extra_columns: Mapping[str, Sequence[Any]] | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Write the samples of ``frame`` (rows of ``store.frame``) in an annotation format.

    The low-level writer behind :func:`export_candidates` and the weak-spot exports; records the
    export (labels at export time) in the store. Files that exist already are refused
    (:class:`~erroranalysis.export.registry.ExportExistsError`, nothing written) unless
    ``overwrite=True``.
    """
    writer = get_writer(format)
    export_id = new_export_id()
    sample_ids = frame["sample_id"].astype(str).tolist()
    # unlabelled samples (an annotator queue) have no label at export: "" in files and record
    labels = store.labels().reindex(sample_ids)
    given = labels.astype(object).where(labels.notna(), "").astype(str).tolist()
    raw_paths = frame["path"].astype(object).tolist() if "path" in frame.columns else None
    paths = None if raw_paths is None else pd.Series(raw_paths, index=sample_ids, dtype=object)
    names = [
        display_name(store, sample_id, None if raw_paths is None else raw_paths[position])
        for position, sample_id in enumerate(sample_ids)
    ]
    urls = image_urls or DEFAULT_IMAGE_URLS.get(format, "relative")
    references = image_references(store, sample_ids, paths, urls, document_root)
    suggested = (
        frame["suggested_label"].astype(object).where(frame["suggested_label"].notna(), "")
        if "suggested_label" in frame.columns
        else pd.Series([""] * len(frame))
    )
    score = (
        frame["label_quality"].astype(float).to_numpy()
        if "label_quality" in frame.columns
        else np.full(len(frame), np.nan)
    )
    table = pd.DataFrame(
        {
            "sample_id": sample_ids,
            "name": names,
            "image": [references[sample_id] for sample_id in sample_ids],
            "given": given,
            "suggested": [str(value) for value in suggested],
            "score": score,
            "reasons": _reasons(frame),
        }
    )
    if format == "cvat":
        table["width"], table["height"] = _image_sizes(store, frame)
    for column, values in (extra_columns or {}).items():
        table[column] = list(values)
    run_name = None
    if run is not None or store.runs():
        run_name = run if isinstance(run, str) else store.run(run).name
    context = ExportContext(
        export_id=export_id,
        classes=list(store.classes),
        kind=kind,
        run=run_name,
        store_path=str(store.path),
        options=dict(parameters or {}),
        overwrite=bool(overwrite),
    )
    files = writer(table, Path(path), context)
    record = ExportRecord(
        export_id=export_id,
        format=format,
        kind=kind,
        created=now_iso(),
        run=run_name,
        path=str(Path(files[0]).resolve()),
        labels=dict(zip(sample_ids, given, strict=True)),
        names=dict(zip(sample_ids, names, strict=True)),
        parameters=dict(parameters or {}),
    )
    record_path = save_record(store, record)
    return ExportResult(export_id, format, list(files), len(sample_ids), sample_ids, record_path)


def export_candidates(
    store,
    path: str | os.PathLike,
    format: str = "label-studio",
    run=None,
    issue_types: str | Sequence[str] | None = None,
    max_quality: float | None = None,
    min_score: float | None = None,
    classes: Sequence[str] | None = None,
    slice: Mapping[str, Any] | str | Sequence[str] | None = None,
    weak_spots: bool | None = None,
    limit: int | None = None,
    image_urls: str | None = None,
    document_root: str | os.PathLike | None = None,
    include_reviewed: bool = False,
    sample_ids: Iterable[str] | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export the relabel candidates, worst first, in an annotation tool's import format.

    Candidates are the samples the scan flags (label issues by default) that nobody has reviewed
    yet (samples flagged ``not_an_issue`` or ``reviewed`` are left out), ordered by label quality,
    lowest first. The export id and the label each sample had at export time are recorded in the
    store (``<store>/exports/<export_id>.json``) and embedded in the file, so that
    :func:`~erroranalysis.export.annotations.import_annotations` can report samples relabelled
    since as conflicts.

    Parameters
    ----------
    store : Store
    path : path
        The file to write (a folder for ``imagenet-txt``).
    format : str
        ``"label-studio"`` (tasks JSON with predictions + ``<name>.label_config.xml``), ``"cvat"``
        (CVAT for images 1.1 XML), ``"imagenet-txt"`` (Datumaro/CVAT ImageNet text) or ``"csv"``.
    run : str, optional
        The run whose scan ranks the samples (default: the latest).
    issue_types, max_quality, min_score, classes, slice, weak_spots, limit, include_reviewed, sample_ids
        Filters; see :func:`select_candidates`.
    image_urls : str, optional
        How images are referenced: ``"local-files"`` (Label Studio local file serving, default
        for Label Studio), ``"absolute"`` (absolute paths, default for CSV), ``"relative"``, or a
        URL prefix.
    document_root : path, optional
        The folder Label Studio's ``LOCAL_FILES_DOCUMENT_ROOT`` points to (default: the store's
        image root).
    overwrite : bool
        Replace files that exist already (default: refuse, naming them, and write nothing).

    Returns
    -------
    ExportResult
        The export id, the files written and the exported sample ids.

    Raises
    ------
    ExportExistsError
        A file to write exists already and ``overwrite`` is False; nothing is written.
    MissingScanError
        The run has not been scanned.
    UnknownFormatError, UnknownLabelError, ErrorAnalysisError
        Bad format, class or slice.
    """
    selected = select_candidates(
        store,
        run=run,
        issue_types=issue_types,
        max_quality=max_quality,
        min_score=min_score,
        classes=classes,
        slice=slice,
        weak_spots=weak_spots,
        limit=limit,
        include_reviewed=include_reviewed,
        sample_ids=sample_ids,
    )
    parameters = {
        "issue_types": issue_types,
        "max_quality": max_quality,
        "min_score": min_score,
        "classes": list(classes)
        if classes is not None and not isinstance(classes, str)
        else classes,
        "slice": slice if slice is None or isinstance(slice, str | dict) else list(slice),
        "weak_spots": weak_spots,
        "limit": limit,
        "include_reviewed": include_reviewed,
    }
    get_writer(format)  # refuse an unknown format before anything is written
    return export_table(
        store,
        selected,
        path,
        format=format,
        kind="candidates",
        run=run,
        image_urls=image_urls,
        document_root=document_root,
        parameters=parameters,
        overwrite=overwrite,
    )
