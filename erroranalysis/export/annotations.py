"""Apply annotators' answers back to the store: all or nothing, conflicts reported, idempotent.

>>> import erroranalysis as ea
>>> store = ea.Store.open("demo-store")                                          # doctest: +SKIP
>>> print(ea.import_annotations(store, "project-1-export.json", format="label-studio"))  # doctest: +SKIP
applied 12, unchanged 30, conflicts 1 (not applied; force=True applies them), skipped 2
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from erroranalysis.errors import ErrorAnalysisError, ImportRefusedError, describe
from erroranalysis.export._common import ExportRecord, list_records
from erroranalysis.export.registry import AnnotationRow, get_reader

__all__ = ["ImportSummary", "import_annotations", "read_annotations"]

ROW_COLUMNS = [
    "row",
    "sample_id",
    "label",
    "status",
    "reason",
    "current_label",
    "label_at_export",
    "annotator",
    "export_id",
]


@dataclass
class ImportSummary:
    """What an import did (or, with ``dry_run``, would do).

    Attributes
    ----------
    applied : int
        Relabels written to the journal (including forced conflicts).
    unchanged : int
        Answers that agree with the current label, or that an earlier import already applied.
    conflicts : int
        Samples relabelled in the store since the export (or answered differently by two
        annotators); not applied unless ``force=True``.
    skipped : int
        Cancelled / skipped tasks and rows without an answer.
    source : str
        The journal source of the events, ``"import:<format>:<export_id>"``.
    event_ids : list of int
    rows : DataFrame
        One row per annotation read: ``row, sample_id, label, status, reason, current_label,
        label_at_export, annotator, export_id``; status is applied, unchanged, conflict,
        forced, skipped or duplicate.
    dry_run : bool
    forced : bool
    """

    applied: int = 0
    unchanged: int = 0
    conflicts: int = 0
    skipped: int = 0
    source: str = ""
    event_ids: list[int] = field(default_factory=list)
    rows: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ROW_COLUMNS))
    dry_run: bool = False
    forced: bool = False

    @property
    def conflict_rows(self) -> pd.DataFrame:
        """The rows reported as conflicts (including those applied with ``force``)."""
        return self.rows[self.rows["status"].isin(["conflict", "forced"])]

    def __str__(self) -> str:
        verb = "would apply" if self.dry_run else "applied"
        text = f"{verb} {self.applied}, unchanged {self.unchanged}, conflicts {self.conflicts}"
        if self.conflicts and not self.forced:
            text += " (not applied; force=True / --force applies them)"
        elif self.conflicts:
            text += " (forced)"
        text += f", skipped {self.skipped}"
        if self.conflicts:
            samples = self.conflict_rows["sample_id"].dropna().unique().tolist()
            text += f"; conflicting samples: {describe(samples)}"
        return text


def read_annotations(path: str | os.PathLike, format: str = "label-studio") -> list[AnnotationRow]:
    """Read an annotation tool's file into :class:`AnnotationRow` s without touching a store."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    return get_reader(format)(path)


