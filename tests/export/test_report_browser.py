"""The report opens offline in a real Chromium: plotly renders, nothing is fetched."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from erroranalysis.export import flag_weak_spot, report

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")


def test_report_renders_offline(store, tmp_path):
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing (apt-get install -y chromium); required under CI")
        pytest.skip("Chromium is missing (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    run = store.run()
    predicted = np.asarray(store.classes)[np.asarray(run.probs).argmax(axis=1)]
    run.save_result("predicted", pd.DataFrame({"predicted_label": predicted}))
    flag_weak_spot(store, "s05", "dark")
    path = report(store, tmp_path / "r.html", top=3)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page()
            fetched: list[str] = []
            page.on("request", lambda request: fetched.append(request.url))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(path.as_uri())
            page.wait_for_selector(".js-plotly-plot .heatmaplayer", timeout=20_000)
            images = page.locator(".thumb img")
            assert images.count() == 4
            widths = [images.nth(i).evaluate("img => img.naturalWidth") for i in range(4)]
        finally:
            browser.close()
    assert all(width > 0 for width in widths)  # the data URIs decode
    assert [url for url in fetched if not url.startswith(("file:", "data:"))] == []
    assert errors == []
