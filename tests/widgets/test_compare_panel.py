"""The compare tab: a 2×2 cell click selects exactly that cell's samples; the ranking."""

from __future__ import annotations

import numpy as np
import pytest

import erroranalysis as ea


@pytest.fixture
def two_runs(scanned_store):
    """The scanned fixture store plus a second, weaker run ``other``."""
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3), size=scanned_store.num_samples).astype(np.float32)
    scanned_store.add_run("other", probs)
    return scanned_store


def _predicted(store, run):
    """Class names of a run's argmax predictions (the second run is not scanned)."""
    return np.asarray(store.classes, dtype=object)[np.asarray(store.run(run).probs).argmax(1)]


def _expected(store, a, b):
    labels = store.labels().astype(str).to_numpy()
    right_a = _predicted(store, a) == labels
    right_b = _predicted(store, b) == labels
    ids = np.asarray(store.sample_ids).astype(str)
    return {
        "both right": set(ids[right_a & right_b]),
        "only A right": set(ids[right_a & ~right_b]),
        "only B right": set(ids[~right_a & right_b]),
        "both wrong": set(ids[~right_a & ~right_b]),
    }


def test_cell_click_selects_exactly_its_samples(two_runs):
    from erroranalysis.widgets.compare import RunComparePanel

    panel = RunComparePanel(two_runs, run_a="fixture", run_b="other")
    expected = _expected(two_runs, "fixture", "other")
    assert panel.cells.texts == [
        [str(len(expected["both right"])), str(len(expected["only A right"]))],
        [str(len(expected["only B right"])), str(len(expected["both wrong"]))],
    ]
    grid = {(0, 0): "both right", (0, 1): "only A right", (1, 0): "only B right"}
    grid[(1, 1)] = "both wrong"
    for (row, col), name in grid.items():
        panel.cells.simulate_click(row=row, col=col)  # as the page's click does
        assert set(panel.selection.sample_ids) == expected[name]
        assert len(panel.selection.sample_ids) == len(expected[name])
        assert panel.selection.source == "compare"
        assert panel.cells.selected_cell == [row, col]
    panel.close()


def test_dashboard_gallery_holds_the_cell(two_runs):
    from erroranalysis.widgets import Dashboard

    dash = Dashboard(two_runs, run="other", poll_interval=None)
    try:
        assert dash.compare.run_b.value == "other" and dash.compare.run_a.value == "fixture"
        dash.compare.cells.simulate_click(row=1, col=0)
        expected = _expected(two_runs, "fixture", "other")["only B right"]
        assert set(dash.gallery.order_ids()) == expected
        assert set(dash.selection.sample_ids) == expected
    finally:
        dash.close()


def test_per_class_deltas_and_ranking(two_runs):
    from erroranalysis.widgets.compare import RunComparePanel

    panel = RunComparePanel(two_runs, run_a="fixture", run_b="other")
    table = panel.comparison.per_class.set_index("class")
    labels = two_runs.labels().astype(str).to_numpy()
    pred_b = _predicted(two_runs, "other")
    cats = labels == "cat"
    assert table.loc["cat", "accuracy_b"] == pytest.approx((pred_b[cats] == "cat").mean())
    assert table.loc["cat", "delta"] == pytest.approx(
        table.loc["cat", "accuracy_b"] - table.loc["cat", "accuracy_a"]
    )
    assert panel.ranking.columns[0] == "run" and "without corrected" in panel.ranking.columns
    assert [row[0] for row in panel.ranking.rows] == ["fixture", "other"]
    # a class row selects the class's samples on which the runs disagree
    panel.per_class.simulate_click(row=0)
    ids = np.asarray(two_runs.sample_ids).astype(str)
    right_a = _predicted(two_runs, "fixture") == labels
    disagree = set(ids[cats & (right_a != (pred_b == labels))])
    assert set(panel.selection.sample_ids) == disagree
    panel.close()


