"""The quickstart tells the whole story on a demo store and leaves that store's journal alone.

The notebook is executed once (module fixture) on a copy of the small session demo
(``conftest.demo_store_dir``), with ``ERRORANALYSIS_WORKDIR`` pointing into the test's folder, so
the scratch copy it works on can be inspected afterwards.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import erroranalysis as ea
from erroranalysis.datasets.demo import scratch_copy
from erroranalysis.errors import ErrorAnalysisError, StoreExistsError

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"


def _execute(env: dict[str, str], workdir: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(workdir)}},
        ).execute()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def _text(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif "data" in output:
                parts.append(output["data"].get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def executed(demo_store_dir, tmp_path_factory):
    """The quickstart run on a copy of the demo: (notebook, store path, work dir, before)."""
    base = tmp_path_factory.mktemp("quickstart")
    store_path = base / "demo-store"
    shutil.copytree(demo_store_dir, store_path, symlinks=True)
    store = ea.Store.open(store_path)
    before = {
        "last_event_id": store.last_event_id,
        "events": len(store.events()),
        "labels": store.labels().copy(),
        "runs": store.runs(),
    }
    store.close()
    work = base / "work"
    env = {"ERRORANALYSIS_STORE": str(store_path), "ERRORANALYSIS_WORKDIR": str(work)}
    notebook = _execute(env, base)
    return notebook, store_path, work, before


@pytest.mark.notebook
@pytest.mark.slow
def test_quickstart_runs_every_step_and_shows_a_dashboard(executed):
    notebook, _, _, _ = executed
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    assert any(
        "application/vnd.jupyter.widget-view+json" in output.get("data", {})
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    ), "the quickstart shows no dashboard"
    text = _text(notebook)
    # each step of the story shows a result
    for needle in (
        "labelled",  # the dashboard driven from code: the most confused pair selected
        "label health score",  # dataset-level findings
        "look-alikes of",  # weak spot and its look-alikes
        "dry run: would apply",  # annotators' answers imported, dry run first
        "import:  applied",
        "accuracy_clean",  # evaluation with and without the suspected label errors
        "accuracy_uncorrected",
        "trained 'demo-quick-corrected'",  # retrained on the corrected labels
        "against the planted truth: demo-quick",
    ):
        assert needle in text, needle


@pytest.mark.notebook
@pytest.mark.slow
def test_quickstart_leaves_the_users_journal_unchanged(executed):
    """Issue 17 item 7: the tour's relabel/undo, the flag and the import go to a scratch copy."""
    notebook, store_path, work, before = executed
    store = ea.Store.open(store_path)
    assert store.last_event_id == before["last_event_id"]
    assert len(store.events()) == before["events"]
    assert store.labels().equals(before["labels"])
    assert store.runs() == before["runs"]
    assert "0 new journal events" in _text(notebook)
    # the notebook did write all of that — into the scratch copy under the work folder
    practice = ea.Store.open(work / "practice-store")
    kinds = set(practice.events()["kind"])
    assert {"relabel", "undo", "flag"} <= kinds
    assert practice.runs() == [*before["runs"], "demo-quick-corrected"]
    assert (practice.labels() != before["labels"]).any()  # the annotators' corrections


@pytest.mark.notebook
@pytest.mark.slow
def test_quickstart_without_a_store_says_how_to_build_one(tmp_path):
    missing = tmp_path / "no-store-here"
    with pytest.raises(CellExecutionError) as raised:
        _execute({"ERRORANALYSIS_STORE": str(missing), "ERRORANALYSIS_WORKDIR": ""}, tmp_path)
    message = str(raised.value)
    assert "StoreNotFoundError" in message and str(missing) in message
    assert "make demo" in message
    assert not missing.exists()  # nothing was built
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_scratch_copy_is_independent_and_sees_unflushed_journal_writes(tmp_path):
    from tests.stores import make_store

    original = make_store(tmp_path / "store", n=12, scan=False)
    sample = str(original.sample_ids[0])
    target = next(c for c in original.classes if c != original.labels()[sample])
    original.relabel(sample, target, author="someone")  # still in the WAL: the store is open
    copy = scratch_copy(original, tmp_path / "copy")
    assert copy.labels()[sample] == target and copy.last_event_id == original.last_event_id
    assert copy.runs() == original.runs() and copy.image_root == original.image_root
    copy.undo()  # the latest event of the copy, whoever wrote it
    assert copy.labels()[sample] != target
    reopened = ea.Store.open(original.path)
    assert reopened.labels()[sample] == target and reopened.last_event_id == 1


def test_scratch_copy_refuses_to_overwrite_what_is_not_an_earlier_copy(tmp_path):
    from tests.stores import make_store

    original = make_store(tmp_path / "store", n=12, scan=False)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep")
    with pytest.raises(StoreExistsError):
        scratch_copy(original, precious, overwrite=True)
    assert (precious / "notes.txt").read_text() == "keep"
    first = scratch_copy(original, tmp_path / "copy")
    first.relabel(str(first.sample_ids[0]), first.classes[1], author="test")
    with pytest.raises(StoreExistsError, match="overwrite=True"):
        scratch_copy(original, tmp_path / "copy")
    assert scratch_copy(original, tmp_path / "copy", overwrite=True).last_event_id == 0
    with pytest.raises(ErrorAnalysisError, match="not a store"):
        scratch_copy(tmp_path / "precious", tmp_path / "other")
    with pytest.raises(ErrorAnalysisError, match="cannot replace its source"):
        scratch_copy(original, original.path, overwrite=True)
