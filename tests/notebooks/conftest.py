"""Fixtures of the notebook tests: a small demo store, built once per test session."""

from __future__ import annotations

import pytest

#: A demo small enough to build in well under a minute on 2 cores: both stages (``demo-quick``
#: then ``demo``), 1 epoch each. Its models are weak, but every step of the quickstart runs on
#: it exactly as on the real demo (two runs, the planted truth, a scan of each run).
SMALL_DEMO = {
    "n_samples": 240,
    "folds": 2,
    "epochs": 1,
    "image_size": 24,
    "quick": {"epochs": 1},
}


@pytest.fixture(scope="session")
def demo_store_dir(tmp_path_factory):
    """A built demo store (read it, or copy it with ``shutil.copytree`` before writing)."""
    from erroranalysis.datasets.demo import build_demo

    out = tmp_path_factory.mktemp("notebook-demo") / "demo-store"
    build_demo(out, seed=3, progress=False, verbose=False, **SMALL_DEMO)
    return out
