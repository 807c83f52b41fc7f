"""What every view shares: the data, the selection, a message line and its CSS class."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import numpy as np

from erroranalysis.widgets._data import Change, ViewData
from erroranalysis.widgets.selection import Selection

__all__ = ["View", "as_data"]


def as_data(store: Any, run: Any = None) -> ViewData:
    """A :class:`ViewData` for ``store`` (passed through if it already is one)."""
    if isinstance(store, ViewData):
        return store
    return ViewData(store, run)


class View(widgets.VBox):
    """Base of the linked views: a VBox with a stable CSS class, a message line, and hooks.

    Parameters
    ----------
    store : Store or ViewData
        The store (or the dashboard's shared data).
    run : str, optional
        Which run (default: latest).
    selection : Selection, optional
        The selection to share with other views (a new one if not given).
    """

    view_name = "view"
    css_class = "ea-view"

    def __init__(self, store: Any, run: Any = None, selection: Selection | None = None, **kwargs):
        super().__init__(**kwargs)
        self.data = as_data(store, run)
        self.selection = selection if selection is not None else Selection()
        if self.selection.bound_ids is None:
            # the first view binds a shared selection to its store's ids: from then on views
            # select and read row positions, not strings
            self.selection.bind(self.data.id_index)
        self.add_class(self.css_class)
        self.message = widgets.HTML(layout=widgets.Layout(display="none"))
        self.message.add_class("ea-message")
        self._closed = False
        self.data.listen(self._handle_change)
        self.selection.observe(self._handle_selection, "version")
        self.selection.observe(self._handle_focus, "focused")

    # -- messages ------------------------------------------------------------------------
    def show_message(self, text: str | None) -> None:
        """Show ``text`` above the view (``None`` hides it)."""
        if text:
            self.message.value = f'<div class="ea-message-text">{html.escape(text)}</div>'
            self.message.layout.display = None
        else:
            self.message.value = ""
            self.message.layout.display = "none"

    # -- hooks for subclasses ------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        """Store events arrived (relabel, flag, undo, …); update incrementally."""

    def on_selection(self, positions: np.ndarray, source: str) -> None:
        """The shared selection changed (not by this view); ``positions`` are its rows in this
        view's data (read-only int64, in the selection's order)."""

    # -- the shared selection, as row positions ------------------------------------------
    def selected_rows(self) -> np.ndarray:
        """The shared selection as row positions of this view's data (read-only int64).

        No sample id is made or looked up when the selection is bound to this data's ids (the
        dashboard's views share one data), which is what keeps a 300k selection cheap.
        """
        return self.selection.positions_in(self.data.id_index)

    def select_rows(self, positions: np.ndarray, description: str = "") -> None:
        """Select the samples at row ``positions`` of this view's data, as this view.

        Parameters
        ----------
        positions : numpy.ndarray
            Row positions, in the order the gallery should show them when it is not sorted.
        description : str
            A short human description of the selection.
        """
        positions = np.asarray(positions, dtype=np.int64)
        if self.selection.is_bound_to(self.data.id_index):
            self.selection.select_positions(
                positions, source=self.view_name, description=description
            )
        else:  # shared with views of another store: only sample ids mean the same to both
            self.selection.select(
                self.data.ids_at(positions), source=self.view_name, description=description
            )

    def on_focus(self, sample_id: str | None, source: str) -> None:
        """The focused sample changed (not by this view)."""

    # -- errors --------------------------------------------------------------------------
    def report_error(self, what: str, error: BaseException) -> None:
        """Show that updating this view failed: in the dashboard's status line when the view
        is part of one (it listens on the shared data), else in this view's message line."""
        if not self.data.report_error(what, error):
            self.show_message(f"{what}: {type(error).__name__}: {error}")

    def guard(self, callback: Callable[..., Any], what: str | None = None) -> Callable[..., Any]:
        """``callback`` wrapped so that an exception is reported (:meth:`report_error`) rather
        than lost in the kernel's log; used for every event from the page."""
        what = what or f"the {self.view_name} failed to handle an event"

        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except Exception as error:
                self.report_error(what, error)
                return None

        return guarded

    # -- plumbing ------------------------------------------------------------------------
    def _handle_change(self, change: Change) -> None:
        if self._closed:
            return
        try:
            self.on_change(change)
        except Exception as error:
            self.report_error(f"the {self.view_name} failed to update after store events", error)

    def _handle_selection(self, event: dict) -> None:
        if self._closed or self.selection.source == self.view_name:
            return
        try:
            self.on_selection(self.selected_rows(), self.selection.source)
        except Exception as error:
            self.report_error(f"the {self.view_name} failed to show the selection", error)

    def _handle_focus(self, event: dict) -> None:
        if self._closed or self.selection.focus_source == self.view_name:
            return
        try:
            self.on_focus(event["new"], self.selection.focus_source)
        except Exception as error:
            self.report_error(f"the {self.view_name} failed to show the focused sample", error)

    def close(self) -> None:
        """Stop following the store and the selection, and close the widget."""
        if not getattr(self, "_closed", True):  # missing when __init__ failed half-way
            self._closed = True
            self.data.unlisten(self._handle_change)
            self.selection.unobserve(self._handle_selection, "version")
            self.selection.unobserve(self._handle_focus, "focused")
        super().close()
