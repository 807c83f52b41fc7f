"""Label Studio: import JSON tasks with predictions out; JSON, JSON_MIN and CSV exports back in.

Export writes ``<name>.json`` (a list of tasks) and ``<name>.label_config.xml`` (the labeling
interface to paste into the project settings, or to send as ``label_config`` through the API).
Each task's ``data`` holds ``image``, ``sample_id``, ``export_id``, ``given_label``,
``suggested_label``, ``score`` and ``reasons``; its ``predictions`` carry the model's suggestion as
a ``choices`` result pre-filled for the annotator, with the label-quality ``score`` so that sorting
by prediction score puts the worst first.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pandas as pd

from erroranalysis.errors import ErrorAnalysisError
from erroranalysis.export._common import write_text_atomic
from erroranalysis.export.registry import (
    AnnotationRow,
    ExportContext,
    clean,
    register_reader,
    register_writer,
)

FROM_NAME = "label"
TO_NAME = "image"

__all__ = ["labeling_config", "read_csv", "read_json", "read_json_min", "write_tasks"]


def labeling_config(classes: list[str]) -> str:
    """The Label Studio labeling interface for single-label image classification.

    Parameters
    ----------
    classes : list of str

    Returns
    -------
    str
        ``<View><Image name="image" value="$image"/>…<Choices name="label" toName="image">``
        with one ``<Choice>`` per class.
    """
    choices = "\n".join(f"    <Choice value={quoteattr(str(name))}/>" for name in classes)
    return (
        "<View>\n"
        f'  <Image name="{TO_NAME}" value="$image" zoom="true"/>\n'
        '  <Header value="Given label: $given_label — model suggests: $suggested_label"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" showInLine="true" '
        'required="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else round(value, 6)


def write_tasks(table: pd.DataFrame, path: Path, context: ExportContext) -> list[Path]:
    """Write Label Studio import tasks and the matching labeling config next to them."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        path = path.with_suffix(".json") if path.suffix else path / "tasks.json"
    config_path = path.with_name(path.stem + ".label_config.xml")
    context.claim(path, config_path)
    tasks = []
    model_version = f"erroranalysis:{context.run}" if context.run else "erroranalysis"
    table = table.astype(object)  # plain Python values: faster to iterate, JSON-ready
    extras = [column for column in ("seed", "distance") if column in table.columns]
    for row in table.itertuples(index=False):
        score = _number(getattr(row, "score", None))
        data = {
            "image": row.image,
            "sample_id": str(row.sample_id),
            "export_id": context.export_id,
            "given_label": row.given,
            "suggested_label": row.suggested if isinstance(row.suggested, str) else "",
            "score": score,
            "reasons": row.reasons,
        }
        for extra in extras:
            value = getattr(row, extra)
            data[extra] = _number(value) if extra == "distance" else str(value)
        task = {"data": data}
        suggestion = row.suggested if isinstance(row.suggested, str) and row.suggested else None
        if suggestion is not None:
            prediction = {
                "model_version": model_version,
                "result": [
                    {
                        "from_name": FROM_NAME,
                        "to_name": TO_NAME,
                        "type": "choices",
                        "value": {"choices": [suggestion]},
                    }
                ],
            }
            if score is not None:
                prediction["score"] = score
            task["predictions"] = [prediction]
        tasks.append(task)
    indent = 1 if len(tasks) <= 2000 else None  # readable when small, compact when large
    write_text_atomic(path, json.dumps(tasks, indent=indent, ensure_ascii=False))
    write_text_atomic(config_path, labeling_config(context.classes))
    return [path, config_path]


def _choice(result: list) -> tuple[str | None, int]:
    """The chosen label of an annotation's result list and how many choices were made."""
    chosen: list[str] = []
    for item in result or []:
        if not isinstance(item, dict) or item.get("type", "choices") != "choices":
            continue
        if item.get("from_name", FROM_NAME) != FROM_NAME:
            continue
        chosen.extend(str(choice) for choice in (item.get("value") or {}).get("choices", []))
    return (chosen[0] if chosen else None), len(chosen)


def _annotator(completed_by) -> str | None:
    """An annotator's email, else ``label-studio-user:<id>`` (exports name users by id)."""
    if isinstance(completed_by, dict):
        email = clean(completed_by.get("email"))
        if email:
            return email
        completed_by = completed_by.get("id")
    value = clean(completed_by)
    if value is not None and value.isdigit():
        return f"label-studio-user:{value}"
    return value


def _load_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ErrorAnalysisError(f"{path} is not valid JSON ({error})") from error


