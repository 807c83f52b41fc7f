"""``erroranalysis lab STORE``: open the store's dashboard in JupyterLab.

Writes ``dashboard.ipynb`` next to the store (unless one is there already) with a cell that opens
the store and shows ``ea.show(store)``, then starts ``jupyter lab`` on it. Never imports the
widgets (the notebook's kernel does).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from erroranalysis.errors import ErrorAnalysisError

HELP = "open a store's linked dashboard in JupyterLab"
DESCRIPTION = (
    "Write dashboard.ipynb next to STORE (if missing) showing ea.show(store), and start "
    "JupyterLab on it."
)

__all__ = ["DESCRIPTION", "HELP", "add_arguments", "dashboard_notebook", "run", "write_notebook"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``lab`` verb's arguments."""
    parser.add_argument("store", help="the store folder")
    parser.add_argument(
        "--port", type=int, default=None, help="port for JupyterLab (default: its own)"
    )
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    parser.add_argument(
        "--notebook",
        default=None,
        help="notebook to write/open (default: dashboard.ipynb next to the store)",
    )
    parser.add_argument(
        "--write-only",
        action="store_true",
        help="write the notebook and exit without starting JupyterLab",
    )


def _cell(kind: str, source: str) -> dict:
    cell = {"cell_type": kind, "id": uuid.uuid4().hex[:8], "metadata": {}, "source": source}
    if kind == "code":
        cell.update({"execution_count": None, "outputs": []})
    return cell


def dashboard_notebook(store_path: Path, notebook_dir: Path) -> dict:
    """The notebook (nbformat 4 JSON) that shows the dashboard of ``store_path``.

    The store is referenced relative to the notebook when it sits below it, so the pair can move.
    """
    try:
        reference = os.path.relpath(store_path, notebook_dir)
    except ValueError:  # another drive on Windows
        reference = str(store_path)
    return {
        "cells": [
            _cell(
                "markdown",
                f"# Error analysis: `{store_path.name}`\n\n"
                "Click a confusion-matrix cell, a point (box/lasso to select) or a thumbnail; "
                "relabel in the inspector (dropdown + *relabel*, or a suggestion; keys 1–9), mark "
                "*not an issue* (`n`) or *weak spot* (`w`), undo (`u`). Every change is journaled "
                "in the store; changes from other notebooks or the CLI show up within seconds.",
            ),
            _cell(
                "code",
                "import erroranalysis as ea\n\n"
                f"store = ea.Store.open({reference!r})\n"
                "if store.runs() and store.run().results() == []:\n"
                "    ea.scan(store)  # first time only: results are cached in the run\n"
                "dashboard = ea.show(store)\n"
                "dashboard",
            ),
        ],
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_notebook(
    store_path: str | os.PathLike, notebook: str | os.PathLike | None = None
) -> Path:
    """Write the dashboard notebook for ``store_path`` unless it exists; return its path.

    Raises
    ------
    StoreFormatError
        When ``store_path`` is not a store.
    """
    store_path = Path(store_path).resolve()
    if not (store_path / "store.json").is_file():
        from erroranalysis.store.store import not_a_store_error

        raise not_a_store_error(store_path)
    target = Path(notebook).resolve() if notebook else store_path.parent / "dashboard.ipynb"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(json.dumps(dashboard_notebook(store_path, target.parent), indent=1) + "\n")
        os.replace(tmp, target)
        print(f"wrote {target}")
    else:
        print(f"using existing {target}")
    return target


def run(args: argparse.Namespace) -> int:
    """Write the notebook and run JupyterLab on it (until it is stopped)."""
    target = write_notebook(args.store, args.notebook)
    if args.write_only:
        return 0
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        str(target.name),
        f"--ServerApp.root_dir={target.parent}",
    ]
    if args.port is not None:
        if not 0 < args.port < 65536:
            raise ErrorAnalysisError(f"--port must be between 1 and 65535, got {args.port}")
        command += [f"--port={args.port}", "--port-retries=0"]
    if args.no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append(
            "--allow-root"
        )  # containers often run as root; JupyterLab refuses without it
    print("starting:", " ".join(command))
    try:
        return subprocess.call(command, cwd=target.parent)
    except KeyboardInterrupt:
        return 130
