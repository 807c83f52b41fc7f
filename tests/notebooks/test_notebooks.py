"""Execute every notebook in notebooks/ with nbclient, on a small store built here.

Each notebook opens ``ERRORANALYSIS_STORE``; it is pointed at a copy of a small store with a run
and images that was scanned once here (so the notebook's own ``ea.scan`` finds its results
cached), which keeps the run short, plus a private working folder. On such a store (not the demo)
the quickstart skips its retraining; ``test_quickstart.py`` runs it on a demo store (two runs and
the planted truth) as well.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.fixture(scope="module")
def scanned_store_dir(tmp_path_factory):
    import erroranalysis as ea
    from tests.stores import make_store

    base = tmp_path_factory.mktemp("nbstore")
    store = make_store(base / "store", n=120, scan=False)
    ea.scan(store, progress=False)
    return base


def _execute(notebook_path: Path, workdir: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    notebook = nbformat.read(notebook_path, as_version=4)
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3", (
        f"{notebook_path.name} needs metadata.kernelspec python3 (else JupyterLab asks for a kernel)"
    )
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        client = NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(workdir)}},
        )
        client.execute()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


@pytest.mark.parametrize("notebook_path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(notebook_path, scanned_store_dir, tmp_path):
    shutil.copytree(scanned_store_dir, tmp_path / "data", symlinks=True)
    env = {
        "ERRORANALYSIS_STORE": str(tmp_path / "data" / "store"),
        "ERRORANALYSIS_WORKDIR": str(tmp_path / "work"),
    }
    notebook = _execute(notebook_path, tmp_path, env)
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    widget_views = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
    ]
    if "ea.show(" in "".join(cell.source for cell in notebook.cells):
        assert widget_views, f"{notebook_path.name} shows a dashboard but no widget was displayed"


def test_every_notebook_has_a_kernelspec():
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        assert notebook.metadata["kernelspec"]["name"] == "python3", path.name


def test_dashboard_poller_runs_on_the_kernel_loop(tmp_path):
    """In a real kernel, ea.show polls the store: another process's relabel reaches the views."""
    from nbformat.v4 import new_code_cell, new_notebook

    from tests.stores import make_store

    store = make_store(tmp_path / "store", n=40)  # the real scan needs more than 30
    sid = str(store.sample_ids[0])
    target = next(c for c in store.classes if c != store.labels()[sid])
    relabel_code = f"import erroranalysis as ea; ea.Store.open({str(store.path)!r}).relabel({sid!r}, {target!r})"
    notebook = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    notebook.cells = [
        new_code_cell(
            "import asyncio, subprocess, sys\n"
            "import erroranalysis as ea\n"
            f"store = ea.Store.open({str(store.path)!r})\n"
            "dash = ea.show(store, poll_interval=0.3)\n"
            "assert dash.polling, 'no poller on the kernel loop'\n"
            "before = dash.confusion.counts.copy()\n"
            "dash"
        ),
        new_code_cell(
            f"code = {relabel_code!r}\n"
            "subprocess.run([sys.executable, '-c', code], check=True)\n"
            "for _ in range(50):\n"
            "    await asyncio.sleep(0.1)\n"
            f"    if dash.data.label_codes[0] == {store.classes.index(target)}:\n"
            "        break\n"
            f"assert dash.data.label_codes[0] == {store.classes.index(target)}, 'relabel not picked up'\n"
            "assert (dash.confusion.counts != before).any()\n"
            "print('picked up')"
        ),
    ]
    client = NotebookClient(notebook, timeout=120, kernel_name="python3")
    client.execute()
    assert "picked up" in notebook.cells[1].outputs[0]["text"]
