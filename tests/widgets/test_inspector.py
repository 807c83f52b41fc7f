from __future__ import annotations

import pytest

from erroranalysis.widgets import Inspector, Selection


@pytest.fixture
def focused(scanned_store):
    sel = Selection()
    inspector = Inspector(scanned_store, selection=sel, author="tester")
    frame = scanned_store.frame()
    sid = frame.loc[frame["is_label_issue"], "sample_id"].iat[0]
    sel.focus(sid, source="gallery")
    return inspector, sel, sid


def test_empty_until_focused(scanned_store):
    inspector = Inspector(scanned_store)
    assert inspector.sample_id is None
    assert inspector.apply_button.disabled
    with pytest.raises(ValueError, match="no sample is focused"):
        inspector.relabel("cat")


def test_shows_the_focused_sample(focused, scanned_store):
    inspector, _, sid = focused
    assert inspector.sample_id == sid
    assert f'data-sample-id="{sid}"' in inspector.header.value
    assert "ea-inspector-id" in inspector.header.value
    assert inspector.image.value[:2] == b"\xff\xd8"
    details = inspector.details.value
    assert "given label" in details and "label issue" in details
    assert "label_quality" in inspector.scores_html.value  # folded under "scores"
    assert "top-3 probabilities" in details
    assert "ea-relabel-choice" in inspector.choice._dom_classes
    assert "ea-relabel-apply" in inspector.apply_button._dom_classes
    assert "ea-inspector" in inspector._dom_classes


def test_relabel_with_dropdown_and_apply(focused, scanned_store):
    inspector, _, sid = focused
    current = scanned_store.labels()[sid]
    target = next(c for c in scanned_store.classes if c != current)
    inspector.choice.value = target
    inspector.apply_button.click()
    assert scanned_store.labels()[sid] == target
    history = scanned_store.history(sid)
    event = history.iloc[-1]
    assert (event["kind"], event["label"], event["author"], event["source"]) == (
        "relabel",
        target,
        "tester",
        "widget",
    )
    assert "(relabelled)" in inspector.details.value
    assert "relabel" in inspector.history_html.value
    # the same label again is not a new event
    assert inspector.relabel(target) is None
    assert len(scanned_store.history(sid)) == len(history)


def test_one_click_suggestion(focused, scanned_store):
    inspector, _, sid = focused
    suggested = scanned_store.frame().set_index("sample_id").loc[sid, "suggested_label"]
    labels = inspector.suggestion_labels()
    assert labels[0] == suggested == inspector.suggested_label()
    button = inspector.suggestions.children[0]
    assert "ea-suggestion" in button._dom_classes
    assert "ea-suggestion-suggested" in button._dom_classes  # highlighted
    current = scanned_store.labels()[sid]
    for name, other in zip(labels, inspector.suggestions.children, strict=True):
        assert other.disabled == (name == current)  # the current label is shown, not offered
    button.click()
    assert scanned_store.labels()[sid] == suggested


def test_flags_note_and_undo(focused, scanned_store):
    inspector, _, sid = focused
    inspector.not_issue_button.click()
    assert "not_an_issue" in set(scanned_store.flags().query("sample_id == @sid")["flag"])
    assert "not_an_issue" in inspector.details.value
    inspector.not_issue_button.click()  # toggles off
    assert "not_an_issue" not in set(scanned_store.flags().query("sample_id == @sid")["flag"])
    inspector.reason.value = "tiny object"
    inspector.weak_button.click()
    flags = scanned_store.flags().query("sample_id == @sid")
    assert flags["flag"].tolist() == ["weak_spot"] and flags["note"].tolist() == ["tiny object"]
    inspector.reason.value = "look again"
    inspector.note_button.click()
    assert scanned_store.history(sid)["kind"].tolist()[-1] == "note"
    inspector.undo_button.click()  # undoes the note
    inspector.undo_button.click()  # undoes the weak spot
    assert scanned_store.flags().query("sample_id == @sid").empty
    assert "(undone)" in inspector.history_html.value


def test_keyboard_shortcuts(focused, scanned_store):
    inspector, sel, sid = focused
    inspector.shortcuts.simulate_key("n")
    assert "not_an_issue" in set(scanned_store.flags().query("sample_id == @sid")["flag"])
    inspector.shortcuts.simulate_key("u")
    assert scanned_store.flags().query("sample_id == @sid").empty
    first = inspector.suggestion_labels()[0]
    inspector.shortcuts.simulate_key("1")
    assert scanned_store.labels()[sid] == first
    inspector.shortcuts.simulate_key("ArrowRight")
    assert sel.focused != sid and sel.focus_source == "inspector"


def test_previous_next_walk_the_selection(scanned_store):
    sel = Selection()
    inspector = Inspector(scanned_store, selection=sel)
    ids = scanned_store.sample_ids[[5, 2, 9]].tolist()
    sel.select(ids)
    sel.focus(ids[0])
    assert inspector.prev_button.disabled and not inspector.next_button.disabled
    inspector.next_button.click()
    assert sel.focused == ids[1] and inspector.sample_id == ids[1]
    inspector.next_button.click()
    assert sel.focused == ids[2] and inspector.next_button.disabled
    inspector.prev_button.click()
    assert sel.focused == ids[1]


def test_relabel_elsewhere_updates_the_inspector(focused, scanned_store):
    inspector, _, sid = focused
    current = scanned_store.labels()[sid]
    target = next(c for c in scanned_store.classes if c != current)
    scanned_store.relabel(sid, target, author="someone-else")
    assert inspector.choice.value == target
    assert "someone-else" in inspector.history_html.value
