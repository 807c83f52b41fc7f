"""Gallery view: thumbnails of the selection, or of the lowest-scoring samples, sorted and paged.

Each thumbnail (CSS class ``ea-thumb``, attribute ``data-sample-id``) shows the current label, the
prediction and badges (label issue, outlier, duplicate, relabelled, flags); a click focuses the
sample. The count line has the CSS class ``ea-gallery-count``.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from erroranalysis.widgets._base import View
from erroranalysis.widgets._data import Change, stable_argsort
from erroranalysis.widgets._frontend import GridWidget
from erroranalysis.widgets.selection import Selection
from erroranalysis.widgets.thumbnails import ThumbnailCache

__all__ = ["Gallery"]


def _issue_types():
    from erroranalysis.analysis.issue_types import issue_types

    return issue_types()


#: Flags offered by the gallery's flag filter.
_FLAGS = ("not_an_issue", "weak_spot", "reviewed", "pseudo_labelled", "low_consensus")
_PREFERRED_SORT = ("label_quality", "self_confidence", "margin", "loss", "outlier_score")


class Gallery(View):
    """Paged, sortable thumbnails linked to a :class:`Selection`.

    Parameters
    ----------
    store : Store or ViewData
        The store to show.
    run : str, optional
        Which run (default: the latest).
    selection : Selection, optional
        Shared selection: the gallery shows it; a click focuses a sample.
    sort_by : str, optional
        Score column to sort by (default: ``label_quality``, else ``self_confidence``, …).
    ascending : bool, optional
        Lowest first (default, except for columns where high is bad, such as ``loss``).
    page_size : int
        Thumbnails per page.
    thumb_size : int
        Thumbnail size in pixels.
    thumbnails : ThumbnailCache, optional
        Shared thumbnail cache.
    """

    view_name = "gallery"
    css_class = "ea-gallery"

    def __init__(
        self,
        store: Any,
        run: Any = None,
        selection: Selection | None = None,
        sort_by: str | None = None,
        ascending: bool | None = None,
        page_size: int = 24,
        thumb_size: int = 96,
        thumbnails: ThumbnailCache | None = None,
    ) -> None:
        super().__init__(store, run, selection)
        self.page_size = int(page_size)
        self.thumb_size = int(thumb_size)
        self.thumbnails = thumbnails or ThumbnailCache(self.data.store)
        self.grid = GridWidget(empty_text="no samples to show", thumb_size=self.thumb_size)
        self.grid.on_click(self.guard(self._on_click))
        columns = self.data.score_columns()
        if sort_by is None:
            sort_by = next((c for c in _PREFERRED_SORT if c in columns), None)
        if sort_by is not None and sort_by not in columns:
            raise ValueError(
                f"cannot sort the gallery by {sort_by!r}: not a numeric column of the store's frame; "
                f"choose one of {columns}"
            )
        self.sort_by = widgets.Dropdown(
            options=[("(store order)", "")] + [(c, c) for c in columns],
            value=sort_by or "",
            description="sort by",
            layout=widgets.Layout(width="240px"),
        )
        if ascending is None:
            ascending = self.data.low_is_bad(sort_by) if sort_by else True
        self.ascending = widgets.ToggleButton(
            value=bool(ascending),
            description="lowest first" if ascending else "highest first",
            layout=widgets.Layout(width="120px"),
        )
        self.count = widgets.HTML()
        self.count.add_class("ea-gallery-count")
        self.prev_button = widgets.Button(description="◀", layout=widgets.Layout(width="40px"))
        self.next_button = widgets.Button(description="▶", layout=widgets.Layout(width="40px"))
        self.page_label = widgets.Label()
        self.prev_button.on_click(lambda _: self.go(self.page - 1))
        self.next_button.on_click(lambda _: self.go(self.page + 1))
        self.sort_by.observe(self._on_sort_column, "value")
        self.ascending.observe(self._on_direction, "value")
        self._build_filters()
        controls = widgets.HBox(
            [
                self.sort_by,
                self.ascending,
                self.prev_button,
                self.page_label,
                self.next_button,
                self.page_size_choice,
                self.thumb_size_choice,
            ]
        )
        self.children = [self.message, self.count, controls, self.filters, self.grid]
        self.page = 0
        self._selection_what: tuple[str, str] = ("", "")
        self.order = np.zeros(0, dtype=np.int64)
        self._all_orders: dict[tuple[str, bool], np.ndarray] = {}
        self._reorder()

    # -- filters -------------------------------------------------------------------------
    _new_column = False  # set while a new sort column resets the range slider

    def _build_filters(self) -> None:
        data = self.data
        small = {"layout": widgets.Layout(width="auto"), "style": {"description_width": "auto"}}
        self.filter_wrong = widgets.Checkbox(description="wrong only", indent=False, **small)
        self.filter_wrong.disabled = data.pred_codes is None
        issues = [
            (t.display_name, t.flag_column) for t in _issue_types() if data.has(t.flag_column)
        ]
        self.filter_issue = widgets.Dropdown(
            options=[("any", ""), *issues], description="issue", **small
        )
        classes = [("any", ""), *[(c, c) for c in data.classes]]
        self.filter_label = widgets.Dropdown(options=classes, description="label", **small)
        self.filter_predicted = widgets.Dropdown(options=classes, description="predicted", **small)
        self.filter_predicted.disabled = data.pred_codes is None
        self.filter_flag = widgets.Dropdown(
            options=[("any", ""), ("no flag", "-"), *[(f, f) for f in _FLAGS]],
            description="flag",
            **small,
        )
        self.score_range = widgets.FloatRangeSlider(
            description="range",
            readout_format=".3g",
            continuous_update=False,
            # a fixed width: "auto" collapses the track and cuts the readout short
            layout=widgets.Layout(width="360px"),
            style={"description_width": "auto"},
        )
        self.page_size_choice = widgets.Dropdown(
            options=sorted({12, 24, 48, 96, self.page_size}),
            value=self.page_size,
            description="page",
            **small,
        )
        self.thumb_size_choice = widgets.Dropdown(
            options=sorted({64, 84, 96, 128, 160, self.thumb_size}),
            value=self.thumb_size,
            description="size",
            **small,
        )
        self._set_score_range()
        for control in (
            self.filter_wrong,
            self.filter_issue,
            self.filter_label,
            self.filter_predicted,
            self.filter_flag,
            self.score_range,
        ):
            control.observe(self._on_filter, "value")
        self.page_size_choice.observe(self._on_page_size, "value")
        self.thumb_size_choice.observe(self._on_thumb_size, "value")
        self.filters = widgets.HBox(
            [
                self.filter_wrong,
                self.filter_issue,
                self.filter_label,
                self.filter_predicted,
                self.filter_flag,
                self.score_range,
            ],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        self.filters.add_class("ea-gallery-filters")

    def _set_score_range(self) -> None:
        """The range slider spans the sort column's values (all of them: no filtering)."""
        column = self.sort_by.value
        values = (
            pd.to_numeric(self.data.frame[column], errors="coerce").to_numpy(np.float64)
            if column
            else np.zeros(0)
        )
        values = values[np.isfinite(values)]
        slider = self.score_range
        slider.disabled = not len(values)
        lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        hi = hi if hi > lo else lo + 1e-9
        with slider.hold_trait_notifications():
            slider.min, slider.max = -1e300, 1e300  # widen first: min must stay below max
            slider.min, slider.max = lo, hi
            slider.step = (hi - lo) / 200
            slider.value = (lo, hi)
        slider.description = f"{column} range" if column else "range"
        self._full_range = (lo, hi)

    def filter_mask(self) -> np.ndarray | None:
        """Which samples pass the gallery's filters (``None``: no filter is set)."""
        data, frame = self.data, self.data.frame
        mask = np.ones(data.num_samples, dtype=bool)
        active = False
        if self.filter_wrong.value and data.pred_codes is not None:
            mask &= data.wrong()
            active = True
        if self.filter_issue.value:
            mask &= frame[self.filter_issue.value].fillna(False).to_numpy(dtype=bool)
            active = True
        if self.filter_label.value:
            mask &= data.label_codes == data.classes.index(self.filter_label.value)
            active = True
        if self.filter_predicted.value and data.pred_codes is not None:
            mask &= data.pred_codes == data.classes.index(self.filter_predicted.value)
            active = True
        if self.filter_flag.value:
            flagged = np.zeros(data.num_samples, dtype=bool)
            for pos, flags in data.flags.items():
                flagged[pos] = (
                    bool(flags)
                    if self.filter_flag.value == "-"
                    else self.filter_flag.value in flags
                )
            mask &= ~flagged if self.filter_flag.value == "-" else flagged
            active = True
        column = self.sort_by.value
        if column and not self.score_range.disabled:
            lo, hi = self.score_range.value
            if (lo, hi) != self._full_range:
                x = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)
                mask &= (x >= lo) & (x <= hi)
                active = True
        return mask if active else None

    def _filter_text(self) -> str:
        parts = []
        if self.filter_wrong.value:
            parts.append("wrong only")
        for name, control in (
            ("issue", self.filter_issue),
            ("label", self.filter_label),
            ("predicted", self.filter_predicted),
            ("flag", self.filter_flag),
        ):
            if control.value:
                label = dict((v, k) for k, v in control.options).get(control.value, control.value)
                parts.append(f"{name} {label}")
        if self.sort_by.value and tuple(self.score_range.value) != self._full_range:
            lo, hi = self.score_range.value
            parts.append(f"{self.sort_by.value} in [{lo:.3g}, {hi:.3g}]")
        return ", ".join(parts)

    def _on_filter(self, _event: dict) -> None:
        if not self._new_column:  # a new sort column resets the range: it reorders once, itself
            self._reorder()

    def _on_page_size(self, event: dict) -> None:
        self.page_size = int(event["new"])
        self.page = 0
        self._render(thumbs=True)

    def _on_thumb_size(self, event: dict) -> None:
        self.thumb_size = int(event["new"])
        self.grid.thumb_size = self.thumb_size
        self._render(thumbs=True)

    # -- ordering ------------------------------------------------------------------------
    def _showing_selection(self) -> bool:
        # an empty confusion cell is still a selection (of nothing), unlike a cleared selection
        return len(self.selection) > 0 or bool(self.selection.description)

    def _base_positions(self) -> np.ndarray:
        if self._showing_selection():
            return self.selected_rows()
        return np.arange(self.data.num_samples, dtype=np.int64)

    def _sort_keys(self, column: str, ascending: bool) -> np.ndarray:
        """One key per sample that sorts ``column`` ascending (NaN last either way)."""
        values = pd.to_numeric(self.data.frame[column], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        keys = values if ascending else -values
        return np.where(np.isnan(keys), np.inf, keys)

    def _full_order(self, column: str, ascending: bool) -> np.ndarray:
        """Every sample sorted by ``column`` (store order without one); sorted once per column
        and direction, as the scores do not change with relabels."""
        key = (column, ascending)
        if key not in self._all_orders:
            every = np.arange(self.data.num_samples, dtype=np.int64)
            self._all_orders[key] = (
                stable_argsort(self._sort_keys(column, ascending)) if column else every
            )
        return self._all_orders[key]

    def _sorted(self, positions: np.ndarray, column: str, ascending: bool) -> np.ndarray:
        """The selection's ``positions`` sorted by ``column``, stably: ties in store order when
        the selection is large or the column already sorted, else in the selection's order (the
        views select ascending rows, where the two agree)."""
        n, k = self.data.num_samples, len(positions)
        if (column, ascending) in self._all_orders or 4 * k >= n:
            # a large selection, or a column already sorted: one O(N) pass over the sorted
            # store (128k of 1.28M: ~4 ms, where sorting the selection's values takes ~15 ms)
            order = self._full_order(column, ascending)
            member = np.zeros(n, dtype=bool)
            member[positions] = True
            if np.count_nonzero(member) == k:  # the pass would drop a sample selected twice
                return order[member[order]]
        return positions[stable_argsort(self._sort_keys(column, ascending)[positions])]

    def _reorder(self, keep_page: bool = False) -> None:
        column, ascending = self.sort_by.value, bool(self.ascending.value)
        if self._showing_selection():
            positions = self._base_positions()
            if column:
                positions = self._sorted(positions, column, ascending)
        else:
            positions = self._full_order(column, ascending)
        mask = self.filter_mask() if hasattr(self, "filters") else None
        if mask is not None:
            positions = positions[mask[positions]]
        self.order = positions
        self.page = min(self.page, self.num_pages - 1) if keep_page else 0
        self._render(thumbs=True)

    def _on_sort_column(self, event: dict) -> None:
        # a new column sorts worst first: lowest first where low is bad (label quality, a
        # metric attached with higher_is_better=True), highest first where high is bad (loss)
        column = event["new"]
        self._new_column = True
        try:
            self._set_score_range()
        finally:
            self._new_column = False
        ascending = self.data.low_is_bad(column) if column else True
        if ascending != self.ascending.value:
            with self.ascending.hold_trait_notifications():
                self.ascending.unobserve(self._on_direction, "value")
                self.ascending.value = ascending
                self.ascending.observe(self._on_direction, "value")
            self.ascending.description = "lowest first" if ascending else "highest first"
        self._reorder()

    def _on_direction(self, event: dict) -> None:
        self.ascending.description = "lowest first" if event["new"] else "highest first"
        self._reorder()

    @property
    def num_pages(self) -> int:
        """Number of pages."""
        return max(1, -(-len(self.order) // self.page_size))

    def go(self, page: int) -> None:
        """Show page ``page`` (0-based; clipped to the valid range)."""
        page = int(min(max(page, 0), self.num_pages - 1))
        if page != self.page:
            self.page = page
            self._render(thumbs=True)

    def page_positions(self) -> np.ndarray:
        """Row positions of the samples on the current page."""
        start = self.page * self.page_size
        return self.order[start : start + self.page_size]

    def page_ids(self) -> list[str]:
        """Sample ids on the current page, in display order."""
        return self.data.ids_at(self.page_positions())

    def order_ids(self) -> list[str]:
        """All sample ids the gallery pages through, in display order."""
        return self.data.ids_at(self.order)

    # -- rendering -----------------------------------------------------------------------
    _page_issue_types: list | None = None

    def _item(self, pos: int) -> dict:
        data = self.data
        frame = data.frame
        labelled = data.label_codes[pos] >= 0
        label = data.label_name(pos)
        sid = data.sample_ids[pos]
        badges = []
        wrong = False
        caption = label
        if data.pred_codes is not None and data.pred_codes[pos] >= 0:
            pred = data.classes[data.pred_codes[pos]]
            wrong = labelled and pred != label
            caption = f"{label} → {pred}" if wrong or not labelled else label
        for issue in self._page_issue_types or _issue_types():
            column = issue.flag_column
            if column in frame.columns and bool(frame[column].iat[pos]):
                badges.append(issue.name)
        relabeled = data.label_codes[pos] != data.given_codes[pos]
        if not labelled:
            badges.append("unlabelled")
        elif relabeled:
            badges.append("relabeled")
        badges.extend(sorted(data.flag_names(pos)))
        tooltip = f"{sid}: {caption}"
        column = self.sort_by.value
        if column:
            value = frame[column].iat[pos]
            tooltip += f"\n{column} = {value:.4g}" if isinstance(value, float) else ""
        return {
            "sample_id": str(sid),
            "caption": caption,
            "badges": badges,
            "wrong": bool(wrong),
            "relabeled": bool(relabeled),
            "tooltip": tooltip,
        }

    def _render(self, thumbs: bool = False) -> None:
        positions = self.page_positions()
        # the issue registry is read once per page, not once per thumbnail
        self._page_issue_types = _issue_types()
        items = [self._item(int(p)) for p in positions]
        with self.grid.hold_sync():
            if thumbs:
                self.grid.thumbs = [
                    self.thumbnails.data_url(item["sample_id"], self.thumb_size) for item in items
                ]
            self.grid.items = items
        n = len(self.order)
        what = (
            html.escape(self.selection.description or "selection")
            if self._showing_selection()
            else "all samples"
        )
        order = f", sorted by {self.sort_by.value}" if self.sort_by.value else ""
        filtered = self._filter_text() if hasattr(self, "filters") else ""
        if filtered:
            order += f" · filtered: {html.escape(filtered)}"
        self.count.value = f'<span class="ea-gallery-count-n">{n}</span> samples — {what}{order}'
        self.page_label.value = f"page {self.page + 1} / {self.num_pages}"
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.num_pages - 1

    # -- interaction ---------------------------------------------------------------------
    def click(self, sample_id: str) -> None:
        """Focus ``sample_id``, as a click on its thumbnail does."""
        self.grid.focused = str(sample_id)
        self.selection.focus(str(sample_id), source=self.view_name)

    def _on_click(self, payload: dict) -> None:
        if payload and payload.get("sample_id"):
            self.click(payload["sample_id"])

    def on_selection(self, positions: np.ndarray, source: str) -> None:
        # the same selection again (a confusion cell re-selected after a relabel): stay on the page
        what = (source, self.selection.description)
        same = what == self._selection_what and bool(self.selection.description)
        self._selection_what = what
        self._reorder(keep_page=same)

    def on_focus(self, sample_id: str | None, source: str) -> None:
        self.grid.focused = sample_id or ""

    def on_change(self, change: Change) -> None:
        if len(change.touched_positions) == 0 and not change.flags_changed:
            return
        label_filter = self.filter_wrong.value or self.filter_label.value
        if (label_filter and len(change.label_positions)) or (
            self.filter_flag.value and change.flags_changed
        ):
            self._reorder(keep_page=True)  # the filter's answer changed for these samples
            return
        if change.flags_changed or np.isin(change.touched_positions, self.page_positions()).any():
            self._render(thumbs=False)
