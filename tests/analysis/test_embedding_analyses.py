from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd
import pytest
from cleanlab.filter import find_label_issues
from cleanlab.outlier import OutOfDistribution

import erroranalysis as ea
from erroranalysis.analysis._common import reduce_features
from erroranalysis.analysis.base import MissingEmbeddingsError
from erroranalysis.analysis.dataset_checks import DatasetChecks, _LabStandIn, _managers
from erroranalysis.analysis.label_issues import LabelIssues
from erroranalysis.analysis.near_duplicates import NearDuplicates, near_duplicate_sets
from erroranalysis.analysis.outliers import Outliers
from erroranalysis.analysis.projection import Projection
from tests.analysis.helpers import CLASSES
from tests.analysis.helpers import planted as planted_data


def test_outliers_equal_cleanlab_and_find_planted(planted):
    store, truth = planted
    run = store.run()
    fitted = Outliers().fit(store, run)
    features = reduce_features(run.embeddings, 32, 0)
    with contextlib.redirect_stdout(io.StringIO()):
        expected = 1 - OutOfDistribution(params={"k": 10}).fit_score(features=features)
    # the embedding part is cleanlab's score; no image properties here, so it is combined with
    # the prediction part only
    assert np.allclose(fitted.part_scores_["embedding"], expected, atol=1e-7)
    assert fitted.info_["parts"] == ["embedding", "probs"]
    alone = Outliers(combine="embedding").fit(store, run)
    assert np.allclose(alone.outlier_score_, expected, atol=1e-7)
    planted_ids = set(truth.loc[truth["is_outlier"], "sample_id"])
    top = set(store.sample_ids[np.argsort(-fitted.outlier_score_)[: len(planted_ids)]])
    assert top == planted_ids
    assert fitted.is_outlier_[store.positions(sorted(planted_ids))].all()


def test_near_duplicates_match_datalab_rule_and_planted_pairs(planted):
    store, truth = planted
    run = store.run()
    fitted = NearDuplicates().fit(store, run)
    features = reduce_features(run.embeddings, 32, 0)
    from cleanlab.datalab.internal.issue_manager.duplicate import NearDuplicateIssueManager

    manager = NearDuplicateIssueManager(_LabStandIn(store.label_codes()), k=10)
    manager.find_issues(features=features)
    assert np.array_equal(
        fitted.is_near_duplicate_, manager.issues["is_near_duplicate_issue"].to_numpy()
    )
    pairs = truth.dropna(subset=["near_duplicate_of"])
    a = store.positions(pairs["sample_id"])
    b = store.positions(pairs["near_duplicate_of"])
    sets = fitted.near_duplicate_set_
    assert (sets[a] >= 0).all() and np.array_equal(sets[a], sets[b])
    # set ids are 0..m-1, numbered by first member
    ids = sets[sets >= 0]
    assert sorted(set(ids.tolist())) == list(range(len(set(ids.tolist()))))


def test_near_duplicate_sets_are_transitive_on_a_hand_made_chain():
    rng = np.random.default_rng(0)
    features = rng.normal(0, 10, (40, 3))
    features[1] = features[0] + [0.01, 0, 0]
    features[2] = features[1] + [0.01, 0, 0]
    set_id, nearest, _info = near_duplicate_sets(features, k=5, threshold=0.13)
    assert set_id[0] == set_id[1] == set_id[2] == 0
    assert (set_id[3:] == -1).all()
    assert nearest[1] == pytest.approx(0.01, abs=1e-6)


def test_dataset_checks_equal_datalab_managers(planted):
    store, _ = planted
    run = store.run()
    fitted = DatasetChecks().fit(store, run)
    features = reduce_features(run.embeddings, 32, 0)
    probs = np.asarray(run.probs, dtype=np.float32)
    for issue, manager_class in _managers().items():
        manager = manager_class(_LabStandIn(store.label_codes()))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            manager.find_issues(features=features, pred_probs=probs)
        assert np.allclose(
            fitted.issues_[f"{issue}_score"].to_numpy(),
            manager.issues[f"{issue}_score"].to_numpy(dtype=np.float32),
        )
    assert 0.0 <= fitted.non_iid_p_value_ <= 1.0


def test_non_iid_detects_a_sorted_dataset(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    labels = np.repeat([0, 1], n // 2)
    emb = rng.normal(0, 1, (n, 8)) + labels[:, None] * 4
    probs = np.full((n, 2), 0.1, dtype=np.float32)
    probs[np.arange(n), labels] = 0.9
    samples = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "label": labels})
    samples["label"] = samples["label"].map({0: "a", 1: "b"})
    store = ea.Store.create(tmp_path / "s", classes=["a", "b"], samples=samples)
    store.add_run("r", probs, embeddings=emb.astype(np.float32))
    fitted = DatasetChecks().fit(store, store.run())
    assert fitted.non_iid_p_value_ < 0.05


def test_embedding_analyses_need_embeddings(tmp_path, planted):
    store, _ = planted
    probs = np.asarray(store.run().probs)
    store.add_run("no-emb", probs)
    with pytest.raises(MissingEmbeddingsError, match="embeddings"):
        Outliers().fit(store, store.run("no-emb"))
    summary = ea.scan(store, run="no-emb", progress=False, params={"projection": {"method": "pca"}})
    assert summary.status("outliers") == "skipped"
    assert summary.status("near_duplicates") == "skipped"
    assert summary.status("projection") == "computed"  # falls back on the probabilities
    with pytest.raises(MissingEmbeddingsError):
        ea.scan(store, run="no-emb", analyses=["outliers"], progress=False)


