"""The dashboard announces a run that lands while it is open, and switches to it in place."""

from __future__ import annotations

import asyncio
import sys

import numpy as np

import erroranalysis as ea
from erroranalysis.widgets import Dashboard


def _add_run_elsewhere(path, name: str, scan: bool) -> None:
    """Another process's handle adds (and optionally scans) a run."""
    other = ea.Store.open(path)
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(other.num_classes), size=other.num_samples).astype(np.float32)
    other.add_run(name, probs, model="another-model")
    if scan:
        ea.scan(other, name, analyses="scores", progress=False)


def test_a_new_run_shows_a_notice_and_show_it_switches_in_place(scanned_store):
    dash = Dashboard(scanned_store, poll_interval=None)
    try:
        first = dash.data.run.name
        assert dash.run_notice.check() is None
        assert dash.run_notice.layout.display == "none"
        _add_run_elsewhere(scanned_store.path, "newer", scan=False)
        assert dash.run_notice.check() == "newer"
        assert dash.run_notice.layout.display == "flex"
        assert "not scanned yet" in dash.run_notice.text.value
        ea.scan(ea.Store.open(scanned_store.path), "newer", analyses="scores", progress=False)
        assert dash.run_notice.check() == "newer"
        text = dash.run_notice.text.value
        assert "newer" in text and "another-model" in text and "not scanned" not in text
        before = dash.header
        dash.run_notice.button.click()
        assert dash.data.run.name == "newer" != first
        assert dash.header is not before and "newer" in dash.header.value
        assert dash.run_notice.layout.display == "none" and dash.run_notice.check() is None
        assert dash.run_notice in dash.children[1].children  # still in the header after rebuild
    finally:
        dash.close()


def test_the_poller_announces_a_run_added_by_another_process(scanned_store):
    async def scenario():
        dash = Dashboard(scanned_store, poll_interval=0.2)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from tests.widgets.test_run_notice import _add_run_elsewhere; "
                f"_add_run_elsewhere({str(scanned_store.path)!r}, 'later', scan=True)",
            )
            assert await process.wait() == 0
            for _ in range(200):
                if dash.run_notice.newer == "later" and "ready" in dash.run_notice.text.value:
                    return dash.data.run.name  # announced, not switched on its own
                await asyncio.sleep(0.05)
            return None
        finally:
            dash.close()

    shown = asyncio.run(scenario())
    assert shown is not None and shown != "later"