class _Resolver:
    """Maps rows to samples: by sample id, else by image name through the export records."""

    def __init__(self, store, records: list[ExportRecord]):
        self.store, self.records = store, records
        self.ids = set(store.sample_ids.astype(str))
        self.by_name: dict[str, str] | None = None  # built on first use (files without ids)
        self.by_basename: dict[str, set[str]] = defaultdict(set)

    def _build(self) -> None:
        self.by_name = {}
        names: dict[str, str] = {}
        for record in self.records:  # later records win
            names.update({name: sample_id for sample_id, name in record.names.items()})
        samples = self.store.samples
        if "path" in samples.columns:
            for sample_id, raw in zip(samples["sample_id"], samples["path"], strict=True):
                if isinstance(raw, str) and raw:
                    names.setdefault(raw.replace("\\", "/"), str(sample_id))
        for name, sample_id in names.items():
            self._add(name, sample_id)

    def _add(self, name: str, sample_id: str) -> None:
        self.by_name[name] = sample_id
        stem = os.path.splitext(name)[0]
        self.by_name.setdefault(stem, sample_id)
        self.by_basename[os.path.basename(name)].add(sample_id)
        self.by_basename[os.path.basename(stem)].add(sample_id)

    def resolve(self, row: AnnotationRow) -> str | None:
        if row.sample_id is not None:
            return row.sample_id if row.sample_id in self.ids else None
        name = row.name
        if name is None:
            return None
        if self.by_name is None:
            self._build()
        if "?d=" in name:  # a Label Studio local-files URL
            import urllib.parse

            name = urllib.parse.unquote(name.split("?d=", 1)[1])
        name = name.replace("\\", "/")
        if name in self.by_name:
            return self.by_name[name]
        if name in self.ids:
            return name
        stem = os.path.splitext(name)[0]
        if stem in self.by_name:
            return self.by_name[stem]
        if stem in self.ids:
            return stem
        matches = self.by_basename.get(os.path.basename(name), set())
        return next(iter(matches)) if len(matches) == 1 else None


def _prior_imports(store) -> dict[tuple[str, str], set[str]]:
    """(sample_id, label) -> sources of import relabels still in effect in the journal."""
    events = store.events()
    if events.empty:
        return {}
    relabels = events[
        (events["kind"] == "relabel") & events["source"].astype(str).str.startswith("import:")
    ]
    if "undone" in relabels.columns:
        relabels = relabels[~relabels["undone"].fillna(False).astype(bool)]
    prior: dict[tuple[str, str], set[str]] = defaultdict(set)
    for sample_id, label, source in zip(
        relabels["sample_id"], relabels["label"], relabels["source"], strict=True
    ):
        prior[(str(sample_id), str(label))].add(str(source))
    return prior


