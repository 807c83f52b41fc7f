"""ImageNet text format (Datumaro's and CVAT's ``imagenet_txt``).

A folder holding ``<subset>.txt`` (default ``train.txt``) with one line ``<image path> <label
index>`` per sample (a path with spaces is written ``"<path without extension>"<extension>``, as
Datumaro does) and ``synsets.txt`` with one class name per line, in index order. Image paths are
relative to the store's image root; Datumaro looks for them under ``<folder>/images/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from erroranalysis.errors import ErrorAnalysisError
from erroranalysis.export._common import write_text_atomic
from erroranalysis.export.registry import (
    AnnotationRow,
    ExportContext,
    register_reader,
    register_writer,
)

__all__ = ["read_imagenet_txt", "write_imagenet_txt"]

LABELS_FILE = "synsets.txt"


def _format_name(name: str) -> str:
    if len(name.split()) > 1:
        stem, extension = os.path.splitext(name)
        return f'"{stem}"{extension}'
    return name


def _parse_line(line: str) -> tuple[str, list[str]]:
    parts = line.split('"')
    if len(parts) == 3:
        rest = parts[2].split()
        return parts[1] + (rest[0] if rest else ""), rest[1:]
    if len(parts) > 1:
        raise ValueError("unexpected number of quotes")
    fields = line.split()
    return fields[0], fields[1:]


def write_imagenet_txt(table: pd.DataFrame, path: Path, context: ExportContext) -> list[Path]:
    """Write ``<folder>/<subset>.txt`` and ``<folder>/synsets.txt``."""
    folder = Path(path)
    if folder.suffix.lower() == ".txt":
        subset_file = folder
        folder = folder.parent
    else:
        subset_file = folder / f"{context.options.get('subset', 'train')}.txt"
    labels_path = folder / LABELS_FILE
    labels_text = "".join(f"{name}\n" for name in context.classes)
    # another subset of the same classes may share the folder: an identical synsets.txt is fine
    same_labels = labels_path.is_file() and labels_path.read_text(encoding="utf-8") == labels_text
    context.claim(subset_file, *(() if same_labels else (labels_path,)))
    folder.mkdir(parents=True, exist_ok=True)
    index = {name: position for position, name in enumerate(context.classes)}
    lines = [
        f"{_format_name(row.name)} {index[row.given]}\n"
        for row in table.itertuples(index=False)
        if isinstance(row.given, str) and row.given in index
    ]
    write_text_atomic(subset_file, "".join(lines))
    write_text_atomic(labels_path, labels_text)
    return [subset_file, labels_path]


def read_imagenet_txt(path: Path) -> list[AnnotationRow]:
    """Read an ImageNet text file (``path`` = the ``.txt`` file or its folder)."""
    path = Path(path)
    if path.is_dir():
        candidates = sorted(p for p in path.glob("*.txt") if p.name != LABELS_FILE)
        if len(candidates) != 1:
            raise ErrorAnalysisError(
                f"{path} holds {len(candidates)} subset files besides {LABELS_FILE}; pass the one "
                "to import"
            )
        path = candidates[0]
    labels_path = path.parent / LABELS_FILE
    if not labels_path.is_file():
        raise ErrorAnalysisError(f"{labels_path} is missing: it names the label indices of {path}")
    classes = [line.strip() for line in labels_path.read_text(encoding="utf-8").splitlines()]
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            name, indices = _parse_line(line)
            values = sorted({int(value) for value in indices})
        except ValueError:
            rows.append(AnnotationRow(row=where, error=f"unreadable line {line!r}"))
            continue
        error = None
        label = None
        if len(values) > 1:
            error = f"{len(values)} label indices, expected one"
        elif values:
            if 0 <= values[0] < len(classes):
                label = classes[values[0]]
            else:
                error = f"label index {values[0]} is not in {LABELS_FILE} (0..{len(classes) - 1})"
        rows.append(AnnotationRow(row=where, name=name, label=label, error=error))
    return rows


register_writer("imagenet-txt", write_imagenet_txt)
register_reader("imagenet-txt", read_imagenet_txt)
