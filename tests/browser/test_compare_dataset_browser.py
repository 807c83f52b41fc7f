"""The compare and dataset tabs in real JupyterLab + Chromium: their clicks fill the gallery.

A 60-sample scanned store with a second run is shown in a dashboard. The test opens the
"compare" tab and clicks the 2×2 cell "A wrong, B right": the gallery must hold exactly those
samples (the count and the thumbnails); then it opens the "dataset" tab and clicks a class row:
the gallery must hold exactly that class's samples.
"""

from __future__ import annotations

import numpy as np
import pytest

from . import lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_GALLERY = """() => {
  const g = document.querySelector('.ea-dashboard .ea-gallery');
  const n = g && g.querySelector('.ea-gallery-count-n');
  return {count: n ? n.textContent.trim() : null,
          ids: g ? [...g.querySelectorAll('.ea-thumb')].map(t => t.dataset.sampleId) : []};
}"""


def _wait_gallery(page, expected: set[str]) -> dict:
    page.wait_for_function(
        "(n) => { const c = document.querySelector('.ea-dashboard .ea-gallery-count-n');"
        " const t = document.querySelectorAll('.ea-dashboard .ea-gallery .ea-thumb');"
        " return !!c && c.textContent.replace(/,/g, '').trim() === String(n)"
        " && t.length === Math.min(n, 24); }",
        arg=len(expected),
        timeout=30_000,
    )
    return page.evaluate(_GALLERY)


def test_compare_cell_and_dataset_class_fill_the_gallery(page, jupyterlab, lab_root):
    from tests.stores import make_store

    store = make_store(lab_root / "compare-store", n=60)
    rng = np.random.default_rng(1)
    store.add_run("other", rng.dirichlet(np.ones(3), size=60).astype(np.float32))
    labels = store.labels().astype(str).to_numpy()
    names = np.asarray(store.classes, dtype=object)
    ids = np.asarray(store.sample_ids).astype(str)
    right = {r: names[np.asarray(store.run(r).probs).argmax(1)] == labels for r in store.runs()}
    # A = fixture, B = other (the dashboard's run); row 1, column 0 = A wrong, B right
    only_b = set(ids[~right["fixture"] & right["other"]])
    assert 0 < len(only_b) <= 24
    lab.write_notebook(
        lab_root / "compare_dataset.ipynb",
        [
            "from erroranalysis.store import Store\n"
            "from erroranalysis.widgets import Dashboard\n"
            f"store = Store.open({str(store.path)!r})\n"
            "dash = Dashboard(store, run='other', poll_interval=None)\n"
            "dash"
        ],
    )
    lab.run_notebook(page, jupyterlab, "compare_dataset.ipynb")
    page.wait_for_selector(".ea-dashboard .ea-gallery", timeout=60_000)

    page.locator(".ea-dashboard .lm-TabBar-tab", has_text="compare").first.click()
    cell = page.locator('.ea-dashboard .ea-compare-cells td.ea-cell[data-row="1"][data-col="0"]')
    cell.wait_for(timeout=30_000)
    assert cell.inner_text().strip() == str(len(only_b))
    cell.click()
    state = _wait_gallery(page, only_b)
    assert set(state["ids"]) == only_b

    page.locator(".ea-dashboard .lm-TabBar-tab", has_text="dataset").first.click()
    row = page.locator('.ea-dashboard .ea-health-classes tr.ea-table-row[data-row="1"]')
    row.wait_for(timeout=30_000)
    name = row.locator("td").first.inner_text().strip()
    members = set(ids[labels == name])
    assert name == store.classes[1] and 0 < len(members) <= 24
    row.click()
    state = _wait_gallery(page, members)
    assert set(state["ids"]) == members
    lab.save_screenshot(page, "compare_dataset_tabs")
