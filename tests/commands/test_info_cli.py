"""`erroranalysis info`: accuracy and issue counts per run; a missing path says so."""

from __future__ import annotations

import pytest

from erroranalysis.cli import main


def test_info_missing_path_says_it_does_not_exist(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_info_shows_accuracy_and_issue_counts(tmp_path, capsys):
    from tests.stores import make_store

    store = make_store(tmp_path / "store", n=40)
    frame = store.frame()
    assert main(["info", str(store.path)]) == 0
    out = capsys.readouterr().out
    accuracy = (frame["predicted_label"] == frame["label"]).mean()
    assert f"accuracy {accuracy:.1%}" in out
    assert f"label issues {int(frame['is_label_issue'].sum())}" in out
    assert f"outliers {int(frame['is_outlier'].sum())}" in out


# every verb that opens a store, with the other arguments it needs to get that far
STORE_VERBS = [
    ["info"],
    ["scan"],
    ["export", "-o", "{tmp}/x.json"],
    ["import", "{tmp}/answers.json"],
    ["report", "-o", "{tmp}/r.html"],
    ["predict", "--model", "resnet18"],
    ["cross-val", "--model", "resnet18"],
    ["pseudo-label"],
    ["compare", "a", "b"],
    ["lab", "--write-only"],
]


@pytest.mark.parametrize("verb", STORE_VERBS, ids=lambda verb: verb[0])
def test_every_verb_says_a_missing_store_does_not_exist(tmp_path, capsys, verb):
    missing = tmp_path / "no-such-store"
    argv = [verb[0], str(missing), *(a.format(tmp=tmp_path) for a in verb[1:])]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert f"{missing} does not exist" in err
    assert "erroranalysis ingest" in err  # and the next step
    assert not missing.exists()  # nothing created on the way


def test_the_api_says_a_missing_store_does_not_exist(tmp_path):
    import erroranalysis as ea
    from erroranalysis.errors import StoreFormatError, StoreNotFoundError

    with pytest.raises(StoreNotFoundError, match=r"does not exist.*erroranalysis ingest"):
        ea.Store.open(tmp_path / "nowhere")
    with pytest.raises(StoreNotFoundError):  # read-only opening too
        ea.Store.open(tmp_path / "nowhere", read_only=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreFormatError, match="is a file, not a store folder"):
        ea.Store.open(tmp_path / "file")
    with pytest.raises(StoreFormatError, match=r"no store\.json"):
        ea.Store.open(tmp_path)


def test_info_accuracy_counts_labelled_samples_only(tmp_path, capsys):
    import numpy as np
    import pandas as pd

    import erroranalysis as ea

    labels = ["cat", "dog", None, None, "cat", "dog"]  # two samples not labelled yet
    samples = pd.DataFrame({"sample_id": [f"u{i}" for i in range(6)], "label": labels})
    store = ea.Store.create(tmp_path / "store", classes=["cat", "dog"], samples=samples)
    run = store.add_run("r", np.full((6, 2), 0.5, dtype=np.float32))
    predicted = ["cat", "dog", "cat", "dog", "dog", "dog"]  # 3 of the 4 labelled right
    run.save_result("predicted", pd.DataFrame({"predicted_label": predicted}))
    assert main(["info", str(store.path)]) == 0
    assert "accuracy 75.0% of 4 labelled" in capsys.readouterr().out
