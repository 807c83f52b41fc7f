"""build_demo end to end, on a small configuration (slow: trains tiny models)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import erroranalysis as ea
from erroranalysis.datasets.demo import build_demo, is_demo_store, load_demo_result
from erroranalysis.errors import StoreExistsError

SMALL = {"n_samples": 240, "folds": 2, "epochs": 1, "image_size": 24}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo-store"
    return build_demo(out, seed=3, progress=False, **SMALL)


@pytest.mark.slow
def test_demo_is_a_store_with_an_out_of_sample_run(demo):
    store = ea.Store.open(demo.store_path)
    assert store.num_samples == 240 == demo.num_samples
    assert store.runs() == ["demo"]
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
        image_size=16,
    )  # fmt: skip
    assert result.detection is None
    assert "no scan" in result.summary()
    assert 0.0 <= result.accuracy["common"] <= 1.0
