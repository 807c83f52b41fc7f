"""Hand-off to annotators and back, and the static report.

- :func:`export_candidates`: relabel candidates, worst first, for Label Studio, CVAT, ImageNet
  text or CSV; every export is recorded in the store with the labels at export time.
- :func:`export_queue`: the annotator queue (unlabelled samples below the pseudo-label
  thresholds, active-learning order) with the model's suggestion as the pre-annotation.
- :func:`import_annotations`: annotators' answers back into the journal, all or nothing, with
  conflicts reported and never silently overwritten.
- :func:`flag_weak_spot`, :func:`export_weak_spots`, :func:`find_look_alikes`: weak spots and
  "collect more like these".
- :func:`report`: one self-contained HTML file.

Formats live one per module and are registered by name (:mod:`erroranalysis.export.registry`).
"""

from __future__ import annotations

from erroranalysis.export.annotations import ImportSummary, import_annotations, read_annotations
from erroranalysis.export.candidates import ExportResult, export_candidates, select_candidates
from erroranalysis.export.queue import export_queue
from erroranalysis.export.registry import reader_names, writer_names
from erroranalysis.export.report import report
from erroranalysis.export.weak_spots import (
    export_weak_spots,
    find_look_alikes,
    flag_weak_spot,
    weak_spots,
)

__all__ = [
    "ExportResult",
    "ImportSummary",
    "export_candidates",
    "export_queue",
    "export_weak_spots",
    "find_look_alikes",
    "flag_weak_spot",
    "import_annotations",
    "read_annotations",
    "reader_names",
    "report",
    "select_candidates",
    "weak_spots",
    "writer_names",
]
