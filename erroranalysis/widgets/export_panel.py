"""Hand the current selection (or the relabel candidates) to annotators, from the dashboard.

The panel never computes: it calls :func:`~erroranalysis.export.export_candidates` (or
:func:`~erroranalysis.export.export_weak_spots`) with what the user chose, and shows the files
written. Errors (no scan yet, an empty selection, a path that cannot be written) appear as a
message in the panel, never as a traceback. The default path is in the working folder (where the
notebook runs), never inside the store; a path whose files exist already asks first: the
export is refused, the panel names the files and offers *Overwrite* / *Cancel*.

>>> import erroranalysis as ea
>>> from erroranalysis.widgets.export_panel import ExportPanel
>>> panel = ExportPanel(ea.Store.open("demo-store"), selection=dashboard.selection)  # doctest: +SKIP
>>> panel                                                                            # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import html
import os
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from erroranalysis.widgets.selection import Selection

__all__ = ["EXPORT_FORMATS", "IMAGE_URLS", "WHAT", "ExportPanel"]

#: Export formats offered, with the file extension of the default path ("" = a folder).
EXPORT_FORMATS: dict[str, str] = {
    "label-studio": ".json",
    "cvat": ".xml",
    "csv": ".csv",
    "imagenet-txt": "",
}

#: What can be exported: value -> label shown.
WHAT: dict[str, str] = {
    "selection": "current selection",
    "candidates": "relabel candidates",
    "weak_spots": "weak spots",
    "look_alikes": "look-alikes of weak spots",
}

#: How the files reference the images: value -> label shown ("" = the format's default).
IMAGE_URLS: dict[str, str] = {
    "": "default for the format",
    "local-files": "Label Studio local files",
    "absolute": "absolute paths",
    "relative": "paths relative to the image root",
}

_HINTS = {
    "label-studio": (
        "In Label Studio: create a project, paste the <code>.label_config.xml</code> into "
        "Settings → Labeling Interface, import the tasks JSON, annotate, then export as JSON and "
        "apply it with <code>ea.import_annotations(store, path)</code>."
    ),
    "cvat": (
        "In CVAT: create a task with the same images and labels, then Actions → Upload "
        "annotations → CVAT 1.1; export it back as CVAT for images 1.1 and apply it with "
        "<code>ea.import_annotations(store, path, format='cvat')</code>."
    ),
    "csv": (
        "Annotators fill in the <code>label</code> column; apply the file with "
        "<code>ea.import_annotations(store, path, format='csv')</code>."
    ),
    "imagenet-txt": (
        "Import the folder into CVAT / Datumaro as ImageNet text; apply the answers with "
        "<code>ea.import_annotations(store, path, format='imagenet-txt')</code>."
    ),
}


class ExportPanel(widgets.VBox):
    """Export the current selection or the relabel candidates for annotators.

    Parameters
    ----------
    store : Store, path or ViewData
        The store to export from (the dashboard's shared data works too).
    selection : Selection or traitlets.HasTraits, optional
        The shared selection of the dashboard (or anything with a ``sample_ids`` trait); without
        one, only the relabel candidates and weak spots can be exported.
    run : str, optional
        The run whose scan ranks the samples (default: the latest).

    Attributes
    ----------
    what : ipywidgets.Dropdown
        ``"selection"``, ``"candidates"``, ``"weak_spots"`` or ``"look_alikes"``.
    format : ipywidgets.Dropdown
        One of :data:`EXPORT_FORMATS`.
    limit : ipywidgets.BoundedIntText
        At most this many samples, the worst first (0: no limit; for look-alikes, per weak spot).
    image_urls : ipywidgets.Dropdown
        How the files reference the images (one of :data:`IMAGE_URLS`; ``""``: the format's
        default, Label Studio local-files URLs or absolute paths for CSV).
    path : ipywidgets.Text
        Where to write (default ``<working folder>/<what>-<format>-<time>.<ext>``, a name no
        file has yet).
    button : ipywidgets.Button
        Runs :meth:`export`.
    confirm : ipywidgets.HBox
        Shown when the export would overwrite files: :attr:`overwrite_button` replaces them,
        :attr:`cancel_button` leaves them (CSS class ``ea-export-confirm``).
    pending_overwrite : list of Path
        The existing files the shown confirmation is about (empty when none is shown).
    result : ipywidgets.HTML
        The files written and the count, or the error (CSS class ``ea-export-result``).
    last_result : ExportResult or None
        What the latest successful export wrote.
    last_error : str or None
        The message of the latest failed export.

    Examples
    --------
    >>> panel = ExportPanel(store, selection=dashboard.selection)   # doctest: +SKIP
    >>> panel.format.value = "csv"                                  # doctest: +SKIP
    >>> panel.button.click()                                        # doctest: +SKIP
    >>> panel.last_result.files                                     # doctest: +SKIP
    """

    def __init__(
        self, store: Any, selection: Any = None, run: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(store, str | os.PathLike):
            from erroranalysis.store import Store

            store = Store.open(Path(store))
        from erroranalysis.widgets._data import ViewData

        if isinstance(store, ViewData):  # the dashboard's shared data: export its run
            if run is None and store.run is not None:
                run = store.run.name
            store = store.store
        if run is not None and not isinstance(run, str):
            run = run.name  # a Run
        self.store = store
        self.selection = selection
        self.run = run
        self.last_result = None
        self.last_error: str | None = None
        self.add_class("ea-export")

        options = [(label, value) for value, label in WHAT.items()]
        if selection is None:
            options = [option for option in options if option[1] != "selection"]
        # a Selection changes its version on every change and counts itself without making ids
        # (it may hold 300k rows); any other HasTraits offers its sample_ids trait
        self._watched = "version" if isinstance(selection, Selection) else "sample_ids"
        default = "selection" if selection is not None and self._count() else "candidates"
        self.what = widgets.Dropdown(options=options, value=default, description="export")
        self.what.add_class("ea-export-what")
        self.format = widgets.Dropdown(
            options=list(EXPORT_FORMATS), value="label-studio", description="format"
        )
        self.format.add_class("ea-export-format")
        self.limit = widgets.BoundedIntText(
            value=200,
            min=0,
            max=10_000_000,
            description="limit",
            tooltip="at most this many, worst first (0 = no limit)",
            layout=widgets.Layout(width="180px"),
        )
        self.limit.add_class("ea-export-limit")
        self.image_urls = widgets.Dropdown(
            options=[(label, value) for value, label in IMAGE_URLS.items()],
            value="",
            description="images",
        )
        self.image_urls.add_class("ea-export-image-urls")
        self._auto_path = self._default_path()
        self.path = widgets.Text(
            value=self._auto_path, description="path", layout=widgets.Layout(width="95%")
        )
        self.path.add_class("ea-export-path")
        self.button = widgets.Button(description="Export", icon="download", button_style="primary")
        self.button.add_class("ea-export-button")
        self.button.on_click(lambda _: self.export())
        self.selection_info = widgets.HTML()
        self.selection_info.add_class("ea-export-selection")
        self.result = widgets.HTML()
        self.result.add_class("ea-export-result")
        self.pending_overwrite: list[Path] = []
        self.overwrite_button = widgets.Button(
            description="Overwrite", icon="exclamation-triangle", button_style="danger"
        )
        self.overwrite_button.add_class("ea-export-overwrite")
        self.overwrite_button.on_click(lambda _: self.export(overwrite=True))
        self.cancel_button = widgets.Button(description="Cancel")
        self.cancel_button.add_class("ea-export-cancel")
        self.cancel_button.on_click(lambda _: self._cancel_overwrite("export cancelled"))
        self.confirm = widgets.HBox(
            [self.overwrite_button, self.cancel_button], layout=widgets.Layout(display="none")
        )
        self.confirm.add_class("ea-export-confirm")

        self.what.observe(self._on_choice, "value")
        self.format.observe(self._on_choice, "value")
        self.path.observe(self._on_path, "value")
        if selection is not None:
            selection.observe(self._on_selection, self._watched)
        self._update_selection_info()
        from erroranalysis.widgets._frontend import Stylesheet

        self.children = [
            Stylesheet(),
            widgets.HBox([self.what, self.format, self.limit]),
            widgets.HBox([self.image_urls]),
            self.path,
            widgets.HBox([self.button, self.selection_info]),
            self.result,
            self.confirm,
        ]

    # -- state ---------------------------------------------------------------------------
    def _selected(self) -> tuple[str, ...]:
        if self.selection is None:
            return ()
        return tuple(str(sample_id) for sample_id in (self.selection.sample_ids or ()))

    def _count(self) -> int:
        if self.selection is None:
            return 0
        if isinstance(self.selection, Selection):
            return len(self.selection)
        return len(self.selection.sample_ids or ())

    def _default_path(self) -> str:
        what = getattr(getattr(self, "what", None), "value", "candidates")
        fmt = getattr(getattr(self, "format", None), "value", "label-studio")
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        stem = f"{what.replace('_', '-')}-{fmt}-{stamp}"
        # the working folder (where the notebook runs): the store keeps only the export records
        folder = Path.cwd()
        candidate = folder / f"{stem}{EXPORT_FORMATS[fmt]}"
        number = 1
        while candidate.exists():  # never propose a path that would overwrite an export
            number += 1
            candidate = folder / f"{stem}-{number}{EXPORT_FORMATS[fmt]}"
        return str(candidate)

    def _refresh_default_path(self) -> None:
        if self.path.value == self._auto_path:  # the user has not typed a path of their own
            self._auto_path = self._default_path()
            self.path.value = self._auto_path

    def _on_choice(self, _change: Any = None) -> None:
        self._refresh_default_path()
        self._update_selection_info()
        self._cancel_overwrite()

    def _on_path(self, _change: Any = None) -> None:
        self._cancel_overwrite()

    def _on_selection(self, _change: Any = None) -> None:
        self._update_selection_info()

    def _update_selection_info(self) -> None:
        if self.selection is None or self.what.value != "selection":
            self.selection_info.value = ""  # the count only matters when exporting it
            return
        count = self._count()
        noun = "sample" if count == 1 else "samples"
        self.selection_info.value = (
            f'<span class="ea-export-selection-count">{count:,} {noun} selected</span>'
        )

    # -- export --------------------------------------------------------------------------
    def _show(self, text: str, error: bool = False) -> None:
        kind = "ea-export-error" if error else "ea-export-ok"
        self.result.value = f'<div class="{kind}">{text}</div>'

    def _cancel_overwrite(self, message: str | None = None) -> None:
        """Hide the overwrite confirmation (a choice or path changed, or *Cancel*)."""
        if not self.pending_overwrite:
            return
        self.pending_overwrite = []
        self.confirm.layout.display = "none"
        if message:
            self._show(html.escape(message) + "; nothing was written.")
        else:
            self.result.value = ""

    def _ask_overwrite(self, paths: list[Path]) -> None:
        self.pending_overwrite = list(paths)
        names = "".join(f"<li><code>{html.escape(str(path))}</code></li>" for path in paths)
        noun = "This file exists" if len(paths) == 1 else "These files exist"
        self._show(
            f"<b>{noun} already:</b><ul>{names}</ul>Overwrite, or cancel and choose another "
            "path. Nothing was written yet.",
            error=True,
        )
        self.confirm.layout.display = "flex"

    def export(self, overwrite: bool = False) -> Any:
        """Export what the controls say; show the files written (or the error) in the panel.

        Parameters
        ----------
        overwrite : bool
            Replace files that exist already (what *Overwrite* does). Without it an export
            whose files exist writes nothing and asks first (:attr:`pending_overwrite`,
            :attr:`confirm`).

        Returns
        -------
        ExportResult or None
            None when the export failed or waits for the overwrite confirmation (the message
            is in :attr:`result`; a failure's also in :attr:`last_error`).
        """
        from erroranalysis.export import export_candidates, export_weak_spots
        from erroranalysis.export.registry import ExportExistsError

        what = self.what.value
        fmt = self.format.value
        limit = int(self.limit.value) or None
        image_urls = self.image_urls.value or None
        target = self.path.value.strip()
        self.last_error = None
        self.pending_overwrite = []
        self.confirm.layout.display = "none"
        try:
            if not target:
                raise ValueError("choose a path to write to")
            target = os.path.expanduser(target)
            if what == "selection":
                ids = self._selected()
                if not ids:
                    raise ValueError(
                        "nothing is selected: click a confusion-matrix cell, lasso points in the "
                        "scatter or pick a slice first, or export the relabel candidates"
                    )
                result = export_candidates(
                    self.store,
                    target,
                    format=fmt,
                    run=self.run,
                    issue_types="all",
                    include_reviewed=True,
                    sample_ids=ids,
                    limit=limit,
                    image_urls=image_urls,
                    overwrite=overwrite,
                )
            elif what == "candidates":
                result = export_candidates(
                    self.store,
                    target,
                    format=fmt,
                    run=self.run,
                    limit=limit,
                    image_urls=image_urls,
                    overwrite=overwrite,
                )
            else:
                result = export_weak_spots(
                    self.store,
                    target,
                    format=fmt,
                    run=self.run,
                    look_alikes=what == "look_alikes",
                    per_spot=limit or 50,
                    image_urls=image_urls,
                    overwrite=overwrite,
                )
        except ExportExistsError as error:
            self._ask_overwrite(error.paths)
            return None
        except (ValueError, OSError) as error:  # ErrorAnalysisError is a ValueError
            self.last_error = str(error)
            self._show(f"<b>Export failed:</b> {html.escape(str(error))}", error=True)
            return None
        self.last_result = result
        self._show(self._describe(result, what))
        self._refresh_default_path()  # the next export does not overwrite this one
        return result

    def _describe(self, result: Any, what: str) -> str:
        noun = "sample" if result.count == 1 else "samples"
        head = f"Exported <b>{result.count:,}</b> {noun} ({html.escape(WHAT[what])})"
        if what == "selection":
            head += f" of {self._count():,} selected"
        head += (
            f" as <b>{html.escape(result.format)}</b>, export id "
            f"<code>{html.escape(result.export_id)}</code>:"
        )
        files = "".join(f"<li><code>{html.escape(str(path))}</code></li>" for path in result.files)
        empty = ""
        if result.count == 0:
            empty = (
                "<div>Nothing matched (every candidate may already be reviewed); the files "
                "are empty.</div>"
            )
        hint = _HINTS.get(result.format, "")
        return f"<div>{head}</div><ul>{files}</ul>{empty}<div><small>{hint}</small></div>"

    def close(self) -> None:
        """Stop observing the selection and close the widgets (idempotent: a second call, such
        as the one ``Widget.__del__`` makes after the dashboard closed the panel, is quiet)."""
        selection, self.selection = getattr(self, "selection", None), None
        if selection is not None:
            with contextlib.suppress(ValueError):  # never registered (__init__ failed half-way)
                selection.unobserve(self._on_selection, getattr(self, "_watched", "version"))
        super().close()
