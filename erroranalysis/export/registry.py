"""The registry of hand-off formats, by name.

Each format lives in its own module and registers a writer (export) and/or a reader (import):

- a writer is ``write(table, path, context) -> list[Path]`` where ``table`` has one row per
  exported sample (columns ``sample_id, name, image, given, suggested, score, reasons`` and, when
  known, ``width, height``), worst first, and ``context`` is an :class:`ExportContext`;
- a reader is ``read(path) -> list[AnnotationRow]``.

Adding a format means adding a module that calls :func:`register_writer` / :func:`register_reader`
and listing it in ``_FORMAT_MODULES``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from erroranalysis.errors import ErrorAnalysisError
from erroranalysis.store.identity import normalise_author

__all__ = [
    "AnnotationRow",
    "ExportContext",
    "ExportExistsError",
    "UnknownFormatError",
    "get_reader",
    "get_writer",
    "reader_names",
    "register_reader",
    "register_writer",
    "writer_names",
]

_FORMAT_MODULES = (
    "erroranalysis.export.label_studio",
    "erroranalysis.export.cvat",
    "erroranalysis.export.imagenet_txt",
    "erroranalysis.export.csv_format",
)

_WRITERS: dict[str, Callable[..., list[Path]]] = {}
_READERS: dict[str, Callable[[Path], list[AnnotationRow]]] = {}
_loaded = False


class UnknownFormatError(ErrorAnalysisError):
    """A format name is not in the registry."""


class ExportExistsError(ErrorAnalysisError):
    """An export would overwrite existing files and ``overwrite=True`` was not given.

    Attributes
    ----------
    paths : list of Path
        The files that exist already.
    """

    def __init__(self, paths: list[Path]) -> None:
        self.paths = list(paths)
        names = ", ".join(str(path) for path in self.paths)
        it = "it" if len(self.paths) == 1 else "them"
        verb = "exists" if len(self.paths) == 1 else "exist"
        super().__init__(
            f"{names} already {verb}; pass overwrite=True (CLI: --overwrite) to replace {it}, "
            "or choose another path"
        )


@dataclass
class ExportContext:
    """What a writer needs besides the table.

    A writer calls :meth:`claim` with every file it is about to write, before it writes any.
    """

    export_id: str
    classes: list[str]
    kind: str = "candidates"
    run: str | None = None
    store_path: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    overwrite: bool = False

    def claim(self, *paths: Path) -> None:
        """Refuse (:class:`ExportExistsError`) when any of ``paths`` exists, unless
        :attr:`overwrite`; a writer calls it before it writes anything."""
        if self.overwrite:
            return
        existing = [Path(path) for path in paths if Path(path).exists()]
        if existing:
            raise ExportExistsError(existing)


@dataclass
class AnnotationRow:
    """One annotation read back from an annotation tool's file.

    Attributes
    ----------
    row : str
        Where it is in the file (``"task 3, annotation 7"``, ``"line 5"``), for error messages.
    sample_id : str or None
        Our sample id when the file carries it.
    name : str or None
        The image name / path the tool knows the sample by (used when the id was lost).
    label : str or None
        The annotator's label; None when the annotation holds no choice.
    cancelled : bool
        The annotator skipped / cancelled the task.
    annotator : str or None
    export_id : str or None
        The export id embedded in the file, if any.
    given : str or None
        The label at export time as written in the file, if any (a fallback baseline).
    time : str or None
    error : str or None
        Why the row cannot be read (several labels on one single-label sample, an index out of
        range); such rows refuse the whole import.
    """

    row: str
    sample_id: str | None = None
    name: str | None = None
    label: str | None = None
    cancelled: bool = False
    annotator: str | None = None
    export_id: str | None = None
    given: str | None = None
    time: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        # every reader's annotator is an author of journal events: a missing name stays None,
        # never the text "nan" / "None" / "<NA>" that spreadsheets and pandas write for it
        self.annotator = normalise_author(self.annotator)


def register_writer(name: str, writer: Callable[..., list[Path]]) -> None:
    """Register an export writer under ``name``."""
    _WRITERS[name] = writer


def register_reader(name: str, reader: Callable[[Path], list[AnnotationRow]]) -> None:
    """Register an import reader under ``name``."""
    _READERS[name] = reader


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in _FORMAT_MODULES:
            importlib.import_module(module)
        _loaded = True


def writer_names() -> list[str]:
    """Names of the export formats."""
    _load()
    return sorted(_WRITERS)


def reader_names() -> list[str]:
    """Names of the import formats."""
    _load()
    return sorted(_READERS)


def get_writer(name: str) -> Callable[..., list[Path]]:
    """The export writer registered under ``name``."""
    _load()
    try:
        return _WRITERS[name]
    except KeyError:
        raise UnknownFormatError(
            f"unknown export format {name!r}; choose one of {', '.join(writer_names())}"
        ) from None


def get_reader(name: str) -> Callable[[Path], list[AnnotationRow]]:
    """The import reader registered under ``name``."""
    _load()
    try:
        return _READERS[name]
    except KeyError:
        raise UnknownFormatError(
            f"unknown import format {name!r}; choose one of {', '.join(reader_names())}"
        ) from None


def clean(value: Any) -> str | None:
    """A cell as a stripped string, or None when empty / missing."""
    if value is None:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    text = str(value).strip()
    return text or None