def test_ranking_is_cached_and_refreshed_after_a_relabel(two_runs, monkeypatch):
    from erroranalysis.analysis import evaluation
    from erroranalysis.analysis.evaluation import compare_two_runs

    first = compare_two_runs(two_runs, "fixture", "other")
    assert two_runs.run("other").load_artifact("run_ranking")["runs"] == ["fixture", "other"]
    real = evaluation.compare_runs

    def refuse(*args, **kwargs):
        raise AssertionError("the cached ranking was recomputed")

    monkeypatch.setattr(evaluation, "compare_runs", refuse)
    again = compare_two_runs(two_runs, "fixture", "other")  # read from the store's cache
    assert again.ranking["accuracy_all"].tolist() == first.ranking["accuracy_all"].tolist()
    assert again.ranking["rank_all"].tolist() == first.ranking["rank_all"].tolist()
    assert again.ranking.attrs == first.ranking.attrs
    monkeypatch.setattr(evaluation, "compare_runs", real)
    # a person corrects a label the fixture run gets right: "without corrected" leaves it out
    frame = two_runs.frame("fixture")
    sid = str(frame["sample_id"].iloc[0])
    other = next(c for c in two_runs.classes if c != frame["label"].iloc[0])
    two_runs.relabel(sid, other)
    after = compare_two_runs(two_runs, "fixture", "other").ranking.set_index("run")
    assert int(after.loc["fixture", "num_corrected"]) == 1
    labels = two_runs.labels().astype(str).to_numpy()
    keep = np.arange(len(labels)) != 0
    pred = frame["predicted_label"].astype(str).to_numpy()
    assert after.loc["fixture", "accuracy_uncorrected"] == pytest.approx(
        (pred[keep] == labels[keep]).mean()
    )


def test_one_run_says_it_needs_two(scanned_store):
    from erroranalysis.widgets.compare import RunComparePanel

    panel = RunComparePanel(scanned_store)
    assert panel.comparison is None
    assert "needs two runs" in panel.message.value
    panel.close()


def test_macro_f1_matches_scikit_learn():
    from sklearn.metrics import f1_score

    from erroranalysis.analysis.evaluation import _metrics

    rng = np.random.default_rng(3)
    for k in (2, 5, 30):
        labels = rng.integers(0, k, size=500)
        predicted = np.where(rng.random(500) < 0.6, labels, rng.integers(0, k, size=500))
        predicted[predicted == k - 1] = 0  # a class never predicted
        accuracy, f1 = _metrics(labels, predicted, k + 3)  # and classes absent from both
        assert accuracy == pytest.approx((labels == predicted).mean())
        expected = f1_score(labels, predicted, average="macro", zero_division=0)
        assert f1 == pytest.approx(expected, abs=1e-12)


def test_a_run_that_lands_is_offered_and_the_switch_makes_it_run_b(scanned_store):
    """A run added by another process while the dashboard is open: the poller puts it into the
    compare tab's dropdowns (comparable before switching); *show it* makes it run B."""
    import asyncio

    from erroranalysis.widgets import Dashboard

    async def scenario():
        dash = Dashboard(scanned_store, poll_interval=0.05)
        try:
            assert list(dash.compare.run_a.options) == ["fixture"]
            assert dash.compare.comparison is None  # one run: "needs two runs"
            other = ea.Store.open(scanned_store.path)
            rng = np.random.default_rng(3)
            probs = rng.dirichlet(np.ones(3), size=other.num_samples).astype(np.float32)
            other.add_run("later", probs, model="another-model")
            for _ in range(100):
                if "later" in dash.compare.run_a.options:
                    break
                await asyncio.sleep(0.05)
            return dash
        except BaseException:
            dash.close()
            raise

    dash = asyncio.run(scenario())
    try:
        compare = dash.compare
        assert list(compare.run_a.options) == ["fixture", "later"]
        assert (compare.run_a.value, compare.run_b.value) == ("later", "fixture")
        assert compare.comparison is not None
        assert (compare.comparison.run_a, compare.comparison.run_b) == ("later", "fixture")
        assert {row[0] for row in compare.ranking.rows} == {"fixture", "later"}
        expected = _expected(scanned_store, "later", "fixture")
        compare.click_cell("only A right")
        assert set(dash.selection.sample_ids) == expected["only A right"]

        dash.run_notice.button.click()  # show it: every view rebuilt on "later"
        compare = dash.compare
        assert dash.data.run.name == "later"
        assert (compare.run_a.value, compare.run_b.value) == ("fixture", "later")
        assert (compare.comparison.run_a, compare.comparison.run_b) == ("fixture", "later")
        compare.click_cell("only B right")
        assert set(dash.selection.sample_ids) == expected["only A right"]
    finally:
        dash.close()


def test_refresh_offers_runs_added_since(scanned_store):
    from erroranalysis.widgets.compare import RunComparePanel

    panel = RunComparePanel(scanned_store)
    assert panel.comparison is None and "needs two runs" in panel.message.value
    rng = np.random.default_rng(4)
    scanned_store.add_run(
        "second", rng.dirichlet(np.ones(3), size=scanned_store.num_samples).astype(np.float32)
    )
    assert panel.update_runs() is True
    assert (panel.run_a.value, panel.run_b.value) == ("second", "fixture")
    assert panel.comparison is not None and panel.message.layout.display == "none"
    assert panel.update_runs() is False  # nothing new: the choice stays
    panel.run_a.value, panel.run_b.value = "fixture", "second"
    panel.refresh_button.click()
    assert (panel.comparison.run_a, panel.comparison.run_b) == ("fixture", "second")
    panel.close()
