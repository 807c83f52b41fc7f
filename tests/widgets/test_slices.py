from __future__ import annotations

import numpy as np
import pandas as pd

from erroranalysis.widgets import Selection, SliceTable
from erroranalysis.widgets.slices import slice_mask


def test_weak_slices_first_and_click_selects(scanned_store):
    sel = Selection()
    table = SliceTable(scanned_store, selection=sel)
    artifact = scanned_store.run().load_artifact("slices")
    highs = table.slices["ci_high"].to_numpy()
    assert np.all(np.diff(highs) >= 0)
    assert len(table.table.rows) == len(artifact)
    # the interval is drawn in the accuracy cell (bar and text), not as two columns
    first = table.table.rows[0][table.table.columns.index("accuracy")]
    low, high = table.slices["ci_low"].iat[0], table.slices["ci_high"].iat[0]
    assert f"{low:.1%}–{high:.1%}" in first["title"] and {"lo", "hi"} <= set(first["bar"])
    # one "slice" column names every slice; feature/value would show a pair as half of it
    assert "slice" in table.table.columns
    assert not {"feature", "value"} & set(table.table.columns)
    # the slice "source = <value>" of the real scan (the fixture has a source column)
    row = int(np.flatnonzero(table.slices["feature"].to_numpy() == "source")[0])
    table.table.simulate_click(row=row)
    value = table.slices["value"].iat[row]
    frame = scanned_store.frame()
    assert list(sel.sample_ids) == frame.loc[frame["source"] == value, "sample_id"].tolist()
    assert sel.source == "slices" and value in sel.description
    assert "ea-slices" in table._dom_classes


def test_a_two_feature_slice_shows_both_conditions(scanned_store):
    run = scanned_store.run()
    artifact = run.load_artifact("slices")
    pair = artifact.iloc[[0]].copy()
    pair["slice"] = "source=rare & brightness=[0, 0.2)"
    pair["ci_high"] = -1.0  # sorted first
    run.save_artifact("slices", pd.concat([pair, artifact], ignore_index=True))
    table = SliceTable(scanned_store, selection=Selection())
    column = table.table.columns.index("slice")
    assert table.table.rows[0][column]["text"] == "source=rare & brightness=[0, 0.2)"


def test_interval_slices():
    frame = pd.DataFrame({"brightness": [0.05, 0.1, 0.2, 0.5, np.nan]})
    assert slice_mask(frame, "brightness", "[0.1, 0.3)").tolist() == [
        False,
        True,
        True,
        False,
        False,
    ]
    assert slice_mask(frame, "brightness", "(0.1, 0.5]").tolist() == [
        False,
        False,
        True,
        True,
        False,
    ]
    interval = pd.Interval(0.0, 0.1, closed="right")
    assert slice_mask(frame, "brightness", interval).tolist() == [True, True, False, False, False]
    assert not slice_mask(frame, "missing", "x").any()


def test_no_artifact_shows_hint(unscanned_store):
    table = SliceTable(unscanned_store)
    assert "ea.scan(store)" in table.message.value
    assert table.table.rows == []


def test_a_result_column_named_like_metadata_does_not_empty_its_slice(scanned_store):
    """The demo's metadata ``blur`` (none/heavy) and the image property ``blur`` (a Laplacian
    variance) share a name; the frame used to show the property under it, so clicking the
    ``blur=heavy`` slice (ranked 4th on the demo) selected no sample."""
    run = scanned_store.run()
    frame = scanned_store.frame()
    members = frame["source"].to_numpy()
    run.save_result("extra", pd.DataFrame({"source": np.arange(len(frame), dtype=float)}))
    joined = scanned_store.frame()
    assert joined["source"].tolist() == members.tolist()  # the metadata wins its name
    assert joined["extra.source"].tolist() == list(range(len(frame)))  # the result is kept
    sel = Selection()
    table = SliceTable(scanned_store, selection=sel)
    row = int(np.flatnonzero(table.slices["feature"].to_numpy() == "source")[0])
    table.table.simulate_click(row=row)
    value = table.slices["value"].iat[row]
    expected = frame.loc[frame["source"] == value, "sample_id"].tolist()
    assert expected and list(sel.sample_ids) == expected
