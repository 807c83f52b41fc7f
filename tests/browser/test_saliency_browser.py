"""The inspector's Grad-CAM and zoom in real JupyterLab + Chromium.

A 60-sample store whose run was made by ``ea.predict`` with a timm model (so the kernel can
re-create the model from the run's record) is shown in a dashboard. The test focuses a sample
from the gallery, opens the inspector's Grad-CAM fold and computes the maps, then:

- the two map images are real PNGs at the model's input size, and their pixels are exactly the
  map laid over the image (``overlay``, alpha 0.5) — read back from the page through a canvas and
  compared with the maps the kernel cached in the run folder;
- the *overlay* toggle switches them to the plain heat map (alpha 1) and back: the pixels must
  change to the other rendering each time (a toggle that did nothing fails here);
- the zoom fold's toggle shows the original file: the ``<img>`` loads with ``naturalWidth`` and
  ``naturalHeight`` equal to the file's size (not the thumbnail's, not the model input's), it is
  hidden again when toggled off, and the wheel zooms (the CSS scale grows) and a drag pans (the
  translation moves by the drag).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from . import lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_PIXELS = """(sel) => {
  const img = document.querySelector(sel);
  if (!img || !img.complete || !img.naturalWidth || !img.src) return null;
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  return {src: img.src, width: img.naturalWidth, height: img.naturalHeight,
          data: Array.from(ctx.getImageData(0, 0, c.width, c.height).data)};
}"""

_PRED = ".ea-dashboard .ea-inspector img.ea-saliency-predicted"
_GIVEN = ".ea-dashboard .ea-inspector img.ea-saliency-given"
_ZOOM_IMG = ".ea-dashboard .ea-inspector .ea-zoom-image"


def _pixels(page, selector: str, previous_src: str | None = None) -> dict:
    """The loaded image's pixels (RGB, H×W×3), waiting for a new ``src`` if one is given."""
    page.wait_for_function(
        "([sel, old]) => { const i = document.querySelector(sel);"
        " return !!i && !!i.src && i.src !== old && i.complete && i.naturalWidth > 0; }",
        arg=[selector, previous_src or ""],
        timeout=30_000,
    )
    got = page.evaluate(_PIXELS, selector)
    rgba = np.asarray(got["data"], dtype=np.int16).reshape(got["height"], got["width"], 4)
    got["rgb"] = rgba[..., :3]
    return got


def _distance(rgb: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(rgb - expected.astype(np.int16)).mean())


def _open_fold(page, title: str) -> None:
    header = page.locator(
        ".ea-dashboard .ea-inspector .jupyter-widget-Collapse-header", has_text=title
    ).first
    header.click()
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('.ea-dashboard .ea-inspector "
        ".jupyter-widget-Collapse')].some(c => c.classList.contains('jupyter-widget-Collapse-open')"
        " && c.querySelector('.jupyter-widget-Collapse-header').textContent.includes(t))",
        arg=title,
        timeout=10_000,
    )


def _transform(page) -> tuple[float, float, float]:
    text = page.evaluate(f"() => document.querySelector({_ZOOM_IMG!r}).style.transform")
    match = re.fullmatch(
        r"translate\(([-\d.e]+)px, ([-\d.e]+)px\) scale\(([-\d.e]+)\)", text.strip()
    )
    assert match, f"unexpected transform {text!r}"
    return tuple(float(v) for v in match.groups())


