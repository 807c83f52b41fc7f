"""Small anywidget front-ends used by the views: a clickable heatmap table, a thumbnail grid, a
sortable table, a keyboard listener, a zoom view and the stylesheet carrier.

The ES modules are files of the package (``widgets/static/*.js``) and every front-end loads the
package's one stylesheet (``widgets/static/erroranalysis.css``) as its ``_css``.

One-shot events (clicks, key presses) travel from the page as custom messages
(``model.send(...)`` in the page, :meth:`anywidget.AnyWidget.on_msg` here), never as a synced
trait: the widget manager keeps only the latest value of each trait while a message is in flight,
so two quick clicks written to one trait can arrive as one. A view registers a callback with
:meth:`_EventMixin.on_event`; tests (and scripts) act as the page does with ``simulate_click`` /
``simulate_key``, which go through the same dispatch as the page's messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

__all__ = [
    "STATIC",
    "STYLESHEET",
    "GridWidget",
    "HeatmapWidget",
    "KeysWidget",
    "Stylesheet",
    "TableWidget",
    "ZoomWidget",
    "table_number",
]

logger = logging.getLogger(__name__)

#: The folder of the front-end files (package data).
STATIC = Path(__file__).parent / "static"
#: The package's one stylesheet.
STYLESHEET = STATIC / "erroranalysis.css"


class _EventMixin(traitlets.HasTraits):
    """Dispatch the page's custom messages ``{"type": kind, ...}`` to registered callbacks."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._event_handlers: dict[str, list[Callable[[dict], Any]]] = {}
        self.on_msg(self._on_page_message)

    def on_event(self, kind: str, callback: Callable[[dict], Any]) -> None:
        """Call ``callback(message)`` for every ``{"type": kind, ...}`` message from the page."""
        self._event_handlers.setdefault(kind, []).append(callback)

    def _on_page_message(self, _widget: Any, content: Any, buffers: Any = None) -> None:
        if not isinstance(content, dict):
            return
        for callback in list(self._event_handlers.get(str(content.get("type")), ())):
            callback(content)

    def _dispatch(self, kind: str, **payload: Any) -> None:
        self._on_page_message(self, {"type": kind, **payload}, [])


class _ClickMixin(_EventMixin):
    def on_click(self, callback: Callable[[dict], Any]) -> None:
        """Call ``callback(payload)`` on every click in the page."""
        self.on_event("click", callback)

    def simulate_click(self, **payload: Any) -> None:
        """Act as the page does on a click (used by tests and scripted demos)."""
        self._dispatch("click", **payload)


class HeatmapWidget(_ClickMixin, anywidget.AnyWidget):
    """A K×K table of cells coloured by ``shades`` (0..1), showing ``texts``.

    A click on a cell sends ``{"type": "click", "row": i, "col": j}`` (see :meth:`on_click`).
    """

    _esm = STATIC / "heatmap.js"
    _css = STYLESHEET
    row_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    col_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    texts = traitlets.List().tag(sync=True)
    shades = traitlets.List().tag(sync=True)
    selected_cell = traitlets.List().tag(sync=True)
    diagonal = traitlets.Bool(True).tag(sync=True)
    row_title = traitlets.Unicode("given").tag(sync=True)
    col_title = traitlets.Unicode("predicted").tag(sync=True)
    caption = traitlets.Unicode("").tag(sync=True)
    #: A line above the table (the overall accuracy).
    summary = traitlets.Unicode("").tag(sync=True)
    #: The cell to outline as the worst ([row, col], or empty).
    worst_cell = traitlets.List().tag(sync=True)
    #: A margin cell per row (recall) and per column (precision), with their titles.
    row_margin = traitlets.List(traitlets.Unicode()).tag(sync=True)
    col_margin = traitlets.List(traitlets.Unicode()).tag(sync=True)
    row_margin_title = traitlets.Unicode("").tag(sync=True)
    col_margin_title = traitlets.Unicode("").tag(sync=True)


class GridWidget(_ClickMixin, anywidget.AnyWidget):
    """A grid of thumbnails (``thumbs``: data URLs) with captions and badges (``items``).

    A click on a thumbnail sends ``{"type": "click", "sample_id": ...}``.
    """

    _esm = STATIC / "grid.js"
    _css = STYLESHEET
    thumbs = traitlets.List(traitlets.Unicode()).tag(sync=True)
    items = traitlets.List(traitlets.Dict()).tag(sync=True)
    focused = traitlets.Unicode("").tag(sync=True)
    empty_text = traitlets.Unicode("nothing to show").tag(sync=True)
    #: Thumbnail width in pixels (the stylesheet's --ea-thumb-size).
    thumb_size = traitlets.Int(104).tag(sync=True)


def table_number(value: Any, digits: str = ".3f") -> str:
    """A table cell's text for a number: "—" for missing, thousands separators for integers.

    Parameters
    ----------
    value : int, float or None
        The number (NaN and None are missing).
    digits : str
        Format spec for non-integers.

    Returns
    -------
    str
    """
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return "—"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return format(float(value), digits)


class TableWidget(_ClickMixin, anywidget.AnyWidget):
    """A table: a header click sends ``{"sort": column}``, a row ``{"row": i, "sample_id": ...}``."""

    _esm = STATIC / "table.js"
    _css = STYLESHEET
    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    rows = traitlets.List().tag(sync=True)
    row_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sort_by = traitlets.Unicode("").tag(sync=True)
    sort_desc = traitlets.Bool(False).tag(sync=True)
    focused = traitlets.Unicode("").tag(sync=True)
    empty_text = traitlets.Unicode("nothing to show").tag(sync=True)


class KeysWidget(_EventMixin, anywidget.AnyWidget):
    """Keyboard shortcuts for the review loop, active while the pointer is over the dashboard.

    The page listens for key presses (window, capture phase) while the pointer is over the
    nearest ``.ea-dashboard`` ancestor (and no text field has the focus) and sends
    ``{"type": "key", "key": k}`` for each of ``shortcut_keys``.
    """

    _esm = STATIC / "keys.js"
    _css = STYLESHEET
    shortcut_keys = traitlets.List(traitlets.Unicode()).tag(sync=True)
    hint = traitlets.Unicode("").tag(sync=True)

    def on_key(self, callback: Callable[[str], Any]) -> None:
        """Call ``callback(key)`` for every shortcut key pressed in the page."""
        self.on_event("key", lambda message: callback(str(message.get("key", ""))))

    def simulate_key(self, key: str) -> None:
        """Act as the page does on a key press (used by tests)."""
        self._dispatch("key", key=key)


class ZoomWidget(anywidget.AnyWidget):
    """An image at its native resolution in a fixed viewport, with pan and zoom.

    Wheel zooms about the pointer, drag pans, double-click (or the ``fit`` button) fits the image
    to the viewport, ``1:1`` shows one image pixel per screen pixel. Pan and zoom are CSS
    transforms in the browser; Python only sends the image once (``src``, a data URL).
    """

    _esm = STATIC / "zoom.js"
    _css = STYLESHEET
    src = traitlets.Unicode("").tag(sync=True)
    natural_width = traitlets.Int(0).tag(sync=True)
    natural_height = traitlets.Int(0).tag(sync=True)
    view_width = traitlets.Int(480).tag(sync=True)
    view_height = traitlets.Int(360).tag(sync=True)


class Stylesheet(anywidget.AnyWidget):
    """Shows nothing; brings the package's stylesheet into the page where no other front-end does
    (the dashboard, the export and pseudo-label panels)."""

    _esm = STATIC / "stylesheet.js"
    _css = STYLESHEET