def read_json(path: Path) -> list[AnnotationRow]:
    """Read a Label Studio JSON export (tasks with ``annotations``)."""
    tasks = _load_json(path)
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise ErrorAnalysisError(f"{path} is not a Label Studio JSON export (a list of tasks)")
    rows: list[AnnotationRow] = []
    for position, task in enumerate(tasks):
        if not isinstance(task, dict) or "data" not in task:
            raise ErrorAnalysisError(
                f"{path}: item {position} has no 'data'; is this a Label Studio JSON export? "
                "(for JSON_MIN use format='label-studio-min')"
            )
        data = task.get("data") or {}
        task_id = task.get("id", position)
        annotations = task.get("annotations", task.get("completions")) or []
        for annotation in annotations:
            label, count = _choice(annotation.get("result") or [])
            cancelled = bool(annotation.get("was_cancelled") or annotation.get("skipped"))
            where = f"task {task_id}, annotation {annotation.get('id', '?')}"
            error = f"{count} labels chosen, expected one" if count > 1 else None
            rows.append(
                AnnotationRow(
                    row=where,
                    sample_id=clean(data.get("sample_id")),
                    name=clean(data.get("image")),
                    label=label,
                    cancelled=cancelled,
                    annotator=_annotator(annotation.get("completed_by")),
                    export_id=clean(data.get("export_id")),
                    given=clean(data.get("given_label")),
                    time=clean(annotation.get("updated_at") or annotation.get("created_at")),
                    error=error,
                )
            )
    return rows


def _min_label(value) -> tuple[str | None, str | None]:
    """The label of a JSON_MIN / CSV cell and an error when it holds several."""
    if isinstance(value, dict):
        value = value.get("choices") or []
    if isinstance(value, list):
        if len(value) > 1:
            return None, f"{len(value)} labels chosen, expected one"
        return (str(value[0]) if value else None), None
    return clean(value), None


def read_json_min(path: Path) -> list[AnnotationRow]:
    """Read a Label Studio JSON_MIN export (one flat record per annotation).

    Label Studio leaves cancelled annotations out of JSON_MIN and CSV, and writes tasks without
    annotations with no ``label`` key; those become skipped rows.
    """
    records = _load_json(path)
    if not isinstance(records, list):
        raise ErrorAnalysisError(f"{path} is not a Label Studio JSON_MIN export (a list)")
    rows = []
    for position, record in enumerate(records):
        if not isinstance(record, dict):
            raise ErrorAnalysisError(f"{path}: item {position} is not an object")
        if "annotations" in record and "data" in record:
            raise ErrorAnalysisError(
                f"{path} looks like a full Label Studio JSON export; use format='label-studio'"
            )
        label, error = _min_label(record.get(FROM_NAME))
        rows.append(
            AnnotationRow(
                row=f"task {record.get('id', position)}, annotation {record.get('annotation_id', '?')}",
                sample_id=clean(record.get("sample_id")),
                name=clean(record.get("image")),
                label=label,
                error=error,
                annotator=_annotator(record.get("annotator")),
                export_id=clean(record.get("export_id")),
                given=clean(record.get("given_label")),
                time=clean(record.get("updated_at") or record.get("created_at")),
            )
        )
    return rows


def read_csv(path: Path) -> list[AnnotationRow]:
    """Read a Label Studio CSV export (columns from the task data plus ``label``, ``annotator``)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        if "sample_id" not in fields and "image" not in fields:
            raise ErrorAnalysisError(
                f"{path} has neither a 'sample_id' nor an 'image' column; is it a Label Studio "
                f"CSV export of tasks made by erroranalysis? (columns: {', '.join(fields)})"
            )
        rows = []
        for line, record in enumerate(reader, start=2):
            label, error = clean(record.get(FROM_NAME)), None
            if label is not None and label.startswith(("{", "[")):
                with contextlib.suppress(json.JSONDecodeError):
                    label, error = _min_label(json.loads(label))
            rows.append(
                AnnotationRow(
                    row=f"line {line}",
                    sample_id=clean(record.get("sample_id")),
                    name=clean(record.get("image")),
                    label=label,
                    annotator=_annotator(record.get("annotator")),
                    export_id=clean(record.get("export_id")),
                    given=clean(record.get("given_label")),
                    time=clean(record.get("updated_at") or record.get("created_at")),
                    error=error,
                )
            )
    return rows


register_writer("label-studio", write_tasks)
register_reader("label-studio", read_json)
register_reader("label-studio-min", read_json_min)
register_reader("label-studio-csv", read_csv)
