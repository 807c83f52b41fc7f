"""Issue 17.6: the slice table says why a slice ranks where it does, rounds bin edges, sorts by
any header and draws each accuracy as a bar with its interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from erroranalysis.widgets import Selection, SliceTable
from erroranalysis.widgets.slices import round_edges


def _cell(table: SliceTable, row: int, column: str):
    return table.table.rows[row][table.table.columns.index(column)]


def _with_weak_slice(store) -> pd.DataFrame:
    """The scan's artifact with a clearly weak slice of 40 samples (12 right) ranked first."""
    run = store.run()
    artifact = run.load_artifact("slices")
    overall = float((artifact["gap"] + artifact["accuracy"]).iloc[0])
    weak = artifact.iloc[[0]].copy()
    weak["slice"] = "contrast=[0.04982, 0.0527)"
    weak["size"], weak["correct"], weak["accuracy"] = 40, 12, 0.3
    weak["ci_low"], weak["ci_high"] = 0.181, 0.454
    weak["gap"], weak["gap_low"] = overall - 0.3, overall - 0.454
    weak["weak"], weak["redundant"], weak["q_value"] = True, False, 0.0012
    table = pd.concat([weak, artifact], ignore_index=True)
    table["rank"] = np.arange(1, len(table) + 1)
    run.save_artifact("slices", table)
    return table


def test_each_row_says_why_with_gap_interval_and_support(scanned_store):
    _with_weak_slice(scanned_store)
    table = SliceTable(scanned_store, selection=Selection())
    assert table.table.columns == ["rank", "slice", "support", "accuracy", "gap (pts)", "q"]
    overall = table.overall_accuracy
    assert overall == pytest.approx(
        (scanned_store.frame()["label"] == scanned_store.frame()["predicted_label"]).mean()
    )
    why = _cell(table, 0, "slice")["sub"]  # a second line under the slice's name
    gap, gap_low = 100 * (overall - 0.3), 100 * (overall - 0.454)
    assert f"{gap:.0f} pts below" in why and f"at least {gap_low:.0f}" in why, why  # both >= 10
    assert "40 samples" in why and "q = 0.0012" in why, why
    gap_cell = _cell(table, 0, "gap (pts)")["text"]
    assert (
        gap_cell == f"{gap:+.1f} [{100 * (overall - 0.454):+.0f}, {100 * (overall - 0.181):+.0f}]"
    )
    assert _cell(table, 0, "support")["text"] == f"40 ({40 / 60:.1%})"
    # a slice whose interval reaches the overall accuracy says so
    reaches = next(
        i for i in range(1, len(table.slices)) if table.slices["ci_high"].iat[i] >= overall
    )
    assert (
        "not clearly" in _cell(table, reaches, "slice")["sub"]
        or "not worse" in _cell(table, reaches, "slice")["sub"]
    )
    assert "overall accuracy" in table.summary.value and "ranked by" in table.summary.value


def test_accuracy_bars_carry_the_interval_and_the_overall_tick(scanned_store):
    _with_weak_slice(scanned_store)
    table = SliceTable(scanned_store, selection=Selection())
    axis = table.axis_min
    assert axis == pytest.approx(0.1)  # the lowest interval bound, 0.181, floored to a tenth
    bar = _cell(table, 0, "accuracy")["bar"]
    assert bar["v"] == pytest.approx((0.3 - axis) / (1 - axis))
    assert bar["lo"] == pytest.approx((0.181 - axis) / (1 - axis))
    assert bar["hi"] == pytest.approx((0.454 - axis) / (1 - axis))
    assert bar["ref"] == pytest.approx((table.overall_accuracy - axis) / (1 - axis))
    for row in table.table.rows:
        b = row[table.table.columns.index("accuracy")]["bar"]
        assert 0 <= b["lo"] <= b["v"] <= b["hi"] <= 1


def test_bin_edges_are_rounded_and_the_exact_interval_is_the_tooltip(scanned_store):
    _with_weak_slice(scanned_store)
    table = SliceTable(scanned_store, selection=Selection())
    cell = _cell(table, 0, "slice")
    assert cell["text"] == "contrast=[0.05, 0.053)"
    assert cell["title"] == "contrast=[0.04982, 0.0527)"
    assert round_edges("blur=[4368, 4808) & source=web") == "blur=[4400, 4800) & source=web"
    assert round_edges("b=[0.1234, 0.1236)") == "b=[0.123, 0.124)"  # as many digits as it takes
    assert round_edges("c=[-inf, 0.5)") == "c=[-inf, 0.5)"
    assert round_edges("lighting=dark") == "lighting=dark"


def test_header_clicks_sort_and_reverse_and_rows_still_select_their_slice(scanned_store):
    table = SliceTable(scanned_store, selection=(sel := Selection()))
    sizes = lambda: table.slices["size"].tolist()  # noqa: E731
    table.table.simulate_click(sort="support")
    assert table.table.sort_by == "support" and table.table.sort_desc
    assert sizes() == sorted(sizes(), reverse=True)
    table.table.simulate_click(sort="support")
    assert sizes() == sorted(sizes()) and not table.table.sort_desc
    table.table.simulate_click(sort="accuracy")
    accuracy = table.slices["accuracy"].tolist()
    assert accuracy == sorted(accuracy)
    table.table.simulate_click(sort="rank")
    assert table.slices["rank"].tolist() == sorted(table.slices["rank"])
    # a row click after a sort selects the slice shown in that row
    table.table.simulate_click(sort="support")
    row = int(np.flatnonzero(table.slices["feature"].to_numpy() == "source")[0])
    table.table.simulate_click(row=row)
    value = table.slices["value"].iat[row]
    frame = scanned_store.frame()
    assert list(sel.sample_ids) == frame.loc[frame["source"] == value, "sample_id"].tolist()
    with pytest.raises(ValueError, match="cannot sort the slice table"):
        table.sort("nope")
