import csv

import pytest

from erroranalysis.errors import ImportRefusedError
from erroranalysis.export import export_candidates, import_annotations

from .helpers import fill_csv


def test_csv_columns(store, tmp_path):
    result = export_candidates(store, tmp_path / "c.csv", format="csv")
    with open(result.path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "export_id",
        "sample_id",
        "path",
        "given",
        "suggested",
        "score",
        "reasons",
        "label",
        "annotator",
    ]
    assert rows[0]["sample_id"] == "s00" and rows[0]["given"] == "cat"
    assert rows[0]["suggested"] == "dog" and float(rows[0]["score"]) == pytest.approx(0.05)
    assert rows[0]["reasons"] == "label issue"
    assert rows[0]["path"] == str(store.image_root / "sub dir" / "img 00.png")
    assert {row["export_id"] for row in rows} == {result.export_id}


def test_csv_round_trip(store, tmp_path):
    result = export_candidates(store, tmp_path / "c.csv", format="csv")
    filled = fill_csv(
        result.path, {"s00": "dog", "s03": "cat"}, tmp_path / "filled.csv", annotator="kim"
    )
    summary = import_annotations(store, filled, format="csv")
    assert (summary.applied, summary.unchanged, summary.skipped) == (1, 1, 1)
    event = store.history("s00").iloc[0]
    assert (event["label"], event["author"], event["source"]) == (
        "dog",
        "kim",
        f"import:csv:{result.export_id}",
    )


def test_csv_refusals(store, tmp_path):
    result = export_candidates(store, tmp_path / "c.csv", format="csv")
    filled = fill_csv(result.path, {"s00": "dog", "s03": "horse"}, tmp_path / "bad.csv")
    with pytest.raises(ImportRefusedError, match="horse"):
        import_annotations(store, filled, format="csv")
    (tmp_path / "nolabel.csv").write_text("sample_id,given\ns00,cat\n")
    with pytest.raises(Exception, match="'label' column"):
        import_annotations(store, tmp_path / "nolabel.csv", format="csv")
    (tmp_path / "ghost.csv").write_text("sample_id,label\nghost,cat\ns00,dog\n")
    with pytest.raises(ImportRefusedError, match="line 2"):
        import_annotations(store, tmp_path / "ghost.csv", format="csv")
    assert store.last_event_id == 0


def test_csv_without_export_id_uses_given_column(store, tmp_path):
    # a hand-made list never exported: the "given" column is the baseline
    (tmp_path / "own.csv").write_text("sample_id,given,label\ns01,cat,bird\ns02,bird,dog\n")
    summary = import_annotations(store, tmp_path / "own.csv", format="csv")
    assert summary.conflicts == 1 and summary.applied == 1  # s01 is "dog" in the store
    assert store.labels()["s02"] == "dog"
