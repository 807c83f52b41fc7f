"""Grad-CAM (ea.explain): ViT-style models at two input sizes, unsupported models, caching, and
(slow) whether a briefly trained CNN's map peaks on the planted object."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import erroranalysis as ea
from erroranalysis.analysis.saliency import UnsupportedModelError

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")
pytest.importorskip("pytorch_grad_cam")


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    from erroranalysis.datasets import make_synthetic

    root = tmp_path_factory.mktemp("saliency")
    data = make_synthetic(root / "data", n_samples=60, progress=False)
    store = data.create_store(root / "store")
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(store.num_classes), store.num_samples).astype(np.float32)
    store.add_run("external", probs)
    return store, data


def _transform(height, width):
    from torchvision import transforms

    return transforms.Compose(
        [
            transforms.Resize((height, width)),
            transforms.ToTensor(),
            transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ]
    )


def _manual_vit_cam(model, batch, classes):
    """Grad-CAM by hand: full autograd, tokens of the last block's norm1 on the patch grid."""
    from pytorch_grad_cam.utils.image import scale_cam_image

    saved = {}
    handle = model.blocks[-1].norm1.register_forward_hook(
        lambda _m, _i, out: saved.__setitem__("a", out)
    )
    try:
        out = model(batch)
        saved["a"].retain_grad()
        out[torch.arange(len(classes)), torch.tensor(classes)].sum().backward()
    finally:
        handle.remove()
    prefix = model.num_prefix_tokens
    ph, pw = model.patch_embed.patch_size
    grid = (batch.shape[-2] // ph, batch.shape[-1] // pw)
    tokens = saved["a"][:, prefix:, :].detach()
    grads = saved["a"].grad[:, prefix:, :]
    weights = grads.mean(1, keepdim=True)
    cam = torch.relu((weights * tokens).sum(-1)).reshape(len(classes), *grid).numpy()
    # pytorch-grad-cam min-max scales once per layer (with the resize) and once after averaging
    return scale_cam_image(scale_cam_image(cam, (batch.shape[-1], batch.shape[-2])))


@pytest.mark.parametrize("size", [(64, 64), (48, 80)])
def test_vit_at_two_input_sizes_matches_a_hand_computed_grad_cam(small_store, size):
    store, _ = small_store
    torch.manual_seed(0)
    model = timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        num_classes=store.num_classes,
        img_size=64,
        dynamic_img_size=True,
        reg_tokens=2,  # prefix tokens beyond the class token must be dropped too
    ).eval()
    ea.register_model(store, "external", model, transform=_transform(*size))
    ids = list(store.sample_ids[:3])
    maps = ea.explain(store, ids, run="external", cache=False)
    assert maps.predicted_maps.shape == (3, *size)
    assert maps.images.shape == (3, *size, 3)
    assert maps.layers[0] == "blocks.11.norm1"
    batch = torch.stack([_transform(*size)(ea.load_image(store.image_path(s))) for s in ids])
    predicted = np.asarray(store.run("external").probs[:3]).argmax(1)
    expected = _manual_vit_cam(model, batch, predicted.tolist())
    np.testing.assert_allclose(maps.predicted_maps, expected, atol=2e-3)
    # the parameters were frozen only during the call
    assert all(p.requires_grad for p in model.parameters())


def _manual_cnn_cam(model, layer, batch, classes, nhwc=False):
    """Grad-CAM by hand on a feature map (NCHW, or NHWC permuted): full autograd."""
    from pytorch_grad_cam.utils.image import scale_cam_image

    saved = {}
    handle = layer.register_forward_hook(lambda _m, _i, out: saved.__setitem__("a", out))
    try:
        out = model(batch)
        saved["a"].retain_grad()
        out[torch.arange(len(classes)), torch.tensor(classes)].sum().backward()
    finally:
        handle.remove()
    acts, grads = saved["a"].detach(), saved["a"].grad
    if nhwc:
        acts, grads = acts.permute(0, 3, 1, 2), grads.permute(0, 3, 1, 2)
    weights = grads.mean((2, 3), keepdim=True)
    cam = torch.relu((weights * acts).sum(1)).numpy()
    return scale_cam_image(scale_cam_image(cam, (batch.shape[-1], batch.shape[-2])))


@pytest.mark.parametrize(
    ("name", "kwargs", "size", "layer", "nhwc"),
    [
        # ConvNeXt at a non-square input: stage 3 has 3 cells on the short side (< 4): stage 2
        ("test_convnext", {}, (128, 96), "stages.2", False),
        # Swin's stages give NHWC maps (output_fmt), transposed to NCHW for Grad-CAM
        (
            "swin_tiny_patch4_window7_224",
            {"embed_dim": 24, "depths": (1, 1, 1, 1), "num_heads": (1, 1, 1, 1), "img_size": 112},
            (112, 112),
            "layers.2",
            True,
        ),
    ],
)
def test_convnext_and_swin_match_a_hand_computed_grad_cam(
    small_store, name, kwargs, size, layer, nhwc
):
    store, _ = small_store
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, num_classes=store.num_classes, **kwargs)
    model = model.eval()
    assert (str(getattr(model, "output_fmt", "NCHW")).upper() == "NHWC") is nhwc
    ea.register_model(store, "external", model, transform=_transform(*size))
    ids = list(store.sample_ids[:3])
    maps = ea.explain(store, ids, run="external", cache=False)
    assert maps.layers == [layer] * 3
    assert maps.predicted_maps.shape == (3, *size)
    batch = torch.stack([_transform(*size)(ea.load_image(store.image_path(s))) for s in ids])
    predicted = np.asarray(store.run("external").probs[:3]).argmax(1)
    expected = _manual_cnn_cam(model, model.get_submodule(layer), batch, predicted.tolist(), nhwc)
    np.testing.assert_allclose(maps.predicted_maps, expected, atol=2e-3)


