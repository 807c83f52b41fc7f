"""Folder and manifest ingest with images that have no label yet."""

from __future__ import annotations

import pandas as pd
import pytest
from PIL import Image

import erroranalysis as ea
from erroranalysis.errors import UnknownLabelError


def _image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (10, 20, 30)).save(path)


def test_manifest_rows_without_label_are_unlabelled(tmp_path):
    for name in ("a.png", "b.png", "c.png", "d.png"):
        _image(tmp_path / "img" / name)
    manifest = tmp_path / "m.csv"
    pd.DataFrame({"path": ["a.png", "b.png", "c.png", "d.png"],
                  "label": ["cat", "", None, "dog"]}).to_csv(manifest, index=False)  # fmt: skip
    store = ea.ingest_manifest(manifest, tmp_path / "img", tmp_path / "s", progress=False)
    assert store.classes == ["cat", "dog"]
    assert store.is_labelled().tolist() == [True, False, False, True]
    assert store.frame()["is_labelled"].sum() == 2


def test_manifest_unknown_label_still_refused(tmp_path):
    _image(tmp_path / "img" / "a.png")
    _image(tmp_path / "img" / "b.png")
    manifest = tmp_path / "m.csv"
    pd.DataFrame({"path": ["a.png", "b.png"], "label": ["cow", ""]}).to_csv(manifest, index=False)
    with pytest.raises(UnknownLabelError, match="cow"):
        ea.ingest_manifest(
            manifest, tmp_path / "img", tmp_path / "s", classes=["cat", "dog"], progress=False
        )
    assert not (tmp_path / "s").exists()


def test_folder_with_an_unlabelled_subfolder(tmp_path):
    root = tmp_path / "tree"
    _image(root / "cat" / "1.png")
    _image(root / "dog" / "2.png")
    _image(root / "unlabelled" / "3.png")
    _image(root / "unlabelled" / "sub" / "4.png")
    store = ea.ingest_folder(root, tmp_path / "s", unlabelled_folder="unlabelled", progress=False)
    assert store.classes == ["cat", "dog"]
    frame = store.frame().set_index("sample_id")
    assert frame["is_labelled"].to_dict() == {
        "cat/1.png": True,
        "dog/2.png": True,
        "unlabelled/3.png": False,
        "unlabelled/sub/4.png": False,
    }
    # without the option, the folder is a class as before
    plain = ea.ingest_folder(root, tmp_path / "t", progress=False)
    assert "unlabelled" in plain.classes and plain.is_labelled().all()


def test_ingest_cli_unlabelled_folder(tmp_path):
    from erroranalysis.cli import main

    root = tmp_path / "tree"
    _image(root / "cat" / "1.png")
    _image(root / "dog" / "2.png")
    _image(root / "new" / "3.png")
    code = main(["ingest", "--folder", str(root), "--unlabelled-folder", "new",
                 "--out", str(tmp_path / "s")])  # fmt: skip
    assert code == 0
    assert ea.Store.open(tmp_path / "s").is_labelled().tolist().count(False) == 1
