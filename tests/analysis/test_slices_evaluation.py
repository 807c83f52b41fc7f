from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

import erroranalysis as ea
from erroranalysis.analysis.evaluation import compare_runs, evaluate
from erroranalysis.analysis.slices import rank_slices, slice_mask, slice_table, wilson_interval


def test_wilson_exact_values():
    low, high = wilson_interval(np.array([5, 0, 10, 0]), np.array([10, 10, 10, 0]))
    assert low[0] == pytest.approx(0.236593, abs=1e-6)
    assert high[0] == pytest.approx(0.763407, abs=1e-6)
    assert low[1] == pytest.approx(0.0, abs=1e-12) and high[1] == pytest.approx(0.277533, abs=1e-6)
    assert high[2] == pytest.approx(1.0) and low[2] == pytest.approx(0.722467, abs=1e-6)
    assert np.isnan(low[3]) and np.isnan(high[3])


def test_slice_table_and_ranking_on_hand_made_data():
    frame = pd.DataFrame({"src": ["a"] * 6 + ["b"] * 4, "bright": np.arange(10.0)})
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    pred = np.array([0, 1, 0, 1, 0, 1, 1, 0, 1, 1])
    table = slice_table(frame, labels, pred, ["src"], ["bright"], bins=2)
    a = table[(table["feature"] == "src") & (table["value"] == "a")].iloc[0]
    b = table[(table["feature"] == "src") & (table["value"] == "b")].iloc[0]
    assert (a["size"], a["correct"], a["accuracy"]) == (6, 6, 1.0)
    assert (b["size"], b["correct"], b["accuracy"]) == (4, 1, 0.25)
    assert b["macro_f1"] == pytest.approx(f1_score(labels[6:], pred[6:], average="macro"))
    bins = table[table["feature"] == "bright"]
    assert bins["size"].tolist() == [5, 5]  # [0, 4.5) and [4.5, 9]
    overall = float((labels == pred).mean())
    ranked = rank_slices(table, overall)
    assert ranked.iloc[0]["value"] == "b" and ranked.iloc[0]["rank"] == 1
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))
    # membership of a ranked slice
    assert slice_mask(frame, ranked.iloc[0]).tolist() == [False] * 6 + [True] * 4
    last_bin = bins.iloc[-1]
    assert slice_mask(frame, last_bin).sum() == 5


def test_weak_subgroup_ranks_first(planted):
    store, _ = planted
    ea.scan(store, analyses=["slices"], progress=False)
    slices = store.run().load_artifact("slices")
    top = slices.iloc[0]
    assert (top["feature"], top["value"], bool(top["weak"])) == ("source", "rare", True)


def test_evaluate_exact_values():
    labels = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    is_issue = np.array([False, True, False, False, False, True])
    suggested = np.array([1, 1, 0, 0, 0, 0])
    out = evaluate(labels, pred, is_issue, suggested, 3)
    assert out["accuracy_all"] == pytest.approx(4 / 6)
    assert out["accuracy_clean"] == 1.0
    assert out["accuracy_relabeled"] == 1.0
    assert out["macro_f1_all"] == pytest.approx(f1_score(labels, pred, average="macro"))
    assert out["num_flagged"] == 2


def test_compare_runs_ranking_flip(tmp_path):
    n = 100
    labels = np.zeros(n, dtype=int)
    labels[50:] = 1
    wrong = np.arange(0, 20)  # samples 0..19 are labelled 0 but are really 1
    truth = labels.copy()
    truth[wrong] = 1
    samples = pd.DataFrame(
        {"sample_id": [f"s{i}" for i in range(n)], "label": np.where(labels, "b", "a")}
    )
    store = ea.Store.create(tmp_path / "s", classes=["a", "b"], samples=samples)

    def onehot(pred, c):
        out = np.full((n, 2), 1 - c, dtype=np.float32)
        out[np.arange(n), pred] = c
        return out

    a_pred = labels.copy()  # agrees with every given label (even the wrong ones)...
    a_pred[50:65] = 0  # ...but makes 15 other mistakes
    b_pred = truth.copy()  # right on the truth, so "wrong" on the 20 noisy labels
    store.add_run("a", onehot(a_pred, 0.9))
    store.add_run("b", onehot(b_pred, 0.99))
    table = compare_runs(store, reference="b").set_index("run")
    assert table.loc["a", "accuracy_all"] == pytest.approx(0.85)
    assert table.loc["b", "accuracy_all"] == pytest.approx(0.80)
    assert table.loc["a", "rank_all"] == 1 and table.loc["b", "rank_all"] == 2
    flagged = int(table.loc["b", "num_flagged"])
    assert flagged > 0
    assert table.loc["b", "accuracy_clean"] > table.loc["a", "accuracy_clean"]
    assert table.loc["b", "rank_clean"] == 1
    assert compare_runs(store, reference="b").attrs["ranking_changed"] is True


