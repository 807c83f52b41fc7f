"""CVAT for images 1.1 XML: one ``<image>`` per sample with a ``<tag>`` holding its label.

An unlabelled sample (the annotator queue) gets the model's suggestion as its tag
(``source="auto"``), so that CVAT shows it as a pre-annotation to confirm or change.

The export id is written into ``<meta><task><name>`` (``erroranalysis:<export_id>``) and the image
names are the samples' stored paths (or ids), which is what CVAT and Datumaro key images by. Files
written by CVAT or Datumaro keep the names but not our meta, so the import maps names back to
samples through the store's export records.
"""

from __future__ import annotations

import datetime as _dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

from erroranalysis.errors import ErrorAnalysisError
from erroranalysis.export._common import write_atomic
from erroranalysis.export.registry import (
    AnnotationRow,
    ExportContext,
    clean,
    register_reader,
    register_writer,
)

__all__ = ["read_cvat", "write_cvat"]

TASK_NAME_PREFIX = "erroranalysis:"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: str(v) for k, v in attributes.items()})
    if text is not None:
        element.text = str(text)
    return element


def _size(value) -> int | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def write_cvat(table: pd.DataFrame, path: Path, context: ExportContext) -> list[Path]:
    """Write a CVAT for images 1.1 annotation file (tags = the labels at export time)."""
    path = Path(path)
    if path.suffix.lower() != ".xml":
        path = path.with_suffix(".xml") if path.suffix else path / "annotations.xml"
    context.claim(path)
    root = ET.Element("annotations")
    _sub(root, "version", "1.1")
    meta = _sub(root, "meta")
    task = _sub(meta, "task")
    _sub(task, "id", "0")
    _sub(task, "name", f"{TASK_NAME_PREFIX}{context.export_id}")
    _sub(task, "size", len(table))
    _sub(task, "mode", "annotation")
    _sub(task, "overlap", "0")
    _sub(task, "bugtracker", "")
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    _sub(task, "created", now)
    _sub(task, "updated", now)
    _sub(task, "subset", "default")
    _sub(task, "start_frame", "0")
    _sub(task, "stop_frame", max(len(table) - 1, 0))
    _sub(task, "frame_filter", "")
    labels = _sub(task, "labels")
    for name in context.classes:
        label = _sub(labels, "label")
        _sub(label, "name", name)
        _sub(label, "color", "")
        _sub(label, "type", "tag")
        _sub(label, "attributes")
    _sub(meta, "dumped", now)
    for index, row in enumerate(table.itertuples(index=False)):
        attributes = {"id": index, "name": row.name}
        width = _size(getattr(row, "width", None))
        height = _size(getattr(row, "height", None))
        if width and height:
            attributes["width"] = width
            attributes["height"] = height
        image = _sub(root, "image", **attributes)
        if isinstance(row.given, str) and row.given:
            _sub(image, "tag", label=row.given, source="manual")
        elif isinstance(row.suggested, str) and row.suggested:
            # an unlabelled sample (the annotator queue): the model's suggestion is the
            # pre-annotation; an image left as it is confirms it
            _sub(image, "tag", label=row.suggested, source="auto")
    ET.indent(root, space="  ")
    tree = ET.ElementTree(root)
    write_atomic(
        path, lambda temporary: tree.write(temporary, encoding="utf-8", xml_declaration=True)
    )
    return [path]


def read_cvat(path: Path) -> list[AnnotationRow]:
    """Read a CVAT for images 1.1 XML file (from CVAT, Datumaro or our own export)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise ErrorAnalysisError(f"{path} is not valid XML ({error})") from error
    if root.tag != "annotations":
        raise ErrorAnalysisError(
            f"{path} is not a CVAT for images XML file (root element <{root.tag}>, expected "
            "<annotations>)"
        )
    export_id = None
    task_name = clean(root.findtext("meta/task/name"))
    if task_name and task_name.startswith(TASK_NAME_PREFIX):
        export_id = task_name[len(TASK_NAME_PREFIX) :]
    rows = []
    for image in root.iter("image"):
        name = clean(image.get("name"))
        labels = [clean(tag.get("label")) for tag in image.findall("tag")]
        labels = [label for label in labels if label]
        distinct = sorted(set(labels))
        error = (
            f"{len(distinct)} different tags ({', '.join(distinct)}), expected one"
            if len(distinct) > 1
            else None
        )
        annotator = None
        for tag in image.findall("tag"):
            annotator = clean(tag.get("annotator")) or annotator
        rows.append(
            AnnotationRow(
                row=f"image {image.get('id', '?')} ({name})",
                name=name,
                label=distinct[0] if len(distinct) == 1 else None,
                annotator=annotator,
                export_id=export_id,
                error=error,
            )
        )
    return rows


register_writer("cvat", write_cvat)
register_reader("cvat", read_cvat)