def test_model_without_spatial_features_gets_a_clear_message(small_store):
    store, _ = small_store
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, store.num_classes))
    ea.register_model(store, "external", model, transform=_transform(16, 16))
    with pytest.raises(UnsupportedModelError, match=r"no convolutional stage.*layer="):
        ea.explain(store, [store.sample_ids[0]], run="external", cache=False)


def test_run_without_a_model_names_register_model(small_store, tmp_path):
    store, _ = small_store
    store.add_run("no-model", np.asarray(store.run("external").probs), overwrite=True)
    with pytest.raises(ea.errors.ErrorAnalysisError, match="register_model"):
        ea.explain(store, [store.sample_ids[0]], run="no-model")


def test_predict_records_timm_model_and_maps_are_cached(small_store):
    store, _ = small_store
    run = ea.predict(store, "resnet18", run="r18", image_size=64, progress=False, overwrite=True)
    source = run.info["parameters"]["model_source"]
    assert source["kind"] == "timm" and source["name"] == "resnet18"
    ids = list(store.sample_ids[:4])
    first = ea.explain(store, ids, run="r18")
    # a resnet18 at 64 px has a 2×2 last stage: the last stage with ≥ 4 cells is layer3
    assert first.layers == ["layer3"] * 4
    assert len(list((run.path / "cache" / "gradcam").glob("*.npz"))) == 4
    second = ea.explain(store, ids, run="r18")
    np.testing.assert_array_equal(first.predicted_maps, second.predicted_maps)
    label = pd.Series(store.labels()).loc[ids].tolist()
    assert first.given == label
    assert np.isfinite(first.given_maps).all() and first.given_maps.max() <= 1.0
    assert first.overlay(0, "given").shape == (*first.images.shape[1:3], 3)
    at_224 = ea.explain(store, ids[:1], run="r18", layer="layer4", cache=False)
    assert at_224.layers == ["layer4"]


@pytest.mark.slow
def test_cnn_grad_cam_peak_falls_on_the_planted_object(tmp_path):
    """Cross-validated resnet10t (2 folds, 32 px): each sample explained by the fold model that
    did not train on it; the peak must hit the object far more often than a random peak."""
    from erroranalysis.datasets import make_synthetic

    data = make_synthetic(tmp_path / "data", n_samples=800, progress=False)
    store = data.create_store(tmp_path / "store")
    run = ea.cross_val_predict(
        store, "resnet10t", folds=2, epochs=8, image_size=32, lr=6e-3, run="cv", progress=False
    )
    source = run.info["parameters"]["model_source"]
    assert source["kind"] == "cross_val"
    assert all((run.path / c).exists() for c in source["checkpoints"])
    truth = data.truth.set_index("sample_id")
    ids = [s for s in store.sample_ids if not truth.loc[s, "is_outlier"]][:200]
    maps = ea.explain(store, ids, run="cv")
    folds = run.load_result("folds")["fold"].to_numpy()
    assert maps.folds == [int(folds[store.sample_ids.get_loc(s)]) for s in ids]
    height, width = maps.predicted_maps.shape[1:]
    hits, chance = [], []
    for i, sample in enumerate(ids):
        y, x = np.unravel_index(np.argmax(maps.predicted_maps[i]), (height, width))
        ox, oy, radius = truth.loc[sample, ["object_x", "object_y", "object_radius"]]
        hits.append(np.hypot((x + 0.5) / width - ox, (y + 0.5) / height - oy) <= radius)
        chance.append(np.pi * radius**2)  # a peak at a uniformly random pixel
    hit_rate, chance_rate = float(np.mean(hits)), float(np.mean(chance))
    print(f"peak on object: {hit_rate:.3f} (random peak {chance_rate:.3f})")
    assert hit_rate >= 1.5 * chance_rate


@pytest.mark.filterwarnings("ignore::erroranalysis.analysis.label_issues.InSampleWarning")
def test_report_shows_grad_cam_beside_the_candidates(small_store, tmp_path):
    """``saliency=N`` computes the first N candidates' maps; a later report shows every cached
    map without loading the model (the inspector's maps land in the same cache)."""
    from erroranalysis.cli import main

    store, _ = small_store
    ea.predict(store, "resnet18", run="r18-report", image_size=32, progress=False)
    ea.scan(store, run="r18-report", progress=False, params={"projection": {"method": "pca"}})
    marker = 'class="saliency" src="data:image/png;base64,'
    plain = ea.report(store, tmp_path / "plain.html", run="r18-report", top=4).read_text()
    assert marker not in plain  # nothing cached yet, nothing computed
    assert main(["report", str(store.path), "-o", str(tmp_path / "cam.html"),
                 "--run", "r18-report", "--top", "4", "--saliency", "2"]) == 0  # fmt: skip
    text = (tmp_path / "cam.html").read_text()
    assert text.count('<div class="thumb wide">') == 2 and "Grad-CAM beside 2 of them" in text
    assert text.count(marker) >= 2  # the predicted class's map, and the label's where it differs

    def no_model(*args, **kwargs):
        raise AssertionError("a report of cached maps loaded the model")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("erroranalysis.ingest.run_model.load_run_model", no_model)
        again = ea.report(store, tmp_path / "again.html", run="r18-report", top=4).read_text()
    assert again.count('<div class="thumb wide">') == 2
