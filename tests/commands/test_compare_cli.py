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
