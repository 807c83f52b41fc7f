"""`erroranalysis compare`: 2×2 table, per-class deltas, ranking; bad run names say so."""

from __future__ import annotations

import numpy as np

from erroranalysis.cli import main


def _store(tmp_path):
    from tests.stores import make_store

    store = make_store(tmp_path / "store", n=40)
    probs = np.asarray(store.run("fixture").probs)
    rng = np.random.default_rng(1)
    other = rng.dirichlet(np.ones(store.num_classes), store.num_samples).astype(np.float32)
    store.add_run("random", other)
    return store, probs, other


def test_compare_prints_the_two_by_two_table_deltas_and_ranking(tmp_path, capsys):
    store, probs_a, probs_b = _store(tmp_path)
    assert main(["compare", str(store.path), "fixture", "random"]) == 0
    out = capsys.readouterr().out
    labels = np.asarray(store.label_codes())
    right_a, right_b = probs_a.argmax(1) == labels, probs_b.argmax(1) == labels
    rows = [line.split() for line in out.splitlines()]
    assert [
        "fixture",
        "right",
        str(int((right_a & right_b).sum())),
        str(int((right_a & ~right_b).sum())),
    ] in rows
    assert [
        "fixture",
        "wrong",
        str(int((~right_a & right_b).sum())),
        str(int((~right_a & ~right_b).sum())),
    ] in rows
    cat = labels == 0
    delta = right_b[cat].mean() - right_a[cat].mean()
    assert f"{delta:+.1%}" in next(line for line in out.splitlines() if line.startswith("cat "))
    assert "clean" in out and "relabeled" in out and "ranking" in out


def test_compare_unknown_run_names_the_runs(tmp_path, capsys):
    store, _, _ = _store(tmp_path)
    assert main(["compare", str(store.path), "fixture", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no run 'nope'" in err and "fixture" in err


def _flip_store(tmp_path):
    """Run a agrees with 20 planted wrong labels (and errs elsewhere); run b is right on the
    truth. On the given labels a ranks first; without b's suspected label errors, b does."""
    import pandas as pd

    import erroranalysis as ea

    n = 100
    labels = np.zeros(n, dtype=int)
    labels[50:] = 1
    truth = labels.copy()
    truth[:20] = 1  # samples 0..19 are labelled a but are really b
    samples = pd.DataFrame(
        {"sample_id": [f"s{i}" for i in range(n)], "label": np.where(labels, "b", "a")}
    )
    store = ea.Store.create(tmp_path / "flip", classes=["a", "b"], samples=samples)

    def onehot(pred, confidence):
        out = np.full((n, 2), 1 - confidence, dtype=np.float32)
        out[np.arange(n), pred] = confidence
        return out

    a_pred = labels.copy()
    a_pred[50:65] = 0
    store.add_run("a", onehot(a_pred, 0.9))
    store.add_run("b", onehot(truth, 0.99))
    return store


def test_compare_prints_the_ranking_change(tmp_path, capsys):
    from erroranalysis.analysis.evaluation import compare_runs

    store = _flip_store(tmp_path)
    assert main(["compare", str(store.path), "a", "b"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["all"] == ["all", "85.0%", "80.0%", "-5.0%", "a"]
    table = compare_runs(store, ["a", "b"], reference="b").set_index("run")
    clean_a, clean_b = table.loc["a", "accuracy_clean"], table.loc["b", "accuracy_clean"]
    assert clean_b > clean_a
    assert rows["clean"] == [
        "clean", f"{clean_a:.1%}", f"{clean_b:.1%}", f"{clean_b - clean_a:+.1%}", "b",
    ]  # fmt: skip
    verdict = next(line for line in out.splitlines() if line.startswith("ranking"))
    assert verdict.startswith("ranking changes once label issues are removed")
    assert f"{(clean_b - clean_a) * 100:+.1f} without label issues" in verdict
    assert "-5.0 on all samples" in verdict


def test_compare_says_who_stays_ahead_and_by_how_much(tmp_path, capsys):
    from erroranalysis.analysis.evaluation import compare_runs

    store, _, _ = _store(tmp_path)
    # the trained run's label issues as the reference (a random run's suggestions favour it)
    table = compare_runs(store, ["fixture", "random"], reference="fixture").set_index("run")
    assert not table.attrs["ranking_changed"]
    assert main(["compare", str(store.path), "fixture", "random", "--reference", "fixture"]) == 0
    out = capsys.readouterr().out
    verdict = next(line for line in out.splitlines() if line.startswith("ranking"))
    gap = {v: abs(table.loc["random", f"accuracy_{v}"] - table.loc["fixture", f"accuracy_{v}"])
           for v in ("all", "clean", "relabeled")}  # fmt: skip
    assert verdict == (
        f"ranking unchanged without the label issues: fixture ahead by {gap['all'] * 100:.1f} "
        f"points on all samples, {gap['clean'] * 100:.1f} without label issues, "
        f"{gap['relabeled'] * 100:.1f} relabelled"
    )
