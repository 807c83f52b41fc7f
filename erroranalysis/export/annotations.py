"""Apply annotators' answers back to the store: all or nothing, conflicts reported, idempotent.

>>> import erroranalysis as ea
>>> store = ea.Store.open("demo-store")                                          # doctest: +SKIP
>>> print(ea.import_annotations(store, "project-1-export.json", format="label-studio"))  # doctest: +SKIP
applied 12, unchanged 30, conflicts 1 (not applied; force=True applies them), skipped 2
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from erroranalysis.errors import ErrorAnalysisError, ImportRefusedError, describe
from erroranalysis.export._common import ExportRecord, list_records
from erroranalysis.export.registry import AnnotationRow, get_reader
from erroranalysis.store.identity import normalise_author

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
        forced, skipped, duplicate or outvoted (an answer the consensus of several annotators
        overruled).
    dry_run : bool
    forced : bool
    low_consensus : int
        Samples several annotators answered whose consensus quality stayed below
        ``min_consensus_quality``: conflicts for a person (flagged ``low_consensus``, so the
        annotator queue offers them again).
    consensus : DataFrame or None
        With several annotators per sample: one row per such sample (``sample_id,
        consensus_label, consensus_quality, annotator_agreement, num_annotations, unanimous,
        answers``, see :class:`erroranalysis.analysis.consensus.Consensus`).
    annotators : DataFrame or None
        With several annotators: each annotator's quality, best first (``annotator, quality,
        agreement_with_consensus, num_labeled, worst_class``).
    consensus_method : str or None
        ``"crowdlab"`` or ``"majority"`` when a consensus was built.
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
    low_consensus: int = 0
    consensus: pd.DataFrame | None = None
    annotators: pd.DataFrame | None = None
    consensus_method: str | None = None

    def annotator_report(self) -> str:
        """The annotators' quality as text lines (empty without several annotators)."""
        if self.annotators is None or self.annotators.empty:
            return ""
        lines = [f"annotator quality ({self.consensus_method}):"]
        for row in self.annotators.itertuples(index=False):
            lines.append(
                f"  {row.annotator}: quality {row.quality:.3f}, agrees with the consensus on "
                f"{row.agreement_with_consensus:.1%} of {row.num_labeled}"
            )
        return "\n".join(lines)

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
        if self.consensus is not None:
            text += (
                f"; consensus ({self.consensus_method}) of {len(self.consensus)} samples answered "
                f"by several annotators, {self.low_consensus} too doubtful to apply"
            )
        if self.conflicts:
            samples = self.conflict_rows["sample_id"].dropna().unique().tolist()
            text += f"; conflicting samples: {describe(samples)}"
        return text


def read_annotations(path: str | os.PathLike, format: str = "label-studio") -> list[AnnotationRow]:
    """Read an annotation tool's file into :class:`AnnotationRow` s without touching a store."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    reader = get_reader(format)
    try:
        return reader(path)
    except UnicodeDecodeError as error:
        raise ErrorAnalysisError(
            f"{path} is not a {format} text file (not UTF-8: {error.reason} at byte "
            f"{error.start}); pass the file the tool exported, or the right --format"
        ) from None


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


class _Agreed:
    """The consensus of one import's samples answered by several annotators."""

    def __init__(
        self,
        result,
        answers: pd.DataFrame,
        every: pd.DataFrame,
        multi: set[str],
        minimum: float,
    ):
        from erroranalysis.analysis.consensus import LOW_CONSENSUS_FLAG

        self.flag = LOW_CONSENSUS_FLAG
        self._flagged: set[str] | None = None
        self.result = result
        self.answers = answers  # this file's answers (journaled as notes)
        labels = result.labels[result.labels["sample_id"].isin(multi)].reset_index(drop=True)
        result.labels = labels
        self.verdicts: dict[str, dict] = {}
        agreeing: dict[tuple[str, str], set[str]] = defaultdict(set)
        for sample_id, annotator, label in zip(
            every["sample_id"], every["annotator"], every["label"], strict=True
        ):
            agreeing[(sample_id, label)].add(str(annotator))
        for row in labels.itertuples(index=False):
            by = "+".join(sorted(agreeing.get((row.sample_id, row.consensus_label), ())))
            self.verdicts[row.sample_id] = {
                "label": row.consensus_label,
                "quality": float(row.consensus_quality),
                # doubtful: a disagreement with a weak consensus, or a consensus that is
                # nobody's answer (the model's pick among annotators who all differ)
                "low": ((not row.unanimous) and float(row.consensus_quality) < minimum) or not by,
                "answers": row.answers,
                "by": by or "consensus",
                "anyone": bool(by),
            }

    def answer_notes(self, store, source: str) -> list[dict]:
        """A note per answer by its annotator, unless an earlier import journaled it already."""
        from erroranalysis.analysis.consensus import ANSWER_PREFIX, answers_from_journal

        known = answers_from_journal(store)
        seen = set(zip(known["sample_id"], known["annotator"], known["label"], strict=True))
        return [
            {
                "kind": "note",
                "sample_id": sample_id,
                "author": annotator,
                "note": f"{ANSWER_PREFIX}{label}",
            }
            for sample_id, annotator, label in zip(
                self.answers["sample_id"],
                self.answers["annotator"],
                self.answers["label"],
                strict=True,
            )
            if (sample_id, annotator, label) not in seen
        ]

    def flag_events(self, store, sample_id: str, low: bool, source: str) -> list[dict]:
        """Flag a doubtful consensus ``low_consensus``; unflag it once a consensus is reached."""
        if self._flagged is None:
            flags = store.flags()
            self._flagged = set(flags.loc[flags["flag"] == self.flag, "sample_id"].astype(str))
        flagged = sample_id in self._flagged
        if low and not flagged:
            verdict = self.verdicts[sample_id]
            return [
                {
                    "kind": "flag",
                    "sample_id": sample_id,
                    "flag": self.flag,
                    "note": f"consensus quality {verdict['quality']:.3f}: {verdict['answers']}",
                }
            ]
        if not low and flagged:
            return [{"kind": "unflag", "sample_id": sample_id, "flag": self.flag}]
        return []


