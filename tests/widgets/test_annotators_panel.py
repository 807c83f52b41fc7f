"""The annotators tab (issue 13): quality and agreement per annotator, low-consensus samples
clickable into the gallery, all read from the cached ``annotators`` analysis."""

from __future__ import annotations

import numpy as np
import pandas as pd

import erroranalysis as ea
from erroranalysis.widgets.annotators import AnnotatorPanel
from tests.analysis.test_consensus import imported_store, low_consensus_ids


def test_panel_lists_annotators_and_low_consensus_samples_and_selects_them(tmp_path):
    store, summary, answers = imported_store(tmp_path)
    panel = AnnotatorPanel(store, run="cv")
    try:
        assert [row[0] for row in panel.annotators.rows] == summary.annotators["annotator"].tolist()
        quality = summary.annotators.set_index("annotator")["quality"]
        assert panel.annotators.rows[0][1] == f"{quality.iloc[0]:.3f}"
        assert "900 answers by 3 annotators on 300 samples" in panel.summary.value
        assert "crowdlab" in panel.summary.value
        flagged = set(low_consensus_ids(store))
        assert set(panel.low_ids) == flagged and len(flagged) == summary.low_consensus > 0
        assert f"{len(flagged):,} low-consensus" in panel.select_button.description

        # a row of the low-consensus table: all of them selected, the clicked one focused
        clicked = panel.doubtful.row_ids[2]
        panel.doubtful.simulate_click(row=2, sample_id=clicked)
        assert set(panel.selection.sample_ids) == flagged
        assert panel.selection.source == "annotators" and panel.selection.focused == clicked
        assert panel.doubtful.focused == clicked

        # an annotator's row: the samples where that annotator differs from the consensus
        consensus = summary.consensus.set_index("sample_id")["consensus_label"]
        cy = pd.Series(answers["cy@example.com"])
        differs = set(cy.index[cy.to_numpy() != consensus[cy.index].to_numpy()])
        panel.annotators.simulate_click(row=2)
        assert set(panel.selection.sample_ids) == differs and len(differs) > 50
        panel.select_button.click()
        assert set(panel.selection.sample_ids) == flagged
    finally:
        panel.close()


def test_without_the_analysis_or_answers_the_tab_says_what_to_do(tmp_path):
    ids = [f"s{i}" for i in range(20)]
    store = ea.Store.create(
        tmp_path / "store",
        classes=["a", "b"],
        samples=pd.DataFrame({"sample_id": ids, "label": ["a", "b"] * 10}),
    )
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([1, 1], 20).astype(np.float32)
    store.add_run("cv", probs)
    panel = AnnotatorPanel(store)
    assert "--analyses annotators" in panel.summary.value and panel.select_button.disabled
    ea.scan(store, analyses="annotators", progress=False)
    assert panel.check()  # the cache appeared: redrawn
    assert "No import of several annotators" in panel.summary.value
    assert panel.annotators.rows == [] and panel.doubtful.rows == []
    assert not panel.check()  # nothing new
    panel.close()


def test_dashboard_tab_follows_an_import_made_elsewhere(tmp_path):
    store, _, _ = imported_store(tmp_path)
    store.undo()  # start without answers; the same import is applied again below
    ea.scan(store, "cv", analyses="annotators", progress=False)
    board = ea.show(store, poll_interval=None)
    try:
        tabs = board.tabs
        titles = [tabs.get_title(i) for i in range(len(tabs.children))]
        assert "annotators" in titles and board.annotators in tabs.children
        assert board.annotators.annotators.rows == []
        # another process imports the answers again (a second handle, as the CLI would)
        from erroranalysis.export import import_annotations

        other = ea.Store.open(store.path)
        again = import_annotations(other, tmp_path / "export.json")
        assert again.consensus_method == "crowdlab"
        assert board.refresh()
        assert len(board.annotators.annotators.rows) == 3
        board.tabs.selected_index = titles.index("annotators")
        board.annotators.click_low_consensus(0)
        assert board.tabs.selected_index == 0  # the gallery tab shows the selection
        shown = set(board.data.ids_at(board.gallery.order))
        assert shown == set(board.annotators.low_ids) and len(shown) > 0
        assert board.selection.focused == board.annotators.low_ids[0]
    finally:
        board.close()