def import_annotations(
    store,
    path: str | os.PathLike,
    format: str = "label-studio",
    force: bool = False,
    author: str | None = None,
    dry_run: bool = False,
    export_id: str | None = None,
    mark_reviewed: bool = True,
) -> ImportSummary:
    """Apply annotations from Label Studio, CVAT or CSV to the store's journal.

    The whole file is checked first: an unknown sample or label, or an unreadable row, refuses
    the import whole and nothing is written. Then each answer is compared with the store:

    - same as the current label: *unchanged* (the sample is flagged ``reviewed`` once);
    - already applied by an earlier import from the same export: *unchanged* (importing a file
      twice adds nothing);
    - the sample was relabelled in the store since the export (current label differs from the
      label at export time) and the answer differs from both, or two annotators disagree: a
      *conflict*, reported and not applied unless ``force=True`` (then the latest answer wins);
    - the answer keeps the label at export while the store relabelled the sample since: the
      store's newer change stands (*unchanged*; a three-way merge, as files from CVAT and
      Datumaro carry a tag for every image, touched or not);
    - otherwise: *applied*, as a ``relabel`` event.

    All events are written in one transaction (one batch: ``store.undo()`` undoes the import),
    with source ``"import:<format>:<export_id>"`` and the annotator as author.

    Parameters
    ----------
    store : Store
    path : path
        The tool's export file.
    format : str
        ``"label-studio"`` (JSON export), ``"label-studio-min"`` (JSON_MIN), ``"label-studio-csv"``
        (CSV export), ``"cvat"`` (CVAT for images 1.1 XML), ``"imagenet-txt"`` or ``"csv"`` (our CSV
        with the ``label`` column filled in).
    force : bool
        Apply conflicting answers too.
    author : str, optional
        The author for answers that do not name their annotator (default ``"annotator"``).
    dry_run : bool
        Check and compare only; write nothing.
    export_id : str, optional
        The export the file answers, for files that lost the embedded id (CVAT / Datumaro files);
        by default the id in the file, else the latest export record holding each sample.
    mark_reviewed : bool
        Flag every answered sample ``reviewed`` (once), so later exports leave it out.

    Returns
    -------
    ImportSummary

    Raises
    ------
    ImportRefusedError
        Unknown sample ids, unknown labels or unreadable rows; nothing was applied.
    """
    rows = read_annotations(path, format)
    store.refresh()  # compare with what other processes (a notebook, the CLI) wrote meanwhile
    records = list_records(store)
    by_id: dict[str, ExportRecord] = {record.export_id: record for record in records}
    if export_id is not None and export_id not in by_id:
        raise ErrorAnalysisError(
            f"the store has no export {export_id!r}; its exports: "
            f"{describe([r.export_id for r in records]) or 'none'}"
        )
    resolver = _Resolver(store, records)
    classes = set(store.classes)

    unknown_ids, unknown_labels, unreadable = [], [], []
    resolved: list[tuple[AnnotationRow, str | None]] = []
    for row in rows:
        if row.error:
            unreadable.append(f"{row.row}: {row.error}")
            resolved.append((row, None))
            continue
        if row.cancelled or row.label is None:
            resolved.append((row, resolver.resolve(row)))
            continue
        sample_id = resolver.resolve(row)
        if sample_id is None:
            unknown_ids.append(f"{row.row} ({row.sample_id or row.name})")
        if row.label not in classes:
            unknown_labels.append(f"{row.row} ({row.label!r})")
        resolved.append((row, sample_id))
    if unknown_ids or unknown_labels or unreadable:
        problems = []
        if unknown_ids:
            problems.append(f"unknown samples in rows {describe(unknown_ids)}")
        if unknown_labels:
            problems.append(
                f"labels not among the classes in rows {describe(unknown_labels)} "
                f"(classes: {describe(sorted(classes), 10)})"
            )
        if unreadable:
            problems.append(f"unreadable rows {describe(unreadable)}")
        raise ImportRefusedError(
            f"import of {path} refused, nothing applied: {'; '.join(problems)}. Check that the "
            "file answers an export of this store and uses its class names"
        )

    labels_now = store.labels().astype(object)
    # "" for unlabelled samples, as export records write them (an annotator queue)
    current = dict(zip(store.sample_ids, labels_now.where(labels_now.notna(), ""), strict=True))
    flagged_reviewed = set()
    flags = store.flags()
    if len(flags):
        flagged_reviewed = set(flags.loc[flags["flag"] == "reviewed", "sample_id"].astype(str))
    prior = _prior_imports(store)
    # the latest record holding each sample, for files without an embedded export id
    latest_for: dict[str, ExportRecord] = {}
    for record in records:
        for sample_id in record.labels:
            latest_for[sample_id] = record

    def baseline(row: AnnotationRow, sample_id: str) -> tuple[str | None, str | None]:
        chosen = export_id or row.export_id
        record = by_id.get(chosen) if chosen else None
        if record is None and chosen is None:
            record = latest_for.get(sample_id)
        if record is not None and sample_id in record.labels:
            return record.labels[sample_id], record.export_id
        return row.given, chosen

    # group answers per sample (several annotators may answer one task)
    answers: dict[str, list[tuple[AnnotationRow, str | None, str | None]]] = defaultdict(list)
    table: list[dict] = []
    export_ids: list[str] = []
    for row, sample_id in resolved:
        base = {
            "row": row.row,
            "sample_id": sample_id,
            "label": row.label,
            "annotator": row.annotator,
            "export_id": row.export_id,
            "current_label": None if sample_id is None else str(current[sample_id]),
            "label_at_export": None,
        }
        if row.cancelled or row.label is None:
            table.append(
                {
                    **base,
                    "status": "skipped",
                    "reason": "cancelled" if row.cancelled else "no answer",
                }
            )
            continue
        at_export, used_export = baseline(row, sample_id)
        base["label_at_export"] = at_export
        base["export_id"] = used_export
        if used_export and used_export not in export_ids:
            export_ids.append(used_export)
        answers[sample_id].append((row, at_export, used_export))
        table.append(
            {**base, "status": None, "reason": None, "_index": len(answers[sample_id]) - 1}
        )

    source = f"import:{format}:{'+'.join(export_ids) if export_ids else 'unknown'}"
    decisions: dict[str, tuple[str, str, AnnotationRow | None]] = {}
    for sample_id, given in answers.items():
        labels = {row.label for row, _, _ in given}
        # the latest answer (by time, then by position in the file) is the one applied
        _, (row, at_export, used_export) = max(
            enumerate(given), key=lambda pair: (pair[1][0].time or "", pair[0])
        )
        now = str(current[sample_id])
        if len(labels) > 1:
            decisions[sample_id] = (
                "conflict",
                f"annotators disagree: {', '.join(sorted(labels))}",
                row,
            )
        elif row.label == now:
            decisions[sample_id] = ("unchanged", "same as the current label", row)
        elif any(
            src.startswith("import:") and used_export and used_export in src
            for src in prior.get((sample_id, row.label), ())
        ):
            decisions[sample_id] = (
                "unchanged",
                "already imported; relabelled in the store since",
                row,
            )
        elif at_export is not None and at_export != now and row.label == at_export:
            # three-way merge: the annotator kept the label at export, the store changed it
            # since; the store's newer change stands (nothing to apply, nothing to confirm)
            decisions[sample_id] = (
                "kept",
                f"kept the label at export; relabelled to {now} since",
                row,
            )
        elif at_export is not None and at_export != now:
            decisions[sample_id] = (
                "conflict",
                f"relabelled in the store since the export ({at_export or 'unlabelled'} -> {now})",
                row,
            )
        else:
            reason = "no label at export time known" if at_export is None else "relabel"
            decisions[sample_id] = ("applied", reason, row)

    events: list[dict] = []
    summary = ImportSummary(source=source, dry_run=dry_run, forced=force)
    for sample_id, (status, reason, row) in decisions.items():
        who = row.annotator or author or "annotator"
        if status == "conflict":
            summary.conflicts += 1
            if force:
                status = "forced"
        if status in ("applied", "forced"):
            summary.applied += 1
            events.append(
                {
                    "kind": "relabel",
                    "sample_id": sample_id,
                    "label": row.label,
                    "author": who,
                    "note": f"{reason}; {row.row}" if status == "forced" else row.row,
                }
            )
        elif status in ("unchanged", "kept"):
            summary.unchanged += 1
        if (
            mark_reviewed
            and status not in ("conflict", "kept")
            and sample_id not in flagged_reviewed
        ):
            events.append(
                {
                    "kind": "flag",
                    "sample_id": sample_id,
                    "flag": "reviewed",
                    "author": who,
                    "note": source,
                }
            )
        decisions[sample_id] = (status, reason, row)

    for entry in table:
        if entry["status"] == "skipped":
            summary.skipped += 1
            continue
        status, reason, chosen = decisions[entry["sample_id"]]
        mine = answers[entry["sample_id"]][entry.pop("_index")][0]
        if status == "kept":
            status = "unchanged"
        if mine is not chosen and status in ("applied", "unchanged", "forced"):
            entry["status"], entry["reason"] = (
                "duplicate",
                "another answer for this sample was used",
            )
        else:
            entry["status"], entry["reason"] = status, reason
    for entry in table:
        entry.pop("_index", None)
    summary.rows = pd.DataFrame(table, columns=ROW_COLUMNS)

    if events and not dry_run:
        summary.event_ids = store.apply_events(
            events,
            source=source,
            author=author or "annotator",
            batch=f"{source}:{uuid.uuid4().hex[:8]}",
        )
    return summary
