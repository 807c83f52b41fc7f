"""Stable keys, meaningful suggestions (issue 17 item 4)."""

from __future__ import annotations

import numpy as np
import pytest

from erroranalysis.widgets import Inspector, Selection


@pytest.fixture
def wrong_sample(scanned_store):
    frame = scanned_store.frame()
    wrong = frame.index[frame["predicted_label"].astype(str) != frame["label"].astype(str)]
    pos = int(wrong[0])
    sel = Selection()
    inspector = Inspector(scanned_store, selection=sel)
    sid = str(frame["sample_id"].iat[pos])
    sel.focus(sid, source="test")
    yield inspector, sid, str(frame["predicted_label"].iat[pos])
    inspector.close()


def test_key_1_is_the_prediction_and_pressing_it_twice_relabels_once(wrong_sample, scanned_store):
    inspector, sid, predicted = wrong_sample
    keys = inspector.suggestion_labels()
    assert keys[0] == predicted == inspector.suggested_label()
    before = scanned_store.last_event_id
    inspector.shortcuts.simulate_key("1")
    inspector.shortcuts.simulate_key("1")
    events = scanned_store.events(since=before)
    assert events["kind"].tolist() == ["relabel"] and events["label"].tolist() == [predicted]
    assert scanned_store.labels()[sid] == predicted
    # the keys did not renumber; the suggestion is now empty (the model agrees)
    assert inspector.suggestion_labels() == keys
    assert inspector.suggested_label() is None
    assert "already" in inspector.status.value
    assert [b.description for b in inspector.suggestions.children] == [
        f"{i + 1}: {name}" for i, name in enumerate(keys)
    ]
    assert "ea-suggestion-suggested" not in inspector.suggestions.children[0]._dom_classes


def test_low_probability_classes_are_not_offered(wrong_sample, scanned_store):
    inspector, _, _ = wrong_sample
    probs = np.asarray(inspector.data.run.probs[inspector.position], dtype=np.float64)
    offered = inspector.suggestion_labels()
    classes = list(scanned_store.classes)
    for name in offered[1:]:
        assert probs[classes.index(name)] >= inspector.min_suggestion_probability
    for i, p in enumerate(probs):
        if p >= inspector.min_suggestion_probability:
            assert classes[i] in offered or len(offered) == 9


def test_the_scan_suggests_the_prediction_only_where_it_disagrees(scanned_store):
    frame = scanned_store.frame()
    label, predicted = frame["label"].astype(str), frame["predicted_label"].astype(str)
    suggested = frame["suggested_label"]
    assert suggested[label == predicted].isna().all()
    assert (suggested[label != predicted].astype(str) == predicted[label != predicted]).all()
