"""The pseudo-label panel in real JupyterLab + Chromium: drag a slider, the yield moves; Accept.

The store (simulated probabilities, 60 % of labels hidden) is built in the server's root; the
notebook shows a :class:`~erroranalysis.widgets.pseudo_label.PseudoLabelPanel` with its plan made.
The test clicks the far end of the first class's real slider (its lowest threshold), checks that
the total yield on the page grows, clicks Accept and checks the journal on disk.
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
