"""The annotator hand-off notebook does what its text says, on a small scanned store.

``test_notebooks.py`` already executes every notebook and checks for errors; this test checks the
notebook's outputs and its effect on the store: a dry run that writes nothing, the planted
conflict reported and not applied, the import events in the journal, the look-alikes exported,
and the store's labels and flags back as they were after the final clean-up cell.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "annotator_handoff.ipynb"

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.fixture(scope="module")
def scanned_store_dir(tmp_path_factory):
    import erroranalysis as ea
    from tests.stores import make_store

    base = tmp_path_factory.mktemp("handoff-store")
    store = make_store(base / "store", n=120, scan=False)
    ea.scan(store, progress=False)
    return base


def _stream_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def _cell_output(notebook, needle: str) -> str:
    """The output of the first code cell whose source contains ``needle``."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and needle in cell.source:
            return _stream_text(cell)
    raise AssertionError(f"no cell contains {needle!r}")


def test_kernelspec_is_python3():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert notebook.metadata["kernelspec"] == {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }


def test_handoff_round_trip(scanned_store_dir, tmp_path):
    import erroranalysis as ea

    shutil.copytree(scanned_store_dir, tmp_path / "data", symlinks=True)
    store_path = tmp_path / "data" / "store"
    work = tmp_path / "work"
    before = ea.Store.open(store_path)
    labels_before = before.labels().copy()
    assert before.last_event_id == 0

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    env = {"ERRORANALYSIS_STORE": str(store_path), "ERRORANALYSIS_WORKDIR": str(work)}
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(tmp_path)}},
        ).execute()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    # the files a user would hand over
    tasks = json.loads((work / "label-studio" / "tasks.json").read_text())
    assert len(tasks) == 20
    assert "<Choices" in (work / "label-studio" / "tasks.label_config.xml").read_text()
    assert (work / "cvat" / "annotations.xml").is_file()
    assert len(pd.read_csv(work / "candidates.csv")) == 20
    answers = json.loads((work / "label-studio" / "project-1-export.json").read_text())
    assert sum(a["was_cancelled"] for t in answers for a in t["annotations"]) == 1
    look_alikes = pd.read_csv(work / "look-alikes.csv")
    assert 0 < len(look_alikes) <= 50
    assert look_alikes["seed"].nunique() == 1

    # the first task is printed; the dry run reports and writes nothing
    assert tasks[0]["data"]["sample_id"] in _cell_output(notebook, "json.dumps(tasks[0]")
    dry = _cell_output(notebook, "dry_run=True")
    assert "would apply" in dry and "conflicts 1" in dry and "skipped 1" in dry
    assert "events written by the dry run: 0" in dry
    real = _cell_output(notebook, "summary = ea.import_annotations(")
    assert real.startswith("applied ") and "conflicts 1" in real
    assert "applied 0," in _cell_output(notebook, "print(ea.import_annotations(")
    undo_text = _cell_output(notebook, "labels_before_undo")
    changed = int(undo_text.split("undoing the import changed ")[1].split()[0])
    assert changed > 0

    # the journal keeps the import (and its undo); the store ends as the notebook found it
    store = ea.Store.open(store_path)
    events = store.events()
    imports = events[events["source"].astype(str).str.startswith("import:label-studio:")]
    assert (imports["kind"] == "relabel").sum() == changed
    assert imports["undone"].astype(bool).all()
    conflict_id = dry.split("conflicting samples: '")[1].split("'")[0]
    assert conflict_id not in set(imports.loc[imports["kind"] == "relabel", "sample_id"])
    assert (events["author"] == "colleague").sum() == 1
    assert (events["kind"] == "undo").sum() > 0
    pd.testing.assert_series_equal(store.labels(), labels_before)
    assert store.flags().empty
    records = list((store_path / "exports").glob("*.json"))
    assert len(records) == 4  # label studio, cvat, csv, look-alikes
