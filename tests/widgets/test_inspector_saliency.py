"""Inspector: Grad-CAM side by side (on the button, cached per run, overlay toggle), a clear line
for a run without a model, and the full-resolution zoom view."""

from __future__ import annotations

import base64

import numpy as np
import pytest

import erroranalysis as ea
from erroranalysis.widgets import Inspector, Selection

pytest.importorskip("pytorch_grad_cam")
torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")


def _transform():
    from torchvision import transforms

    return transforms.Compose(
        [
            transforms.Resize((64, 64)),
            transforms.ToTensor(),
            transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ]
    )


@pytest.fixture
def with_model(scanned_store):
    """The fixture store, its run made by a (random) resnet10t registered for this session."""
    torch.manual_seed(0)
    model = timm.create_model("resnet10t", pretrained=False, num_classes=scanned_store.num_classes)
    ea.register_model(scanned_store, "fixture", model, transform=_transform())
    return scanned_store


def _focused(store):
    sel = Selection()
    inspector = Inspector(store, selection=sel, author="tester")
    sid = str(store.sample_ids[3])
    sel.focus(sid, source="gallery")
    return inspector, sel, sid


def test_grad_cam_on_the_button_side_by_side_and_cached(with_model, monkeypatch):
    inspector, sel, sid = _focused(with_model)
    assert "ea-saliency-compute" in inspector.saliency_button._dom_classes
    # nothing is computed on focus
    assert inspector.explanation is None
    assert inspector.saliency_maps.layout.display == "none"
    maps = inspector.compute_saliency()
    assert maps.sample_ids == [sid]
    assert inspector.saliency_maps.layout.display is None
    predicted, given = inspector.saliency_images
    assert predicted.value[:4] == b"\x89PNG" and given.value[:4] == b"\x89PNG"
    frame = with_model.frame().set_index("sample_id")
    assert html_text(inspector.saliency_captions[1].value).endswith(frame.loc[sid, "label"])
    assert "layer" in inspector.saliency_status.value
    # cached in the run folder: another sample and back shows the maps without any model
    assert list((with_model.run("fixture").path / "cache" / "gradcam").glob("*.npz"))
    sel.focus(str(with_model.sample_ids[4]), source="gallery")
    assert inspector.saliency_maps.layout.display == "none"

    def no_model(*_a, **_k):
        raise AssertionError("a sample change must not load the model")

    monkeypatch.setattr("erroranalysis.ingest.run_model.load_run_model", no_model)
    sel.focus(sid, source="gallery")
    assert inspector.saliency_maps.layout.display is None
    overlaid = predicted.value
    # the overlay toggle (a trait) redraws from the same maps: heat map alone
    inspector.overlay_toggle.value = False
    assert inspector.saliency_overlay is False
    assert predicted.value != overlaid
    inspector.saliency_overlay = True
    assert predicted.value == overlaid


def html_text(value: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "", value).strip()


def test_run_without_a_model_gets_one_clear_line(scanned_store):
    inspector, _, _ = _focused(scanned_store)
    assert inspector.compute_saliency() is None
    status = inspector.saliency_status.value
    assert "Grad-CAM unavailable" in status and "register_model" in status
    assert "\n" not in html_text(status)
    assert inspector.saliency_maps.layout.display == "none"


def test_zoom_shows_the_original_at_native_resolution(scanned_store):
    from PIL import Image

    inspector, sel, sid = _focused(scanned_store)
    assert inspector.zoom.layout.display == "none"
    inspector.zoom_toggle.value = True
    assert inspector.show_zoom
    path = scanned_store.image_path(sid)
    with Image.open(path) as image:
        size = image.size
    assert (inspector.zoom.natural_width, inspector.zoom.natural_height) == size
    head, payload = inspector.zoom.src.split(",", 1)
    assert head == "data:image/png;base64"
    assert base64.b64decode(payload) == path.read_bytes()  # the file itself, not a thumbnail
    assert inspector.zoom.layout.display is None
    other = str(scanned_store.sample_ids[5])
    sel.focus(other, source="gallery")
    assert base64.b64decode(inspector.zoom.src.split(",", 1)[1]) == (
        scanned_store.image_path(other).read_bytes()
    )
    inspector.show_zoom = False
    assert inspector.zoom.layout.display == "none"


def test_zoom_converts_formats_a_browser_cannot_show(scanned_store, tmp_path):
    from PIL import Image

    from erroranalysis.widgets.inspector import _data_url

    path = tmp_path / "x.tiff"
    Image.fromarray(np.zeros((7, 9, 3), np.uint8)).save(path)
    src, size = _data_url(path)
    assert src.startswith("data:image/png;base64,") and size == (9, 7)
