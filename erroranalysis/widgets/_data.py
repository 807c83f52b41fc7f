"""The data every view reads: one frame of the store and run, kept current incrementally.

:class:`ViewData` reads ``store.frame(run)`` once, turns the label columns into int32 codes and
then follows the store's journal: after a local write, or after :meth:`Store.refresh` finds
events written by another process, it works out which rows changed (an O(N) comparison of the
current label codes, no re-read of the frame) and tells each listening view exactly those rows.
Views never compute anything heavier than indexing these arrays.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SCAN_HINT",
    "Change",
    "ViewData",
    "confusion_counts",
    "stable_argsort",
    "update_confusion",
]

logger = logging.getLogger(__name__)

SCAN_HINT = "run ea.scan(store) first"

#: Columns that are not scores (never offered as sort keys).
_NOT_SCORES = {
    "x",
    "y",
    "label_issue_rank",
    "near_duplicate_set",
    "width",
    "height",
}


#: Scores whose high values are the bad ones (the rest, and qualities, are bad when low).
_HIGH_IS_BAD = {"loss", "entropy", "outlier_score", "label_issue_rank"}


@dataclass
class Change:
    """What changed in the store since the views last looked.

    Attributes
    ----------
    label_positions : numpy.ndarray
        Row positions whose current label changed (int64).
    old_codes, new_codes : numpy.ndarray
        Their class codes before and after (int32).
    touched_positions : numpy.ndarray
        Rows named by any new event (relabel, flag, note, undo).
    flags_changed : bool
        Whether the set of current flags may have changed.
    event_ids : list of int
        The new events.
    """

    label_positions: np.ndarray
    old_codes: np.ndarray
    new_codes: np.ndarray
    touched_positions: np.ndarray
    flags_changed: bool
    event_ids: list[int] = field(default_factory=list)


def confusion_counts(label_codes: np.ndarray, pred_codes: np.ndarray, k: int) -> np.ndarray:
    """Count (current label, predicted label) pairs: rows = label, columns = prediction.

    Parameters
    ----------
    label_codes, pred_codes : numpy.ndarray
        Class codes per sample (negative codes are skipped).
    k : int
        Number of classes.

    Returns
    -------
    numpy.ndarray
        ``(k, k)`` int64 counts.
    """
    ok = (label_codes >= 0) & (pred_codes >= 0)
    flat = label_codes[ok].astype(np.int64) * k + pred_codes[ok]
    return np.bincount(flat, minlength=k * k).reshape(k, k)


def update_confusion(
    counts: np.ndarray,
    pred_codes: np.ndarray,
    positions: np.ndarray,
    old_codes: np.ndarray,
    new_codes: np.ndarray,
) -> None:
    """Apply relabels to confusion ``counts`` in place: O(number of relabels), not O(N).

    Uses :class:`erroranalysis.analysis.confusion.ConfusionState`'s rule (move one count from
    row ``old`` to row ``new`` in the sample's predicted column); kept here as one small function
    so it can be swapped for the analysis package's updater.

    Parameters
    ----------
    counts : numpy.ndarray
        ``(k, k)`` counts, rows = current label, columns = prediction.
    pred_codes : numpy.ndarray
        Predicted class code per sample.
    positions : numpy.ndarray
        Rows whose label changed.
    old_codes, new_codes : numpy.ndarray
        Their label codes before and after.
    """
    if len(positions) == 0:
        return
    cols = pred_codes[positions]
    ok = cols >= 0
    # an unlabelled sample (code -1) is in no row: labelling it only adds, unlabelling only removes
    leave = ok & (old_codes >= 0)
    enter = ok & (new_codes >= 0)
    np.add.at(counts, (old_codes[leave], cols[leave]), -1)
    np.add.at(counts, (new_codes[enter], cols[enter]), 1)


#: Below this many keys numpy's own stable sort is as quick as the detour below.
_SMALL_SORT = 50_000


def stable_argsort(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` of 1-D numeric keys, about ten times faster at 1M.

    numpy's stable sort of floats is a merge sort (1.28M float32: ~0.18 CPU-s); its default sort
    is vectorised (~0.02 s) but leaves ties in any order. So: sort unstably, give every key its
    dense rank, and sort ``rank << 32 | position`` as one uint64 (unique, hence the same order
    as a stable sort: ties by position). NaN sorts as +inf, after every number, ties by position.

    Parameters
    ----------
    keys : numpy.ndarray
        Numeric keys, one per item (fewer than 2**32 of them).

    Returns
    -------
    numpy.ndarray
        int64 positions of ``keys`` in ascending, stable order.
    """
    keys = np.asarray(keys)
    if keys.dtype.kind == "f":
        keys = np.where(np.isnan(keys), np.inf, keys)
    n = len(keys)
    if n < _SMALL_SORT or n >= 2**32:
        return np.argsort(keys, kind="stable").astype(np.int64, copy=False)
    order = np.argsort(keys)
    ranked = keys[order]
    new_value = np.empty(n, dtype=bool)
    new_value[0] = True
    np.not_equal(ranked[1:], ranked[:-1], out=new_value[1:])
    if new_value.all():  # no ties: any order is the stable one
        return order.astype(np.int64, copy=False)
    rank = np.empty(n, dtype=np.uint64)
    rank[order] = np.cumsum(new_value, dtype=np.uint64) - np.uint64(1)
    composite = (rank << np.uint64(32)) | np.arange(n, dtype=np.uint64)
    composite.sort()
    return (composite & np.uint64(0xFFFFFFFF)).astype(np.int64)


