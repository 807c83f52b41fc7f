from __future__ import annotations

import numpy as np
import pytest

import erroranalysis as ea
from erroranalysis.analysis import analysis_names
from erroranalysis.analysis.base import AnalysisError, get_analysis
from erroranalysis.analysis.truth import format_detection, score_detection
from erroranalysis.cli import main

PCA = {"projection": {"method": "pca"}}


def test_registry_follows_the_sklearn_contract():
    names = analysis_names()
    assert names[:3] == ["scores", "confusion", "label_issues"]
    for name in names:
        cls = get_analysis(name)
        analysis = cls()
        assert cls.name == name
        params = analysis.get_params()
        assert analysis.set_params(**params).get_params() == params
        assert not any(attr.endswith("_") and not attr.startswith("_") for attr in vars(analysis))
    with pytest.raises(AnalysisError, match="no parameter"):
        get_analysis("outliers")().set_params(bogus=1)
    with pytest.raises(AnalysisError, match="known analyses"):
        get_analysis("nope")


def test_scan_summary_cache_and_force(planted):
    store, _ = planted
    summary = ea.scan(store, progress=False, params=PCA)
    assert summary["run"] == "model-a"
    assert summary.status("image_properties") == "skipped"  # no image paths
    assert summary.status("label_issues") == "computed"
    assert summary["in_sample"] is False
    frame = store.frame()
    for column in [
        "predicted_label",
        "self_confidence",
        "margin",
        "entropy",
        "loss",
        "label_quality",
        "is_label_issue",
        "suggested_label",
        "label_issue_rank",
        "outlier_score",
        "is_outlier",
        "near_duplicate_set",
        "is_near_duplicate",
        "x",
        "y",
    ]:
        assert column in frame.columns, column
    again = ea.scan(store, progress=False, params=PCA)
    assert {item["status"] for item in again["analyses"]} <= {"cached", "skipped"}
    forced = ea.scan(store, analyses="scores,outliers", force=True, progress=False, params=PCA)
    assert [item["analysis"] for item in forced["analyses"]] == ["scores", "outliers"]
    assert {item["status"] for item in forced["analyses"]} == {"computed"}
    # other parameters: recomputed
    changed = ea.scan(store, analyses=["outliers"], params={"outliers": {"k": 5}}, progress=False)
    assert changed.status("outliers") == "computed"
    assert "outliers" in str(changed)
    assert list(changed.table().columns) == ["analysis", "status", "seconds", "details"]


def test_scan_rejects_unknown_names(planted):
    store, _ = planted
    with pytest.raises(AnalysisError, match="unknown analyses"):
        ea.scan(store, analyses=["scores", "bogus"], progress=False)
    with pytest.raises(AnalysisError, match="no parameter"):
        ea.scan(store, analyses=["scores"], params={"scores": {"nope": 1}}, progress=False)


def test_score_detection_on_planted_truth(planted):
    store, truth = planted
    ea.scan(store, progress=False, params=PCA)
    result = score_detection(store, None, truth)
    noise = result["label_noise"]
    assert noise["planted"] == int(truth["is_label_noise"].sum())
    assert noise["recall"] >= 0.7 and noise["precision"] >= 0.5
    top = result["outliers"]["top_2%"]
    assert top["hits"] == top["planted"] == 6
    assert result["near_duplicates"]["found"] == result["near_duplicates"]["planted_pairs"] == 4
    rare = result["subgroups"]["rare_source"]
    assert rare["slice"] == "source=rare" and rare["rank"] == 1 and rare["weak"]
    text = format_detection(result)
    assert "label noise" in text and "rare_source" in text


def test_score_detection_rejects_bad_truth(planted):
    store, truth = planted
    with pytest.raises(AnalysisError, match="lacks columns"):
        score_detection(store, None, truth.drop(columns=["is_outlier"]))
    bad = truth.copy()
    bad.loc[0, "sample_id"] = "ghost"
    with pytest.raises(AnalysisError, match="unknown sample ids"):
        score_detection(store, None, bad)


def test_cli_scan(planted, capsys):
    store, _ = planted
    code = main(
        [
            "scan",
            str(store.path),
            "--projection",
            "pca",
            "--no-progress",
            "--analyses",
            "scores,label_issues,projection",
            "--param",
            "scores.method=normalized_margin",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "label_issues" in out and "computed" in out
    info = store.run().result_info("scores")
    assert info["parameters"]["method"] == "normalized_margin"
    assert main(["scan", str(store.path), "--analyses", "bogus"]) == 2
    assert "unknown analyses" in capsys.readouterr().err
    assert main(["scan", str(store.path), "--param", "nodot=1"]) == 2
    assert main(["scan", str(store.path), "--run", "missing"]) == 2


def test_float16_run_gives_the_same_label_issues_as_cleanlab(tmp_path):
    import warnings

    from cleanlab.filter import find_label_issues

    from tests.analysis.helpers import planted_store

    store, _ = planted_store(tmp_path / "s16", dtype=np.float16)
    run = store.run()
    assert run.probs.dtype == np.float16
    ea.scan(store, analyses=["label_issues"], progress=False)
    labels = store.label_codes().astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = find_label_issues(labels, np.asarray(run.probs, dtype=np.float32))
    assert np.array_equal(run.load_result("label_issues")["is_label_issue"].to_numpy(), expected)
