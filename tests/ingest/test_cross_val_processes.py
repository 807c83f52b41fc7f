"""ea.cross_val_predict(engine="processes"): folds side by side in spawned local workers."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import erroranalysis as ea
from erroranalysis.errors import ErrorAnalysisError
from tests.ingest.test_cross_val import MODEL, colour_store

torch = pytest.importorskip("torch")
pytest.importorskip("timm")
pytest.importorskip("sklearn")

cross_val = importlib.import_module("erroranalysis.ingest.cross_val")
process_engine = importlib.import_module("erroranalysis.ingest.process_engine")

OPTIONS = {"folds": 3, "epochs": 2, "image_size": 16, "batch_size": 16, "progress": False}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ea.Store:
    return colour_store(tmp_path_factory.mktemp("cv-processes"), count=90)


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_processes_equal_the_local_engine_on_one_thread(store, one_thread):
    # The workers train on one torch thread each, with the jobs' own seeds: the run must be the
    # local engine's at one thread, the extra all-samples embedding model included.
    local = ea.cross_val_predict(store, MODEL, run="local", embeddings="full", **OPTIONS)
    spread = ea.cross_val_predict(
        store, MODEL, run="spread", embeddings="full", engine="processes", workers=2, **OPTIONS
    )
    np.testing.assert_allclose(spread.probs, local.probs, atol=1e-6)
    np.testing.assert_allclose(spread.embeddings, local.embeddings, atol=1e-6)
    assert (
        spread.load_result("folds")["fold"].tolist() == local.load_result("folds")["fold"].tolist()
    )
    parameters = spread.info["parameters"]
    assert parameters["engine"] == "processes" and parameters["workers"] == 2
    assert len(parameters["fold_seconds"]) == 4  # three folds and the embedding model
    assert parameters["fold_accuracy"] == local.info["parameters"]["fold_accuracy"]
    assert local.info["parameters"]["engine"] == "local"
    assert local.info["parameters"]["workers"] is None
    assert torch.get_num_threads() == 1  # the parent's thread count is left alone


def test_default_workers_is_one_per_job_up_to_the_cores(monkeypatch):
    monkeypatch.setattr(process_engine.os, "cpu_count", lambda: 2)
    assert process_engine.default_workers(5) == 2
    assert process_engine.default_workers(1) == 1
    monkeypatch.setattr(process_engine.os, "cpu_count", lambda: None)
    assert process_engine.default_workers(3) == 1


def _trainer(store) -> object:
    images = torch.zeros((6, 3, 16, 16), dtype=torch.uint8)
    return cross_val._Trainer(
        images=images,
        codes=torch.tensor([0, 1, 2, 0, 1, 2]),
        mean=torch.zeros(1, 3, 1, 1),
        std=torch.ones(1, 3, 1, 1),
        device=torch.device("cpu"),
        channels_last=True,
        batch_size=4,
        epochs=2,
        lr=1e-3,
        weight_decay=0.0,
        label_smoothing=0.0,
        bar=None,
    )


class _Bar:
    def __init__(self):
        self.updates = 0
        self.postfix = {}

    def update(self, n=1):
        self.updates += n

    def set_postfix(self, **values):
        self.postfix.update(values)

    def set_description(self, text):
        pass


def _jobs():
    assignment = np.array([0, 1, 0, 1, 0, 1])
    return cross_val._fold_jobs(2, assignment, np.ones(6, dtype=bool), "first_fold", 0)


def test_worker_errors_surface_with_the_local_message_and_progress_is_relayed(store):
    spec = {
        "model_name": "no_such_model_xyz",
        "pretrained": False,
        "num_classes": 3,
        "model_kwargs": None,
        "save_model": False,
    }
    with pytest.raises(ErrorAnalysisError) as local:
        cross_val._create("no_such_model_xyz", False, 3, None, seed=0)
    with pytest.raises(ErrorAnalysisError) as remote:
        process_engine.cross_val_folds(_trainer(store), _jobs(), spec, folds=2, workers=2)
    assert str(remote.value) == str(local.value)
    assert "timm has no model named 'no_such_model_xyz'" in str(remote.value)

    bar = _Bar()
    spec["model_name"] = MODEL
    results, info = process_engine.cross_val_folds(
        _trainer(store), _jobs(), spec, folds=2, workers=2, bar=bar
    )
    assert bar.updates == 2 * 2  # every epoch of both folds reached the parent's bar
    assert "loss" in bar.postfix
    assert info["workers"] == 2 and len(info["fold_seconds"]) == 2
    assert results[0][1] is not None and results[1][1] is None  # the first fold embeds


def test_bad_workers_and_engines(store):
    with pytest.raises(ErrorAnalysisError, match="workers must be a positive integer"):
        ea.cross_val_predict(store, MODEL, engine="processes", workers=0, **OPTIONS)
    with pytest.raises(ErrorAnalysisError, match="workers must be a positive integer"):
        ea.cross_val_predict(store, MODEL, engine="processes", workers=-1, **OPTIONS)
    with pytest.raises(ErrorAnalysisError, match="workers only applies"):
        ea.cross_val_predict(store, MODEL, workers=2, **OPTIONS)
    with pytest.raises(ErrorAnalysisError, match="address only applies"):
        ea.cross_val_predict(store, MODEL, engine="processes", address="x:6379", **OPTIONS)
    with pytest.raises(ErrorAnalysisError, match="'local', 'processes' or 'ray'"):
        ea.cross_val_predict(store, MODEL, engine="threads", **OPTIONS)
