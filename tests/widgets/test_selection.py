from __future__ import annotations

from erroranalysis.widgets.selection import Selection


def test_select_sets_ids_and_source_in_one_notification():
    sel = Selection()
    seen = []
    sel.observe(
        lambda change: seen.append((change["new"], sel.source, sel.description)), "sample_ids"
    )
    sel.select(["a", "b"], source="confusion", description="given a")
    assert seen == [(("a", "b"), "confusion", "given a")]
    assert len(sel) == 2


def test_select_coerces_ids_to_str():
    sel = Selection()
    sel.select([1, 2])
    assert sel.sample_ids == ("1", "2")


def test_focus_and_clear():
    sel = Selection()
    sources = []
    sel.observe(lambda change: sources.append((change["new"], sel.focus_source)), "focused")
    sel.focus("x", source="gallery")
    assert sel.focused == "x"
    sel.select(["x", "y"])
    sel.clear(source="dashboard")
    assert sel.sample_ids == ()
    assert sel.focused is None
    assert sources == [("x", "gallery"), (None, "dashboard")]


def test_repr_names_counts():
    sel = Selection()
    sel.select(["a"], source="api")
    assert "1 samples" in repr(sel)


def test_version_counts_every_select_even_with_same_ids():
    sel = Selection()
    seen = []
    sel.observe(lambda change: seen.append(change["new"]), "version")
    sel.select([], source="confusion", description="an empty cell")
    sel.clear()
    sel.select(["a"])
    sel.select(["a"])
    assert seen == [1, 2, 3, 4]


def test_clearing_after_an_empty_cell_shows_all_samples_again(scanned_store):
    from erroranalysis.widgets import Gallery

    sel = Selection()
    gallery = Gallery(scanned_store, selection=sel)
    sel.select([], source="confusion", description="given cat, predicted dog")
    assert len(gallery.order) == 0 and ">0<" in gallery.count.value
    sel.clear()
    assert len(gallery.order) == 60
