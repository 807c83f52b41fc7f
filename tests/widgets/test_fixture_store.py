"""The widget tests run on a real scan of a tiny store, and the package ships no test fixture."""

from __future__ import annotations

import importlib.util

import pandas as pd


def test_the_fixture_is_a_real_scan(scanned_store):
    run = scanned_store.run()
    assert {"label_issues", "scores", "projection"} <= set(run.results())
    frame = scanned_store.frame()
    # the scan's own types: what a user's store has
    assert frame["is_label_issue"].any() and frame["is_near_duplicate"].any()
    agree = frame["predicted_label"].astype(str) == frame["label"].astype(str)
    assert frame.loc[agree, "suggested_label"].isna().all()
    assert (
        frame.loc[~agree, "suggested_label"].astype(str) != frame.loc[~agree, "label"].astype(str)
    ).all()
    assert {"brightness", "blur", "x", "y"} <= set(frame.columns)
    assert isinstance(run.load_artifact("slices"), pd.DataFrame)


def test_no_fixture_in_the_package():
    assert importlib.util.find_spec("erroranalysis.widgets._fixture") is None
