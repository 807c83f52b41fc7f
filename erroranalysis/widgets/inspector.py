"""Inspector view: the focused sample, and the controls to fix it.

Shows the image, the sample id (CSS class ``ea-inspector-id``), given and current label, the
model's top-k probabilities, the scan's scores and flags, and the sample's history. Relabel by the
dropdown (``ea-relabel-choice``) and the apply button (``ea-relabel-apply``), or by one click on a
suggestion (``ea-suggestion``); mark "not an issue", "weak spot" (with a reason), add a note,
undo the latest change, step through the selection with previous / next.

Grad-CAM (``ea-saliency-compute``): the maps of the run's model for the predicted class and for
the current label, side by side (``ea-saliency``), as heat maps or laid over the image (the
``ea-saliency-overlay`` toggle, trait ``saliency_overlay``). They are computed only on the button
(:func:`erroranalysis.explain`, which caches them in the run folder); on a sample change the maps
are shown when they are already cached. A run without a loadable model gets a one-line message.

Zoom (``ea-zoom-toggle``, trait ``show_zoom``): the original image file at its native resolution
with pan (drag) and zoom (wheel, buttons) in the browser.

Near-duplicates (``ea-inspector-duplicates``): when the focused sample is in a near-duplicate set
(the scan's ``near_duplicate_set``), every image of the set is shown side by side under the
image, with its label and prediction (the focused one outlined); a click on one inspects it.

Keyboard shortcuts while the pointer is over the dashboard: ← / → previous / next, 1–9 relabel
to suggestion 1–9 (stable: 1 is always the model's prediction, the suggested label when it
disagrees with the label, highlighted; then the next classes by probability, at least 5 %),
``n`` not an issue, ``w`` weak spot, ``u`` undo.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets

from erroranalysis.analysis.issue_types import issue_types
from erroranalysis.errors import ErrorAnalysisError
from erroranalysis.store.identity import new_session_id, normalise_author
from erroranalysis.widgets._base import View
from erroranalysis.widgets._data import Change
from erroranalysis.widgets._frontend import GridWidget, KeysWidget, ZoomWidget
from erroranalysis.widgets.selection import Selection
from erroranalysis.widgets.thumbnails import ThumbnailCache

__all__ = ["Inspector"]

_SCORE_ORDER = (
    "label_quality",
    "self_confidence",
    "margin",
    "entropy",
    "loss",
    "outlier_score",
    "near_duplicate_set",
    "label_issue_rank",
)
# Image formats a browser shows as they are; other files are converted to PNG for the zoom view.
_BROWSER_FORMATS = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".gif": "gif", ".webp": "webp"}
_KEYS = ["ArrowLeft", "ArrowRight", "n", "w", "u", *[str(i) for i in range(1, 10)]]


def _clock(value: Any) -> str:
    """An event time as HH:MM:SS (epoch seconds or a timestamp)."""
    try:
        stamp = (
            pd.Timestamp(value, unit="s") if isinstance(value, int | float) else pd.Timestamp(value)
        )
        return stamp.strftime("%H:%M:%S")
    except (TypeError, ValueError):
        return str(value)


class Inspector(View):
    """Detail view and review controls for the focused sample.

    Parameters
    ----------
    store : Store or ViewData
        The store to show.
    run : str, optional
        Which run (default: the latest).
    selection : Selection, optional
        Shared selection: the inspector shows ``selection.focused``.
    top_k : int
        How many of the model's top classes to show (and offer as suggestions).
    author : str, optional
        Recorded as the author of every change made here (default: the operating-system user
        and host, ``store.author``).
    session : str, optional
        Writer-session id recorded on every change made here; undo undoes only this session's
        own latest change (default: a fresh id; the dashboard passes its own).
    image_size : int
        Size of the shown image in pixels.
    thumbnails : ThumbnailCache, optional
        Shared thumbnail cache.
    sequence : callable, optional
        Returns the row positions that previous / next walk through (default: the selection,
        else every sample in store order). The dashboard passes the gallery's order.
    """

    view_name = "inspector"
    css_class = "ea-inspector"
    #: Classes below this probability are not offered on keys 2–9 (key 1, the prediction, always is).
    min_suggestion_probability = 0.05
    #: At most this many images of a near-duplicate set are shown side by side.
    max_duplicates = 8
    saliency_overlay = traitlets.Bool(True, help="lay the Grad-CAM maps over the image")
    show_zoom = traitlets.Bool(False, help="show the original image with pan and zoom")

    def __init__(
        self,
        store: Any,
        run: Any = None,
        selection: Selection | None = None,
        top_k: int = 5,
        author: str | None = None,
        image_size: int = 224,
        thumbnails: ThumbnailCache | None = None,
        sequence: Callable[[], np.ndarray] | None = None,
        session: str | None = None,
    ) -> None:
        super().__init__(store, run, selection)
        self.top_k = int(top_k)
        self.image_size = int(image_size)
        self.thumbnails = thumbnails or ThumbnailCache(self.data.store)
        self.sequence = sequence
        self.store = self.data.store
        self.author = normalise_author(author) or self.store.author
        self.session = session or new_session_id()
        self.header = widgets.HTML()
        self.header.add_class("ea-inspector-header")
        self.image = widgets.Image(
            format="jpeg",
            layout=widgets.Layout(
                width=f"{self.image_size}px",
                height=f"{self.image_size}px",
                object_fit="contain",
                flex="0 0 auto",
            ),
        )
        self.image.add_class("ea-inspector-image")
        self.details = widgets.HTML()
        self.details.add_class("ea-inspector-details")
        self.history_html = widgets.HTML()
        self.history_html.add_class("ea-inspector-history")
        self.status = widgets.HTML()
        self.status.add_class("ea-inspector-status")

        self.choice = widgets.Dropdown(
            options=list(self.data.classes), layout=widgets.Layout(width="130px")
        )
        self.choice.add_class("ea-relabel-choice")
        self.apply_button = widgets.Button(
            description="relabel", button_style="primary", layout=widgets.Layout(width="80px")
        )
        self.apply_button.add_class("ea-relabel-apply")
        self.apply_button.on_click(lambda _: self.relabel(self.choice.value))
        self.suggestions = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.suggestions.add_class("ea-suggestions")
        self.not_issue_button = widgets.Button(
            description="not an issue", icon="check", layout=widgets.Layout(width="auto")
        )
        self.not_issue_button.add_class("ea-not-issue")
        self.not_issue_button.on_click(lambda _: self.toggle_flag("not_an_issue"))
        self.reason = widgets.Text(
            placeholder="reason or note", layout=widgets.Layout(width="120px")
        )
        self.reason.add_class("ea-reason")
        self.weak_button = widgets.Button(
            description="weak spot", icon="flag", layout=widgets.Layout(width="auto")
        )
        self.weak_button.add_class("ea-weak-spot")
        self.weak_button.on_click(
            lambda _: self.toggle_flag("weak_spot", note=self.reason.value or None)
        )
        self.note_button = widgets.Button(
            description="note", icon="pencil", layout=widgets.Layout(width="auto")
        )
        self.note_button.add_class("ea-note")
        self.note_button.on_click(lambda _: self.add_note(self.reason.value))
        self.undo_button = widgets.Button(
            description="undo",
            icon="undo",
            tooltip="undo your latest change made here",
            layout=widgets.Layout(width="auto"),
        )
        self.undo_button.add_class("ea-undo")
        self.undo_button.on_click(lambda _: self.undo())
        self.prev_button = widgets.Button(
            description="◀ previous", layout=widgets.Layout(width="auto")
        )
        self.prev_button.add_class("ea-prev")
        self.next_button = widgets.Button(description="next ▶", layout=widgets.Layout(width="auto"))
        self.next_button.add_class("ea-next")
        self.prev_button.on_click(lambda _: self.step(-1))
        self.next_button.on_click(lambda _: self.step(+1))
        self.shortcuts = KeysWidget(
            shortcut_keys=_KEYS,
            hint="keys (pointer over the dashboard): ←/→ previous/next · 1–9 suggestion · n not an issue · w weak spot · u undo",
        )
        self.shortcuts.on_key(self.guard(self._on_key))
        self._build_saliency()
        self._build_zoom()
        self._build_duplicates()
        # the actions next to the image; the scores, Grad-CAM, zoom and history folded below
        self.controls = widgets.VBox(
            [
                _row(self.prev_button, self.next_button),
                _row(self.choice, self.apply_button),
                self.suggestions,
                _row(self.not_issue_button, self.weak_button),
                _row(self.reason, self.note_button),
                self.undo_button,
                self.status,
            ]
        )
        self.controls.add_class("ea-inspector-actions")
        self.scores_html = widgets.HTML()
        self.scores_html.add_class("ea-inspector-scores")
        self.folds = widgets.Accordion(
            children=[self.scores_html, self.saliency, self.zoom_box, self.history_html],
            titles=("scores", "Grad-CAM", "zoom", "history"),
            selected_index=None,
        )
        self.folds.add_class("ea-inspector-folds")
        self.children = [
            self.message,
            self.header,
            widgets.HBox(
                [self.image, self.controls], layout=widgets.Layout(align_items="flex-start")
            ),
            self.duplicates,
            self.details,
            self.folds,
            self.shortcuts,
        ]
        self.position: int | None = None
        self.on_focus(self.selection.focused, self.selection.focus_source)

    # -- Grad-CAM and zoom ---------------------------------------------------------------
    def _build_saliency(self) -> None:
        self.saliency_button = widgets.Button(
            description="Grad-CAM",
            icon="eye",
            tooltip="compute what the model looked at for the predicted class and the label",
        )
        self.saliency_button.add_class("ea-saliency-compute")
        self.saliency_button.on_click(lambda _: self.compute_saliency())
        self.overlay_toggle = widgets.ToggleButton(
            value=self.saliency_overlay, description="overlay", tooltip="maps over the image"
        )
        self.overlay_toggle.add_class("ea-saliency-overlay")
        widgets.link((self.overlay_toggle, "value"), (self, "saliency_overlay"))
        self.saliency_status = widgets.HTML()
        self.saliency_status.add_class("ea-saliency-status")
        size = f"{max(96, self.image_size * 3 // 4)}px"
        self.saliency_images = [
            widgets.Image(format="png", layout=widgets.Layout(width=size, height=size))
            for _ in range(2)
        ]
        self.saliency_captions = [widgets.HTML() for _ in range(2)]
        panes = []
        for which, image, caption in zip(
            ("predicted", "given"), self.saliency_images, self.saliency_captions, strict=True
        ):
            image.add_class(f"ea-saliency-{which}")
            panes.append(widgets.VBox([caption, image]))
        self.saliency_maps = widgets.HBox(panes, layout=widgets.Layout(display="none"))
        self.saliency_maps.add_class("ea-saliency")
        self.saliency = widgets.VBox(
            [
                widgets.HBox([self.saliency_button, self.overlay_toggle, self.saliency_status]),
                self.saliency_maps,
            ]
        )
        self.explanation: Any = None
        self.observe(lambda _: self._render_saliency(), "saliency_overlay")

    def _build_duplicates(self) -> None:
        self.duplicates_title = widgets.HTML()
        self.duplicates_title.add_class("ea-duplicates-title")
        self.duplicates_grid = GridWidget(empty_text="")
        self.duplicates_grid.add_class("ea-duplicates-grid")
        self.duplicates_grid.on_click(self.guard(self._on_duplicate_click))
        self.duplicates = widgets.VBox(
            [self.duplicates_title, self.duplicates_grid], layout=widgets.Layout(display="none")
        )
        self.duplicates.add_class("ea-inspector-duplicates")

    def duplicate_set(self) -> list[str]:
        """Sample ids of the focused sample's near-duplicate set, itself included (store order).

        Empty when nothing is focused, the scan found no near-duplicates, or the sample is in no
        set.
        """
        frame = self.data.frame
        if self.position is None or "near_duplicate_set" not in frame.columns:
            return []
        column = pd.to_numeric(frame["near_duplicate_set"], errors="coerce")
        value = column.iat[self.position]
        if pd.isna(value) or value < 0:
            return []
        members = np.flatnonzero(column.to_numpy(np.float64, na_value=np.nan) == value)
        return [str(m) for m in self.data.ids_at(members)]

    def _render_duplicates(self) -> None:
        members = self.duplicate_set()
        grid = self.duplicates_grid
        if len(members) < 2:
            self.duplicates.layout.display = "none"
            with grid.hold_sync():
                grid.items, grid.thumbs = [], []
            return
        sid = str(self.data.sample_ids[self.position])
        shown = members[: self.max_duplicates]
        if sid not in shown:
            shown = [sid, *shown[: self.max_duplicates - 1]]
        size = 96 if len(shown) <= 3 else 72
        items = []
        for member in shown:
            pos = self.data.position(member)
            label = self.data.label_name(pos)
            caption = label
            wrong = False
            if self.data.pred_codes is not None and self.data.pred_codes[pos] >= 0:
                pred = self.data.classes[self.data.pred_codes[pos]]
                wrong = pred != label
                caption = f"{label} → {pred}" if wrong else label
            items.append(
                {
                    "sample_id": member,
                    "caption": caption,
                    "tooltip": f"{member}: {caption}",
                    "wrong": bool(wrong),
                    "badges": [],
                }
            )
        value = self.data.frame["near_duplicate_set"].iat[self.position]
        more = f", {len(members) - len(shown)} more not shown" if len(members) > len(shown) else ""
        self.duplicates_title.value = (
            f'<div class="ea-muted">near-duplicate set {html.escape(str(value))}: '
            f"{len(members)} images side by side{more} · click one to inspect it</div>"
        )
        with grid.hold_sync():
            grid.thumb_size = size
            grid.thumbs = [self.thumbnails.data_url(m, size) for m in shown]
            grid.items = items
            grid.focused = sid
        self.duplicates.layout.display = None

    def _on_duplicate_click(self, payload: dict) -> None:
        sid = (payload or {}).get("sample_id")
        if sid and self.data.position(str(sid)) is not None:
            self.focus(str(sid))

    def _build_zoom(self) -> None:
        self.zoom_toggle = widgets.ToggleButton(
            value=self.show_zoom,
            description="zoom",
            icon="search-plus",
            tooltip="the original image at native resolution (wheel: zoom, drag: pan)",
        )
        self.zoom_toggle.add_class("ea-zoom-toggle")
        widgets.link((self.zoom_toggle, "value"), (self, "show_zoom"))
        self.zoom = ZoomWidget(layout=widgets.Layout(display="none"))
        self.zoom_status = widgets.HTML()
        self.zoom_status.add_class("ea-zoom-status")
        self.zoom_box = widgets.VBox(
            [widgets.HBox([self.zoom_toggle, self.zoom_status]), self.zoom]
        )
        self._zoom_shown: str | None = None
        self.observe(lambda _: self._render_zoom(), "show_zoom")

    def compute_saliency(self) -> Any:
        """Compute (or read from the cache) the Grad-CAM maps of the focused sample and show them.

        Returns the :class:`~erroranalysis.analysis.saliency.Explanations`, or None when the run
        has no loadable model (the reason is shown in ``saliency_status``).
        """
        sid = self._need_focus()
        self.explanation = None
        self.saliency_status.value = '<span class="ea-muted">computing Grad-CAM…</span>'
        try:
            self.explanation = self._explain(sid, compute=True)
        except (ImportError, ErrorAnalysisError) as error:
            self.saliency_status.value = _one_line(f"Grad-CAM unavailable: {error}")
        self._render_saliency()
        return self.explanation

    def _explain(self, sample_id: str, compute: bool) -> Any:
        from erroranalysis.analysis.saliency import explain

        if self.data.run is None:
            raise ErrorAnalysisError("the store has no run, so there is no model to explain")
        return explain(self.store, [sample_id], run=self.data.run, compute=compute)

    def _saliency_on_focus(self) -> None:
        """Show cached maps of the new sample (a file read); never compute on a sample change."""
        self.explanation = None
        self.saliency_status.value = ""
        sid = self.sample_id
        if sid is not None and self.data.run is not None:
            try:
                self.explanation = self._explain(sid, compute=False)
            except (ImportError, ErrorAnalysisError):
                self.explanation = None  # the button says why
        self._render_saliency()

    def _render_saliency(self) -> None:
        self.saliency_button.disabled = self.position is None
        shown = self.explanation
        if shown is None or shown.sample_ids != [self.sample_id]:
            self.saliency_maps.layout.display = "none"
            return
        from erroranalysis.analysis.saliency import overlay

        alpha = 0.5 if self.saliency_overlay else 1.0
        labels = {"predicted": shown.predicted[0], "given": shown.given[0]}
        maps = {"predicted": shown.predicted_maps[0], "given": shown.given_maps[0]}
        for which, image, caption in zip(
            ("predicted", "given"), self.saliency_images, self.saliency_captions, strict=True
        ):
            title = "predicted" if which == "predicted" else "label"
            if labels[which] is None:
                caption.value = f'<span class="ea-muted">{title}: unlabelled, no map</span>'
                image.layout.visibility = "hidden"
                continue
            caption.value = f"<b>{title}</b>: {html.escape(labels[which])}"
            image.value = _png(overlay(shown.images[0], maps[which], alpha))
            image.layout.visibility = None
        fold = shown.folds[0] if shown.folds else None
        where = f"layer {shown.layers[0]}" + (f", fold {fold} model" if fold is not None else "")
        self.saliency_status.value = (
            f'<span class="ea-muted">Grad-CAM at {html.escape(where)}</span>'
        )
        self.saliency_maps.layout.display = None

    def _render_zoom(self) -> None:
        sid = self.sample_id
        if not self.show_zoom or sid is None:
            self.zoom.layout.display = "none"
            self.zoom_status.value = ""
            return
        if self._zoom_shown != sid:
            self._zoom_shown = None
            try:
                src, (width, height) = _data_url(self.store.image_path(sid))
            except (OSError, ValueError, ErrorAnalysisError) as error:
                self.zoom.layout.display = "none"
                self.zoom_status.value = _one_line(f"cannot open the image: {error}")
                return
            self.zoom.natural_width, self.zoom.natural_height = width, height
            self.zoom.src = src
            self._zoom_shown = sid
            self.zoom_status.value = (
                f'<span class="ea-muted">{width}×{height} px original · wheel: zoom, drag: pan, '
                "double-click: fit</span>"
            )
        self.zoom.layout.display = None

    # -- rendering -----------------------------------------------------------------------
    @property
    def sample_id(self) -> str | None:
        """The focused sample id (``None`` when nothing is focused)."""
        return None if self.position is None else str(self.data.sample_ids[self.position])

    def on_focus(self, sample_id: str | None, source: str) -> None:
        self.position = self.data.position(sample_id)
        self._render()
        self._after_focus()

    def _after_focus(self) -> None:
        self.status.value = ""  # "undid …" / "relabelled as …" was about the previous sample
        self._saliency_on_focus()
        self._render_zoom()

    def _top_k(self, pos: int) -> list[tuple[str, float]]:
        run = self.data.run
        if run is None:
            return []
        row = np.asarray(run.probs[pos], dtype=np.float32)
        k = min(self.top_k, len(row))
        top = np.argsort(-row, kind="stable")[:k]
        return [(self.data.classes[i], float(row[i])) for i in top]

    def suggestion_labels(self) -> list[str]:
        """The classes keys 1–9 relabel to, for the focused sample.

        Stable: they depend on the model's probabilities only, never on the current label, so
        a relabel does not renumber them (press 1 twice: one relabel, then "already labelled
        so"). Key 1 is the model's prediction, which is the suggested label whenever it disagrees
        with the label; then the next classes by probability, those of at least
        :attr:`min_suggestion_probability` only.
        """
        if self.position is None:
            return []
        out = []
        for i, (name, p) in enumerate(self._top_k(self.position)):
            if i == 0 or p >= self.min_suggestion_probability:
                out.append(name)
        return out[:9]

    def suggested_label(self) -> str | None:
        """The model's prediction where it disagrees with the current label, else ``None``."""
        labels = self.suggestion_labels()
        if not labels or labels[0] == self.data.label_name(self.position):
            return None
        return labels[0]

    def _render(self) -> None:
        pos = self.position
        disabled = pos is None
        for button in (
            self.apply_button,
            self.not_issue_button,
            self.weak_button,
            self.note_button,
        ):
            button.disabled = disabled
        self.choice.disabled = disabled
        if pos is None:
            self.header.value = (
                '<div class="ea-inspector-title"><span class="ea-inspector-id"></span>'
                '<span class="ea-muted">click a thumbnail, a point or a row to inspect a sample</span></div>'
            )
            self.image.value = b""
            self.image.layout.display = "none"
            self.details.value = ""
            self.scores_html.value = ""
            self.history_html.value = ""
            self.suggestions.children = []
            self._render_duplicates()
            self._update_nav()
            return
        data, frame = self.data, self.data.frame
        sid = str(data.sample_ids[pos])
        given = data.label_name(pos, given=True)
        current = data.label_name(pos)
        self.header.value = (
            f'<div class="ea-inspector-title"><b>sample</b> '
            f'<span class="ea-inspector-id" data-sample-id="{html.escape(sid)}">{html.escape(sid)}</span></div>'
        )
        raw = self.thumbnails.thumbnail_bytes(sid, self.image_size)
        self.image.value = raw
        self.image.layout.display = None if raw else "none"
        lines = [f"<tr><td>given label</td><td><b>{html.escape(given)}</b></td></tr>"]
        label_class = "ea-current-label" + (" ea-relabeled" if current != given else "")
        lines.append(
            f'<tr><td>current label</td><td><b class="{label_class}">{html.escape(current)}</b>'
            f"{' (relabelled)' if current != given else ''}</td></tr>"
        )
        if data.pred_codes is not None and data.pred_codes[pos] >= 0:
            pred = data.classes[data.pred_codes[pos]]
            mark = "✓" if pred == current else "✗"
            lines.append(f"<tr><td>predicted</td><td>{html.escape(pred)} {mark}</td></tr>")
        issues = [
            issue.display_name
            for issue in issue_types()
            if issue.flag_column in frame.columns and bool(frame[issue.flag_column].iat[pos])
        ]
        if issues:
            lines.append(f"<tr><td>issues</td><td>{html.escape(', '.join(issues))}</td></tr>")
        flags = sorted(data.flag_names(pos))
        lines.append(
            f'<tr><td>flags</td><td class="ea-inspector-flags">{html.escape(", ".join(flags)) or "—"}</td></tr>'
        )
        scores = []
        for column in _SCORE_ORDER:
            if column in frame.columns:
                value = frame[column].iat[pos]
                if value is None or pd.isna(value):
                    continue
                text = f"{value:.4g}" if isinstance(value, float | np.floating) else str(value)
                scores.append(f"<tr><td>{column}</td><td>{html.escape(text)}</td></tr>")
        self.scores_html.value = (
            f'<table class="ea-inspector-score-table">{"".join(scores)}</table>'
            if scores
            else '<span class="ea-muted">no scores (scan first)</span>'
        )
        bars = []
        for name, p in self._top_k(pos):
            bars.append(
                f'<tr><td>{html.escape(name)}</td><td><span class="ea-topk-bar" '
                f'style="--ea-p:{p:.3f}"></span> {p:.3f}</td></tr>'
            )
        top = (
            f'<div class="ea-muted ea-topk-title">top-{len(bars)} probabilities</div>'
            f'<table class="ea-topk">{"".join(bars)}</table>'
            if bars
            else ""
        )
        self.details.value = f'<div class="ea-inspector-body"><table class="ea-inspector-facts">{"".join(lines)}</table>{top}</div>'
        if current in data.class_set:  # an unlabelled sample keeps the chooser as it was
            self.choice.value = current
        self._render_suggestions()
        self._render_duplicates()
        self._render_history(sid)
        self._update_nav()

    def _render_suggestions(self) -> None:
        buttons = []
        current = self.data.label_name(self.position) if self.position is not None else None
        suggested = self.suggested_label() if self.position is not None else None
        for i, name in enumerate(self.suggestion_labels()):
            button = widgets.Button(description=f"{i + 1}: {name}", tooltip=f"relabel as {name}")
            button.add_class("ea-suggestion")
            if name == suggested:  # key 1, when the model disagrees with the label
                button.add_class("ea-suggestion-suggested")
                button.button_style = "warning"
                button.tooltip = f"relabel as {name}: the model's prediction"
            if name == current:
                button.add_class("ea-suggestion-current")
                button.disabled = True
                button.tooltip = f"{name} is the current label"
            button.on_click(lambda _, label=name: self.relabel(label))
            buttons.append(button)
        old = self.suggestions.children
        self.suggestions.children = buttons
        for button in old:
            button.close()

    def _render_history(self, sample_id: str) -> None:
        history = self.store.history(sample_id)
        if not len(history):
            self.history_html.value = '<div class="ea-muted">no changes yet</div>'
            return
        rows = []
        for event in history.tail(10).itertuples(index=False):
            what = event.kind
            if event.kind == "relabel":
                what = f"relabel {event.previous_label or ''} → {event.label}"
            elif event.kind in ("flag", "unflag"):
                what = f"{event.kind} {event.flag}"
            note = "" if event.note is None or (isinstance(event.note, float)) else str(event.note)
            undone = " (undone)" if bool(event.undone) else ""
            when = _clock(event.time)
            rows.append(
                f"<tr><td>{event.event_id}</td><td>{html.escape(when)}</td><td>{html.escape(str(what))}{undone}</td>"
                f"<td>{html.escape(normalise_author(event.author) or '')}</td><td>{html.escape(str(event.source or ''))}</td>"
                f"<td>{html.escape(note)}</td></tr>"
            )
        self.history_html.value = (
            '<div class="ea-muted">history</div><table class="ea-history">'
            + "".join(rows)
            + "</table>"
        )

    # -- navigation ----------------------------------------------------------------------
    def _sequence(self) -> np.ndarray:
        if self.sequence is not None:
            return np.asarray(self.sequence(), dtype=np.int64)
        if len(self.selection):
            return self.selected_rows()
        return np.arange(self.data.num_samples, dtype=np.int64)

    def _update_nav(self) -> None:
        order = self._sequence()
        if self.position is None:
            self.prev_button.disabled = True
            self.next_button.disabled = len(order) == 0
            return
        where = np.flatnonzero(order == self.position)
        i = int(where[0]) if len(where) else -1
        self.prev_button.disabled = i <= 0
        self.next_button.disabled = i < 0 or i >= len(order) - 1

    def step(self, delta: int) -> None:
        """Focus the previous (``-1``) or next (``+1``) sample of the sequence."""
        order = self._sequence()
        if len(order) == 0:
            return
        if self.position is None:
            target = 0
        else:
            where = np.flatnonzero(order == self.position)
            target = int(where[0]) + delta if len(where) else 0
        if not 0 <= target < len(order):
            return
        self.focus(str(self.data.sample_ids[order[target]]))

    def focus(self, sample_id: str | None) -> None:
        """Show ``sample_id`` here and tell the other views."""
        self.position = self.data.position(sample_id)
        self._render()
        self._after_focus()
        self.selection.focus(sample_id, source=self.view_name)

    # -- actions -------------------------------------------------------------------------
    def _need_focus(self) -> str:
        if self.position is None:
            raise ValueError(
                "no sample is focused: click a thumbnail, a point or an issue row first"
            )
        return str(self.data.sample_ids[self.position])

    def relabel(self, label: str) -> int | None:
        """Relabel the focused sample as ``label`` (journaled; every view updates).

        Returns the event id, or ``None`` when the label is already current.
        """
        sid = self._need_focus()
        if label == self.data.label_name(self.position):
            self.status.value = '<span class="ea-muted">already labelled so</span>'
            return None
        event = self.store.relabel(
            sid, label, author=self.author, source="widget", session=self.session
        )
        self.status.value = (
            f'<span class="ea-muted">relabelled as {html.escape(label)} (event {event})</span>'
        )
        return event

    def toggle_flag(self, flag: str, note: str | None = None) -> int:
        """Set ``flag`` on the focused sample, or remove it when it is set."""
        sid = self._need_focus()
        if flag in self.data.flag_names(self.position):
            event = self.store.unflag(
                sid, flag, author=self.author, source="widget", session=self.session
            )
            self.status.value = f'<span class="ea-muted">removed {html.escape(flag)}</span>'
        else:
            event = self.store.flag(
                sid, flag, note=note, author=self.author, source="widget", session=self.session
            )
            self.status.value = f'<span class="ea-muted">flagged {html.escape(flag)}</span>'
            if note:
                self.reason.value = ""
        return event

    def add_note(self, text: str) -> int | None:
        """Attach a note to the focused sample (empty text does nothing)."""
        sid = self._need_focus()
        if not text or not text.strip():
            self.status.value = '<span class="ea-muted">type a note first</span>'
            return None
        event = self.store.note(
            sid, text.strip(), author=self.author, source="widget", session=self.session
        )
        self.reason.value = ""
        self.status.value = '<span class="ea-muted">note added</span>'
        return event

    def undo(self, event_id: int | None = None) -> int | None:
        """Undo this inspector's own latest change (its author and session), journaled.

        A colleague's change, an import or a change from another dashboard is never undone by
        this; pass its ``event_id`` (see ``store.events()``) to undo it explicitly. The status
        line says what was undone.
        """
        try:
            if event_id is None:
                undo_id = self.store.undo(author=self.author, session=self.session, source="widget")
            else:
                undo_id = self.store.undo(
                    int(event_id), author=self.author, session=self.session, source="widget"
                )
        except ValueError as error:
            self.status.value = f'<span class="ea-muted">{html.escape(str(error))}</span>'
            return None
        self.status.value = (
            f'<span class="ea-muted">undid {html.escape(self._describe_undo(undo_id))}</span>'
        )
        return undo_id

    def _describe_undo(self, undo_id: int) -> str:
        """'relabel of s012 (cat → dog), event 17' for the event that ``undo_id`` undid."""
        event = self.store.event(int(self.store.event(undo_id)["undoes"]))
        if event["kind"] == "relabel":
            what = f"relabel of {event['sample_id']} ({event['previous_label']} → {event['label']})"
        elif event["kind"] in ("flag", "unflag"):
            what = f"{event['kind']} {event['flag']} of {event['sample_id']}"
        else:
            what = f"{event['kind']} on {event['sample_id']}"
        if isinstance(event["batch"], str) and event["batch"]:
            what += " with the rest of its batch"
        return f"{what}, event {event['event_id']}"

    def _on_key(self, key: str) -> None:
        """Act on one shortcut key pressed in the page."""
        try:
            if key == "ArrowLeft":
                self.step(-1)
            elif key == "ArrowRight":
                self.step(+1)
            elif key == "u":
                self.undo()
            elif self.position is None:
                return
            elif key == "n":
                self.toggle_flag("not_an_issue")
            elif key == "w":
                self.toggle_flag("weak_spot", note=self.reason.value or None)
            elif key.isdigit():
                labels = self.suggestion_labels()
                index = int(key) - 1
                if 0 <= index < len(labels):
                    self.relabel(labels[index])
        except ValueError as error:
            self.status.value = f'<span class="ea-muted">{html.escape(str(error))}</span>'

    # -- updates -------------------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        if self.position is None:
            return
        if change.flags_changed or np.isin(self.position, change.touched_positions):
            self._render()
            self._saliency_on_focus()  # a new label needs its own map (cached or on the button)

    def on_selection(self, positions: np.ndarray, source: str) -> None:
        self._update_nav()


def _row(*children: widgets.Widget) -> widgets.HBox:
    """A row of the inspector's actions: it wraps rather than cut a button's label short."""
    row = widgets.HBox(list(children), layout=widgets.Layout(flex_flow="row wrap"))
    row.add_class("ea-inspector-row")
    return row


def _one_line(text: str) -> str:
    """A message as one muted HTML line (the first line of a long error)."""
    first = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return f'<span class="ea-muted ea-one-line">{html.escape(first)}</span>'


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _data_url(path: Any) -> tuple[str, tuple[int, int]]:
    """The image file as a data URL (as it is when a browser can show it, else PNG), and its size."""
    from pathlib import Path

    from PIL import Image

    path = Path(path)
    with Image.open(path) as image:
        size = image.size
        kind = _BROWSER_FORMATS.get(path.suffix.lower())
        if kind is None:
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, format="PNG")
            raw, kind = buffer.getvalue(), "png"
        else:
            raw = path.read_bytes()
    return f"data:image/{kind};base64,{base64.b64encode(raw).decode('ascii')}", size
