"""Shared pieces of the annotator hand-off: export records, image references, atomic writes.

Every export writes a record ``<store>/exports/<export_id>.json`` holding, for each exported
sample, the label it had at export time and the name the annotation tool will know it by. The
export id is also embedded in the exported file (a task data field, a CSV column, XML meta), so an
import can tell whether a sample was relabelled in the store after it was handed off.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import secrets
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from erroranalysis.errors import ErrorAnalysisError, describe
from erroranalysis.store.validation import is_url

EXPORTS_FOLDER = "exports"
RECORD_VERSION = 1


class ExportRecordError(ErrorAnalysisError):
    """An export record is missing or unreadable."""


class MissingScanError(ErrorAnalysisError):
    """The run has no cached scan results to export."""


# ----------------------------------------------------------------------------------- writes


def _fsync_directory(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomic(path: str | os.PathLike, writer: Callable[[Path], None]) -> Path:
    """Write ``path`` whole or not at all (temporary file in the same folder, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    try:
        writer(temporary)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    _fsync_directory(path.parent)
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


# ---------------------------------------------------------------------------------- records


def new_export_id() -> str:
    """A fresh export id: UTC time plus random hex, e.g. ``ea-20261124T1230-4f9c2a``."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"ea-{stamp}-{secrets.token_hex(3)}"


@dataclass
class ExportRecord:
    """What an export handed off: the labels at export time and the names the tool uses.

    Attributes
    ----------
    export_id : str
    format : str
        The registry name of the format written.
    kind : str
        ``"candidates"``, ``"weak_spots"`` or ``"look_alikes"``.
    created : str
        ISO time (UTC).
    run : str or None
    path : str
        Where the file was written.
    labels : dict
        ``sample_id -> label`` at export time.
    names : dict
        ``sample_id -> name`` the annotation tool shows (image name / path), to map files that
        lost our sample ids (CVAT, Datumaro) back to samples.
    parameters : dict
        The filters used.
    """

    export_id: str
    format: str
    kind: str
    created: str
    run: str | None
    path: str
    labels: dict[str, str]
    names: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": RECORD_VERSION,
                "export_id": self.export_id,
                "format": self.format,
                "kind": self.kind,
                "created": self.created,
                "run": self.run,
                "path": self.path,
                "parameters": self.parameters,
                "labels": self.labels,
                "names": self.names,
            },
            ensure_ascii=False,
            default=str,
        )

    @classmethod
    def from_json(cls, text: str) -> ExportRecord:
        raw = json.loads(text)
        return cls(
            export_id=raw["export_id"],
            format=raw.get("format", ""),
            kind=raw.get("kind", "candidates"),
            created=raw.get("created", ""),
            run=raw.get("run"),
            path=raw.get("path", ""),
            labels=dict(raw.get("labels", {})),
            names=dict(raw.get("names", {})),
            parameters=dict(raw.get("parameters", {})),
        )


def exports_dir(store) -> Path:
    """The store's folder of export records."""
    return Path(store.path) / EXPORTS_FOLDER


def save_record(store, record: ExportRecord) -> Path:
    """Write an export record into the store atomically."""
    return write_text_atomic(exports_dir(store) / f"{record.export_id}.json", record.to_json())


def load_record(store, export_id: str) -> ExportRecord | None:
    """The export record with this id, or None when the store has none."""
    if not export_id or "/" in export_id or "\\" in export_id or export_id.startswith("."):
        return None
    path = exports_dir(store) / f"{export_id}.json"
    if not path.is_file():
        return None
    try:
        return ExportRecord.from_json(path.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ExportRecordError(
            f"the export record {path} is unreadable ({error}); it was not written by this "
            "version of erroranalysis or was edited by hand"
        ) from error


def list_records(store) -> list[ExportRecord]:
    """Every export record of the store, oldest first."""
    folder = exports_dir(store)
    if not folder.is_dir():
        return []
    records = []
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("."):
            continue
        # Users may save their own exports (any JSON) into this folder: only files that parse
        # as export records count; anything else is not ours to read.
        try:
            record = load_record(store, path.stem)
        except ExportRecordError:
            continue
        if record is not None:
            records.append(record)
    records.sort(key=lambda record: (record.created, record.export_id))
    return records


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- image references


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def absolute_image_path(image_root: str | None, raw: str, resolve: bool = False) -> str | None:
    """The absolute path of a stored image path, or None when it escapes the image root.

    Lexical (``normpath``) by default, which is enough for references handed to a tool that
    serves files under its own root; ``resolve=True`` follows symbolic links too (use it before
    reading a file).
    """
    if image_root is None:
        if not os.path.isabs(raw):  # a relative path needs a root; never the current folder
            return None
        return os.path.realpath(raw) if resolve else os.path.normpath(raw)
    full = os.path.join(image_root, raw)
    full = os.path.realpath(full) if resolve else os.path.normpath(full)
    return full if _inside(image_root, full) else None


def image_references(
    store,
    sample_ids: Iterable[str],
    paths: pd.Series | None,
    image_urls: str = "local-files",
    document_root: str | os.PathLike | None = None,
) -> dict[str, str]:
    """How the annotation tool should load each sample's image.

    Parameters
    ----------
    store : Store
    sample_ids : iterable of str
    paths : Series or None
        The samples' ``path`` column (indexed by sample id); None when the store has no images.
    image_urls : str
        ``"local-files"``: Label Studio's local file serving URL ``/data/local-files/?d=<path>``
        with the path relative to ``document_root`` (default: the *parent* of the store's image
        root: start Label Studio with ``LOCAL_FILES_DOCUMENT_ROOT`` there and add a Local Files
        storage whose path is the image root, since Label Studio refuses a storage at the
        document root itself); ``"absolute"``: absolute file paths;
        ``"relative"``: the path as stored; any other string is a URL prefix that the relative
        path is appended to (``"https://host/images/"``, ``"s3://bucket/data/"``).
        URLs already in the store pass through unchanged.
    document_root : path, optional

    Returns
    -------
    dict
        ``sample_id -> reference`` (empty string when the sample has no image).
    """
    if document_root is not None:
        root = Path(document_root)
    elif image_urls == "local-files" and store.image_root is not None:
        # Label Studio refuses a local storage whose path *is* LOCAL_FILES_DOCUMENT_ROOT, so the
        # document root is the image root's parent and the storage path the image root itself.
        root = Path(store.image_root).resolve().parent
    else:
        root = None
    references: dict[str, str] = {}
    unreachable: list[str] = []
    image_root = None if store.image_root is None else os.path.realpath(store.image_root)
    root_text = None if root is None else os.path.realpath(root)
    prefix = image_urls if image_urls.endswith("/") else image_urls + "/"
    lookup = dict(zip(paths.index, paths.astype(object), strict=True)) if paths is not None else {}
    for sample_id in sample_ids:
        raw = lookup.get(sample_id)
        if raw is None or (isinstance(raw, float) and pd.isna(raw)) or raw == "":
            references[sample_id] = ""
            continue
        raw = str(raw)
        if is_url(raw):
            references[sample_id] = raw
            continue
        if image_urls == "relative":
            references[sample_id] = raw
            continue
        full = absolute_image_path(image_root, raw)
        if full is None:
            unreachable.append(sample_id)
            continue
        if image_urls == "absolute":
            references[sample_id] = full
            continue
        base = root_text if root_text is not None else image_root
        if base is None or not _inside(base, full):
            unreachable.append(sample_id)
            continue
        relative = full[len(base.rstrip(os.sep)) + 1 :].replace(os.sep, "/")
        if image_urls == "local-files":
            references[sample_id] = "/data/local-files/?d=" + urllib.parse.quote(relative)
        else:
            references[sample_id] = prefix + urllib.parse.quote(relative)
    if unreachable:
        raise ErrorAnalysisError(
            f"cannot make {image_urls!r} image references for samples {describe(unreachable)}: "
            "their images are not under the document root "
            f"({root or store.image_root or 'none set'}); pass document_root= (the folder "
            "Label Studio's LOCAL_FILES_DOCUMENT_ROOT points to) or image_urls='absolute'"
        )
    return references


def display_name(store, sample_id: str, raw_path: Any) -> str:
    """The name an annotation tool shows for a sample: its stored path, else its id."""
    if raw_path is None or (isinstance(raw_path, float) and pd.isna(raw_path)) or raw_path == "":
        return str(sample_id)
    return str(raw_path).replace("\\", "/")