def _consensus(store, path, answers, method: str, run, minimum: float) -> _Agreed | None:
    """The consensus of the samples several annotators answered (None when none did)."""
    table = pd.DataFrame(
        [
            {
                "sample_id": sample_id,
                "annotator": row.annotator,
                "label": row.label,
                "row": row.row,
                "time": row.time or "",
            }
            for sample_id, given in answers.items()
            for row, _, _ in given
        ],
        columns=["sample_id", "annotator", "label", "row", "time"],
    )
    if table.empty:
        return None
    counts = table.groupby("sample_id")["row"].transform("size")
    nameless = table[(counts > 1) & table["annotator"].isna()]
    if len(nameless):
        raise ImportRefusedError(
            f"import of {path} refused, nothing applied: samples "
            f"{describe(nameless['sample_id'].unique().tolist())} have several answers but rows "
            f"{describe(nameless['row'].tolist())} name no annotator (the 'annotator' column is "
            "missing or empty); a consensus of several annotators needs to know who gave each "
            "answer, so add the 'annotator' column"
        )
    named = table[table["annotator"].notna()]
    # an annotator's latest answer for a sample counts (by time, then by position in the file)
    named = named.iloc[np.lexsort((np.arange(len(named)), named["time"].to_numpy()))]
    named = named.drop_duplicates(["sample_id", "annotator"], keep="last")
    from erroranalysis.analysis.consensus import (
        answers_from_journal,
        crowdlab_consensus,
        majority_vote,
    )

    answered = named[["sample_id", "annotator", "label"]].reset_index(drop=True)
    # answers journaled by earlier imports count too (a doubtful sample sent out again gets one
    # more answer); this file's answer of an annotator replaces that annotator's earlier one
    journaled = answers_from_journal(store)[["sample_id", "annotator", "label"]]
    every = pd.concat([journaled, answered], ignore_index=True).drop_duplicates(
        ["sample_id", "annotator"], keep="last"
    )
    per_sample = (
        every[every["sample_id"].isin(set(answered["sample_id"]))]
        .groupby("sample_id")["annotator"]
        .nunique()
    )
    multi = set(per_sample.index[per_sample >= 2].astype(str))
    if not multi:
        return None
    if method == "majority":
        result = majority_vote(every, list(store.classes))
    else:
        result = crowdlab_consensus(every, store, run)
    return _Agreed(result, answered, every, multi, minimum)


