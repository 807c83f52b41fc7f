"""An export never silently overwrites files: refused (naming them and the flag) unless asked."""

from __future__ import annotations

import json

import pytest

import erroranalysis as ea
from erroranalysis.cli import main
from erroranalysis.export import export_queue, export_weak_spots, flag_weak_spot
from erroranalysis.export._common import list_records
from erroranalysis.export.registry import ExportExistsError

MINE = "my own file, not an export\n"


@pytest.mark.parametrize(
    ("fmt", "name", "existing"),
    [
        ("label-studio", "tasks.json", "tasks.json"),
        ("label-studio", "tasks.json", "tasks.label_config.xml"),  # the companion file too
        ("cvat", "annotations.xml", "annotations.xml"),
        ("csv", "candidates.csv", "candidates.csv"),
        ("imagenet-txt", "folder", "folder/train.txt"),
        ("imagenet-txt", "folder", "folder/synsets.txt"),  # other classes than ours
    ],
)
def test_export_refuses_an_existing_file_unless_overwrite(store, tmp_path, fmt, name, existing):
    target, occupied = tmp_path / name, tmp_path / existing
    occupied.parent.mkdir(parents=True, exist_ok=True)
    occupied.write_text(MINE)
    with pytest.raises(ExportExistsError) as caught:
        ea.export_candidates(store, target, format=fmt)
    message = str(caught.value)
    assert str(occupied) in message and "overwrite=True" in message and "--overwrite" in message
    assert caught.value.paths == [occupied]
    assert occupied.read_text() == MINE  # nothing written …
    assert list_records(store) == []  # … not even the export record
    result = ea.export_candidates(store, target, format=fmt, overwrite=True)
    assert occupied in result.files and occupied.read_text() != MINE
    assert [record.export_id for record in list_records(store)] == [result.export_id]


def test_a_second_export_to_the_same_path_is_refused(store, tmp_path):
    first = ea.export_candidates(store, tmp_path / "tasks.json")
    before = first.path.read_text()
    with pytest.raises(ExportExistsError, match=r"tasks\.json, .*tasks\.label_config\.xml already"):
        ea.export_candidates(store, tmp_path / "tasks.json", limit=1)
    assert first.path.read_text() == before


def test_an_identical_synsets_file_may_be_shared_by_two_subsets(store, tmp_path):
    ea.export_candidates(store, tmp_path / "data" / "train.txt", format="imagenet-txt")
    second = ea.export_candidates(store, tmp_path / "data" / "val.txt", format="imagenet-txt")
    assert second.files == [tmp_path / "data" / "val.txt", tmp_path / "data" / "synsets.txt"]


def test_weak_spots_and_queue_exports_refuse_too(store, tmp_path):
    flag_weak_spot(store, "s01", reason="dark")
    (tmp_path / "weak.csv").write_text(MINE)
    with pytest.raises(ExportExistsError, match=r"weak\.csv"):
        export_weak_spots(store, tmp_path / "weak.csv")
    assert (tmp_path / "weak.csv").read_text() == MINE
    export_weak_spots(store, tmp_path / "weak.csv", overwrite=True)
    assert "s01" in (tmp_path / "weak.csv").read_text()
    (tmp_path / "queue.json").write_text(MINE)
    with pytest.raises(ExportExistsError, match=r"queue\.json"):
        export_queue(store, tmp_path / "queue.json", target_precision=0.5, min_support=1)
    assert (tmp_path / "queue.json").read_text() == MINE


def test_cli_export_refuses_then_overwrites_with_the_flag(store, tmp_path, capsys):
    out = tmp_path / "tasks.json"
    out.write_text(MINE)
    assert main(["export", str(store.path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert str(out) in err and "--overwrite" in err
    assert out.read_text() == MINE
    assert main(["export", str(store.path), "-o", str(out), "--overwrite"]) == 0
    assert "exported" in capsys.readouterr().out
    assert isinstance(json.loads(out.read_text()), list)
