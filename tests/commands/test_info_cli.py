"""`erroranalysis info`: accuracy and issue counts per run; a missing path says so."""

from __future__ import annotations

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