def test_broad_bin_holding_a_weak_subgroup_ranks_after_it_and_pairs_need_evidence():
    """A quartile that is weak only because it holds a weak subgroup is marked redundant."""
    rng = np.random.default_rng(0)
    n = 2000
    dark = rng.random(n) < 0.05
    # brightness: the dark images are the darkest, so they all fall in the lowest quartile
    brightness = np.where(dark, rng.uniform(0.0, 0.1, n), rng.uniform(0.1, 1.0, n))
    camera = rng.choice(["a", "b"], n)
    tiny = rng.random(n) < 0.05
    accuracy = np.where(dark, 0.5, 0.95)
    accuracy = np.where(tiny & (camera == "b"), 0.2, accuracy)  # an interaction: tiny on camera b
    labels = rng.integers(0, 3, n)
    right = rng.random(n) < accuracy
    pred = np.where(right, labels, (labels + 1) % 3)
    frame = pd.DataFrame(
        {
            "lighting": np.where(dark, "dark", "normal"),
            "size": np.where(tiny, "tiny", "normal"),
            "camera": camera,
            "brightness": brightness,
        }
    )
    table, masks = slice_table(
        frame,
        labels,
        pred,
        ["lighting", "size", "camera"],
        ["brightness"],
        pairs=True,
        return_masks=True,
    )
    ranked = rank_slices(table, float(right.mean()), masks, right)
    top = ranked.set_index("slice")
    assert top.loc["lighting=dark", "rank"] <= 2 and top.loc["lighting=dark", "significant"]
    lowest = next(s for s in top.index if s.startswith("brightness=[0"))
    assert top.loc[lowest, "weak"] and top.loc[lowest, "redundant"]
    assert top.loc[lowest, "rank"] > top.loc["lighting=dark", "rank"]
    # the interaction is found as a two-feature slice; camera=a halves of dark are not kept
    assert "size=tiny & camera=b" in top.index
    assert top.loc["size=tiny & camera=b", "order"] == 2
    assert "lighting=dark & camera=a" not in top.index
    assert slice_mask(frame, top.loc["size=tiny & camera=b"]).sum() == int(
        (tiny & (camera == "b")).sum()
    )
    assert ranked["q_value"].between(0, 1).all() and (ranked["q_value"] >= ranked["p_value"]).all()


def test_a_metadata_column_named_like_an_image_property_is_scored_as_metadata(tmp_path):
    """The demo's ``blur`` metadata (none/heavy) vs the image property ``blur`` (a number).

    ``store.frame(run)`` showed the property under that name (it is ``image_properties.blur``
    now); the subgroup ``blur=heavy`` must still be matched by its slice (before: Jaccard 0,
    another slice named as its best match).
    """
    from erroranalysis.analysis.slices import Slices, slice_frame
    from erroranalysis.analysis.truth import score_detection
    from tests.analysis.helpers import planted

    samples, probs, _, truth = planted(n=400, seed=3)
    samples["blur"] = np.where(samples["source"] == "rare", "heavy", "none")
    samples = samples.drop(columns=["source"])
    store = ea.Store.create(tmp_path / "s", classes=["ant", "bee", "cow", "dog"], samples=samples)
    store.add_run("r", probs)
    run = store.run("r")
    sharpness = np.random.default_rng(0).uniform(100, 900, 400)
    run.save_result("image_properties", pd.DataFrame({"blur": sharpness}))
    joined = store.frame(run)
    assert joined["blur"].tolist() == samples["blur"].tolist()  # the metadata keeps its name
    assert joined["image_properties.blur"].tolist() == sharpness.tolist()
    assert slice_frame(store, run)["blur"].tolist() == samples["blur"].tolist()
    fitted = Slices(pairs=False).fit(store, run)
    fitted.save(store, run)
    truth["subgroup"] = np.where(samples["blur"] == "heavy", "heavy_blur", "")
    found = score_detection(store, run, truth)["subgroups"]["heavy_blur"]
    assert (found["slice"], found["jaccard"], found["rank"]) == ("blur=heavy", 1.0, 1)


def test_a_milder_subgroup_ranks_next_once_the_weakest_is_taken_out():
    """Sequential covering: M (80 % right) is not weak against the overall 85 %, but against the
    93 % of the samples the weakest subgroup S (10 %) leaves; the broad bin B, weak only through
    the S images it holds, comes after it (before: B, redundant, ranked above M)."""
    from erroranalysis.analysis.slices import slice_masks

    group = np.array(["S"] * 100 + ["M"] * 100 + ["R"] * 800)
    broad = np.array(["yes"] * 100 + ["no"] * 100 + ["yes"] * 200 + ["no"] * 600)
    correct = np.zeros(1000, dtype=bool)
    correct[:10] = True  # S: 10 of 100
    correct[100:180] = True  # M: 80 of 100
    correct[200:960] = True  # R: 760 of 800
    frame = pd.DataFrame({"group": group, "broad": broad})
    labels = np.zeros(1000, dtype=np.int64)
    predicted = np.where(correct, 0, 1)
    table = slice_table(frame, labels, predicted, ["group", "broad"], [])
    overall = float(correct.mean())
    assert overall == pytest.approx(0.85)
    ranked = rank_slices(table, overall, slice_masks(frame, table), correct)
    names = ranked["slice"].tolist()
    assert names[:3] == ["group=S", "group=M", "broad=yes"]
    m = ranked.iloc[1]
    assert m["ci_high"] > overall and bool(m["weak"]) and not bool(m["redundant"])
    assert bool(ranked.iloc[2]["redundant"])
    assert not bool(rank_slices(table, overall).set_index("slice").loc["group=M", "weak"])
