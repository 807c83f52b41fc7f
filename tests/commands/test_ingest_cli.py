"""`erroranalysis ingest`: stores from folders/manifests, runs from files, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import erroranalysis as ea
from erroranalysis.cli import main


def write_image(path, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    for c, name in enumerate(["cat", "dog"]):
        for i in range(3):
            write_image(root / name / f"{i}.png", seed=10 * c + i)
    return root


@pytest.fixture
def bad_tree(tree):
    (tree / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return tree


def test_folder_ingest(tree, tmp_path, capsys):
    assert main(["ingest", "--folder", str(tree), "--out", str(tmp_path / "s"), "--quiet"]) == 0
    assert "6 samples, 2 classes" in capsys.readouterr().out
    store = ea.Store.open(tmp_path / "s")
    assert store.classes == ["cat", "dog"] and store.num_samples == 6


def test_bad_folder_exits_2_with_one_line_and_creates_nothing(bad_tree, tmp_path, capsys):
    code = main(["ingest", "--folder", str(bad_tree), "--out", str(tmp_path / "s"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "dog/broken.jpg" in err and "--skip-bad" in err
    assert "Traceback" not in err
    assert not (tmp_path / "s").exists()


def test_bad_folder_via_subprocess(bad_tree, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "erroranalysis", "ingest", "--folder", str(bad_tree), "--out",
         str(tmp_path / "s"), "--quiet"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "broken.jpg" in lines[0]
    assert not (tmp_path / "s").exists()


def test_skip_bad(bad_tree, tmp_path, capsys):
    code = main(
        ["ingest", "--folder", str(bad_tree), "--out", str(tmp_path / "s"), "--skip-bad", "--quiet"]
    )
    assert code == 0
    assert "skipped 1 unreadable image" in capsys.readouterr().out
    assert ea.Store.open(tmp_path / "s").num_samples == 6
    assert (tmp_path / "s" / "skipped.csv").is_file()


def test_manifest_with_npy_predictions(tree, tmp_path):
    manifest = pd.DataFrame(
        {
            "path": [f"{c}/{i}.png" for c in ("cat", "dog") for i in range(3)],
            "label": ["cat"] * 3 + ["dog"] * 3,
            "source": list("abcabc"),
        }
    )
    manifest.to_csv(tmp_path / "m.csv", index=False)
    probs = np.random.default_rng(0).dirichlet([1, 1], size=6).astype(np.float32)
    np.save(tmp_path / "probs.npy", probs)
    code = main(
        ["ingest", "--manifest", str(tmp_path / "m.csv"), "--image-root", str(tree), "--out",
         str(tmp_path / "s"), "--predictions", str(tmp_path / "probs.npy"), "--quiet"]
    )  # fmt: skip
    assert code == 0
    store = ea.Store.open(tmp_path / "s")
    assert store.runs() == ["probs"]
    np.testing.assert_allclose(np.asarray(store.run("probs").probs), probs, rtol=1e-6)
    assert store.run("probs").out_of_sample
    assert set(store.samples["source"]) == {"a", "b", "c"}


def test_npy_rows_follow_listing_when_images_are_skipped(bad_tree, tmp_path):
    # the folder lists 7 images (dog/broken.jpg sorts last); predictions given for all 7
    probs = np.eye(2, dtype=np.float32)[[0, 0, 0, 1, 1, 1, 1]] * 0.8 + 0.1
    probs[6] = [0.5, 0.5]  # the row of dog/broken.jpg
    np.save(tmp_path / "p.npy", probs)
    code = main(
        ["ingest", "--folder", str(bad_tree), "--out", str(tmp_path / "s"), "--skip-bad",
         "--predictions", str(tmp_path / "p.npy"), "--run", "mine", "--quiet"]
    )  # fmt: skip
    assert code == 0
    run = ea.Store.open(tmp_path / "s").run("mine")
    assert run.probs.shape == (6, 2)
    assert not np.any(np.isclose(np.asarray(run.probs)[:, 0], 0.5))


def test_parquet_predictions_by_sample_id_and_softmax(tree, tmp_path):
    ids = [f"{c}/{i}.png" for c in ("cat", "dog") for i in range(3)]
    logits = np.random.default_rng(1).normal(size=(6, 2)) * 3
    table = pd.DataFrame(logits, columns=["cat", "dog"])
    table.insert(0, "sample_id", ids)
    table = table.iloc[::-1]  # any row order
    table.to_parquet(tmp_path / "logits.parquet", index=False)
    code = main(
        ["ingest", "--folder", str(tree), "--out", str(tmp_path / "s"), "--predictions",
         str(tmp_path / "logits.parquet"), "--normalize", "softmax", "--in-sample", "--quiet"]
    )  # fmt: skip
    assert code == 0
    run = ea.Store.open(tmp_path / "s").run("logits")
    expected = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(np.asarray(run.probs), expected, rtol=1e-5)
    assert not run.out_of_sample


def test_bad_predictions_leave_no_store(tree, tmp_path, capsys):
    np.save(tmp_path / "wrong.npy", np.full((4, 2), 0.5, dtype=np.float32))
    code = main(
        ["ingest", "--folder", str(tree), "--out", str(tmp_path / "s"), "--predictions",
         str(tmp_path / "wrong.npy"), "--quiet"]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "4" in err and "6" in err
    assert not (tmp_path / "s").exists()

    np.save(tmp_path / "logits.npy", np.full((6, 2), 3.0, dtype=np.float32))
    code = main(
        ["ingest", "--folder", str(tree), "--out", str(tmp_path / "s"), "--predictions",
         str(tmp_path / "logits.npy"), "--quiet"]
    )  # fmt: skip
    assert code == 2
    assert "softmax" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["--manifest", "m.csv"],  # no --image-root
        ["--folder", "tree", "--image-root", "tree"],
        ["--folder", "tree", "--pretrained"],
        ["--folder", "tree", "--normalize", "sum"],
        ["--folder", "missing"],
    ],
    ids=["manifest-needs-root", "folder-with-root", "pretrained-needs-model",
         "normalize-needs-predictions", "missing-folder"],
)  # fmt: skip
def test_argument_errors_are_one_line(tree, tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    assert main(["ingest", *argv, "--out", "s", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_duplicate_ids_in_manifest(tree, tmp_path, capsys):
    pd.DataFrame(
        {"sample_id": ["a", "a"], "path": ["cat/0.png", "cat/1.png"], "label": ["cat", "dog"]}
    ).to_csv(tmp_path / "m.csv", index=False)
    code = main(
        ["ingest", "--manifest", str(tmp_path / "m.csv"), "--image-root", str(tree), "--out",
         str(tmp_path / "s"), "--quiet"]
    )  # fmt: skip
    assert code == 2
    assert "'a' (lines 2, 3)" in capsys.readouterr().err


@pytest.mark.slow
def test_model_run(tree, tmp_path):
    code = main(
        ["ingest", "--folder", str(tree), "--out", str(tmp_path / "s"), "--model", "test_resnet",
         "--run", "tiny", "--image-size", "32", "--quiet"]
    )  # fmt: skip
    assert code == 0
    run = ea.Store.open(tmp_path / "s").run("tiny")
    assert run.probs.shape == (6, 2)
    assert not run.out_of_sample


def test_unknown_model_leaves_no_store(tree, tmp_path, capsys):
    code = main(
        ["ingest", "--folder", str(tree), "--out", str(tmp_path / "s"), "--model",
         "no_such_model_xyz", "--quiet"]
    )  # fmt: skip
    assert code == 2
    assert "no_such_model_xyz" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
