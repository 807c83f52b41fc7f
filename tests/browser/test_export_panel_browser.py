"""The export panel in real JupyterLab + Chromium: choose a format, click Export, see the files.

A small store is built in the server's root; the notebook selects 7 samples and shows an
:class:`~erroranalysis.widgets.export_panel.ExportPanel`. The test clicks the real button twice
(Label Studio, then CSV chosen in the real dropdown) and checks both the page (the result text)
and the disk (the files exist, with the selected samples).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from . import lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _wait_for_result(page, needle: str) -> str:
    page.wait_for_function(
        "(needle) => { const e = document.querySelector('.ea-export .ea-export-result');"
        " return !!e && e.textContent.includes(needle); }",
        arg=needle,
        timeout=30_000,
    )
    return page.inner_text(".ea-export .ea-export-result")


def test_export_panel_clicks(page, jupyterlab, lab_root):
    from tests.stores import make_store

    store_path = lab_root / "export-panel-store"
    store = make_store(store_path, n=40)
    chosen = [str(sample_id) for sample_id in store.sample_ids[:7]]
    lab.write_notebook(
        lab_root / "export_panel.ipynb",
        [
            "from erroranalysis.store import Store\n"
            "from erroranalysis.widgets.selection import Selection\n"
            "from erroranalysis.widgets.export_panel import ExportPanel\n"
            f"store = Store.open({str(store_path)!r})\n"
            "selection = Selection()\n"
            f"selection.select({chosen!r}, source='test')\n"
            "panel = ExportPanel(store, selection=selection)\n"
            "panel"
        ],
    )
    lab.run_notebook(page, jupyterlab, "export_panel.ipynb")
    page.wait_for_selector(".ea-export .ea-export-button", timeout=60_000)
    assert "7 samples selected" in page.inner_text(".ea-export .ea-export-selection")

    page.click(".ea-export .ea-export-button")
    text = _wait_for_result(page, "Exported")
    assert "Exported 7 samples (current selection) of 7 selected as label-studio" in text
    tasks_path = Path(next(line for line in text.splitlines() if line.endswith(".json")).strip())
    tasks = json.loads(tasks_path.read_text())
    assert sorted(task["data"]["sample_id"] for task in tasks) == sorted(chosen)
    assert tasks_path.with_name(tasks_path.stem + ".label_config.xml").is_file()

    page.select_option(".ea-export .ea-export-format select", "csv")
    page.click(".ea-export .ea-export-button")
    text = _wait_for_result(page, "as csv")
    csv_path = Path(next(line for line in text.splitlines() if line.endswith(".csv")).strip())
    assert sorted(pd.read_csv(csv_path)["sample_id"].astype(str)) == sorted(chosen)
    assert csv_path.parent == lab_root  # the working folder of the notebook, not the store

    # the same path again: the panel asks first, and only Overwrite replaces the file
    csv_path.write_text("mine\n")
    page.fill(".ea-export .ea-export-path input", str(csv_path))
    page.press(".ea-export .ea-export-path input", "Enter")
    page.wait_for_timeout(500)
    page.click(".ea-export .ea-export-button")
    text = _wait_for_result(page, "exists already")
    assert str(csv_path) in text and csv_path.read_text() == "mine\n"
    page.wait_for_selector(".ea-export .ea-export-overwrite", state="visible", timeout=10_000)
    lab.save_screenshot(page, "export_panel_overwrite")
    page.click(".ea-export .ea-export-overwrite")
    _wait_for_result(page, "Exported")
    assert sorted(pd.read_csv(csv_path)["sample_id"].astype(str)) == sorted(chosen)
    lab.save_screenshot(page, "export_panel")