def test_pca_projection_is_cached_with_its_method(planted):
    store, _ = planted
    run = store.run()
    ea.scan(
        store, analyses=["projection"], params={"projection": {"method": "pca"}}, progress=False
    )
    layout = run.load_result("projection")
    assert list(layout.columns) == ["x", "y"]
    assert run.load_artifact("projection")["method"] == "pca"
    assert run.result_info("projection")["parameters"]["method_used"] == "pca"
    assert np.isfinite(layout.to_numpy()).all() and layout["x"].std() > 0


@pytest.mark.slow
def test_umap_projection_is_reproducible(planted):
    store, _ = planted
    run = store.run()
    a = Projection(n_epochs=50, random_state=0).fit(store, run)
    b = Projection(n_epochs=50, random_state=0).fit(store, run)
    assert a.method_ == "umap" and a.reproducible_
    assert np.array_equal(a.layout_, b.layout_)
    seen = []
    Projection(n_epochs=50, random_state=0).fit(
        store, run, on_pca=lambda fitted: seen.append(fitted.method_)
    )
    assert seen == ["pca"]


def test_other_filter_by_calls_cleanlab_directly(planted):
    store, _ = planted
    run = store.run()
    fitted = LabelIssues(filter_by="both").fit(store, run)
    labels = store.label_codes().astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = find_label_issues(labels, np.asarray(run.probs, np.float32), filter_by="both")
    assert np.array_equal(fitted.is_label_issue_, expected)


def test_pca_project_blocks_subsample_and_offset():
    from sklearn.decomposition import PCA

    from erroranalysis.analysis._common import pca_project

    rng = np.random.default_rng(0)
    x = (rng.normal(0, 1, (3000, 20)) * np.geomspace(10, 0.1, 20) + 3).astype(np.float32)
    full = PCA(n_components=4, svd_solver="full").fit(x)
    centred = pca_project(x, 4, center=True)
    assert np.allclose(np.abs(centred), np.abs(full.transform(x)), atol=1e-3)
    uncentred = pca_project(x, 4, center=False)
    assert np.allclose(uncentred - centred, (full.mean_ @ full.components_.T)[None], atol=1e-3)
    # fitted on a 1,000-row subset: nearly the same axes
    sub = pca_project(x, 2, center=True, fit_rows=1000)
    for i in range(2):
        assert abs(np.corrcoef(sub[:, i], centred[:, i])[0, 1]) > 0.99
    assert reduce_features(x, None).dtype == np.float32
    bad = x.copy()
    bad[7, 3] = np.nan
    with pytest.raises(MissingEmbeddingsError, match="7"):
        reduce_features(bad, 4)


def test_knn_analyses_skip_large_stores_with_a_reason(planted):
    store, _ = planted
    summary = ea.scan(
        store,
        analyses=None,
        progress=False,
        params={"outliers": {"max_samples": 100}, "projection": {"method": "pca"}},
    )
    assert summary.status("outliers") == "skipped"
    assert "max_samples" in summary.table().set_index("analysis").loc["outliers", "details"]
    assert summary.status("near_duplicates") == "computed"
    fitted = Projection(umap_max_samples=10).fit(store, store.run())
    assert fitted.method_ == "pca" and "umap_max_samples" in fitted.note_


def test_a_tiny_store_scans_and_skips_dataset_checks_with_a_reason(tmp_path):
    # cleanlab's non-IID check needs more samples than its 10 neighbours; below that the scan
    # used to end in cleanlab's bare ValueError
    samples, probs, emb, _ = planted_data(n=600)
    store = ea.Store.create(tmp_path / "tiny", classes=CLASSES, samples=samples.head(8))
    store.add_run("model-a", probs[:8], embeddings=emb[:8], out_of_sample=True)
    summary = ea.scan(store, progress=False, params={"projection": {"method": "pca"}})
    assert summary.status("dataset_checks") == "skipped"
    details = summary.table().set_index("analysis").loc["dataset_checks", "details"]
    assert "more than 10 labelled samples" in details and "8" in details


def test_a_small_store_keeps_dataset_checks_without_the_cluster_check(tmp_path):
    # with a dozen samples cleanlab's underperforming-group check finds no cluster big enough
    # and raised a bare ValueError that ended the scan; now only that check has no finding
    samples, probs, emb, _ = planted_data(n=600)
    store = ea.Store.create(tmp_path / "small", classes=CLASSES, samples=samples.head(12))
    store.add_run("model-a", probs[:12], embeddings=emb[:12], out_of_sample=True)
    fitted = DatasetChecks().fit(store, store.run())
    assert "no meaningful clusters" in fitted.info_["underperforming_group"]["skipped"].lower()
    assert not fitted.issues_["is_underperforming_group"].any()
    assert fitted.non_iid_p_value_ is not None
    fitted.save(store, store.run())
    assert store.run().load_result("dataset_checks").shape[0] == 12
    assert store.run().load_artifact("dataset_checks")["summary"][-1]["num_issues"] == 0
