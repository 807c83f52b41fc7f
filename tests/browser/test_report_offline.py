"""The report opens offline in a real Chromium: plotly renders, nothing is fetched."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from erroranalysis.export import flag_weak_spot, report
from tests.export.conftest import make_scanned_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_report_renders_offline(chromium, tmp_path):
    # One Playwright per session: a second sync_playwright() in the same process fails, so this
    # test lives with the browser tests and uses their shared Chromium.
    store = make_scanned_store(tmp_path)
    run = store.run()
    predicted = np.asarray(store.classes)[np.asarray(run.probs).argmax(axis=1)]
    run.save_result("predicted", pd.DataFrame({"predicted_label": predicted}))
    flag_weak_spot(store, "s05", "dark")
    path = report(store, tmp_path / "r.html", top=3)
    page = chromium.new_page()
    try:
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(path.as_uri())
        page.wait_for_selector(".js-plotly-plot .heatmaplayer", timeout=20_000)
        images = page.locator(".thumb img")
        assert images.count() == 4
        widths = [images.nth(i).evaluate("img => img.naturalWidth") for i in range(4)]
        # the mode bar (shown on hover) offers no cloud / share button and no plotly logo
        page.hover(".js-plotly-plot .nsewdrag")
        page.wait_for_selector(".js-plotly-plot .modebar-btn", state="attached", timeout=10_000)
        buttons = page.eval_on_selector_all(
            ".js-plotly-plot .modebar-btn",
            "els => els.map(e => e.getAttribute('data-title') || '')",
        )
        logos = page.locator(".js-plotly-plot .modebar-btn--logo").count()
    finally:
        page.close()
    assert all(width > 0 for width in widths)  # the data URIs decode
    # plotly.js 4 offers "Share chart..." (sendChartToCloud) unless showSendToCloud is off
    assert "Download plot as a PNG" in buttons  # the mode bar is there
    assert not [title for title in buttons if re.search("cloud|share", title, re.I)], buttons
    assert logos == 0
    assert [url for url in fetched if not url.startswith(("file:", "data:"))] == []
    assert errors == []
