import pytest

from erroranalysis.errors import ImportRefusedError
from erroranalysis.export import export_candidates, import_annotations


def test_imagenet_txt_layout_and_round_trip(store, tmp_path):
    result = export_candidates(
        store, tmp_path / "imagenet", format="imagenet-txt", issue_types="all", limit=4
    )
    folder = tmp_path / "imagenet"
    assert (folder / "synsets.txt").read_text().splitlines() == ["cat", "dog", "bird"]
    lines = (folder / "train.txt").read_text().splitlines()
    assert lines[0] == '"sub dir/img 00".png 0'
    assert len(lines) == 4 and result.count == 4
    edited = folder / "train.txt"
    edited.write_text(
        edited.read_text().replace('"sub dir/img 00".png 0', '"sub dir/img 00".png 2')
    )
    summary = import_annotations(store, folder, format="imagenet-txt")
    assert (summary.applied, summary.unchanged) == (1, 3)
    assert store.labels()["s00"] == "bird"


def test_imagenet_txt_refusals(store, tmp_path):
    export_candidates(store, tmp_path / "imagenet", format="imagenet-txt")
    path = tmp_path / "imagenet" / "train.txt"
    path.write_text(path.read_text() + "img01.png 7\n")
    with pytest.raises(ImportRefusedError, match="label index 7"):
        import_annotations(store, path, format="imagenet-txt")
    (tmp_path / "imagenet" / "synsets.txt").unlink()
    with pytest.raises(Exception, match=r"synsets\.txt"):
        import_annotations(store, path, format="imagenet-txt")
