"""Issue 17.5: a near-duplicate set opens side by side in the inspector."""

from __future__ import annotations

from erroranalysis.widgets import Inspector, IssueTable, Selection


def _pair(store):
    frame = store.frame()
    sets = frame.loc[frame["near_duplicate_set"] >= 0, ["sample_id", "near_duplicate_set"]]
    first = sets["near_duplicate_set"].iloc[0]
    return sets.loc[sets["near_duplicate_set"] == first, "sample_id"].astype(str).tolist()


def test_a_near_duplicate_row_shows_every_image_of_its_set(scanned_store):
    members = _pair(scanned_store)
    assert len(members) >= 2  # the fixture's real scan finds a planted pair
    sel = Selection()
    inspector = Inspector(scanned_store, selection=sel)
    table = IssueTable(scanned_store, selection=sel, issue="near-duplicates")
    row = table.table.row_ids.index(members[0])
    table.table.simulate_click(row=row)
    assert inspector.sample_id == members[0]
    assert inspector.duplicates.layout.display is None
    grid = inspector.duplicates_grid
    assert [item["sample_id"] for item in grid.items] == members
    assert len(grid.thumbs) == len(members)  # data URLs (placeholders where a file is gone)
    assert grid.focused == members[0]
    frame = scanned_store.frame().set_index("sample_id")
    for item in grid.items:
        label = str(frame.at[item["sample_id"], "label"])
        assert item["caption"].startswith(label)
    assert "near-duplicate set" in inspector.duplicates_title.value
    # a click on the other image inspects it, and the strip stays
    grid.simulate_click(sample_id=members[1])
    assert inspector.sample_id == members[1] and sel.focused == members[1]
    assert grid.focused == members[1] and len(grid.items) == len(members)


def test_a_sample_in_no_set_shows_no_strip(scanned_store):
    frame = scanned_store.frame()
    lone = str(frame.loc[frame["near_duplicate_set"] < 0, "sample_id"].iloc[0])
    sel = Selection()
    inspector = Inspector(scanned_store, selection=sel)
    sel.focus(lone, source="gallery")
    assert inspector.duplicates.layout.display == "none" and inspector.duplicates_grid.items == []
    assert inspector.duplicate_set() == []
