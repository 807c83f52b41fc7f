"""The store: one folder that is the single source of truth.

Layout::

    store.json          format version, classes, image root
    samples.parquet     sample_id, given_label, [path], [split], metadata…
    given_codes.npy     class index of each given label (so opening never parses strings)
    journal.sqlite      the append-only label journal (WAL)
    runs/<name>/        one folder per run, published whole by rename
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from erroranalysis.errors import (
    InvalidArgumentError,
    InvalidSamplesError,
    NothingToUndoError,
    PathOutsideRootError,
    RunNotFoundError,
    ShapeMismatchError,
    StoreExistsError,
    StoreFormatError,
    StoreNotFoundError,
    StoreReadOnlyError,
    UnknownEventError,
    UnknownLabelError,
    UnknownSampleError,
    describe,
)
from erroranalysis.store import validation
from erroranalysis.store._atomic import fsync_directory, fsync_tree
from erroranalysis.store.identity import default_author, new_session_id, normalise_author
from erroranalysis.store.journal import Journal
from erroranalysis.store.run import Run

__all__ = ["FORMAT_VERSION", "PSEUDO_FLAG", "PSEUDO_SOURCE", "Store"]

FORMAT_VERSION = 1
#: The flag and journal source of accepted pseudo-labels (``ea.pseudo_label(...).accept()``).
PSEUDO_FLAG = "pseudo_labelled"
PSEUDO_SOURCE = "pseudo"
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
logger = logging.getLogger(__name__)

Observer = Callable[["Store", list[int]], None]


def not_a_store_error(path: str | os.PathLike) -> StoreFormatError:
    """The error for a path that holds no store, saying what is wrong with it and what to do.

    A missing path raises :class:`~erroranalysis.errors.StoreNotFoundError` ("… does not
    exist"), a file or a folder without ``store.json`` :class:`StoreFormatError`.
    """
    path = Path(path)
    make = (
        f"make one there with `erroranalysis ingest --folder IMAGES --out {path}`, "
        f"`erroranalysis demo --out {path}` or ea.Store.create(...)"
    )
    if not path.exists():
        return StoreNotFoundError(
            f"{path} does not exist, so it is not an erroranalysis store; check the path, or {make}"
        )
    if not path.is_dir():
        return StoreFormatError(
            f"{path} is a file, not a store folder; pass the folder that holds store.json"
        )
    return StoreFormatError(
        f"{path} is not an erroranalysis store (no store.json); check the path, or {make}"
    )


class Store:
    """A durable prediction store: samples, runs and the label journal.

    Create one with :meth:`Store.create` or open one with :meth:`Store.open`; several processes
    may open the same store at once. Labels are class names everywhere.

    Attributes
    ----------
    author : str
        Recorded on events whose caller names no author: the operating-system user at this host.
    session : str
        Id of this handle's writer session, recorded on every event it writes; ``undo(session=)``
        undoes only that session's work.
    read_only : bool
        Opened with ``read_only=True``: every write raises ``StoreReadOnlyError``.
    """

    def __init__(self, path: str | os.PathLike, read_only: bool = False):
        self.path = Path(path)
        self.read_only = bool(read_only)
        self.author = default_author()
        self.session = new_session_id()
        meta_path = self.path / "store.json"
        if not meta_path.exists():
            raise not_a_store_error(self.path)
        try:
            self.meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
            if not isinstance(self.meta, dict):
                raise TypeError(f"a JSON {type(self.meta).__name__}, not an object")
            version = int(self.meta.get("format_version", 0))
        except (UnicodeDecodeError, json.JSONDecodeError, TypeError, ValueError) as error:
            raise StoreFormatError(
                f"{meta_path} is damaged ({error}); it is not a readable erroranalysis store. "
                "Restore the folder from a backup, or rebuild the store."
            ) from None
        if version > FORMAT_VERSION:
            raise StoreFormatError(
                f"{self.path} has store format {version}, newer than this erroranalysis reads "
                f"({FORMAT_VERSION}). Upgrade: pip install -U erroranalysis"
            )
        if version < FORMAT_VERSION:
            raise StoreFormatError(
                f"{self.path} has store format {version}, older than this erroranalysis reads "
                f"({FORMAT_VERSION}). Open it with the erroranalysis version that wrote it and "
                "export its labels, or rebuild the store."
            )
        missing = [key for key in ("classes", "num_samples") if key not in self.meta]
        if missing:
            raise StoreFormatError(
                f"{meta_path} lacks {describe(missing)}; it is not a complete erroranalysis store. "
                "Restore the folder from a backup, or rebuild the store."
            )
        self.classes: list[str] = list(self.meta["classes"])
        self.class_index: dict[str, int] = {name: i for i, name in enumerate(self.classes)}
        root = self.meta.get("image_root")
        self.image_root: Path | None = Path(root) if root else None
        self.num_samples: int = int(self.meta["num_samples"])
        self.given_codes: np.ndarray = np.load(self.path / "given_codes.npy")
        self._samples: pd.DataFrame | None = None
        self._sample_index: pd.Index | None = None
        self._observers: list[Observer] = []
        self.journal = Journal(
            self.path / "journal.sqlite", self._given_label_of, read_only=self.read_only
        )
        self._codes = self.given_codes.copy()
        self._last_seen = 0
        self._label_version = 0
        self._data_version = self.journal.data_version()
        # flag state: (sample_id, flag) -> [(event_id, kind, note)], replayed from the journal
        self._flag_events: dict[tuple[str, str], list[tuple[int, str, str | None]]] = {}
        self._flag_event_keys: dict[int, tuple[str, str]] = {}
        self._relabel_events: dict[int, str] = {}
        self._undone: set[int] = set()
        self._sync()

    # -- creation ------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        classes: Sequence[str] | None = None,
        samples: pd.DataFrame | None = None,
        image_root: str | os.PathLike | None = None,
        overwrite: bool = False,
    ) -> Store:
        """Create a new store.

        Parameters
        ----------
        path : path-like
            The store folder to create. It must not exist unless ``overwrite=True``.
        classes : sequence of str, optional
            Class names, in the order of the probability columns. Defaults to the sorted labels.
        samples : DataFrame
            Columns ``sample_id`` (unique), ``label`` (or ``given_label``: a class name, or
            None / NaN / empty for a sample not labelled yet), optional
            ``path`` (relative to ``image_root``, or absolute/URL when there is no root), optional
            ``split``, and any metadata columns.
        image_root : path-like, optional
            Folder that relative image paths are resolved against; paths may not escape it.
            Without it, relative paths are resolved once, now, against the current folder, which
            is recorded as the image root (so the store finds its images from any folder).
        overwrite : bool
            Replace an existing store at ``path``.

        Returns
        -------
        Store
            The new store, open.
        """
        path = Path(path)
        if samples is None or not isinstance(samples, pd.DataFrame):
            raise InvalidSamplesError(
                "samples must be a pandas DataFrame with columns sample_id, label[, path, …]"
            )
        table = samples.copy()
        if "label" in table.columns and "given_label" in table.columns:
            raise InvalidSamplesError(
                "samples has both 'label' and 'given_label'; keep one of them"
            )
        table = table.rename(columns={"label": "given_label"})
        missing = [column for column in ("sample_id", "given_label") if column not in table]
        if missing:
            raise InvalidSamplesError(
                f"samples must have columns sample_id and label; missing {describe(missing)} "
                f"(got columns {describe(list(table.columns), 10)})"
            )
        table = table.reset_index(drop=True)
        if table["sample_id"].isna().any():
            rows = np.flatnonzero(table["sample_id"].isna().to_numpy()).tolist()
            raise InvalidSamplesError(
                f"sample_id is empty in rows {describe(rows)}; every sample needs an id"
            )
        table["sample_id"] = table["sample_id"].astype(str)
        validation.check_unique_ids(table["sample_id"])
        # A missing label (None, NaN or "") makes the sample unlabelled: code -1, given_label None.
        unlabelled = validation.missing_labels(table["given_label"])
        labels = table["given_label"].astype(object).where(~unlabelled, None)
        labels = labels.map(lambda value: value if value is None else str(value))
        if classes is None:
            classes = sorted(labels[~unlabelled].unique().tolist())
        classes = [str(name) for name in classes]
        if len(set(classes)) != len(classes):
            repeated = [name for name in dict.fromkeys(classes) if classes.count(name) > 1]
            raise InvalidSamplesError(f"classes must be unique; repeated: {describe(repeated)}")
        if len(classes) < 2:
            raise InvalidSamplesError(
                f"a classifier needs at least 2 classes; got {classes}"
                + (
                    " (pass classes=[...] when most samples are unlabelled)"
                    if unlabelled.any()
                    else ""
                )
            )
        validation.check_labels(labels[~unlabelled], table["sample_id"][~unlabelled], classes)
        root = None if image_root is None else Path(image_root).resolve()
        implicit_root = False
        if "path" in table.columns:
            relative = table["path"].map(validation.is_relative_file).astype(bool)
            table["path"] = table["path"].astype(str)
            if root is None and relative.any():
                # Relative paths are resolved once, here, against the current folder, which
                # becomes the image root: opening the store from another folder finds the same
                # images, and '..' escapes are refused as with an explicit root.
                root = Path.cwd().resolve()
                implicit_root = True
            validation.check_paths(
                table["path"],
                table["sample_id"],
                None if root is None else str(root),
                implicit=implicit_root,
            )
        codes = pd.Categorical(labels, categories=classes).codes.astype(np.int32)  # None -> -1
        table["given_label"] = labels

        if path.exists() and not overwrite:
            raise StoreExistsError(
                f"{path} already exists. Choose another path, open it with ea.Store.open, "
                "or pass overwrite=True to replace it."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.parent / f".tmp-{uuid.uuid4().hex}-{path.name}"
        staging.mkdir()
        try:
            table.to_parquet(staging / "samples.parquet", index=False)
            np.save(staging / "given_codes.npy", codes)
            (staging / "runs").mkdir()
            meta = {
                "format_version": FORMAT_VERSION,
                "classes": classes,
                "image_root": None if root is None else str(root),
                "num_samples": len(table),
                "created": time.time(),
            }
            (staging / "store.json").write_text(json.dumps(meta, indent=2))
            Journal(staging / "journal.sqlite", lambda sample_id: "").close()
            fsync_tree(staging)
            if path.exists():
                shutil.rmtree(path)
            os.rename(staging, path)
            fsync_directory(path.parent)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
        return cls(path)

    @classmethod
    def open(cls, path: str | os.PathLike, read_only: bool = False) -> Store:
        """Open an existing store (cheap: samples and arrays load lazily).

        Parameters
        ----------
        path : path-like
            The store folder.
        read_only : bool
            Open the journal read-only (SQLite ``mode=ro``): reading, scanning results and
            exporting work; relabels, flags, undo and new runs raise ``StoreReadOnlyError``.
        """
        return cls(path, read_only=read_only)

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreReadOnlyError(
                f"the store {self.path} was opened read-only; open it with "
                "ea.Store.open(path) to change it"
            )

    def close(self) -> None:
        self.journal.close()

    def __repr__(self) -> str:
        return (
            f"Store({str(self.path)!r}, samples={self.num_samples}, classes={len(self.classes)}, "
            f"runs={self.runs()}, events={self._last_seen})"
        )

    # -- samples -------------------------------------------------------------------------------

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def samples(self) -> pd.DataFrame:
        """The samples table (row i is sample i): sample_id, given_label, [path], metadata…"""
        if self._samples is None:
            self._samples = pd.read_parquet(self.path / "samples.parquet")
        return self._samples

    @property
    def sample_ids(self) -> pd.Index:
        if self._sample_index is None:
            ids = pd.read_parquet(self.path / "samples.parquet", columns=["sample_id"])["sample_id"]
            self._sample_index = pd.Index(ids, name="sample_id")
        return self._sample_index

    def positions(self, sample_ids: Iterable[str] | str) -> np.ndarray:
        """Row positions of sample ids; raises UnknownSampleError naming unknown ids."""
        ids = [sample_ids] if isinstance(sample_ids, str) else list(sample_ids)
        found = self.sample_ids.get_indexer(ids)
        if (found < 0).any():
            unknown = [sample for sample, position in zip(ids, found, strict=True) if position < 0]
            raise UnknownSampleError(
                f"unknown sample ids {describe(unknown)}; the store has {self.num_samples} samples "
                "(see store.sample_ids)"
            )
        return found.astype(np.int64)

    def _position(self, sample_id: str) -> int:
        # Index.get_loc is a hash lookup (microseconds); get_indexer costs ~0.5 ms per call.
        try:
            return int(self.sample_ids.get_loc(sample_id))
        except KeyError:
            raise UnknownSampleError(
                f"unknown sample id {sample_id!r}; the store has {self.num_samples} samples "
                "(see store.sample_ids)"
            ) from None

    def _given_label_of(self, sample_id: str) -> str | None:
        code = int(self.given_codes[self._position(sample_id)])
        return None if code < 0 else self.classes[code]

    def image_path(self, sample_id: str) -> Path | str:
        """The sample's image as an absolute path (or its URL).

        Refuses a path that escapes the image root, symbolic links included.
        """
        samples = self.samples
        if "path" not in samples.columns:
            raise InvalidArgumentError(
                "this store has no image paths (samples had no 'path' column); "
                "create it with a path column to view images"
            )
        path = str(samples["path"].iat[self._position(sample_id)])
        if validation.is_url(path):
            return path
        if self.image_root is None:
            if not os.path.isabs(path):  # never resolved against the current folder
                raise PathOutsideRootError(
                    f"image of sample {sample_id!r} has the relative path {path!r} but the store "
                    f"{self.path} has no image root to resolve it against; recreate the store "
                    "with image_root= (or absolute paths)"
                )
            return Path(path)
        candidate = (self.image_root / path).resolve()
        if not candidate.is_relative_to(self.image_root.resolve()):
            raise PathOutsideRootError(
                f"image of sample {sample_id!r} ({path}) resolves to {candidate}, outside the image "
                f"root {self.image_root}; symbolic links may not leave the root"
            )
        return candidate

    # -- labels and the journal ----------------------------------------------------------------

    def label_codes(self) -> np.ndarray:
        """Class index of each sample's current label (given label + journal), read-only view."""
        view = self._codes.view()
        view.flags.writeable = False
        return view

    def is_labelled(self) -> np.ndarray:
        """Whether each sample has a current label (unlabelled samples have label code -1)."""
        return self._codes >= 0

    def labels(self) -> pd.Series:
        """Current labels (class names; NaN for unlabelled samples), indexed by sample id."""
        values = pd.Categorical.from_codes(self._codes, categories=self.classes)
        return pd.Series(values, index=self.sample_ids, name="label")

    @property
    def label_version(self) -> int:
        """Event id of the latest event that changed a label (0 when none has)."""
        return self._label_version

    @property
    def last_event_id(self) -> int:
        return self._last_seen

    def _check_label(self, label: str) -> str:
        label = str(label)
        if label not in self.class_index:
            raise UnknownLabelError(
                f"label {label!r} is not one of the classes {describe(self.classes, 10)}"
            )
        return label

    def _check_event(self, event: dict[str, Any]) -> dict[str, Any]:
        event = dict(event)
        kind = event.get("kind")
        if kind not in ("relabel", "flag", "unflag", "note"):
            raise InvalidArgumentError(
                f"event kind must be relabel, flag, unflag or note; got {kind!r}"
            )
        event["sample_id"] = str(event["sample_id"])
        if kind == "relabel":
            event["label"] = self._check_label(event["label"])
        elif kind in ("flag", "unflag"):
            flag = event.get("flag")
            if not isinstance(flag, str) or not flag.strip():
                raise InvalidArgumentError(f"flag must be a non-empty string; got {flag!r}")
        elif kind == "note" and not str(event.get("note") or "").strip():
            raise InvalidArgumentError("a note needs text")
        return event

    def apply_events(
        self,
        events: Sequence[dict[str, Any]],
        source: str = "api",
        author: str | None = None,
        batch: str | None = None,
        session: str | None = None,
    ) -> list[int]:
        """Append several events in one transaction: all of them are written, or none.

        Each event is a dict with ``kind`` (relabel, flag, unflag, note), ``sample_id`` and
        ``label`` / ``flag`` / ``note`` as the kind needs; ``author`` and ``note`` are optional.
        An event without an author gets ``author``, else the store's default author (the
        operating-system user); ``session`` defaults to this handle's session.
        A relabel of a pseudo-labelled sample from any other source than ``"pseudo"`` (a
        person, an import) also removes its ``pseudo_labelled`` flag, in the same batch, so
        undoing the relabel brings the pseudo-label back whole.
        Returns the new event ids once committed.
        """
        self._check_writable()
        if not events:
            return []
        # one vectorised look-up names every unknown sample id of the batch at once
        self.positions([str(event.get("sample_id")) for event in events])
        checked = [self._check_event(event) for event in events]
        if source != PSEUDO_SOURCE:
            checked = self._unflag_pseudo_labels(checked)
        for event in checked:
            if "author" in event:
                event["author"] = normalise_author(event["author"])
        event_ids = self.journal.append(
            checked,
            source=source,
            author=normalise_author(author) or self.author,
            batch=batch,
            session=session or self.session,
        )
        self._after_write()
        return event_ids

    def _flag_is_set(self, sample_id: str, flag: str) -> bool:
        entries = self._flag_events.get((sample_id, flag), ())
        live = [entry for entry in entries if entry[0] not in self._undone]
        return bool(live) and live[-1][1] == "flag"

    def _unflag_pseudo_labels(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Follow each relabel of a pseudo-labelled sample by the removal of its flag."""
        if not any(event["kind"] == "relabel" for event in events):
            return events
        handled = {
            event["sample_id"]
            for event in events
            if event["kind"] in ("flag", "unflag") and event.get("flag") == PSEUDO_FLAG
        }
        out: list[dict[str, Any]] = []
        for event in events:
            out.append(event)
            sample_id = event["sample_id"]
            if (
                event["kind"] == "relabel"
                and sample_id not in handled
                and self._flag_is_set(sample_id, PSEUDO_FLAG)
            ):
                handled.add(sample_id)
                unflag = {
                    "kind": "unflag",
                    "sample_id": sample_id,
                    "flag": PSEUDO_FLAG,
                    "note": "labelled by a person; no longer a pseudo-label",
                }
                if event.get("author"):
                    unflag["author"] = event["author"]
                out.append(unflag)
        return out

    def relabel(
        self,
        sample_id: str,
        label: str,
        author: str | None = None,
        note: str | None = None,
        source: str = "api",
        session: str | None = None,
    ) -> int:
        """Change a sample's current label; returns the event id once the change is on disk."""
        event = {"kind": "relabel", "sample_id": sample_id, "label": label, "note": note}
        return self.apply_events([event], source=source, author=author, session=session)[0]

    def flag(
        self,
        sample_id: str,
        flag: str,
        note: str | None = None,
        author: str | None = None,
        source: str = "api",
        session: str | None = None,
    ) -> int:
        """Flag a sample: ``"weak_spot"``, ``"not_an_issue"``, ``"reviewed"`` or any tag."""
        event = {"kind": "flag", "sample_id": sample_id, "flag": flag, "note": note}
        return self.apply_events([event], source=source, author=author, session=session)[0]

    def unflag(
        self,
        sample_id: str,
        flag: str,
        author: str | None = None,
        source: str = "api",
        session: str | None = None,
    ) -> int:
        """Remove a flag from a sample (an event too)."""
        event = {"kind": "unflag", "sample_id": sample_id, "flag": flag}
        return self.apply_events([event], source=source, author=author, session=session)[0]

    def note(
        self,
        sample_id: str,
        text: str,
        author: str | None = None,
        source: str = "api",
        session: str | None = None,
    ) -> int:
        """Attach a free-text note to a sample."""
        event = {"kind": "note", "sample_id": sample_id, "note": text}
        return self.apply_events([event], source=source, author=author, session=session)[0]

    def undo(
        self,
        event_id: int | None = None,
        author: str | None = None,
        source: str = "api",
        session: str | None = None,
    ) -> int:
        """Undo an event; the undo is itself an event.

        Parameters
        ----------
        event_id : int, optional
            The event to undo, whoever wrote it (see :meth:`events`). Without it, the latest
            event not yet undone — of ``author`` and/or ``session`` when given, of the whole
            store when neither is.
        author : str, optional
            Undo only this author's latest event; also recorded as the undo's author (default:
            the operating-system user).
        source : str
            Recorded as the undo's source (``"widget"`` from a dashboard).
        session : str, optional
            Undo only this session's latest event (a dashboard passes its own).

        Returns
        -------
        int
            The id of the (last) undo event. Undoing one event of a batch (an import) undoes
            the whole batch.

        Raises
        ------
        NothingToUndoError
            No event is left to undo (for that author / session), or ``event_id`` is unknown,
            already undone or itself an undo.
        """
        self._check_writable()
        author = normalise_author(author)
        try:
            created = self.journal.undo(
                event_id,
                author=author or self.author,
                source=source,
                session=session or self.session,
                of_author=None if event_id is not None else author,
                of_session=None if event_id is not None else session,
            )
        except LookupError as error:
            raise NothingToUndoError(str(error)) from None
        self._after_write()
        return created[-1]

    def history(self, sample_id: str) -> pd.DataFrame:
        """That sample's events, oldest first."""
        self._position(str(sample_id))
        return self.journal.read(0, sample_id=str(sample_id)).drop(columns=["undoes"])

    def event(self, event_id: int) -> dict[str, Any]:
        """One event as a dict (the columns of :meth:`events`)."""
        found = self.journal.read(int(event_id) - 1, until=int(event_id))
        if not len(found):
            raise UnknownEventError(
                f"no event {event_id}; the journal's events run 1–{self.journal.last_event_id()}"
            )
        return found.iloc[0].to_dict()

    def events(self, since: int = 0) -> pd.DataFrame:
        """Every event with ``event_id > since``, oldest first."""
        return self.journal.read(since)

    def flags(self) -> pd.DataFrame:
        """Current flags: one row per (sample, flag) that is set and not undone."""
        rows = []
        for (sample_id, flag), entries in self._flag_events.items():
            live = [entry for entry in entries if entry[0] not in self._undone]
            if live and live[-1][1] == "flag":
                rows.append((sample_id, flag, live[-1][2], live[-1][0]))
        return pd.DataFrame(rows, columns=["sample_id", "flag", "note", "event_id"])

    # -- change notification -------------------------------------------------------------------

    def observe(self, callback: Observer) -> None:
        """Call ``callback(store, new_event_ids)`` after every change seen by this handle."""
        if callback not in self._observers:
            self._observers.append(callback)

    def unobserve(self, callback: Observer) -> None:
        if callback in self._observers:
            self._observers.remove(callback)

    def refresh(self) -> bool:
        """Pick up events written by other processes; True when there were any."""
        version = self.journal.data_version()
        if version == self._data_version:
            return False
        self._data_version = version
        new_ids = self._sync()
        if new_ids:
            self._notify(new_ids)
        return bool(new_ids)

    def _after_write(self) -> None:
        self._data_version = self.journal.data_version()
        new_ids = self._sync()
        self._notify(new_ids)

    def _notify(self, new_ids: list[int]) -> None:
        for callback in list(self._observers):
            callback(self, new_ids)

    def _sync(self) -> list[int]:
        """Replay events this handle has not seen into the in-memory label and flag state."""
        rows = self.journal.read_raw(self._last_seen)
        if not rows:
            return []
        need_positions = any(row[2] in ("relabel", "undo") for row in rows)
        index = self.sample_ids if need_positions else None
        for event_id, sample_id, kind, label, flag, undoes, note in rows:
            if kind == "relabel":
                self._codes[index.get_loc(sample_id)] = self.class_index[label]
                self._relabel_events[event_id] = sample_id
                self._label_version = event_id
            elif kind in ("flag", "unflag"):
                key = (sample_id, flag)
                self._flag_events.setdefault(key, []).append((event_id, kind, note))
                self._flag_event_keys[event_id] = key
            elif kind == "undo":
                self._undone.add(undoes)
                if undoes in self._relabel_events:
                    # an undo back to "no label" records label NULL: the sample is unlabelled again
                    code = self.class_index[label] if label else -1
                    self._codes[index.get_loc(sample_id)] = code
                    self._label_version = event_id
        self._last_seen = rows[-1][0]
        return [row[0] for row in rows]

    # -- runs ----------------------------------------------------------------------------------

    def runs(self) -> list[str]:
        """Run names, oldest first (half-written runs are never listed)."""
        folder = self.path / "runs"
        found = []
        for child in folder.iterdir() if folder.exists() else []:
            if child.name.startswith(".") or not (child / "run.json").exists():
                continue
            created = json.loads((child / "run.json").read_text()).get("created", 0)
            found.append((created, child.name))
        return [name for _, name in sorted(found)]

    def run(self, name: str | None = None) -> Run:
        """Open a run by name (the latest run when ``name`` is None)."""
        if name is None:
            names = self.runs()
            if not names:
                raise RunNotFoundError(
                    f"the store {self.path} has no runs yet; add one with store.add_run(...), "
                    "ea.predict(...) or ea.cross_val_predict(...)"
                )
            name = names[-1]
        # a named run is one stat, not a read of every run's run.json (runs() is O(runs): a store
        # with thousands of runs made every run(name) cost tens of milliseconds)
        folder = self.path / "runs" / str(name)
        visible = (
            isinstance(name, str)
            and _RUN_NAME.match(name) is not None
            and (folder / "run.json").exists()
        )
        if not visible:
            raise RunNotFoundError(f"no run named {name!r}; the store has runs {self.runs()}")
        return Run(folder)

    def add_run(
        self,
        name: str,
        probs: np.ndarray | pd.DataFrame,
        embeddings: np.ndarray | pd.DataFrame | None = None,
        sample_ids: Sequence[str] | None = None,
        out_of_sample: bool = True,
        normalize: bool | str = False,
        model: str | None = None,
        parameters: dict[str, Any] | None = None,
        overwrite: bool = False,
    ) -> Run:
        """Add one model's predictions; the run appears whole or not at all.

        Parameters
        ----------
        name : str
            Run name (letters, digits, ``._-``).
        probs : array (N, K) or DataFrame
            Predicted probabilities, columns in the order of ``store.classes``. A DataFrame is
            matched by its index (or ``sample_id`` column) and its column names (class names).
        embeddings : array (N, D), optional
            Features of each sample (for the scatter plot, outliers, near-duplicates).
        sample_ids : sequence of str, optional
            Row order of ``probs``/``embeddings`` when it is not the store's sample order.
        out_of_sample : bool
            Whether the predictions come from models that did not train on the sample
            (k-fold); label-issue detection warns when they do not.
        normalize : False, True or "softmax"
            Divide each row by its sum, or apply a softmax to logits.
        model, parameters
            Recorded in ``run.json``.
        overwrite : bool
            Replace an existing run of the same name.
        """
        self._check_writable()
        if not isinstance(name, str) or not _RUN_NAME.match(name):
            raise InvalidArgumentError(
                f"run name must be 1–128 letters, digits, '.', '_' or '-' starting with a letter "
                f"or digit; got {name!r}"
            )
        target = self.path / "runs" / name
        if target.exists() and not overwrite:
            raise StoreExistsError(
                f"run {name!r} already exists; pick another name or pass overwrite=True"
            )
        if isinstance(probs, pd.DataFrame):
            probs, frame_ids = self._probs_from_frame(probs)
            if sample_ids is None:
                sample_ids = frame_ids
        if isinstance(embeddings, pd.DataFrame):
            if "sample_id" in embeddings.columns:
                embeddings = embeddings.set_index("sample_id")
            if sample_ids is not None and list(embeddings.index) != list(sample_ids):
                embeddings = embeddings.reindex(sample_ids)
            embeddings = embeddings.to_numpy(dtype=np.float32)
        probs = probs if isinstance(probs, np.ndarray) else np.asarray(probs)
        order = self._row_order(probs.shape[0] if probs.ndim else 0, sample_ids, "probs")
        ids_in_input_order = self.sample_ids if sample_ids is None else pd.Index(list(sample_ids))
        checked = validation.check_probabilities(
            probs, ids_in_input_order, self.num_classes, normalize
        )
        if embeddings is not None:
            embeddings = np.asarray(embeddings)
            if embeddings.ndim != 2 or embeddings.shape[0] != probs.shape[0]:
                raise ShapeMismatchError(
                    f"embeddings must have one row per row of probs: expected {probs.shape[0]} "
                    f"rows, got shape {embeddings.shape}"
                )
            validation.check_embeddings(embeddings, ids_in_input_order)

        staging = self.path / "runs" / f".tmp-{uuid.uuid4().hex}-{name}"
        staging.mkdir(parents=True)
        try:
            _save_rows(staging / "probs.npy", checked, order)
            if embeddings is not None:
                kept = (
                    embeddings
                    if embeddings.dtype in (np.float16, np.float32)
                    else embeddings.astype(np.float32)
                )
                _save_rows(staging / "embeddings.npy", kept, order)
            info = {
                "name": name,
                "model": model,
                "created": time.time(),
                "parameters": parameters or {},
                "out_of_sample": bool(out_of_sample),
                "num_samples": self.num_samples,
                "num_classes": self.num_classes,
                "probs_dtype": str(checked.dtype),
                "has_embeddings": embeddings is not None,
                "embedding_dim": None if embeddings is None else int(embeddings.shape[1]),
                "results": [],
            }
            (staging / "run.json").write_text(json.dumps(info, indent=2))
            fsync_tree(staging)
            if target.exists():
                # Replace: move the old run aside first, so a crash leaves one whole run.
                retired = self.path / "runs" / f".old-{uuid.uuid4().hex}-{name}"
                os.rename(target, retired)
                os.rename(staging, target)
                shutil.rmtree(retired)
            else:
                os.rename(staging, target)
            fsync_directory(self.path / "runs")
        finally:
            if staging.exists():
                shutil.rmtree(staging)
        if not out_of_sample:
            logger.info("run %s holds in-sample predictions; label issues will be biased", name)
        return Run(target)

    def _probs_from_frame(self, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        if "sample_id" in frame.columns:
            frame = frame.set_index("sample_id")
        columns = [str(column) for column in frame.columns]
        unknown = [column for column in columns if column not in self.class_index]
        missing = [name for name in self.classes if name not in columns]
        if unknown or missing:
            raise ShapeMismatchError(
                "a probs DataFrame needs one column per class, named by class; "
                + (f"unknown columns {describe(unknown)}; " if unknown else "")
                + (f"missing classes {describe(missing)}" if missing else "")
            )
        frame.columns = columns
        values = frame[self.classes].to_numpy()
        if values.dtype not in (np.float16, np.float32):
            values = values.astype(np.float32)
        return values, [str(sample) for sample in frame.index]

    def _row_order(
        self, rows: int, sample_ids: Sequence[str] | None, what: str
    ) -> np.ndarray | None:
        """For input rows given in ``sample_ids`` order, the input row of each store sample."""
        if sample_ids is None:
            if rows != self.num_samples:
                raise ShapeMismatchError(
                    f"{what} must have one row per sample: expected N = {self.num_samples}, got "
                    f"{rows}. Pass sample_ids=… when the rows are a different set or order."
                )
            return None
        ids = pd.Series([str(sample) for sample in sample_ids])
        if len(ids) != rows:
            raise ShapeMismatchError(
                f"sample_ids has {len(ids)} entries but {what} has {rows} rows; they must match"
            )
        validation.check_unique_ids(ids, what=f"{what} rows")
        positions = self.sample_ids.get_indexer(ids)
        unknown = ids[positions < 0].tolist()
        if unknown:
            raise UnknownSampleError(f"{what} has rows for unknown sample ids {describe(unknown)}")
        if len(ids) != self.num_samples:
            covered = np.zeros(self.num_samples, dtype=bool)
            covered[positions] = True
            absent = self.sample_ids[~covered].tolist()
            raise ShapeMismatchError(
                f"{what} must cover every sample: expected N = {self.num_samples}, got {len(ids)}; "
                f"no rows for {describe(absent)}"
            )
        order = np.empty(self.num_samples, dtype=np.int64)
        order[positions] = np.arange(len(ids))
        return order

    def lowest(
        self, column: str, k: int = 100, run: str | Run | None = None, ascending: bool = True
    ) -> pd.DataFrame:
        """The ``k`` samples with the lowest (or highest) value of a per-sample result column.

        Parameters
        ----------
        column : str
            Any cached per-sample column of the run (``label_quality``, ``self_confidence``,
            ``loss``, a user metric, …).
        k : int
            How many samples.
        run : str or Run, optional
            The run (latest by default).
        ascending : bool
            Lowest first (default) or highest first.

        Returns
        -------
        DataFrame
            Columns ``sample_id``, ``position`` and ``column``, worst first.
        """
        opened = run if isinstance(run, Run) else self.run(run)
        values = np.asarray(opened.column(column), dtype=np.float64)
        keyed = values if ascending else -values
        keyed = np.where(np.isnan(keyed), np.inf, keyed)
        k = min(int(k), len(keyed))
        candidates = np.argpartition(keyed, k - 1)[:k] if k < len(keyed) else np.arange(len(keyed))
        order = candidates[np.argsort(keyed[candidates], kind="stable")]
        return pd.DataFrame(
            {"sample_id": self.sample_ids[order], "position": order, column: values[order]}
        )

    # -- the joined view -----------------------------------------------------------------------

    def frame(self, run: str | Run | None = None) -> pd.DataFrame:
        """One DataFrame: samples + current ``label`` + ``flags`` + the run's cached results.

        A result column named like one of the store's own columns is joined as
        ``<result>.<column>`` (e.g. ``image_properties.blur`` beside a metadata ``blur``).

        Parameters
        ----------
        run : str or Run, optional
            Which run's results to join; the latest run by default; none when the store has no
            runs.
        """
        table = self.samples.copy()
        table["label"] = pd.Categorical.from_codes(self._codes, categories=self.classes)
        table["is_labelled"] = self._codes >= 0
        flags: list[tuple[str, ...]] = [()] * self.num_samples
        current = self.flags()
        if len(current):
            grouped = current.groupby("sample_id")["flag"].agg(tuple)
            for sample_id, position in zip(
                grouped.index, self.positions(grouped.index), strict=True
            ):
                flags[int(position)] = grouped[sample_id]
        table["flags"] = flags
        if run is None and not self.runs():
            return table
        opened = run if isinstance(run, Run) else self.run(run)
        # The store's own columns (metadata, label, flags) are never overwritten: a result
        # column of the same name (the image property ``blur`` beside a metadata ``blur`` of
        # none/heavy) is joined as ``<result>.<column>``, so a slice or filter on the metadata
        # still finds its samples.
        own = set(table.columns)
        for name in opened.results():
            result = opened.load_result(name)
            for column in result.columns:
                table[f"{name}.{column}" if column in own else column] = result[column].to_numpy()
        return table


def _save_rows(path: Path, array: np.ndarray, order: np.ndarray | None) -> None:
    """Write ``array`` (rows reordered by ``order``) as .npy, in chunks to bound memory."""
    output = np.lib.format.open_memmap(path, mode="w+", dtype=array.dtype, shape=array.shape)
    step = validation.CHUNK_ROWS
    for start in range(0, array.shape[0], step):
        stop = min(start + step, array.shape[0])
        output[start:stop] = array[start:stop] if order is None else array[order[start:stop]]
    output.flush()
    del output
