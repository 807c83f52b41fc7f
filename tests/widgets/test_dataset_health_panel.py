"""The dataset tab: a class click selects the class; findings; a missing analysis says so."""

from __future__ import annotations

import numpy as np


def test_class_click_selects_that_class(scanned_store):
    from erroranalysis.widgets.dataset_health import DatasetHealthPanel

    panel = DatasetHealthPanel(scanned_store)
    labels = scanned_store.labels().astype(str).to_numpy()
    ids = np.asarray(scanned_store.sample_ids).astype(str)
    assert [row[0] for row in panel.classes.rows] == list(scanned_store.classes)
    for row, name in enumerate(scanned_store.classes):
        panel.classes.simulate_click(row=row)  # as the page's row click does
        assert set(panel.selection.sample_ids) == set(ids[labels == name])
        assert len(panel.selection.sample_ids) == int((labels == name).sum())
        assert panel.selection.source == "dataset"
        support = panel.classes.rows[row][panel.classes.columns.index("support")]
        assert int(support) == int((labels == name).sum())
    assert "label quality" in panel.classes.columns
    panel.close()


def test_health_score_pairs_and_findings(scanned_store):
    from erroranalysis.widgets.dataset_health import DatasetHealthPanel

    panel = DatasetHealthPanel(scanned_store)
    health = scanned_store.run("fixture").load_artifact("label_health")
    assert f"{health['overall_label_health_score']:.3f}" in panel.score.value
    assert panel.hints.value == ""  # everything ran
    findings = [row[0] for row in panel.findings.rows]
    assert {"non-IID samples", "underperforming group", "exact duplicates"} <= set(findings)
    assert {"grayscale", "low information"} <= set(findings)
    # samples 0 and 1 of the fixture store are the same image
    panel.findings.simulate_click(row=findings.index("exact duplicates"))
    assert set(panel.selection.sample_ids) == {"s000000", "s000001"}
    if panel.pairs.rows:
        a, b = panel.pair_rows[0]
        panel.pairs.simulate_click(row=0)
        frame = scanned_store.frame("fixture")
        lab, pred = frame["label"].astype(str), frame["predicted_label"].astype(str)
        mask = ((lab == a) & (pred == b)) | ((lab == b) & (pred == a))
        assert set(panel.selection.sample_ids) == set(frame.loc[mask, "sample_id"].astype(str))
    panel.close()


def test_missing_analysis_shows_the_scan_line(unscanned_store):
    from erroranalysis.widgets.dataset_health import DatasetHealthPanel

    panel = DatasetHealthPanel(unscanned_store)
    text = panel.hints.value
    for analysis in ("label_issues", "dataset_checks", "image_properties"):
        assert f"{analysis} was not run" in text
        assert f"--analyses {analysis}" in text
    assert f"erroranalysis scan {unscanned_store.path} --run fixture" in text
    assert panel.findings.rows == []
    # the class table still shows the support, and a class click still selects its samples
    panel.classes.simulate_click(row=0)
    labels = unscanned_store.labels().astype(str).to_numpy()
    assert len(panel.selection.sample_ids) == int((labels == unscanned_store.classes[0]).sum())
    panel.close()


def test_dashboard_has_both_tabs(dashboard):
    tabs = dashboard.tabs
    titles = [tabs.get_title(i) for i in range(len(tabs.children))]
    assert "compare" in titles and "dataset" in titles
    dashboard.dataset.click_class("cat")
    assert dashboard.selection.source == "dataset" and len(dashboard.selection) > 0


def test_the_dataset_tab_follows_the_dashboard_to_a_newer_run(scanned_store):
    """*show it* on a newer run: the dataset tab reads that run's scan, and says which run."""
    import erroranalysis as ea
    from erroranalysis.widgets import Dashboard
    from tests.stores import FAST_SCAN_PARAMS

    dash = Dashboard(scanned_store, poll_interval=None)
    try:
        first = scanned_store.run("fixture").load_artifact("label_health")
        assert f"{first['overall_label_health_score']:.3f}" in dash.dataset.score.value
        assert ">fixture</code>" in dash.dataset.run_line.value
        other = ea.Store.open(scanned_store.path)
        rng = np.random.default_rng(2)  # a much worse model: a much lower health score
        probs = rng.dirichlet(np.ones(3), size=other.num_samples).astype(np.float32)
        other.add_run("newer", probs, model="another-model")
        ea.scan(other, "newer", progress=False, params=FAST_SCAN_PARAMS)
        assert dash.run_notice.check() == "newer"
        dash.run_notice.button.click()
        assert dash.dataset.data.run.name == "newer"
        health = scanned_store.run("newer").load_artifact("label_health")
        assert round(health["overall_label_health_score"], 3) != round(
            first["overall_label_health_score"], 3
        )
        assert f"{health['overall_label_health_score']:.3f}" in dash.dataset.score.value
        assert ">newer</code>" in dash.dataset.run_line.value
        metrics = scanned_store.run("newer").load_artifact("class_metrics")
        shown = dash.dataset.classes
        column = shown.columns.index("precision")
        assert [row[column] for row in shown.rows] == [f"{v:.3f}" for v in metrics["precision"]]
        # a class click selects by the current labels, as before
        dash.dataset.classes.simulate_click(row=0)
        labels = scanned_store.labels().astype(str).to_numpy()
        ids = np.asarray(scanned_store.sample_ids).astype(str)
        assert set(dash.selection.sample_ids) == set(ids[labels == scanned_store.classes[0]])
    finally:
        dash.close()
