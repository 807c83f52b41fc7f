"""The defaults' finds on the full default demo store, locked within a tolerance.

The store is ``EA_DEMO_STORE`` or, when that is not set, one that ``tests/conftest.py`` builds
in the background (``erroranalysis demo --no-lab``) while the rest of the suite runs; these tests
run last. Measured 2026-12-03 on the 32-px ``test_resnet`` demo (BENCHMARKS.md, "Outliers,
near-duplicates and weak slices"): 20 of 20 planted outliers in the top 2 %, 25 of 26 planted
near-duplicate pairs with 3 of 49 flagged pairs false, the four weak subgroups ranked 1-4, all
significant. Reads the cached predictions only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import erroranalysis as ea


@pytest.fixture(scope="module")
def demo_parts(demo_store):
    from bench.detection import _demo_parts

    if ea.Store.open(demo_store).num_samples != 2000:
        pytest.skip("the lock is for the default 2,000-image demo")
    store, run, truth = _demo_parts(demo_store)
    if run.load_result("image_properties") is None:
        ea.scan(store, run.name, analyses=["image_properties"], progress=False)
    return store, run, truth


@pytest.mark.slow
def test_outliers_near_duplicates_and_slices_on_the_demo(demo_parts):
    from erroranalysis.analysis.near_duplicates import NearDuplicates
    from erroranalysis.analysis.outliers import Outliers
    from erroranalysis.analysis.slices import Slices, slice_frame, slice_mask
    from erroranalysis.analysis.truth import _false_pairs

    store, run, truth = demo_parts
    planted = truth["is_outlier"].fillna(False).to_numpy(dtype=bool)
    score = Outliers().fit(store, run).outlier_score_
    assert planted[np.argsort(-score, kind="stable")[:40]].sum() >= 16

    sets = NearDuplicates().fit(store, run).near_duplicate_set_
    position = pd.Series(np.arange(store.num_samples), index=store.sample_ids)
    dup = truth["near_duplicate_of"].dropna()
    a, b = position[dup.index].to_numpy(), position[dup.astype(str)].to_numpy()
    assert ((sets[a] >= 0) & (sets[a] == sets[b])).sum() >= 22  # the target is 20
    total, false = _false_pairs(sets, a, b)
    assert false <= 0.10 * total

    slices = Slices().fit(store, run).slices_
    frame = slice_frame(store, run)
    masks = [slice_mask(frame, row) for _, row in slices.iterrows()]
    subgroup = truth["subgroup"].fillna("").astype(str)
    for name in sorted(set(subgroup) - {""}):
        members = (subgroup == name).to_numpy()
        best = slices.iloc[
            int(np.argmax([(m & members).sum() / (m | members).sum() for m in masks]))
        ]
        assert best["rank"] <= 5 and bool(best["significant"]), (name, best["slice"])
