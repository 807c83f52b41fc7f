"""Build files the way the annotation tools write them, from our exported files."""

from __future__ import annotations

import csv
import json
from pathlib import Path


def label_studio_json(tasks_path, answers, annotator="ann@example.com", cancelled=()):
    """A Label Studio JSON export answering our tasks: ``answers`` maps sample_id -> label(s)."""
    tasks = json.loads(Path(tasks_path).read_text())
    exported = []
    annotation_id = 100
    for task_id, task in enumerate(tasks, start=1):
        sample_id = task["data"]["sample_id"]
        labels = answers.get(sample_id)
        annotations = []
        if labels is not None or sample_id in cancelled:
            for label in [labels] if isinstance(labels, str) or labels is None else labels:
                annotation_id += 1
                annotations.append(
                    {
                        "id": annotation_id,
                        "completed_by": {"id": 1, "email": annotator},
                        "result": []
                        if sample_id in cancelled
                        else [
                            {
                                "from_name": "label",
                                "to_name": "image",
                                "type": "choices",
                                "value": {"choices": [label]},
                            }
                        ],
                        "was_cancelled": sample_id in cancelled,
                        "created_at": f"2026-11-24T10:00:{annotation_id % 60:02d}Z",
                        "updated_at": f"2026-11-24T10:00:{annotation_id % 60:02d}Z",
                    }
                )
        exported.append(
            {"id": task_id, "data": task["data"], "annotations": annotations, "predictions": []}
        )
    return exported


def write_json(path, payload):
    Path(path).write_text(json.dumps(payload))
    return Path(path)


def fill_csv(csv_path, answers, out_path, annotator="ann"):
    """Fill the ``label`` column of our CSV export."""
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["sample_id"] in answers:
            row["label"] = answers[row["sample_id"]]
            row["annotator"] = annotator
    with open(out_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return Path(out_path)
