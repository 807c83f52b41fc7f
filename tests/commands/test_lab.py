from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from erroranalysis.cli import main
from erroranalysis.commands.lab import write_notebook


@pytest.fixture
def lab_store(tmp_path):
    from tests.stores import make_store

    return make_store(tmp_path / "store", n=60)  # the real scan needs more than 12


def test_write_only_writes_a_dashboard_notebook_next_to_the_store(lab_store, capsys):
    assert main(["lab", str(lab_store.path), "--write-only"]) == 0
    target = lab_store.path.parent / "dashboard.ipynb"
    notebook = json.loads(target.read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    import nbformat

    nbformat.validate(nbformat.reads(target.read_text(), as_version=4))
    source = "".join(cell["source"] for cell in notebook["cells"])
    assert "ea.show(store)" in source and "'store'" in source  # relative to the notebook
    assert "wrote" in capsys.readouterr().out


def test_existing_notebook_is_kept(lab_store):
    target = lab_store.path.parent / "dashboard.ipynb"
    target.write_text("{}")
    assert write_notebook(lab_store.path) == target
    assert target.read_text() == "{}"


def test_not_a_store_is_a_one_line_error(tmp_path, capsys):
    assert main(["lab", str(tmp_path), "--write-only"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "not an erroranalysis store" in err


@pytest.mark.slow
@pytest.mark.notebook
def test_written_notebook_executes(lab_store):
    import nbformat
    from nbclient import NotebookClient

    target = write_notebook(lab_store.path)
    notebook = nbformat.read(target, as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(target.parent)}},
    ).execute()
    outputs = notebook.cells[1].outputs
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_lab_starts_jupyterlab(lab_store, tmp_path):
    port = _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws")}  # fmt: skip
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "erroranalysis",
            "lab",
            str(lab_store.path),
            "--port",
            str(port),
            "--no-browser",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 90
        ok = False
        while time.time() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as response:
                    ok = response.status == 200
                    break
            except OSError:
                time.sleep(1)
        if not ok:
            output = (
                process.stdout.read().decode(errors="replace") if process.poll() is not None else ""
            )
            pytest.fail(f"JupyterLab did not answer: {output[-2000:]}")
        assert (lab_store.path.parent / "dashboard.ipynb").exists()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
