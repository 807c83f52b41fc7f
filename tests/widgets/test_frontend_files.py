"""The front end as files, events as messages (issue 15, item 9).

Every anywidget front-end of the package is an ES module in ``widgets/static/`` and loads the
package's one stylesheet; the wheel carries them (a non-editable install works); no Python source
or ES module styles elements inline; clicks and keys reach Python as custom messages, so two
quick clicks are two events; and a view that fails while it updates says so in the dashboard's
status line.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import anywidget
import pytest

import erroranalysis.widgets as package
from erroranalysis.widgets import _frontend
from erroranalysis.widgets.scatter import ScatterCanvas

WIDGETS = Path(package.__file__).parent
STATIC = WIDGETS / "static"
REPO = WIDGETS.parent.parent

FRONT_ENDS = [
    _frontend.HeatmapWidget,
    _frontend.GridWidget,
    _frontend.TableWidget,
    _frontend.KeysWidget,
    _frontend.ZoomWidget,
    _frontend.Stylesheet,
    ScatterCanvas,
]


def _source(attribute) -> Path | None:
    """The file an anywidget ``_esm`` / ``_css`` class attribute was loaded from."""
    path = getattr(attribute, "_path", None) or (attribute if isinstance(attribute, Path) else None)
    return Path(path) if path is not None else None


@pytest.mark.parametrize("cls", FRONT_ENDS, ids=lambda c: c.__name__)
def test_each_front_end_is_a_static_file_with_the_one_stylesheet(cls):
    assert issubclass(cls, anywidget.AnyWidget)
    esm, css = _source(cls._esm), _source(cls._css)
    assert esm is not None and esm.parent == STATIC and esm.suffix == ".js", cls._esm
    assert css == STATIC / "erroranalysis.css"
    assert re.search(r"export\s*(default|\{)", esm.read_text())


def test_no_inline_styles_in_the_views():
    """Styling lives in erroranalysis.css; inline ``style`` only passes data values as custom
    properties (``--ea-shade``: a cell's shade, ``--ea-p``: a bar's length, …)."""
    offenders = []
    for path in [*WIDGETS.glob("*.py"), *STATIC.glob("*.js"), REPO / "js/scatter/index.js"]:
        if path.name == "scatter.js":  # the bundle: built from js/scatter/index.js
            continue
        text = path.read_text()
        for pattern in (r"<style", r"cssText", r"_BASE_CSS", r"_css\s*=\s*[\"(]"):
            offenders += [f"{path.name}: {pattern}"] if re.search(pattern, text) else []
        for match in re.finditer(r"(?<!\w)style\s*=\s*[\"']([^\"']*)[\"']", text):
            declarations = [d.strip() for d in match.group(1).split(";") if d.strip()]
            if not all(d.startswith("--ea-") for d in declarations):
                offenders.append(f"{path.name}: style={match.group(1)!r}")
        for match in re.finditer(r"\.style\.(\w+)", text):
            if match.group(1) not in {"setProperty", "display", "left", "top", "transform"}:
                offenders.append(f"{path.name}: .style.{match.group(1)}")
    assert not offenders, offenders


def test_the_wheel_carries_the_front_end(tmp_path):
    """A non-editable install gets every ES module and the stylesheet (package data)."""
    from hatchling.builders.wheel import WheelBuilder

    wheel = Path(next(iter(WheelBuilder(str(REPO)).build(directory=str(tmp_path)))))
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {f"erroranalysis/widgets/static/{p.name}" for p in STATIC.iterdir() if p.is_file()}
    assert {"erroranalysis/widgets/static/erroranalysis.css"} <= wanted
    assert wanted <= names, sorted(wanted - names)


def test_two_quick_clicks_are_two_events():
    """Clicks are messages, not a synced trait the widget manager could merge."""
    heatmap = _frontend.HeatmapWidget()
    assert "clicked" not in heatmap.trait_names()
    got = []
    heatmap.on_click(got.append)
    # what arrives when the page calls model.send(...) twice, as quickly as it can
    heatmap._on_page_message(heatmap, {"type": "click", "row": 1, "col": 2}, [])
    heatmap._on_page_message(heatmap, {"type": "click", "row": 1, "col": 2}, [])
    assert [(m["row"], m["col"]) for m in got] == [(1, 2), (1, 2)]
    keys = _frontend.KeysWidget(shortcut_keys=["1"])
    assert "key" not in keys.trait_names()
    pressed = []
    keys.on_key(pressed.append)
    keys._on_page_message(keys, {"type": "key", "key": "1"}, [])
    keys._on_page_message(keys, {"type": "key", "key": "1"}, [])
    assert pressed == ["1", "1"]


def test_page_modules_send_messages():
    for name in ("heatmap.js", "grid.js", "table.js", "keys.js"):
        text = (STATIC / name).read_text()
        assert "model.send(" in text, name
        assert 'model.set("clicked"' not in text and 'model.set("key"' not in text, name


def test_a_failing_view_says_so_in_the_status_line(dashboard, scanned_store):
    def broken(change):
        raise RuntimeError("the gallery broke")

    dashboard.gallery.on_change = broken
    sid = dashboard.data.sample_ids[0]
    other = next(c for c in scanned_store.classes if c != dashboard.data.label_name(0))
    scanned_store.relabel(sid, other)
    assert "the gallery broke" in dashboard.status.value
    assert "ea-status-error" in dashboard.status.value
    # the other views still updated
    assert dashboard.inspector.data.label_name(0) == other


def test_a_failing_click_handler_says_so_in_the_status_line(dashboard):
    def broken(row, col):
        raise RuntimeError("cell exploded")

    dashboard.confusion.click = broken
    dashboard.confusion.heatmap.simulate_click(row=0, col=1)
    assert "cell exploded" in dashboard.status.value


def test_a_view_on_its_own_shows_its_error_in_its_message_line(scanned_store):
    from erroranalysis.widgets import Gallery

    gallery = Gallery(scanned_store)
    gallery.on_change = lambda change: 1 / 0
    scanned_store.relabel(
        gallery.data.sample_ids[0], "dog" if gallery.data.label_name(0) != "dog" else "cat"
    )
    assert "ZeroDivisionError" in gallery.message.value
    gallery.close()
