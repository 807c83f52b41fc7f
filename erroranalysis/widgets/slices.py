"""Slice table view: accuracy per metadata / image-property slice, weak slices first.

Renders the scan's cached ``slices`` artifact (one row per slice, with Wilson confidence
intervals); a row click selects the slice's samples, so the gallery and the scatter show them.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from erroranalysis.widgets._base import View
from erroranalysis.widgets._frontend import TableWidget
from erroranalysis.widgets.selection import Selection

__all__ = ["SliceTable", "slice_mask"]

_COLUMN_NAMES = ("feature", "column", "attribute", "slice_column")
_VALUE_NAMES = ("value", "slice", "bin", "slice_value", "group")
_SORT_NAMES = ("ci_high", "wilson_high", "upper", "accuracy_high", "accuracy")
_SHOWN = (
    "rank",
    "slice",
    "feature",
    "column",
    "value",
    "size",
    "n",
    "accuracy",
    "ci_low",
    "ci_high",
    "macro_f1",
    "gap",
    "weak",
)
# the scan's ``slice`` column names one- and two-feature slices alike ("blur=[0.4, 0.9) &
# brightness=[0, 0.2)"); feature/value alone would show a pair as its first condition only
_NAMED_BY_SLICE = ("feature", "column", "value")
_INTERVAL = re.compile(
    r"^\s*([\[(])\s*(-?inf|[-+0-9.eE]+)\s*,\s*(-?inf|[-+0-9.eE]+|inf)\s*([\])])\s*$"
)


def _first(names: tuple[str, ...], columns: pd.Index) -> str | None:
    return next((n for n in names if n in columns), None)


def slice_mask(frame: pd.DataFrame, column: str, value: Any) -> np.ndarray:
    """Which rows of ``frame`` belong to the slice ``column == value``.

    ``value`` may be an interval written as ``"[0.1, 0.5)"`` for a binned numeric column.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``store.frame(run)``.
    column : str
        The slicing column.
    value : object
        The slice's value or interval.

    Returns
    -------
    numpy.ndarray
        Boolean mask of length ``len(frame)``.
    """
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    series = frame[column]
    if isinstance(value, str) and pd.api.types.is_numeric_dtype(series.dtype):
        match = _INTERVAL.match(value)
        if match:
            left, lo, hi, right = match.groups()
            lo_v, hi_v = float(lo), float(hi)
            x = pd.to_numeric(series, errors="coerce").to_numpy(np.float64, na_value=np.nan)
            low = x >= lo_v if left == "[" else x > lo_v
            high = x <= hi_v if right == "]" else x < hi_v
            return low & high
    if isinstance(value, pd.Interval):
        x = pd.to_numeric(series, errors="coerce").to_numpy(np.float64, na_value=np.nan)
        low = x >= value.left if value.closed_left else x > value.left
        high = x <= value.right if value.closed_right else x < value.right
        return low & high
    return (series.astype(str) == str(value)).to_numpy(dtype=bool)


class SliceTable(View):
    """Weak slices first, with confidence intervals; a row click selects the slice.

    Parameters
    ----------
    store : Store or ViewData
        The store to show.
    run : str, optional
        Which run (default: the latest).
    selection : Selection, optional
        Shared selection; a row click selects that slice's samples.
    max_rows : int
        How many slices to list.
    """

    view_name = "slices"
    css_class = "ea-slices"

    def __init__(
        self, store: Any, run: Any = None, selection: Selection | None = None, max_rows: int = 30
    ) -> None:
        super().__init__(store, run, selection)
        self.max_rows = int(max_rows)
        self.table = TableWidget(empty_text="no slices")
        self.table.on_click(self.guard(self._on_click))
        self.children = [self.message, self.table]
        self.slices = pd.DataFrame()
        self.refresh()

    def refresh(self) -> None:
        """Re-read the ``slices`` artifact of the run."""
        run = self.data.run
        artifact = run.load_artifact("slices") if run is not None else None
        if artifact is None:
            self.show_message("No slice metrics yet: run ea.scan(store) first.")
            self.slices = pd.DataFrame()
            self._render()
            return
        table = artifact if isinstance(artifact, pd.DataFrame) else pd.DataFrame(artifact)
        sort = _first(_SORT_NAMES, table.columns)
        if "rank" in table.columns:  # ranked by the scan (weak slices first): keep its order
            table = table.sort_values("rank", kind="stable")
        elif sort is not None:
            table = table.sort_values(sort, kind="stable", na_position="last")
        self.slices = table.head(self.max_rows).reset_index(drop=True)
        if run is not None and run.is_stale("slices", self.data.store):
            self.show_message(
                "Labels changed since the scan; re-run ea.scan(store) to update slices."
            )
        else:
            self.show_message(None)
        self._render()

    def _render(self) -> None:
        table = self.slices
        shown = [c for c in _SHOWN if c in table.columns]
        if "slice" in shown:
            shown = [c for c in shown if c not in _NAMED_BY_SLICE]
        columns = shown or [
            str(c) for c in table.columns if str(c) not in ("sample_ids", "positions")
        ]
        rows = []
        for record in table[columns].itertuples(index=False) if len(table) else []:
            row = []
            for value in record:
                if isinstance(value, float | np.floating):
                    row.append("" if np.isnan(value) else f"{value:.3g}")
                else:
                    row.append(str(value))
            rows.append(row)
        with self.table.hold_sync():
            self.table.columns = columns
            self.table.rows = rows
            self.table.row_ids = [""] * len(rows)

    def slice_positions(self, index: int) -> np.ndarray:
        """Row positions of the samples in slice number ``index`` of the table."""
        record = self.slices.iloc[int(index)]
        if "sample_ids" in self.slices.columns and isinstance(
            record["sample_ids"], list | tuple | np.ndarray
        ):
            return self.data.positions([str(s) for s in record["sample_ids"]])
        if {"feature", "kind", "low", "high"} <= set(self.slices.columns):
            try:  # the scan's own definition of slice membership
                from erroranalysis.analysis.slices import slice_mask as scan_slice_mask
            except ImportError:
                scan_slice_mask = None
            if scan_slice_mask is not None and record["feature"] in self.data.frame.columns:
                return np.flatnonzero(scan_slice_mask(self.data.frame, record))
        column = _first(_COLUMN_NAMES, self.slices.columns)
        value = _first(_VALUE_NAMES, self.slices.columns)
        if column is None or value is None:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(slice_mask(self.data.frame, str(record[column]), record[value]))

    def click_row(self, index: int) -> None:
        """Select the samples of slice ``index`` (as a row click does)."""
        if not 0 <= index < len(self.slices):
            return
        positions = self.slice_positions(index)
        record = self.slices.iloc[int(index)]
        column = _first(_COLUMN_NAMES, self.slices.columns)
        value = _first(_VALUE_NAMES, self.slices.columns)
        description = f"slice {record[column]} = {record[value]}" if column and value else "slice"
        self.selection.select(
            self.data.ids_at(positions), source=self.view_name, description=description
        )

    def _on_click(self, payload: dict) -> None:
        if payload and "row" in payload:
            self.click_row(int(payload["row"]))
