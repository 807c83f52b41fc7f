"""ea.cross_val_predict: every sample predicted by a model that never trained on it."""

from __future__ import annotations

import importlib
import itertools

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import erroranalysis as ea
from erroranalysis.errors import ErrorAnalysisError, StoreExistsError

torch = pytest.importorskip("torch")
pytest.importorskip("timm")
pytest.importorskip("sklearn")

cross_val = importlib.import_module("erroranalysis.ingest.cross_val")

CLASSES = ["red", "green", "blue"]
OPTIONS = {"folds": 2, "epochs": 1, "image_size": 16, "batch_size": 16, "progress": False}
MODEL = "test_resnet"


def colour_store(tmp_path, count: int = 120, size: int = 16, seed: int = 0) -> ea.Store:
    """Noisy images whose dominant colour is the label (learnable in a few steps)."""
    rng = np.random.default_rng(seed)
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    rows = []
    for i in range(count):
        label = int(rng.integers(0, len(CLASSES)))
        pixels = rng.integers(0, 100, (size, size, 3))
        pixels[..., label] += 150
        path = f"images/{i:03d}.png"
        Image.fromarray(pixels.astype(np.uint8)).save(root / path)
        rows.append({"sample_id": f"s{i:03d}", "label": CLASSES[label], "path": path})
    return ea.Store.create(
        tmp_path / "store", classes=CLASSES, samples=pd.DataFrame(rows), image_root=root
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ea.Store:
    return colour_store(tmp_path_factory.mktemp("cv"))


def test_every_sample_is_predicted_by_a_model_that_did_not_see_it(store, monkeypatch):
    trained: list[set[int]] = []
    predicted: list[tuple[int, set[int]]] = []
    fit, predict = cross_val._Trainer.fit, cross_val._Trainer.predict

    def spy_fit(self, model, indices, seed):
        trained.append(set(np.asarray(indices).tolist()))
        model._spy_id = len(trained) - 1
        return fit(self, model, indices, seed)

    def spy_predict(self, model, indices, num_classes, embed):
        predicted.append((model._spy_id, set(np.asarray(indices).tolist())))
        return predict(self, model, indices, num_classes, embed)

    monkeypatch.setattr(cross_val._Trainer, "fit", spy_fit)
    monkeypatch.setattr(cross_val._Trainer, "predict", spy_predict)
    run = ea.cross_val_predict(store, MODEL, run="spied", **OPTIONS)

    assert run.out_of_sample is True
    n = store.num_samples
    folds = run.load_result("folds")["fold"].to_numpy()
    assert len(folds) == n and set(folds.tolist()) == {0, 1}
    assert len(trained) == 2
    for fold in (0, 1):
        held_out = set(np.flatnonzero(folds == fold).tolist())
        # The model of fold f trained on exactly the other folds ...
        assert trained[fold] == set(range(n)) - held_out
    # ... and each sample's probabilities come from the model of its own fold (the first fold's
    # model also embeds every sample, but only its held-out rows become probabilities).
    for model_id, indices in predicted:
        assert indices == set(range(n)) or indices == set(np.flatnonzero(folds == model_id))
    # Stratified: each class is split evenly between the folds.
    codes = store.given_codes
    for label in range(len(CLASSES)):
        per_fold = np.bincount(folds[codes == label], minlength=2)
        assert abs(int(per_fold[0]) - int(per_fold[1])) <= 1
    probs = np.asarray(run.probs)
    assert probs.shape == (n, 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert run.embeddings is not None and run.embeddings.shape[0] == n
    params = run.info["parameters"]
    assert params["folds"] == 2 and params["epochs"] == 1 and params["image_size"] == 16
    assert len(params["fold_accuracy"]) == 2
    assert "fold" in store.frame("spied").columns


@pytest.mark.slow
def test_same_seed_same_predictions(store):
    first = ea.cross_val_predict(store, MODEL, run="seed-a", **OPTIONS)
    second = ea.cross_val_predict(store, MODEL, run="seed-b", **OPTIONS)
    np.testing.assert_allclose(first.probs, second.probs, atol=1e-4)
    np.testing.assert_allclose(first.embeddings, second.embeddings, atol=1e-3)
    other = ea.cross_val_predict(store, MODEL, run="seed-c", random_state=1, **OPTIONS)
    assert not np.allclose(first.probs, other.probs, atol=1e-3)


def test_run_exists_and_bad_parameters(store):
    ea.cross_val_predict(store, MODEL, run="exists", **OPTIONS)
    with pytest.raises(StoreExistsError, match="overwrite=True"):
        ea.cross_val_predict(store, MODEL, run="exists", **OPTIONS)
    ea.cross_val_predict(store, MODEL, run="exists", overwrite=True, **OPTIONS)
    bad = dict(OPTIONS)
    bad["folds"] = 1
    with pytest.raises(ErrorAnalysisError, match="folds must be at least 2"):
        ea.cross_val_predict(store, MODEL, **bad)
    with pytest.raises(ErrorAnalysisError, match="timm has no model"):
        ea.cross_val_predict(store, "no_such_model_xyz", **OPTIONS)
    with pytest.raises(ErrorAnalysisError, match="embeddings must be"):
        ea.cross_val_predict(store, MODEL, embeddings="mixed", **OPTIONS)
    with pytest.raises(ErrorAnalysisError, match="labels must be"):
        ea.cross_val_predict(store, MODEL, labels="truth", **OPTIONS)


def test_trains_on_current_labels(tmp_path, monkeypatch):
    small = colour_store(tmp_path, count=24)
    sample = str(small.sample_ids[0])
    given = small.classes[int(small.given_codes[0])]
    new = next(name for name in CLASSES if name != given)
    small.relabel(sample, new)
    seen = {}
    trainer_init = cross_val._Trainer.__init__

    def spy(self, **kwargs):
        seen["codes"] = kwargs["codes"].numpy().copy()
        trainer_init(self, **kwargs)

    monkeypatch.setattr(cross_val._Trainer, "__init__", spy)
    run = ea.cross_val_predict(small, MODEL, run="current", embeddings="none", **OPTIONS)
    assert seen["codes"][0] == CLASSES.index(new)
    assert run.embeddings is None
    assert run.info["parameters"]["label_version"] == small.label_version
    ea.cross_val_predict(small, MODEL, run="given", labels="given", **OPTIONS)
    assert seen["codes"][0] == CLASSES.index(given)


@pytest.mark.slow
def test_models_learn_and_full_embeddings(store):
    run = ea.cross_val_predict(
        store,
        MODEL,
        run="learns",
        folds=3,
        epochs=6,
        image_size=16,
        batch_size=16,
        lr=1e-2,
        embeddings="full",
        progress=False,
    )
    # Colour is easy: held-out accuracy far above chance (1/3) against the given labels.
    assert run.info["parameters"]["accuracy"] >= 0.8
    assert run.embeddings.shape[0] == store.num_samples


def test_demo_settings_name_a_timm_model():
    import timm

    assert cross_val.DEMO_MODEL in timm.list_models()
    model = timm.create_model(cross_val.DEMO_MODEL, num_classes=6, **cross_val.DEMO_MODEL_KWARGS)
    x = torch.zeros(2, 3, cross_val.DEMO_IMAGE_SIZE, cross_val.DEMO_IMAGE_SIZE)
    assert model.eval()(x).shape == (2, 6)
    assert cross_val.DEMO_EPOCHS >= 1 and cross_val.DEMO_BATCH_SIZE >= 1 and cross_val.DEMO_LR > 0


def test_demo_settings_are_the_demo_full_stage():
    """The DEMO_* constants describe the demo's full k-fold run, not an older model."""
    from erroranalysis.datasets.demo import STAGES

    names = ("model_name", "model_kwargs", "epochs", "image_size", "batch_size", "lr")
    constants = (cross_val.DEMO_MODEL, cross_val.DEMO_MODEL_KWARGS, cross_val.DEMO_EPOCHS)
    constants += (cross_val.DEMO_IMAGE_SIZE, cross_val.DEMO_BATCH_SIZE, cross_val.DEMO_LR)
    assert {name: STAGES["full"][name] for name in names} == dict(
        zip(names, constants, strict=True)
    )


def test_one_cycle_schedule():
    factor = cross_val._one_cycle(8, warmup=0.25)
    values = [factor(step) for step in range(8)]
    assert values[0] == 0.5 and values[1] == 1.0  # linear warm-up over 2 steps
    assert all(a >= b for a, b in itertools.pairwise(values[1:]))  # then decays ...
    assert 0.0 < values[-1] < 0.1  # ... nearly to zero, the last step still learning
    assert cross_val._one_cycle(1, warmup=0.25)(0) == 1.0  # tiny runs do not divide by zero


def test_images_load_once_the_same_with_threads(tmp_path):
    from erroranalysis.errors import BadImageError
    from erroranalysis.ingest import _torch_data

    small = colour_store(tmp_path, count=30, size=12)
    serial = _torch_data.load_image_tensor(small, None, progress=False)
    threaded = _torch_data.load_image_tensor(small, None, progress=False, workers=2)
    assert serial.shape == (30, 3, 12, 12) and serial.dtype == torch.uint8
    assert torch.equal(serial, threaded)
    resized = _torch_data.load_image_tensor(small, 8, progress=False, workers=2)
    assert resized.shape == (30, 3, 8, 8)
    (small.image_root / "images" / "004.png").write_bytes(b"broken")
    with pytest.raises(BadImageError, match="s004"):
        _torch_data.load_image_tensor(small, None, progress=False, workers=2)
    with pytest.raises(BadImageError, match="s004"):
        ea.cross_val_predict(small, MODEL, run="broken", **OPTIONS)
    assert "broken" not in small.runs()