def import_annotations(
    store,
    path: str | os.PathLike,
    format: str = "label-studio",
    force: bool = False,
    author: str | None = None,
    dry_run: bool = False,
    export_id: str | None = None,
    mark_reviewed: bool = True,
    consensus: str | None = "auto",
    min_consensus_quality: float = 0.5,
    run=None,
) -> ImportSummary:
    """Apply annotations from Label Studio, CVAT or CSV to the store's journal.

    The whole file is checked first: an unknown sample or label, or an unreadable row, refuses
    the import whole and nothing is written. Then each answer is compared with the store:

    - same as the current label: *unchanged* (the sample is flagged ``reviewed`` once);
    - already applied by an earlier import from the same export: *unchanged* (importing a file
      twice adds nothing);
    - several annotators answered the sample: their consensus (CROWDLAB, weighing each
      annotator's reliability and the model's prediction; see ``consensus``) is the answer;
      when they disagree and the consensus quality is below ``min_consensus_quality`` the
      sample is a *conflict* for a person (flagged ``low_consensus``: the annotator queue
      offers it again) — the other disagreements are settled, not reported;
    - the sample was relabelled in the store since the export (current label differs from the
      label at export time) and the answer differs from both, or one annotator gave two
      answers: a *conflict*, reported and not applied unless ``force=True`` (then the latest
      answer, or the consensus, wins);
    - the answer keeps the label at export while the store relabelled the sample since: the
      store's newer change stands (*unchanged*; a three-way merge, as files from CVAT and
      Datumaro carry a tag for every image, touched or not);
    - otherwise: *applied*, as a ``relabel`` event.

    All events are written in one transaction (one batch: ``store.undo()`` undoes the import),
    with source ``"import:<format>:<export_id>"`` and the annotator as author. With several
    annotators, each answer is also journaled as a note ``"answer: <label>"`` by its annotator
    (:func:`erroranalysis.analysis.consensus.answers_from_journal` reads them back), and a
    consensus relabel names the annotators who gave that label (``"ann1+ann3"``).

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
    consensus : str or None
        How answers of several annotators for one sample combine: ``"auto"`` (default) and
        ``"crowdlab"``: cleanlab's CROWDLAB with the run's predictions (a majority vote for a
        store without runs); ``"majority"``: the most frequent answer, quality = its share;
        ``None``: none, every disagreement is a conflict.
    min_consensus_quality : float
        Disagreements whose consensus quality is below this go to a person (default 0.5: on
        three simulated annotators of 90 / 75 / 60 % accuracy, the applied consensus was 98 %
        right and a quarter of the samples went to people).
    run : str, optional
        The run whose predictions CROWDLAB weighs in (default: the latest).

    Returns
    -------
    ImportSummary

    Raises
    ------
    ImportRefusedError
        Unknown sample ids, unknown labels or unreadable rows, or several answers for one
        sample without the annotator who gave each (a CSV without its ``annotator`` column);
        nothing was applied.
    """
    author = normalise_author(author)  # NaN / "nan" / "" name nobody: "annotator" stands in
    if consensus not in (None, "auto", "crowdlab", "majority"):
        raise ErrorAnalysisError(
            f"consensus must be 'auto', 'crowdlab', 'majority' or None, got {consensus!r}"
        )
    if not 0 <= float(min_consensus_quality) <= 1:
        raise ErrorAnalysisError(
            f"min_consensus_quality must be between 0 and 1, got {min_consensus_quality!r}"
        )
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
    agreed = (
        None
        if consensus is None
        else _consensus(store, path, answers, consensus, run, float(min_consensus_quality))
    )
    decisions: dict[str, tuple[str, str, AnnotationRow | None]] = {}
    for sample_id, given in answers.items():
        labels = {row.label for row, _, _ in given}
        verdict = None if agreed is None else agreed.verdicts.get(sample_id)
        pool = list(enumerate(given))
        if verdict is not None:
            pool = [pair for pair in pool if pair[1][0].label == verdict["label"]] or pool
        # the latest answer (by time, then by position in the file) is the one applied
        _, (row, at_export, used_export) = max(
            pool, key=lambda pair: (pair[1][0].time or "", pair[0])
        )
        if verdict is not None and verdict["anyone"] and row.label != verdict["label"]:
            # the consensus is an earlier import's answer that this file's annotators overrule
            row = dataclasses.replace(row, label=verdict["label"], annotator=verdict["by"])
        now = str(current[sample_id])
        if verdict is not None and row.label != verdict["label"]:
            decisions[sample_id] = (
                "conflict",
                f"annotators disagree and their consensus {verdict['label']} is nobody's "
                f"answer: {verdict['answers']}",
                row,
            )
        elif verdict is not None and verdict["low"]:
            decisions[sample_id] = (
                "conflict",
                f"annotators disagree and their consensus is doubtful (quality "
                f"{verdict['quality']:.2f} < {min_consensus_quality:g}): {verdict['answers']}",
                row,
            )
        elif verdict is not None:
            labels = {row.label}  # settled by the consensus
        if sample_id in decisions:
            pass
        elif len(labels) > 1:
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
    if agreed is not None:
        summary.consensus = agreed.result.labels
        summary.annotators = agreed.result.annotators
        summary.consensus_method = agreed.result.method
        events.extend(agreed.answer_notes(store, source))
    for sample_id, (status, reason, row) in decisions.items():
        who = row.annotator or author or "annotator"
        verdict = None if agreed is None else agreed.verdicts.get(sample_id)
        if verdict is not None:
            if verdict["low"]:
                summary.low_consensus += 1
            if not verdict["low"] and status in ("applied", "forced"):
                who = verdict["by"]
                reason = f"consensus {verdict['quality']:.3f} ({verdict['answers']})"
            # a doubtful consensus goes back to the queue, unless force applied it
            events.extend(
                agreed.flag_events(store, sample_id, verdict["low"] and not force, source)
            )
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
                    "note": f"{reason}; {row.row}"
                    if status == "forced" or verdict is not None
                    else row.row,
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
        verdict = None if agreed is None else agreed.verdicts.get(entry["sample_id"])
        if (
            verdict is not None
            and mine.label != chosen.label
            and status in ("applied", "unchanged", "forced")
        ):
            entry["status"], entry["reason"] = (
                "outvoted",
                f"the consensus is {chosen.label} (quality {verdict['quality']:.2f})",
            )
        elif mine is not chosen and status in ("applied", "unchanged", "forced"):
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
        if agreed is not None:  # the dashboard's annotators tab reads this cache
            from erroranalysis.analysis.consensus import cache_annotators

            cache_annotators(store, run)
    return summary
