"""The pseudo-label panel in real JupyterLab + Chromium: drag a slider, the yield moves; Accept.

The store (simulated probabilities, 60 % of labels hidden) is built in the server's root; the
notebook shows a :class:`~erroranalysis.widgets.pseudo_label.PseudoLabelPanel` with its plan made.
The test clicks the far end of the first class's real slider (its lowest threshold), checks that
the total yield on the page grows, clicks Accept and checks the journal on disk, then Undo and
checks that the batch is reverted on disk.

The annotators tab: a dashboard of a store after an import of three annotators; the test opens
the tab, checks the annotators on the page in quality order, clicks a low-consensus row and
checks that the gallery shows exactly the low-consensus samples and the inspector the clicked one.
"""

from __future__ import annotations

import re

import pytest

from . import lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _total(page) -> int:
    text = page.inner_text(".ea-pseudo-label .ea-pseudo-total")
    return int(re.search(r"([\d,]+) of", text).group(1).replace(",", ""))


def test_pseudo_label_panel_slider_and_accept(page, jupyterlab, lab_root):
    import erroranalysis as ea
    from tests.analysis.test_pseudo_label import make

    store, _ = make(lab_root / "pseudo", n=4000)
    lab.write_notebook(
        lab_root / "pseudo_label.ipynb",
        [
            "from erroranalysis.store import Store\n"
            "from erroranalysis.widgets.pseudo_label import PseudoLabelPanel\n"
            f"store = Store.open({str(store.path)!r})\n"
            "panel = PseudoLabelPanel(store, target_precision=0.95, plan_now=True)\n"
            "panel"
        ],
    )
    lab.run_notebook(page, jupyterlab, "pseudo_label.ipynb")
    page.wait_for_selector(".ea-pseudo-label .ea-pseudo-slider", timeout=60_000)
    before = _total(page)
    assert before > 0
    track = page.locator(".ea-pseudo-label .ea-pseudo-slider .noUi-base").first
    box = track.bounding_box()
    page.mouse.click(box["x"] + box["width"] - 1, box["y"] + box["height"] / 2)
    page.wait_for_function(
        "(before) => { const e = document.querySelector('.ea-pseudo-label .ea-pseudo-total');"
        " const m = e && e.textContent.replace(/,/g, '').match(/(\\d+) of/);"
        " return !!m && Number(m[1]) > before; }",
        arg=before,
        timeout=30_000,
    )
    after = _total(page)
    assert after > before
    page.click(".ea-pseudo-label .ea-pseudo-accept")
    page.wait_for_function(
        "() => { const e = document.querySelector('.ea-pseudo-label .ea-pseudo-status');"
        " return !!e && e.textContent.includes('pseudo-labelled'); }",
        timeout=30_000,
    )
    events = ea.Store.open(store.path).events()
    assert set(events["source"]) == {"pseudo"} and len(events) == 2 * after
    lab.save_screenshot(page, "pseudo_label_panel")
    labelled = int(ea.Store.open(store.path).is_labelled().sum())
    page.click(".ea-pseudo-label .ea-pseudo-undo")
    page.wait_for_function(
        "() => { const e = document.querySelector('.ea-pseudo-label .ea-pseudo-status');"
        " return !!e && e.textContent.includes('undone'); }",
        timeout=30_000,
    )
    reopened = ea.Store.open(store.path)
    assert int(reopened.is_labelled().sum()) == labelled - after
    assert reopened.events()["kind"].iloc[-1] == "undo"


def test_annotators_tab_low_consensus_rows_open_in_the_gallery(page, jupyterlab, lab_root):
    from tests.analysis.test_consensus import imported_store, low_consensus_ids

    folder = lab_root / "annotators"
    folder.mkdir()
    store, summary, _ = imported_store(folder)
    low = set(low_consensus_ids(store))
    assert low
    lab.write_notebook(
        lab_root / "annotators.ipynb",
        [
            "import erroranalysis as ea\n"
            f"board = ea.show({str(store.path)!r}, poll_interval=None)\n"
            "titles = [board.tabs.get_title(i) for i in range(len(board.tabs.children))]\n"
            "board.tabs.selected_index = titles.index('annotators')\n"
            "board"
        ],
    )
    lab.run_notebook(page, jupyterlab, "annotators.ipynb")
    rows = ".ea-annotators .ea-annotators-low tr.ea-table-row"
    page.wait_for_selector(rows, timeout=60_000)
    names = page.locator(".ea-annotators .ea-annotators-table tr.ea-table-row td:first-child")
    assert names.all_inner_texts() == summary.annotators["annotator"].tolist()
    assert f"{len(low):,} low-consensus" in page.inner_text(".ea-annotators-select-low")
    clicked = page.locator(rows).nth(1).get_attribute("data-sample-id")
    page.locator(rows).nth(1).click()
    page.wait_for_function(
        "(sid) => { const e = document.querySelector('.ea-inspector .ea-inspector-id');"
        " return !!e && e.textContent.includes(sid); }",
        arg=clicked,
        timeout=30_000,
    )
    thumbs = page.locator(".ea-gallery .ea-thumb")
    thumbs.first.wait_for(timeout=30_000)
    shown = {thumbs.nth(i).get_attribute("data-sample-id") for i in range(thumbs.count())}
    assert shown and shown <= low and (len(shown) == len(low) or len(shown) >= 12)
    assert page.locator(".ea-gallery").is_visible()  # the gallery tab came up
    lab.save_screenshot(page, "annotators_tab")
