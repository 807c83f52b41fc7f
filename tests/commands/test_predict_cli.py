"""erroranalysis predict / cross-val: the local engine end to end, and their one-line errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import erroranalysis as ea
from erroranalysis.cli import main

pytest.importorskip("torch")
pytest.importorskip("timm")


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    root.mkdir()
    rows = []
    for i in range(8):
        pixels = rng.integers(0, 90, (16, 16, 3))
        pixels[..., i % 2] += 150
        Image.fromarray(pixels.astype(np.uint8)).save(root / f"{i}.png")
        rows.append({"sample_id": f"s{i}", "label": "ab"[i % 2], "path": f"{i}.png"})
    return ea.Store.create(
        tmp_path / "store", classes=["a", "b"], samples=pd.DataFrame(rows), image_root=root
    )


def test_predict_verb_adds_a_run(store, capsys):
    args = ["predict", str(store.path), "--model", "test_resnet", "--image-size", "16"]
    assert main([*args, "--run", "m", "--no-progress"]) == 0
    assert "added run 'm' (local engine" in capsys.readouterr().out
    run = ea.Store.open(store.path).run("m")
    assert run.probs.shape == (8, 2) and run.info["parameters"]["engine"] == "local"
    assert main([*args, "--run", "m", "--no-progress"]) == 2  # exists: one line, exit 2
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "--address", "head:6379"]) == 2
    assert capsys.readouterr().err.strip() == "error: --address needs --engine ray"


def test_cross_val_verb_adds_an_out_of_sample_run(store, capsys):
    args = ["cross-val", str(store.path), "--model", "test_resnet", "--folds", "2"]
    assert main([*args, "--epochs", "1", "--image-size", "16", "--no-progress"]) == 0
    assert "added run 'test_resnet-cv2' (local engine" in capsys.readouterr().out
    run = ea.Store.open(store.path).run("test_resnet-cv2")
    assert run.out_of_sample and run.info["parameters"]["folds"] == 2
    assert main([*args, "--address", "head:6379"]) == 2  # the same check as predict's
    assert capsys.readouterr().err.strip() == "error: --address needs --engine ray"


def test_cross_val_verb_trains_folds_in_processes(store, capsys):
    args = ["cross-val", str(store.path), "--model", "test_resnet", "--folds", "2"]
    options = ["--epochs", "1", "--image-size", "16", "--no-progress"]
    assert main([*args, *options, "--engine", "processes", "--workers", "2", "--run", "p"]) == 0
    assert "added run 'p' (processes engine" in capsys.readouterr().out
    parameters = ea.Store.open(store.path).run("p").info["parameters"]
    assert parameters["engine"] == "processes" and parameters["workers"] == 2
    for bad, message in [
        (["--engine", "processes", "--workers", "0"], "error: --workers must be at least 1; got 0"),
        (
            ["--engine", "processes", "--workers", "-3"],
            "error: --workers must be at least 1; got -3",
        ),
        (["--workers", "2"], "error: --workers needs --engine processes"),
    ]:
        assert main([*args, *options, *bad]) == 2
        assert capsys.readouterr().err.strip() == message
    with pytest.raises(SystemExit) as exit_:  # predict has no such engine
        main(["predict", str(store.path), "--model", "test_resnet", "--engine", "processes"])
    assert exit_.value.code == 2
    assert "invalid choice: 'processes'" in capsys.readouterr().err