def test_grad_cam_overlay_toggle_and_native_zoom(page, jupyterlab, lab_root):
    from PIL import Image

    import erroranalysis as ea
    from erroranalysis.analysis.saliency import overlay

    from .stores import build_saliency_store

    info = build_saliency_store(lab_root / "saliency-store")
    print(f"[browser] saliency store built in {info['seconds']} s")
    lab.write_notebook(
        lab_root / "saliency.ipynb",
        [
            "from erroranalysis.store import Store\n"
            "from erroranalysis.widgets import Dashboard\n"
            f"store = Store.open({info['path']!r})\n"
            f"dash = Dashboard(store, run={info['run']!r}, poll_interval=None)\n"
            "dash"
        ],
    )
    lab.run_notebook(page, jupyterlab, "saliency.ipynb")
    thumb = page.locator(".ea-dashboard .ea-gallery .ea-thumb").first
    thumb.wait_for(timeout=60_000)
    sid = thumb.get_attribute("data-sample-id")
    thumb.click()
    page.wait_for_selector(
        f'.ea-dashboard .ea-inspector .ea-inspector-id[data-sample-id="{sid}"]', timeout=30_000
    )

    # -- Grad-CAM: computed on the button, shown laid over the image -----------------------
    _open_fold(page, "Grad-CAM")
    assert page.locator(".ea-dashboard .ea-inspector .ea-saliency").first.is_hidden()
    page.locator(".ea-dashboard .ea-inspector button.ea-saliency-compute").first.click()
    # the first map imports torch, timm and pytorch-grad-cam in the kernel: 3 s on an idle
    # machine, 40 s on these 2 shared cores at load 15
    page.wait_for_selector(
        ".ea-dashboard .ea-inspector .ea-saliency", state="visible", timeout=180_000
    )
    store = ea.Store.open(info["path"], read_only=True)
    maps = ea.explain(store, [sid], run=info["run"], compute=False)  # what the kernel cached
    assert maps is not None, "the inspector did not cache the maps it showed"
    size = info["input_size"]
    assert maps.images.shape == (1, size, size, 3)
    expected = {
        (which, alpha): overlay(maps.images[0], getattr(maps, f"{which}_maps")[0], alpha)
        for which in ("predicted", "given")
        for alpha in (0.5, 1.0)
    }
    shown = {"predicted": _pixels(page, _PRED), "given": _pixels(page, _GIVEN)}
    for which, got in shown.items():
        assert (got["width"], got["height"]) == (size, size), got["src"][:60]
        assert _distance(got["rgb"], expected[(which, 0.5)]) < 1.0
        assert _distance(got["rgb"], expected[(which, 1.0)]) > 10.0
    toggle = page.locator(".ea-dashboard .ea-inspector button.ea-saliency-overlay").first
    assert "mod-active" in (toggle.get_attribute("class") or "")

    toggle.click()  # off: the plain heat maps
    plain = {
        "predicted": _pixels(page, _PRED, shown["predicted"]["src"]),
        "given": _pixels(page, _GIVEN, shown["given"]["src"]),
    }
    for which, got in plain.items():
        assert (got["width"], got["height"]) == (size, size)
        assert _distance(got["rgb"], expected[(which, 1.0)]) < 1.0
        assert _distance(got["rgb"], expected[(which, 0.5)]) > 10.0
    assert "mod-active" not in (toggle.get_attribute("class") or "")

    toggle.click()  # on again: laid over the image
    again = _pixels(page, _PRED, plain["predicted"]["src"])
    assert _distance(again["rgb"], expected[("predicted", 0.5)]) < 1.0

    # -- zoom: the original file at native resolution, pan and zoom -----------------------
    with Image.open(store.image_path(sid)) as original:
        width, height = original.size
    assert (width, height) != (size, size)  # the file, not the model's input
    _open_fold(page, "zoom")
    zoom = page.locator(".ea-dashboard .ea-inspector .ea-zoom").first
    assert zoom.is_hidden()
    page.locator(".ea-dashboard .ea-inspector button.ea-zoom-toggle").first.click()
    zoom.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "(sel) => { const i = document.querySelector(sel);"
        " return !!i && i.complete && i.naturalWidth > 0; }",
        arg=_ZOOM_IMG,
        timeout=30_000,
    )
    natural = page.evaluate(
        f"() => {{ const i = document.querySelector({_ZOOM_IMG!r});"
        " return [i.naturalWidth, i.naturalHeight, i.src.slice(0, 22)]; }"
    )
    assert natural[:2] == [width, height], natural
    assert natural[2].startswith("data:image/png"), natural
    status = page.locator(".ea-dashboard .ea-inspector .ea-zoom-status").first.inner_text()
    assert f"{width}×{height}" in status

    view = page.locator(".ea-dashboard .ea-inspector .ea-zoom-view").first
    view.scroll_into_view_if_needed()
    box = view.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    x0, y0, s0 = _transform(page)
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, -300)
    page.wait_for_function(
        f"(s) => {{ const m = document.querySelector({_ZOOM_IMG!r}).style.transform"
        ".match(/scale\\(([-\\d.e]+)\\)/); return m && Number(m[1]) > s * 1.2; }",
        arg=s0,
        timeout=10_000,
    )
    x1, y1, s1 = _transform(page)
    assert s1 > s0 * 1.2, (s0, s1)
    # about the pointer: the image point under it stays under it
    px, py = cx - box["x"], cy - box["y"]
    assert (px - x1) / s1 == pytest.approx((px - x0) / s0, abs=0.5)
    assert (py - y1) / s1 == pytest.approx((py - y0) / s0, abs=0.5)
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 20, cy + 10, steps=2)
    page.mouse.move(cx + 40, cy + 25, steps=2)
    page.mouse.up()
    x2, y2, s2 = _transform(page)
    assert s2 == pytest.approx(s1)
    assert (x2 - x1, y2 - y1) == (pytest.approx(40, abs=1), pytest.approx(25, abs=1))
    lab.save_screenshot(page, "inspector_saliency_zoom")

    page.locator(".ea-dashboard .ea-inspector button.ea-zoom-toggle").first.click()
    zoom.wait_for(state="hidden", timeout=10_000)
