"""build_demo end to end, on a small configuration (slow: trains tiny models)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import erroranalysis as ea
from erroranalysis.datasets.demo import build_demo, is_demo_store, load_demo_result
from erroranalysis.errors import StoreExistsError

SMALL = {"n_samples": 240, "folds": 2, "epochs": 1, "image_size": 24, "quick": {"epochs": 1}}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo-store"
    return build_demo(out, seed=3, progress=False, **SMALL)


@pytest.mark.slow
def test_demo_is_a_store_with_an_out_of_sample_run(demo):
    store = ea.Store.open(demo.store_path)
    assert store.num_samples == 240 == demo.num_samples
    assert store.runs() == ["demo-quick", "demo"]  # the quick stage first, then the full one
    run = store.run("demo")
    assert run.out_of_sample
    assert run.probs.shape == (240, len(store.classes))
    assert run.embeddings is not None
    # images resolve inside the store folder
    assert store.image_path(store.sample_ids[0]).is_file()
    assert str(store.image_root).startswith(str(demo.store_path.resolve()))


@pytest.mark.slow
def test_truth_is_kept_apart_from_what_the_ui_reads(demo):
    store = ea.Store.open(demo.store_path)
    truth = pd.read_parquet(demo.truth_path)
    assert len(truth) == 240
    frame = store.frame("demo")
    for hidden in ("true_label", "is_label_noise", "subgroup", "near_duplicate_of"):
        assert hidden not in frame.columns
    assert set(truth["sample_id"]) == set(store.sample_ids)


@pytest.mark.slow
def test_summary_accuracy_and_detection_recorded(demo):
    assert set(demo.accuracy) >= {"common", "all", "given", "tiny_object", "dark"}
    for value in demo.accuracy.values():
        assert 0.0 <= value <= 1.0
    assert demo.detection is not None and "label_noise" in demo.detection
    assert demo.detection["label_noise"]["planted"] > 0
    text = demo.summary()
    assert "out-of-sample accuracy" in text and "label noise" in text
    # every time figure names the machine it was measured on (issue 10)
    assert "machine:" in text and "torch CPU capability" in text
    assert demo.machine["cores"] >= 1 and demo.machine["torch_capability"]
    record = json.loads((demo.store_path / "demo.json").read_text())
    assert record["parameters"]["n_samples"] == 240 and record["parameters"]["folds"] == 2
    loaded = load_demo_result(demo.store_path)
    assert loaded.accuracy == pytest.approx(demo.accuracy)
    assert loaded.machine == demo.machine
    assert is_demo_store(demo.store_path)


@pytest.mark.slow
def test_existing_demo_is_not_replaced_without_overwrite(demo, tmp_path):
    with pytest.raises(StoreExistsError, match="overwrite"):
        build_demo(demo.store_path, progress=False, **SMALL)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(StoreExistsError, match="not a demo"):
        build_demo(precious, overwrite=True, progress=False, **SMALL)
    assert (precious / "thesis.tex").read_text() == "years of work"


@pytest.mark.slow
def test_without_scan_accuracy_only(tmp_path):
    result = build_demo(
        out=tmp_path / "d", seed=1, scan=False, progress=False, n_samples=120, folds=2, epochs=1,
        image_size=16, stages=("full",),
    )  # fmt: skip
    assert ea.Store.open(tmp_path / "d").runs() == ["demo"] and result.pending == []
    assert result.detection is None
    assert "no scan" in result.summary()
    assert 0.0 <= result.accuracy["common"] <= 1.0


@pytest.mark.slow
def test_both_stages_are_scored_against_the_truth(demo):
    quick, full = demo.stages
    assert (quick["name"], quick["run"]) == ("quick", "demo-quick")
    assert (full["name"], full["run"]) == ("full", "demo")
    assert quick["parameters"]["model_name"] == "test_resnet" and quick["parameters"]["folds"] == 2
    for stage in demo.stages:
        assert 0.0 <= stage["accuracy"]["common"] <= 1.0
        assert stage["detection"]["label_noise"]["planted"] > 0
        assert stage["seconds"]["train"] > 0 and stage["seconds"]["cpu"] > 0
    assert quick["ready"] < full["ready"]  # the quick run was published first
    assert demo.run == "demo" and demo.accuracy == full["accuracy"] and demo.pending == []
    text = demo.summary()
    assert "quick: run 'demo-quick'" in text and "full: run 'demo'" in text


@pytest.mark.slow
def test_quick_stage_is_published_first_and_an_open_dashboard_picks_up_the_full_run(tmp_path):
    from erroranalysis.datasets.demo import finish_demo
    from erroranalysis.widgets import Dashboard

    out = tmp_path / "staged"
    first = build_demo(out, seed=2, progress=False, until="quick", **SMALL)
    assert first.run == "demo-quick" and first.pending == ["full"]
    assert ea.Store.open(out).runs() == ["demo-quick"]
    recorded = load_demo_result(out)
    assert recorded.pending == ["full"] and [s["name"] for s in recorded.stages] == ["quick"]
    assert recorded.parameters["stage"] == "full"  # the settings the full run will be built with
    assert "full: pending" in recorded.summary()

    dashboard = Dashboard(ea.Store.open(out), poll_interval=None)
    try:
        assert dashboard.data.run.name == "demo-quick"
        assert dashboard.run_notice.check() is None
        finished = finish_demo(out, progress=False)
        assert finished.run == "demo" and finished.pending == []
        assert [s["name"] for s in finished.stages] == ["quick", "full"]
        assert load_demo_result(out).run == "demo"
        # the open dashboard (not rebuilt from the notebook) announces the full run, then shows it
        assert dashboard.run_notice.check() == "demo"
        assert "is ready" in dashboard.run_notice.text.value
        dashboard.run_notice.button.click()
        assert dashboard.data.run.name == "demo"
    finally:
        dashboard.close()
    # nothing pending: finishing again changes nothing
    assert finish_demo(out, progress=False).stages == finished.stages


def test_unknown_stage_is_refused(tmp_path):
    from erroranalysis.errors import ErrorAnalysisError

    with pytest.raises(ErrorAnalysisError, match="stages"):
        build_demo(tmp_path / "x", stages=("quick", "fancy"), progress=False)
    with pytest.raises(ErrorAnalysisError, match="until"):
        build_demo(tmp_path / "x", stages=("full",), until="quick", progress=False)
    assert not (tmp_path / "x").exists()


def test_stages_train_on_one_torch_thread_and_restore_the_count(tmp_path, monkeypatch):
    # the tiny demo network used 3-4.6x the CPU seconds on two threads (BENCHMARKS.md)
    import torch

    import erroranalysis.ingest.cross_val as cross_val

    seen = []

    class Stop(Exception):
        """Ends the build at its first training: only the thread count matters here."""

    def record_threads(*args, **kwargs):
        seen.append(torch.get_num_threads())
        raise Stop

    monkeypatch.setattr(cross_val, "cross_val_predict", record_threads)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(Stop):
            build_demo(tmp_path / "d", seed=1, progress=False, **SMALL)
        assert seen == [1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_quick_stage_trains_its_folds_side_by_side_on_two_cores(tmp_path, monkeypatch):
    # JupyterLab waits for the quick stage: its two folds train at once, one process (and one
    # torch thread) per core; the full stage trains beside JupyterLab and stays on one core.
    import erroranalysis.datasets.demo as demo_module
    import erroranalysis.ingest.cross_val as cross_val

    seen = []

    class Stop(Exception):
        """Ends the build at its first training: only the engine matters here."""

    def record_engine(*args, **kwargs):
        seen.append((kwargs["run"], kwargs.get("engine", "local"), kwargs.get("workers")))
        raise Stop

    monkeypatch.setattr(cross_val, "cross_val_predict", record_engine)
    monkeypatch.setattr(demo_module.os, "cpu_count", lambda: 2)
    with pytest.raises(Stop):
        build_demo(tmp_path / "two", seed=1, progress=False, **SMALL)
    with pytest.raises(Stop):
        build_demo(tmp_path / "full", seed=1, progress=False, stages=("full",), **SMALL)
    monkeypatch.setattr(demo_module.os, "cpu_count", lambda: 1)
    with pytest.raises(Stop):
        build_demo(tmp_path / "one", seed=1, progress=False, **SMALL)
    assert seen == [
        ("demo-quick", "processes", 2),
        ("demo", "local", None),
        ("demo-quick", "local", None),
    ]


def test_quick_stage_in_processes_predicts_what_it_did_locally(tmp_path, monkeypatch):
    import erroranalysis.datasets.demo as demo_module

    options = {"seed": 3, "progress": False, "until": "quick", "scan": False, **SMALL}
    monkeypatch.setattr(demo_module, "_quick_engine", lambda: {})
    local = build_demo(tmp_path / "local", **options)
    monkeypatch.setattr(demo_module, "_quick_engine", lambda: {"engine": "processes", "workers": 2})
    spread = build_demo(tmp_path / "spread", **options)
    local_run = ea.Store.open(local.store_path).run("demo-quick")
    spread_run = ea.Store.open(spread.store_path).run("demo-quick")
    assert spread_run.info["parameters"]["engine"] == "processes"
    np.testing.assert_allclose(spread_run.probs, local_run.probs, atol=1e-6)
    np.testing.assert_allclose(spread_run.embeddings, local_run.embeddings, atol=1e-6)
