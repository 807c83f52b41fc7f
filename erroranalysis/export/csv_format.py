"""Plain CSV: ``export_id, sample_id, path, given, suggested, score, reasons, label, annotator``.

Annotators fill in ``label`` (the corrected label; leave it empty to skip the row, or write the
given label to confirm it) and optionally ``annotator``. The import reads ``label`` (also accepted:
``new_label``, ``corrected_label``).
"""

from __future__ import annotations

import csv
import math
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

__all__ = ["COLUMNS", "read_csv", "write_csv"]

COLUMNS = [
    "export_id",
    "sample_id",
    "path",
    "given",
    "suggested",
    "score",
    "reasons",
    "label",
    "annotator",
]
LABEL_COLUMNS = ("label", "new_label", "corrected_label")


def write_csv(table: pd.DataFrame, path: Path, context: ExportContext) -> list[Path]:
    """Write the CSV hand-off list, worst first."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        path = path.with_suffix(".csv") if path.suffix else path / "candidates.csv"
    context.claim(path)
    extra = [column for column in ("seed", "distance") if column in table.columns]
    columns = COLUMNS[:7] + extra + COLUMNS[7:]

    def writer(temporary: Path) -> None:
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(columns)
            for row in table.itertuples(index=False):
                score = getattr(row, "score", None)
                score = "" if score is None or math.isnan(float(score)) else f"{float(score):.6g}"
                values = [
                    context.export_id,
                    row.sample_id,
                    row.image or row.name,
                    row.given,
                    row.suggested if isinstance(row.suggested, str) else "",
                    score,
                    row.reasons,
                ]
                for column in extra:
                    values.append(getattr(row, column))
                out.writerow([*values, "", ""])

    write_atomic(path, writer)
    return [path]


def read_csv(path: Path) -> list[AnnotationRow]:
    """Read a filled-in CSV hand-off list."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        label_column = next((name for name in LABEL_COLUMNS if name in fields), None)
        if "sample_id" not in fields or label_column is None:
            raise ErrorAnalysisError(
                f"{path} needs a 'sample_id' and a 'label' column (got: {', '.join(fields)}); "
                "fill the 'label' column of a CSV written by export_candidates(format='csv')"
            )
        rows = []
        for line, record in enumerate(reader, start=2):
            rows.append(
                AnnotationRow(
                    row=f"line {line}",
                    sample_id=clean(record.get("sample_id")),
                    name=clean(record.get("path")),
                    label=clean(record.get(label_column)),
                    annotator=clean(record.get("annotator")),
                    export_id=clean(record.get("export_id")),
                    given=clean(record.get("given")),
                )
            )
    return rows


register_writer("csv", write_csv)
register_reader("csv", read_csv)
