"""The linked dashboard: every view over one store, one selection, kept current.

>>> import erroranalysis as ea
>>> store = ea.Store.open("demo-store")      # doctest: +SKIP
>>> ea.scan(store)                            # doctest: +SKIP
>>> ea.show(store)                            # doctest: +SKIP

Click a confusion cell → its samples fill the gallery and light up in the scatter; box/lasso in
the scatter → the gallery; a thumbnail, a point or an issue row → the inspector; relabel / undo in
the inspector → the journal, and every view updates at once. Relabels made elsewhere (another
notebook, the CLI, an annotation import) show up within about ``poll_interval`` seconds: a poller
on the kernel's asyncio loop calls ``store.refresh()`` (no thread ever touches a widget).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import weakref
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from erroranalysis.store.identity import new_session_id, normalise_author
from erroranalysis.widgets._data import ViewData
from erroranalysis.widgets._frontend import Stylesheet
from erroranalysis.widgets.confusion import ConfusionMatrix
from erroranalysis.widgets.gallery import Gallery
from erroranalysis.widgets.inspector import Inspector
from erroranalysis.widgets.issues import IssueTable
from erroranalysis.widgets.run_notice import RunNotice
from erroranalysis.widgets.scatter import EmbeddingScatter
from erroranalysis.widgets.selection import Selection
from erroranalysis.widgets.slices import SliceTable
from erroranalysis.widgets.thumbnails import ThumbnailCache

__all__ = ["Dashboard", "show"]

# the dashboard now polling each (store, run): at most one poller per pair per kernel
_POLLING: weakref.WeakValueDictionary = weakref.WeakValueDictionary()

logger = logging.getLogger(__name__)


class Dashboard(widgets.VBox):
    """All views of one store and run, linked through one :class:`Selection`.

    Parameters
    ----------
    store : Store or path
        The store (a path is opened).
    run : str, optional
        Which run (default: the latest).
    selection : Selection, optional
        Share a selection with other widgets (a new one by default).
    author : str, optional
        Recorded as the author of changes made in the inspector, and named in the header
        (default: the operating-system user and host). The inspector's undo undoes only this
        dashboard's own changes (its author and session).
    poll_interval : float or None
        Seconds between checks for changes made by other processes (``None``: never poll;
        call :meth:`refresh` yourself).

    Attributes
    ----------
    confusion, gallery, scatter, issues, slices, inspector
        The views (each also usable on its own).
    export : ExportPanel
        Hands the selection or the relabel candidates to annotators (the "export" tab).
    pseudo : PseudoLabelPanel or None
        Per-class pseudo-label thresholds and Accept (the "pseudo-labels" tab; None without a
        run).
    compare, dataset : RunComparePanel, DatasetHealthPanel
        Two runs compared, and the dataset's health (the "compare" and "dataset" tabs).
    annotators : AnnotatorPanel
        Each annotator's quality and the low-consensus samples (the "annotators" tab).
    selection : Selection
        The shared selection.
    """

    def __init__(
        self,
        store: Any,
        run: Any = None,
        selection: Selection | None = None,
        author: str | None = None,
        poll_interval: float | None = 1.5,
    ) -> None:
        super().__init__()
        if isinstance(store, str | os.PathLike):
            from erroranalysis.store import Store

            store = Store.open(Path(store))
        self.store = store
        self.add_class("ea-dashboard")
        self.selection = selection if selection is not None else Selection()
        self.author = normalise_author(author) or store.author
        self.session = new_session_id()
        self.poll_interval = poll_interval
        self.thumbnails = ThumbnailCache(store)
        self._poller: asyncio.Task | None = None
        self._closed = False
        self._style = Stylesheet()
        self.run_notice = RunNotice(store, on_show=self.show_run)
        self._build(run)
        if poll_interval:
            self.start_polling(poll_interval)

    def _build(self, run: Any) -> None:
        self.data = ViewData(self.store, run)
        self.data.on_error(self.show_error)
        # every view selects and reads row positions of this data (a rebuild after a scan that
        # added samples rebinds: the selected samples are kept, by id)
        self.selection.bind(self.data.id_index)
        info = self.data.run.result_info("projection") if self.data.run is not None else None
        self._projection_created = (info or {}).get("created")
        common = {"selection": self.selection}
        self.confusion = ConfusionMatrix(self.data, **common)
        self.scatter = EmbeddingScatter(self.data, height=330, width=360, **common)
        self.gallery = Gallery(self.data, thumbnails=self.thumbnails, thumb_size=84, **common)
        self.inspector = Inspector(
            self.data,
            author=self.author,
            session=self.session,
            thumbnails=self.thumbnails,
            image_size=150,
            sequence=lambda: self.gallery.order,
            **common,
        )
        self.issues = IssueTable(self.data, page_size=14, **common)
        self.scatter.on_hover(self._hover)
        self.slices = SliceTable(self.data, **common)
        run_name = self.data.run.name if self.data.run is not None else "no run yet"
        self.header = widgets.HTML(
            f'<div class="ea-dashboard-title"><b>erroranalysis</b> · '
            f"{html.escape(Path(self.store.path).name)} · run <code>{html.escape(run_name)}</code> · "
            f"{self.data.num_samples:,} samples · {len(self.data.classes)} classes · "
            f'<span class="ea-dashboard-author" title="recorded as the author of changes made '
            f'here">author <b>{html.escape(self.author)}</b></span></div>'
        )
        self.refresh_button = widgets.Button(
            description="refresh", icon="refresh", layout=widgets.Layout(width="100px")
        )
        self.refresh_button.on_click(lambda _: self.refresh())
        self.clear_button = widgets.Button(
            description="clear selection", layout=widgets.Layout(width="130px")
        )
        self.clear_button.add_class("ea-clear-selection")
        self.clear_button.on_click(lambda _: self.selection.clear(source="dashboard"))
        self.status = widgets.HTML()
        self.status.add_class("ea-dashboard-status")
        self.export = _export_panel(self.store, self.selection, run_name if self.data.run else None)
        pages = [
            ("gallery", self.gallery),
            ("issues", self.issues),
            ("slices", self.slices),
            ("export", self.export),
        ]
        self.pseudo = None
        if self.data.run is not None:
            from erroranalysis.widgets.pseudo_label import PseudoLabelPanel

            self.pseudo = PseudoLabelPanel(
                self.store, run=run_name, author=self.author, session=self.session,
                thumbnails=self.thumbnails,
            )  # fmt: skip
            pages.append(("pseudo-labels", self.pseudo))
        from erroranalysis.widgets.annotators import AnnotatorPanel
        from erroranalysis.widgets.compare import RunComparePanel
        from erroranalysis.widgets.dataset_health import DatasetHealthPanel

        self.compare = RunComparePanel(self.data, **common)
        self.dataset = DatasetHealthPanel(self.data, **common)
        self.annotators = AnnotatorPanel(self.data, **common)
        pages += [("compare", self.compare), ("dataset", self.dataset)]
        pages.append(("annotators", self.annotators))
        # One screen (1600 × 1200 without scrolling the page): the confusion matrix and the
        # scatter side by side, the gallery and the other panels as tabs under them, the
        # inspector (actions next to its image, details folded) in a column on the right.
        self.tabs = tabs = widgets.Tab(children=[page for _, page in pages])
        tabs.add_class("ea-dashboard-tabs")
        for i, (title, _) in enumerate(pages):
            tabs.set_title(i, title)
        self.selection.observe(self._show_gallery_tab, "version")
        self.confusion.layout = widgets.Layout(flex="0 0 auto")
        # a fixed width: its legend wraps inside it (else the legend's one long line widens
        # the scatter and pushes the confusion matrix out of the view at the left)
        self.scatter.layout = widgets.Layout(flex="0 0 auto", width="390px")
        self.inspector.layout = widgets.Layout(flex="0 0 400px", width="400px", overflow="hidden")
        top = widgets.HBox([self.confusion, self.scatter])
        top.add_class("ea-dashboard-top")
        left = widgets.VBox([top, tabs], layout=widgets.Layout(flex="1 1 auto", min_width="0"))
        left.add_class("ea-dashboard-main")
        header = widgets.HBox(
            [self.header, self.clear_button, self.refresh_button, self.status, self.run_notice]
        )
        header.add_class("ea-dashboard-header")
        body = widgets.HBox([left, self.inspector])
        body.add_class("ea-dashboard-body")
        self.children = [self._style, header, body]

    def _hover(self, sample_id: str | None) -> None:
        """The point under the mouse: its thumbnail and labels beside it in the scatter."""
        if sample_id is None:
            self.scatter.canvas.tooltip = ""
            return
        pos = self.data.position(sample_id)
        label = self.data.label_name(pos)
        predicted = (
            self.data.classes[self.data.pred_codes[pos]]
            if self.data.pred_codes is not None and self.data.pred_codes[pos] >= 0
            else None
        )
        url = self.thumbnails.data_url(sample_id, 96)
        image = f'<img class="ea-hover-thumb" src="{url}" alt="">' if url else ""
        what = html.escape(label) + (
            f" → {html.escape(predicted)}" if predicted and predicted != label else ""
        )
        self.scatter.canvas.tooltip = (
            f'{image}<div class="ea-hover-id">{html.escape(sample_id)}</div>'
            f'<div class="ea-hover-labels">{what}</div>'
        )

    def _show_gallery_tab(self, _change: Any = None) -> None:
        """A new selection (a cell, a box, a slice) is shown in the gallery: bring its tab up."""
        if self.selection.source in ("confusion", "scatter", "slices", "annotators", "api"):
            self.tabs.selected_index = 0

    def show_error(self, message: str) -> None:
        """Show ``message`` (a view failed to update) in the status line, in the error colour."""
        self.status.value = (
            f'<span class="ea-status-error" title="{html.escape(message)}">'
            f"{html.escape(message)}</span>"
        )

    @property
    def views(self) -> list[Any]:
        """Every view of the dashboard."""
        return [
            self.confusion,
            self.scatter,
            self.gallery,
            self.inspector,
            self.issues,
            self.slices,
        ]

    # -- following other processes -------------------------------------------------------
    def refresh(self) -> bool:
        """Pick up changes written by other processes now; ``True`` if there were any."""
        changed = bool(self.store.refresh())
        if not changed:
            # events written through another handle of this process reach us only via sync
            changed = self.data.sync() is not None
        changed = self.annotators.check() or changed  # an import refreshed its cache
        return self._swap_projection() or changed

    def _swap_projection(self) -> bool:
        """Show a projection saved since the views were built (UMAP landing after PCA)."""
        run = self.data.run
        info = run.result_info("projection") if run is not None else None
        created = (info or {}).get("created")
        if created == self._projection_created:
            return False
        self._projection_created = created
        layout = run.load_result("projection")
        if layout is None or len(layout) != self.data.num_samples:
            return False
        self.scatter.set_positions(layout[["x", "y"]].to_numpy())
        return True

    def start_polling(self, interval: float = 1.5) -> bool:
        """Check for other processes' changes every ``interval`` seconds on the kernel's loop.

        Returns ``False`` (and polls nothing) when no asyncio loop is running, e.g. in a script;
        call :meth:`refresh` there.
        """
        self.stop_polling()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                loop = asyncio.get_event_loop_policy().get_event_loop()
            except RuntimeError:
                return False
            if not loop.is_running():
                return False
        self.poll_interval = float(interval)
        # Re-running a notebook cell makes a new dashboard of the same store and run and
        # leaves the old one out of sight: stop the old one's poller rather than pile them up.
        key = (str(Path(self.store.path).resolve()), getattr(self.data.run, "name", None))
        previous = _POLLING.get(key)
        if previous is not None and previous is not self:
            previous.stop_polling()
        _POLLING[key] = self
        self._poller = loop.create_task(self._poll())
        return True

    def stop_polling(self) -> None:
        """Stop the poller (if any)."""
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None

    @property
    def polling(self) -> bool:
        """Whether the poller is running."""
        return self._poller is not None and not self._poller.done()

    async def _poll(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.poll_interval)
            try:
                if self.refresh():
                    self.status.value = '<span class="ea-muted">updated from other processes</span>'
                if self.run_notice.check() is not None:
                    self.compare.update_runs()  # the new run can be compared before switching
            except Exception as error:  # keep polling: a transient read error must not kill it
                self.data.report_error("refreshing the store failed", error)

    def reload(self) -> None:
        """Rebuild every view from the store (after a new scan or a new run)."""
        run = self.data.run.name if self.data.run is not None else None
        self._close_views()
        self._build(run)

    def show_run(self, run: str) -> None:
        """Rebuild every view, in place, on another run (the *show it* of the newer-run notice)."""
        self.store.run(run)  # an unknown name raises here, before any view is closed
        self._close_views()
        self._build(run)
        self.run_notice.reset()
        if self.polling:  # the poller now follows (store, run): keep one per pair
            key = (str(Path(self.store.path).resolve()), run)
            _POLLING[key] = self

    def _close_views(self) -> None:
        with contextlib.suppress(ValueError):  # not observed yet (a failed first build)
            self.selection.unobserve(self._show_gallery_tab, "version")
        for name in (
            "confusion",
            "scatter",
            "gallery",
            "inspector",
            "issues",
            "slices",
            "export",
            "pseudo",
            "compare",
            "dataset",
            "annotators",
        ):
            view = getattr(self, name, None)
            if view is not None:
                view.close()
        if getattr(self, "data", None) is not None:
            self.data.close()

    def close(self) -> None:
        """Stop polling, stop following the store and close every view (idempotent, and quiet
        when ``Widget.__del__`` calls it again on a garbage-collected dashboard)."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        self.stop_polling()
        self._close_views()
        super().close()


def _export_panel(store: Any, selection: Selection, run: str | None) -> Any:
    """The export panel (hand the selection to annotators). It is part of the package: an
    ImportError here is a bug to see, not a tab to drop silently."""
    from erroranalysis.widgets.export_panel import ExportPanel

    return ExportPanel(store, selection=selection, run=run)


def show(store: Any, run: str | None = None, **kwargs: Any) -> Dashboard:
    """The linked dashboard of ``store`` (see :class:`Dashboard`).

    Parameters
    ----------
    store : Store or path
        The store to show.
    run : str, optional
        Which run (default: the latest).
    **kwargs
        Passed to :class:`Dashboard` (``author``, ``poll_interval``).

    Returns
    -------
    Dashboard
        The widget; display it (it is the cell's result in a notebook).
    """
    return Dashboard(store, run=run, **kwargs)