def _codes(values: pd.Series, classes: Sequence[str]) -> np.ndarray:
    """Class-name column → int32 codes (-1 for missing/unknown)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        # a categorical column (a scan's predicted_label): recode its categories, not its rows
        # (hashing 1.28M strings costs ~0.3 s; this is a take of ints)
        index = pd.Index(list(classes))
        table = index.get_indexer(values.cat.categories.astype(str)).astype(np.int32)
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        table = np.append(table, np.int32(-1))  # code -1 (missing) -> -1
        return table[codes]
    cat = pd.Categorical(values.astype("object"), categories=list(classes))
    return np.asarray(cat.codes, dtype=np.int32)


#: What views show for a sample that has no label yet.
UNLABELLED = "unlabelled"


class ViewData:
    """One store + run as arrays, followed incrementally through the journal.

    Parameters
    ----------
    store : erroranalysis.Store
        The store to show.
    run : str or Run or None
        The run (default: the latest run, or none if the store has no run yet).

    Attributes
    ----------
    frame : pandas.DataFrame
        ``store.frame(run)``; its ``label`` column is kept current.
    label_codes : numpy.ndarray
        Current label code per sample (int32).
    given_codes : numpy.ndarray
        Given label code per sample (int32).
    pred_codes : numpy.ndarray or None
        Predicted label code per sample, or ``None`` before a scan.
    flags : dict
        ``{sample position: set of flag names}`` for samples with current flags.
    """

    def __init__(self, store: Any, run: Any = None) -> None:
        self.store = store
        self.classes: list[str] = list(store.classes)
        self.class_set = frozenset(self.classes)
        self.num_classes = len(self.classes)
        self.run = self._resolve_run(run)
        self._listeners: list[Callable[[Change], None]] = []
        self._error_listeners: list[Callable[[str], None]] = []
        self._observing = False
        self.reload()

    # -- loading -------------------------------------------------------------------------
    def _resolve_run(self, run: Any) -> Any:
        if run is not None and not isinstance(run, str):
            return run
        if run is None and not self.store.runs():
            return None
        return self.store.run(run)

    def reload(self) -> None:
        """Re-read everything from the store (after a new scan, say)."""
        store = self.store
        try:
            frame = store.frame(self.run.name if self.run is not None else None)
        except Exception as error:  # a store with no run may refuse frame(); fall back to samples
            logger.debug("store.frame failed (%s); using samples only", error)
            frame = store.samples.copy()
        if "label" not in frame.columns:
            codes = store.label_codes()
            frame["label"] = np.where(
                codes >= 0, np.asarray(self.classes, dtype=object)[codes], None
            )
        if "flags" not in frame.columns:
            frame["flags"] = [[] for _ in range(len(frame))]
        self.frame = frame.reset_index(drop=True)
        ids = self.frame["sample_id"]
        self.sample_ids = (
            ids.to_numpy(dtype=object)
            if isinstance(ids.dtype, pd.StringDtype) and not ids.isna().any()
            else np.asarray(ids.astype(str), dtype=object)
        )
        store_ids = getattr(store, "sample_ids", None)
        # the frame is in store order, so the store's own Index is these ids: sharing it shares
        # its hash table (~85 MB and ~0.1 s to build at 1.28M; the thumbnails build it anyway)
        self._id_index = (
            store_ids
            if isinstance(store_ids, pd.Index) and len(store_ids) == len(self.sample_ids)
            else pd.Index(self.sample_ids)
        )
        self._positions_cache: tuple[tuple, np.ndarray] | None = None
        # the rank of each id among the sorted ids (None: not needed yet; the positions
        # themselves when the ids are in sorted order)
        self._id_rank: np.ndarray | None = None
        self.num_samples = len(self.frame)
        self.given_codes = np.asarray(store.given_codes, dtype=np.int32)
        self.label_codes = np.array(store.label_codes(), dtype=np.int32, copy=True)
        if "predicted_label" in self.frame.columns:
            self.pred_codes = _codes(self.frame["predicted_label"], self.classes)
        else:
            self.pred_codes = None
        self._load_flags()
        self._metric_directions: dict[str, bool] | None = None
        self._last_event = int(store.last_event_id)

    def _load_flags(self) -> None:
        table = self.store.flags()
        flags: dict[int, set[str]] = {}
        if len(table):
            positions = self._id_index.get_indexer(table["sample_id"].astype(str))
            for pos, flag in zip(positions, table["flag"], strict=False):
                if pos >= 0:
                    flags.setdefault(int(pos), set()).add(str(flag))
        self.flags = flags

    # -- queries -------------------------------------------------------------------------
    def has(self, *columns: str) -> bool:
        """Whether the frame has all ``columns`` (i.e. the scan that makes them has run)."""
        return all(c in self.frame.columns for c in columns)

    @property
    def id_index(self) -> pd.Index:
        """The sample ids in row order, as the Index the shared selection is bound to."""
        return self._id_index

    def id_sort_keys(self, positions: np.ndarray) -> np.ndarray:
        """Integer keys that sort row ``positions`` as their sample ids sort.

        The rank of every id is found once (positions themselves when the store keeps its
        samples in id order, as ingestion does; else one Arrow sort of the ids) and then taken,
        so sorting 300k issue rows by id is an integer sort, not a string sort (~0.2 s at 1.28M).
        """
        positions = np.asarray(positions, dtype=np.int64)
        if self._id_rank is None:
            if self._id_index.is_monotonic_increasing:
                self._id_rank = np.arange(self.num_samples, dtype=np.int64)
            else:
                import pyarrow as pa
                import pyarrow.compute as pc

                # Arrow compares UTF-8 bytes, which orders as Python compares the strings
                order = pc.sort_indices(pa.array(self.sample_ids, type=pa.string())).to_numpy()
                rank = np.empty(self.num_samples, dtype=np.int64)
                rank[order] = np.arange(self.num_samples, dtype=np.int64)
                self._id_rank = rank
        return self._id_rank[positions]

    def positions(self, ids: Sequence[str]) -> np.ndarray:
        """Row positions of ``ids`` (unknown ids are dropped).

        A string hash lookup per id (~0.1 s for 300k ids): views read the shared selection as
        positions instead (:meth:`Selection.positions_in`). The answer for the last tuple is
        kept (by identity), so the same tuple asked again costs nothing. Treat the result as
        read-only.
        """
        if len(ids) == 0:
            return np.zeros(0, dtype=np.int64)
        cached = self._positions_cache
        if cached is not None and cached[0] is ids:
            return cached[1]
        pos = self._id_index.get_indexer(list(ids))
        out = pos[pos >= 0].astype(np.int64)
        if isinstance(ids, tuple):  # immutable: safe to remember by identity
            out.flags.writeable = False
            self._positions_cache = (ids, out)
        return out

    def position(self, sample_id: str | None) -> int | None:
        """Row position of one id, or ``None``."""
        if sample_id is None:
            return None
        pos = self._id_index.get_indexer([sample_id])[0]
        return int(pos) if pos >= 0 else None

    def ids_at(self, positions: np.ndarray) -> list[str]:
        """Sample ids at row ``positions``."""
        return self.sample_ids[np.asarray(positions, dtype=np.int64)].tolist()

    def score_columns(self) -> list[str]:
        """Numeric per-sample columns a user can sort by (scores, metrics, image properties)."""
        out = []
        for name in self.frame.columns:
            if name in _NOT_SCORES or name.startswith("_"):
                continue
            dtype = self.frame[name].dtype
            if pd.api.types.is_bool_dtype(dtype):
                continue
            if pd.api.types.is_numeric_dtype(dtype):
                out.append(str(name))
        return out

    def low_is_bad(self, column: str) -> bool:
        """Whether low values of ``column`` are the bad ones (so "worst first" = lowest first).

        User metrics say so themselves (``attach_metric(..., higher_is_better=...)``); the scan's
        scores follow the issue registry's direction; loss, entropy and outlier scores are bad
        when high; anything else is taken as a quality (low = bad).
        """
        if self._metric_directions is None:
            self._metric_directions = {}
            if self.run is not None:
                from erroranalysis.analysis.scores import metric_columns

                self._metric_directions = dict(metric_columns(self.run))
        if column in self._metric_directions:
            return bool(self._metric_directions[column])
        if column in _HIGH_IS_BAD:
            return False
        from erroranalysis.analysis.issue_types import issue_types

        for issue in issue_types():
            if issue.score_column == column:
                return bool(issue.ascending)
        return True

    def wrong(self) -> np.ndarray | None:
        """Boolean per sample: prediction differs from the current label (``None`` before a scan)."""
        if self.pred_codes is None:
            return None
        return (self.pred_codes != self.label_codes) & (self.label_codes >= 0)

    def label_names(self, positions: np.ndarray) -> np.ndarray:
        """Current label names at row ``positions`` (object array; ``UNLABELLED`` for none).

        One take from the class-name table, not a Python call per row (300k issue rows: 3 ms
        instead of ~0.2 s).
        """
        names = np.asarray([*self.classes, UNLABELLED], dtype=object)
        codes = self.label_codes[np.asarray(positions, dtype=np.int64)]
        return names[np.where(codes >= 0, codes, len(self.classes))]

    def label_sort_keys(self, positions: np.ndarray) -> np.ndarray:
        """Integer keys that sort row ``positions`` as their current label names sort."""
        names = [*self.classes, UNLABELLED]
        rank = np.empty(len(names), dtype=np.int64)
        rank[np.argsort(np.asarray(names, dtype=object), kind="stable")] = np.arange(len(names))
        codes = self.label_codes[np.asarray(positions, dtype=np.int64)]
        return rank[np.where(codes >= 0, codes, len(self.classes))]

    def label_name(self, position: int, given: bool = False) -> str:
        """The sample's current (or given) label, or ``UNLABELLED``."""
        code = int((self.given_codes if given else self.label_codes)[position])
        return self.classes[code] if code >= 0 else UNLABELLED

    def flag_names(self, position: int) -> set[str]:
        """Current flags of the sample at ``position``."""
        return self.flags.get(int(position), set())

    # -- following the store -------------------------------------------------------------
    def listen(self, callback: Callable[[Change], None]) -> None:
        """Call ``callback(change)`` after every batch of new store events."""
        self._listeners.append(callback)
        if not self._observing:
            self.store.observe(self._on_store)
            self._observing = True

    def unlisten(self, callback: Callable[[Change], None]) -> None:
        """Stop calling ``callback``; stop observing the store when nobody listens."""
        if callback in self._listeners:
            self._listeners.remove(callback)
        if not self._listeners and self._observing:
            self.store.unobserve(self._on_store)
            self._observing = False

    def on_error(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(message)`` when a view fails to update (the dashboard's status line)."""
        self._error_listeners.append(callback)

    def report_error(self, what: str, error: BaseException) -> bool:
        """Log a view's failure and tell the error listeners; ``False`` when nobody listens.

        Parameters
        ----------
        what : str
            What failed, for the message (``"the gallery failed to update"``).
        error : BaseException
            The exception.
        """
        logger.error("%s", what, exc_info=(type(error), error, error.__traceback__))
        message = f"{what}: {type(error).__name__}: {error}"
        for callback in list(self._error_listeners):
            try:
                callback(message)
            except Exception:  # an error display that fails must not hide the first error
                logger.exception("showing an error failed")
        return bool(self._error_listeners)

    def close(self) -> None:
        """Stop following the store."""
        self._listeners.clear()
        self._error_listeners.clear()
        if self._observing:
            self.store.unobserve(self._on_store)
            self._observing = False

    def sync(self) -> Change | None:
        """Bring the arrays up to date with the store's journal and notify listeners.

        Returns the change, or ``None`` if nothing was new.
        """
        store = self.store
        last = int(store.last_event_id)
        if last == self._last_event:
            return None
        events = store.events(since=self._last_event)
        self._last_event = last
        new = np.asarray(store.label_codes(), dtype=np.int32)
        changed = np.flatnonzero(new != self.label_codes)
        old_codes = self.label_codes[changed].copy()
        new_codes = new[changed].copy()
        self.label_codes[changed] = new_codes
        if len(changed):
            names = np.where(
                new_codes >= 0, np.asarray(self.classes, dtype=object)[new_codes], None
            )
            col = self.frame.columns.get_loc("label")
            self.frame.iloc[changed, col] = names
        kinds = set(events["kind"].astype(str)) if len(events) else set()
        flags_changed = bool(kinds - {"relabel", "note"})
        if flags_changed:
            self._load_flags()
        touched = (
            self.positions(events["sample_id"].dropna().astype(str).unique().tolist())
            if len(events)
            else np.zeros(0, dtype=np.int64)
        )
        change = Change(
            label_positions=changed.astype(np.int64),
            old_codes=old_codes,
            new_codes=new_codes,
            touched_positions=np.union1d(touched, changed).astype(np.int64),
            flags_changed=flags_changed,
            event_ids=[int(e) for e in events["event_id"]] if len(events) else [],
        )
        for callback in list(self._listeners):
            try:
                callback(change)
            except Exception as error:  # one broken view must not stop the others from updating
                name = getattr(getattr(callback, "__self__", None), "view_name", "a view")
                self.report_error(f"the {name} failed to update after store events", error)
        return change

    def _on_store(self, store: Any, new_event_ids: Sequence[int]) -> None:
        self.sync()
