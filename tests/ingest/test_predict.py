"""ea.predict: probabilities and embeddings equal a plain forward pass; chunks resume."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import erroranalysis as ea
from erroranalysis.errors import (
    BadImageError,
    ErrorAnalysisError,
    ShapeMismatchError,
    StoreExistsError,
)

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

from erroranalysis.ingest import _torch_data  # noqa: E402

# The package attribute ``predict`` is the function; the module is reached by its full name.
predict_module = importlib.import_module("erroranalysis.ingest.predict")

CLASSES = ["red", "green", "blue"]


def image_store(tmp_path, count: int = 12, size: int = 24, seed: int = 0) -> ea.Store:
    """``count`` noisy images whose dominant colour is the label."""
    rng = np.random.default_rng(seed)
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    rows = []
    for i in range(count):
        label = i % len(CLASSES)
        pixels = rng.integers(0, 90, (size, size + 4 * (i % 2), 3))  # two image sizes
        pixels[..., label] += 150
        path = f"images/{i:03d}.png"
        Image.fromarray(pixels.astype(np.uint8)).save(root / path)
        rows.append({"sample_id": f"s{i:03d}", "label": CLASSES[label], "path": path})
    return ea.Store.create(
        tmp_path / "store", classes=CLASSES, samples=pd.DataFrame(rows), image_root=root
    )


def tiny_timm(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return timm.create_model("test_resnet", pretrained=False, num_classes=len(CLASSES))


def reference(store: ea.Store, model: torch.nn.Module, image_size: int):
    """A plain fp32 NCHW eager forward pass with timm's eval transform, one image at a time."""
    config = timm.data.resolve_model_data_config(model)
    config["input_size"] = (3, image_size, image_size)
    transform = timm.data.create_transform(**config, is_training=False)
    model = model.eval().to(memory_format=torch.contiguous_format)
    probs, emb = [], []
    with torch.no_grad():
        for sample_id in store.sample_ids:
            with Image.open(store.image_path(sample_id)) as image:
                x = transform(image.convert("RGB")).unsqueeze(0)
            features = model.forward_features(x)
            emb.append(model.forward_head(features, pre_logits=True)[0].numpy())
            probs.append(torch.softmax(model(x), dim=1)[0].numpy())
    return np.stack(probs), np.stack(emb)


def test_predict_equals_plain_forward_pass(tmp_path):
    store = image_store(tmp_path)
    model = tiny_timm()
    expected_probs, expected_emb = reference(store, tiny_timm(), image_size=32)
    run = ea.predict(store, model, run="tiny", image_size=32, batch_size=5, progress=False)
    assert run.name == "tiny"
    assert run.out_of_sample is False
    assert run.probs.shape == (12, 3) and run.probs.dtype == np.float32
    np.testing.assert_allclose(run.probs, expected_probs, atol=1e-4)
    np.testing.assert_allclose(run.embeddings, expected_emb, rtol=1e-3, atol=1e-4)
    info = run.info["parameters"]
    assert info["embeddings"] == "pre_logits"
    assert info["channels_last"] is True
    assert info["data_config"]["input_size"] == [3, 32, 32]
    assert not (store.path / ".work").exists()  # chunks removed


def test_predict_from_a_timm_name_is_seeded_and_named(tmp_path):
    store = image_store(tmp_path)
    first = ea.predict(store, "test_resnet", image_size=32, progress=False)
    assert first.name == "test_resnet"
    assert first.info["model"] == "test_resnet"
    second = ea.predict(store, "test_resnet", run="again", image_size=32, progress=False)
    np.testing.assert_allclose(first.probs, second.probs, atol=1e-6)
    with pytest.raises(StoreExistsError, match="overwrite=True"):
        ea.predict(store, "test_resnet", image_size=32, progress=False)
    third = ea.predict(
        store, "test_resnet", image_size=32, progress=False, overwrite=True, dtype="float16"
    )
    assert third.probs.dtype == np.float16
    assert third.embeddings.dtype == np.float16


def test_plain_module_embeddings_from_the_last_linear_layer(tmp_path):
    store = image_store(tmp_path)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 3),
    )
    run = ea.predict(store, model, image_size=16, progress=False)
    assert run.name == "sequential"
    assert run.embeddings.shape == (12, 8)
    assert run.info["parameters"]["embeddings"] == "input of 4"
    # The embeddings really are the classifier's input: the head maps them to the probs.
    with torch.no_grad():
        logits = model[4](torch.from_numpy(np.array(run.embeddings, dtype=np.float32)))
    np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), run.probs, atol=1e-5)

    no_head = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1), torch.nn.AdaptiveAvgPool2d(1))
    no_head.append(torch.nn.Flatten())
    run = ea.predict(store, no_head, run="nohead", image_size=16, progress=False)
    assert run.embeddings is None


def test_wrong_number_of_outputs_is_refused(tmp_path):
    store = image_store(tmp_path)
    model = timm.create_model("test_resnet", pretrained=False, num_classes=5)
    with pytest.raises(ShapeMismatchError, match=r"expected \(batch, 3\)"):
        ea.predict(store, model, image_size=16, progress=False)
    assert "test_resnet" not in store.runs() and "resnet" not in store.runs()


