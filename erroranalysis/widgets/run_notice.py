"""The dashboard's "a newer run is ready" notice, with a button that switches to it.

A run that lands in the store while a dashboard is open (the demo's full k-fold run, trained in
the background after its quick first run; a colleague's new model) is announced in the header
instead of being ignored until the notebook is re-run: :meth:`RunNotice.check` (called by the
dashboard's poller) compares the store's runs with those it already knew, and *show it* rebuilds
the dashboard's views on the new run, in place.

>>> notice = RunNotice(store, on_show=dashboard.show_run)   # doctest: +SKIP
>>> notice.check()                                          # doctest: +SKIP
'demo'
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

__all__ = ["RunNotice"]


class RunNotice(widgets.HBox):
    """A hidden notice that appears when a run newer than the shown one is added to the store.

    Parameters
    ----------
    store : Store
        The store to watch.
    on_show : callable
        Called with the new run's name when *show it* is pressed.

    Attributes
    ----------
    newer : str or None
        The newest run that landed since the notice last :meth:`reset`, or None.
    """

    def __init__(self, store: Any, on_show: Callable[[str], None]) -> None:
        self.store = store
        self.newer: str | None = None
        self._on_show = on_show
        self._known: set[str] = set(store.runs())
        self.text = widgets.HTML()
        self.button = widgets.Button(
            description="show it",
            icon="arrow-right",
            button_style="info",
            tooltip="rebuild the views of this dashboard on the newer run",
            layout=widgets.Layout(width="90px"),
        )
        self.button.on_click(lambda _: self.newer is not None and self._on_show(self.newer))
        super().__init__([self.text, self.button], layout=widgets.Layout(display="none"))
        self.add_class("ea-run-notice")

    def reset(self) -> None:
        """Forget the notice: every run in the store now counts as known."""
        self._known = set(self.store.runs())
        self.newer = None
        self.layout.display = "none"

    def check(self) -> str | None:
        """Look for a run added since the last :meth:`reset`; show the notice if there is one.

        Returns
        -------
        str or None
            The newest such run (the store orders runs by creation time), or None.
        """
        new = [name for name in self.store.runs() if name not in self._known]
        if not new:
            return None
        name = new[-1]
        try:
            scanned = bool(self.store.run(name).results())
        except Exception:  # a run being replaced this very moment: look again next time
            return None
        info = self.store.run(name).info
        model = info.get("model") or "a model"
        state = "" if scanned else " (not scanned yet: <code>ea.scan(store, run)</code>)"
        self.text.value = (
            f'<span class="ea-run-notice-text">a newer run <code>{html.escape(name)}</code> '
            f"({html.escape(str(model))}) is ready{state}</span>"
        )
        self.newer = name
        self.layout.display = "flex"
        return name
