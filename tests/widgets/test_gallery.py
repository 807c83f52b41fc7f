from __future__ import annotations

import numpy as np
import pytest

from erroranalysis.widgets import Gallery, Selection, ThumbnailCache


def test_default_shows_lowest_label_quality_first(scanned_store):
    gallery = Gallery(scanned_store, page_size=10)
    frame = scanned_store.frame()
    expected = frame.sort_values("label_quality", kind="stable")["sample_id"].head(10).tolist()
    assert gallery.page_ids() == expected
    assert [item["sample_id"] for item in gallery.grid.items] == expected
    assert len(gallery.grid.thumbs) == 10
    assert all(url.startswith("data:image/jpeg;base64,") for url in gallery.grid.thumbs)
    assert ">60<" in gallery.count.value
    assert "ea-gallery-count" in gallery.count._dom_classes


def test_sort_by_any_score_and_direction(scanned_store):
    gallery = Gallery(scanned_store, page_size=5)
    gallery.sort_by.value = "loss"
    gallery.ascending.value = False
    frame = scanned_store.frame()
    assert (
        gallery.page_ids()
        == frame.sort_values("loss", ascending=False, kind="stable")["sample_id"].head(5).tolist()
    )
    with pytest.raises(ValueError, match="choose one of"):
        Gallery(scanned_store, sort_by="no_such_column")


def test_shows_the_selection_and_pages(scanned_store):
    sel = Selection()
    gallery = Gallery(scanned_store, selection=sel, page_size=4)
    ids = scanned_store.frame()["sample_id"].tolist()[:10]
    sel.select(ids, source="api", description="ten samples")
    assert set(gallery.order_ids()) == set(ids)
    assert gallery.num_pages == 3
    assert ">10<" in gallery.count.value and "ten samples" in gallery.count.value
    gallery.next_button.click()
    assert gallery.page == 1
    gallery.go(99)
    assert gallery.page == 2 and len(gallery.page_ids()) == 2
    assert gallery.next_button.disabled
    sel.select([], source="api")
    assert len(gallery.order) == 60 and gallery.page == 0


def test_click_thumbnail_focuses(scanned_store):
    sel = Selection()
    gallery = Gallery(scanned_store, selection=sel)
    sid = gallery.page_ids()[3]
    gallery.grid.simulate_click(sample_id=sid)
    assert sel.focused == sid and sel.focus_source == "gallery"
    assert gallery.grid.focused == sid
    sel.focus(gallery.page_ids()[0], source="scatter")
    assert gallery.grid.focused == gallery.page_ids()[0]


def test_badges_follow_relabels_and_flags(scanned_store):
    gallery = Gallery(scanned_store, page_size=60)
    sid = gallery.page_ids()[0]
    item = gallery.grid.items[0]
    current = item["caption"].split(" → ")[0]
    other = next(c for c in scanned_store.classes if c != current)
    thumbs_before = gallery.grid.thumbs
    scanned_store.relabel(sid, other)
    item = gallery.grid.items[0]
    assert "relabeled" in item["badges"] and item["caption"].startswith(other)
    assert gallery.grid.thumbs is thumbs_before  # a relabel re-sends captions, not images
    scanned_store.flag(sid, "weak_spot")
    assert "weak_spot" in gallery.grid.items[0]["badges"]
    scanned_store.undo()
    scanned_store.undo()
    assert "relabeled" not in gallery.grid.items[0]["badges"]


def test_thumbnails_are_cached_in_the_store(scanned_store):
    cache = ThumbnailCache(scanned_store)
    sid = scanned_store.sample_ids[0]
    raw = cache.thumbnail_bytes(sid, 32)
    assert raw[:2] == b"\xff\xd8"  # JPEG
    target = cache.file_for(sid, 32)
    assert target.exists() and target.is_relative_to(scanned_store.path / "cache" / "thumbnails")
    assert cache.made == 1
    again = ThumbnailCache(scanned_store)
    assert again.thumbnail_bytes(sid, 32) == raw
    assert again.made == 0  # read from disk, not made again


def test_missing_image_gives_placeholder(scanned_store):
    cache = ThumbnailCache(scanned_store)
    sid = scanned_store.sample_ids[1]
    path = scanned_store.image_path(sid)
    path.unlink()
    assert cache.data_url(sid) == ""
    assert sid in cache.failed


def test_store_without_images(tmp_path):
    from tests.stores import make_store

    store = make_store(tmp_path / "noimg", n=60, images=False)
    gallery = Gallery(store)
    assert gallery.grid.thumbs == [""] * len(gallery.page_ids())


def test_unscanned_store_lists_samples_in_store_order(unscanned_store):
    gallery = Gallery(unscanned_store, page_size=5)
    assert gallery.sort_by.value == ""
    assert gallery.page_ids() == unscanned_store.sample_ids[:5].tolist()
    assert np.all(gallery.order == np.arange(30))