def test_bad_image_names_the_sample(tmp_path):
    store = image_store(tmp_path)
    (store.image_root / "images" / "007.png").write_bytes(b"not a png at all")
    with pytest.raises(BadImageError, match="s007"):
        ea.predict(store, "test_resnet", image_size=16, progress=False, num_workers=0)
    assert store.runs() == []


def test_bad_parameters(tmp_path, monkeypatch):
    store = image_store(tmp_path, count=3)
    with pytest.raises(ErrorAnalysisError, match="timm has no model"):
        ea.predict(store, "no_such_model_xyz", progress=False)
    with pytest.raises(ErrorAnalysisError, match="precision"):
        ea.predict(store, "test_resnet", precision="fp8", progress=False)
    monkeypatch.setattr(_torch_data, "cpu_supports_bf16", lambda: False)
    with pytest.raises(ErrorAnalysisError, match="AVX512-BF16"):
        ea.predict(store, "test_resnet", precision="bf16", device="cpu", progress=False)
    with pytest.raises(ErrorAnalysisError, match="dtype"):
        ea.predict(store, "test_resnet", dtype="int8", progress=False)


class Interrupted(Exception):
    pass


def counting(model: torch.nn.Module) -> list[int]:
    """Count the images the model's stem sees."""
    seen: list[int] = []
    model.conv1.register_forward_pre_hook(lambda _m, inputs: seen.append(len(inputs[0])))
    return seen


def test_interrupted_run_resumes_without_recomputing(tmp_path, monkeypatch):
    store = image_store(tmp_path, count=40)
    options = {"image_size": 16, "batch_size": 3, "chunk_size": 8, "progress": False}

    full_model = tiny_timm()
    full = ea.predict(store, full_model, run="full", **options)

    def stop_after_chunk_2(chunk: int) -> None:
        if chunk == 2:
            raise Interrupted

    model = tiny_timm()
    seen = counting(model)
    monkeypatch.setattr(predict_module, "_after_chunk", stop_after_chunk_2)
    with pytest.raises(Interrupted):
        ea.predict(store, model, run="resumed", **options)
    folder = store.path / ".work" / "predict-resumed"
    assert sorted(p.name for p in folder.glob("chunk-*.npz")) == [
        "chunk-00000.npz",
        "chunk-00001.npz",
        "chunk-00002.npz",
    ]
    assert "resumed" not in store.runs()
    assert sum(seen) >= 24

    monkeypatch.setattr(predict_module, "_after_chunk", None)
    seen.clear()
    resumed = ea.predict(store, model, run="resumed", **options)
    assert sum(seen) == 40 - 24  # the three finished chunks were not recomputed
    assert resumed.info["parameters"]["resumed_samples"] == 24
    np.testing.assert_allclose(resumed.probs, full.probs, atol=1e-6)
    np.testing.assert_allclose(resumed.embeddings, full.embeddings, atol=1e-5)
    assert not folder.exists()


def test_stale_chunks_of_another_model_are_discarded(tmp_path, monkeypatch):
    store = image_store(tmp_path, count=20)
    options = {"image_size": 16, "batch_size": 4, "chunk_size": 8, "progress": False}

    def stop(chunk: int) -> None:
        raise Interrupted

    monkeypatch.setattr(predict_module, "_after_chunk", stop)
    with pytest.raises(Interrupted):
        ea.predict(store, tiny_timm(seed=1), run="r", **options)
    monkeypatch.setattr(predict_module, "_after_chunk", None)

    other = tiny_timm(seed=2)
    seen = counting(other)
    with pytest.warns(UserWarning, match="discarding the unfinished chunks"):
        run = ea.predict(store, other, run="r", **options)
    assert sum(seen) == 20
    expected = ea.predict(store, tiny_timm(seed=2), run="fresh", **options)
    np.testing.assert_allclose(run.probs, expected.probs, atol=1e-6)

    # resume=False recomputes everything even when the chunks would match.
    monkeypatch.setattr(predict_module, "_after_chunk", stop)
    with pytest.raises(Interrupted):
        ea.predict(store, tiny_timm(seed=2), run="again", **options)
    monkeypatch.setattr(predict_module, "_after_chunk", None)
    model = tiny_timm(seed=2)
    seen = counting(model)
    ea.predict(store, model, run="again", resume=False, **options)
    assert sum(seen) == 20


def test_dataloader_workers_give_the_same_result(tmp_path):
    store = image_store(tmp_path, count=10)
    options = {"image_size": 16, "batch_size": 4, "progress": False}
    in_process = ea.predict(store, tiny_timm(), run="w0", num_workers=0, **options)
    workers = ea.predict(store, tiny_timm(), run="w2", num_workers=2, **options)
    np.testing.assert_allclose(in_process.probs, workers.probs, atol=1e-6)


def test_model_training_flag_is_restored(tmp_path):
    store = image_store(tmp_path, count=3)
    model = tiny_timm().train()
    ea.predict(store, model, image_size=16, progress=False)
    assert model.training
