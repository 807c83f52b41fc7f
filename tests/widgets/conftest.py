"""Fixtures for the widget tests: small stores with a run and the real scan (cached)."""

from __future__ import annotations

import pytest

from tests.stores import make_store


@pytest.fixture
def scanned_store(tmp_path):
    """60 samples, 3 classes, images, a run and its real scan (a copy of a cached build)."""
    return make_store(tmp_path / "store", n=60)


@pytest.fixture
def unscanned_store(tmp_path):
    """A store with a run but no scan results."""
    return make_store(tmp_path / "store", n=30, scan=False)


@pytest.fixture
def dashboard(scanned_store):
    from erroranalysis.widgets import Dashboard

    dash = Dashboard(scanned_store, poll_interval=None)
    yield dash
    dash.close()
