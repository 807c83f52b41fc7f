"""Slice table view: accuracy per metadata / image-property slice, weak slices first.

Renders the scan's cached ``slices`` artifact (one row per slice, with Wilson confidence
intervals); a row click selects the slice's samples, so the gallery and the scatter show them.

Each row says why it ranks where it does: its support (samples, share of the run), its accuracy
as a bar with its 95% interval and a tick at the overall accuracy, the gap to the overall
accuracy with that interval, the q-value and a one-line reason (``why``: how much worse it is at
least, or that it is redundant with the slices above it, or not clearly worse). Bin edges are
rounded for reading (the exact interval is the cell's tooltip); a header click sorts by that
column (a second click reverses; ``rank`` is the scan's order).
"""

from __future__ import annotations

import html
import re
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from erroranalysis.widgets._base import View
from erroranalysis.widgets._frontend import TableWidget
from erroranalysis.widgets.selection import Selection

__all__ = ["SliceTable", "round_edges", "slice_mask"]

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
#: Columns of the shown table → the artifact column a header click sorts by.
_SORT_KEYS = {
    "rank": "rank",
    "slice": "slice",
    "support": "size",
    "accuracy": "accuracy",
    "gap (pts)": "gap",
    "q": "q_value",
}
# an interval in a slice's name: "[0.04982, 0.0527)"
_NAME_INTERVAL = re.compile(r"([\[(])\s*(-?inf|[-+0-9.eE]+)\s*,\s*(-?inf|[-+0-9.eE]+)\s*([\])])")
_INTERVAL = re.compile(
    r"^\s*([\[(])\s*(-?inf|[-+0-9.eE]+)\s*,\s*(-?inf|[-+0-9.eE]+|inf)\s*([\])])\s*$"
)


def _first(names: tuple[str, ...], columns: pd.Index) -> str | None:
    return next((n for n in names if n in columns), None)


def _short_number(value: float, digits: int) -> str:
    if not np.isfinite(value):
        return "inf" if value > 0 else "-inf"
    text = np.format_float_positional(
        float(value), precision=digits, unique=False, fractional=False, trim="-"
    )
    return "0" if text in ("-0", "0.") else text


def round_edges(name: str, digits: int = 2) -> str:
    """A slice's name with the edges of its bins rounded for reading.

    Each interval keeps ``digits`` significant digits, or as many more (up to 6) as it takes
    for its two edges to differ: ``"contrast=[0.04982, 0.0527)"`` → ``"contrast=[0.05,
    0.053)"``, ``"blur=[4368, 4808)"`` → ``"blur=[4400, 4800)"``.

    Parameters
    ----------
    name : str
        The scan's name of the slice (``feature=value``, pairs joined by ``" & "``).
    digits : int
        Significant digits to keep at least.

    Returns
    -------
    str
        The name, with every interval rounded (other text unchanged).
    """

    def one(match: re.Match) -> str:
        left, lo, hi, right = match.groups()
        try:
            lo_v, hi_v = float(lo), float(hi)
        except ValueError:
            return match.group(0)
        for d in range(int(digits), 7):
            a, b = _short_number(lo_v, d), _short_number(hi_v, d)
            if a != b:
                break
        return f"{left}{a}, {b}{right}"

    return _NAME_INTERVAL.sub(one, str(name))


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
        self.summary = widgets.HTML()
        self.summary.add_class("ea-slices-summary")
        self.children = [self.message, self.summary, self.table]
        self.slices = pd.DataFrame()
        self._ranked = pd.DataFrame()
        self.sort_column = "rank"
        self.descending = False
        self.overall_accuracy: float | None = None
        self.axis_min = 0.0
        self.refresh()

    def refresh(self) -> None:
        """Re-read the ``slices`` artifact of the run."""
        run = self.data.run
        artifact = run.load_artifact("slices") if run is not None else None
        if artifact is None:
            self.show_message("No slice metrics yet: run ea.scan(store) first.")
            self.slices = self._ranked = pd.DataFrame()
            self.overall_accuracy = None
            self._render()
            return
        table = artifact if isinstance(artifact, pd.DataFrame) else pd.DataFrame(artifact)
        sort = _first(_SORT_NAMES, table.columns)
        if "rank" in table.columns:  # ranked by the scan (weak slices first): keep its order
            table = table.sort_values("rank", kind="stable")
        elif sort is not None:
            table = table.sort_values(sort, kind="stable", na_position="last")
        self._ranked = table.head(self.max_rows).reset_index(drop=True)
        self.overall_accuracy = self._overall_accuracy(table)
        self._order()
        if run is not None and run.is_stale("slices", self.data.store):
            self.show_message(
                "Labels changed since the scan; re-run ea.scan(store) to update slices."
            )
        else:
            self.show_message(None)
        self._render()

    def _overall_accuracy(self, table: pd.DataFrame) -> float | None:
        """The run's accuracy the slices are compared with (the scan's, else the views')."""
        if {"gap", "accuracy"} <= set(table.columns):
            values = (table["gap"] + table["accuracy"]).dropna()
            if len(values):
                return float(values.iloc[0])
        data = self.data
        if data.pred_codes is None:
            return None
        known = data.label_codes >= 0
        return (
            float((data.pred_codes[known] == data.label_codes[known]).mean())
            if known.any()
            else None
        )

    # -- sorting -------------------------------------------------------------------------
    def sort(self, column: str, descending: bool | None = None) -> None:
        """Sort by a shown ``column`` (as a header click does: a second click reverses).

        ``rank`` is the scan's order (weakest first); ``support`` sorts by size, ``accuracy``
        by accuracy, ``gap`` by the gap to the overall accuracy, ``q`` by the q-value.
        """
        shown = self.shown_columns()
        if column not in shown:
            raise ValueError(f"cannot sort the slice table by {column!r}; choose one of {shown}")
        if descending is None:
            if column == self.sort_column:
                descending = not self.descending
            else:  # the interesting end first: big slices, big gaps, low accuracy / q
                descending = column in ("support", "gap (pts)")
        self.sort_column, self.descending = column, bool(descending)
        self._order()

    def _order(self) -> None:
        table = self._ranked
        key = _SORT_KEYS.get(self.sort_column)
        if key is None or key not in table.columns:
            key = _SORT_KEYS.get(self.sort_column, self.sort_column)
        if len(table) and key in table.columns:
            values = table[key]
            if key == "slice":
                values = values.astype(str)
            order = (
                values.reset_index(drop=True)
                .sort_values(ascending=not self.descending, kind="stable", na_position="last")
                .index.to_numpy()
            )
            table = table.iloc[order]
        self.slices = table.reset_index(drop=True)
        self._render()

    # -- rendering -----------------------------------------------------------------------
    def shown_columns(self) -> list[str]:
        """The table's columns: the explaining ones when the scan's artifact has them."""
        table = self._ranked if len(self._ranked) else self.slices
        if {"slice", "size", "accuracy", "ci_low", "ci_high"} <= set(table.columns):
            columns = ["rank", "slice", "support", "accuracy", "gap (pts)", "q"]
            have = {"rank": "rank", "gap (pts)": "gap", "q": "q_value"}
            return [c for c in columns if c not in have or have[c] in table.columns]
        shown = [c for c in _SHOWN if c in table.columns]
        if "slice" in shown:
            shown = [c for c in shown if c not in _NAMED_BY_SLICE]
        return shown or [str(c) for c in table.columns if str(c) not in ("sample_ids", "positions")]

    def why(self, index: int) -> str:
        """Why slice ``index`` of the table ranks where it does, in one line."""
        record = self.slices.iloc[int(index)]
        overall = self.overall_accuracy
        size = int(record["size"])
        acc, high = float(record["accuracy"]), float(record["ci_high"])
        if overall is None or not np.isfinite(acc):
            return f"{size:,} samples"
        gap, gap_low = 100 * (overall - acc), 100 * (overall - high)

        def pts(v: float) -> str:  # "0.4" rather than "0" for a small gap
            return f"{v:.1f}" if abs(v) < 9.95 else f"{v:.0f}"

        q = record.get("q_value", np.nan)
        q_text = f", q = {q:.2g}" if isinstance(q, float | np.floating) and np.isfinite(q) else ""
        if bool(record.get("redundant", False)):
            return (
                f"{pts(gap)} pts below overall, but not on the samples the slices above leave"
                f" out (redundant){q_text}"
            )
        if high < overall:
            what = "worse than each of its two parts; " if record.get("order", 1) == 2 else ""
            return (
                f"{what}{pts(gap)} pts below the {overall:.0%} overall, at least {pts(gap_low)} at"
                f" 95%{q_text}; {size:,} samples"
            )
        if acc < overall:
            return (
                f"{pts(gap)} pts below overall, not clearly: its interval reaches"
                f" {overall:.0%} ({size:,} samples{q_text})"
            )
        return f"not worse than the {overall:.0%} overall ({size:,} samples)"

    def _render(self) -> None:
        table = self.slices
        columns = self.shown_columns()
        explained = "gap (pts)" in columns or "support" in columns
        rows = []
        if explained and len(table):
            overall = self.overall_accuracy
            lows = [v for v in table["ci_low"].to_numpy(np.float64) if np.isfinite(v)]
            floor = min([*lows, overall if overall is not None else 1.0, 1.0])
            self.axis_min = axis = max(0.0, np.floor(floor * 10) / 10)
            span = max(1.0 - axis, 1e-9)

            def where(v: float) -> float:
                return float(np.clip((v - axis) / span, 0.0, 1.0))

            total = max(self.data.num_samples, 1)
            for i, record in enumerate(table.itertuples(index=False)):
                r = record._asdict()
                acc, low, high = r["accuracy"], r["ci_low"], r["ci_high"]
                row: list[Any] = []
                for column in columns:
                    if column == "rank":
                        row.append(str(r["rank"]))
                    elif column == "slice":
                        # the name (bin edges rounded), and under it why it ranks here
                        name = str(r["slice"])
                        row.append(
                            {
                                "text": round_edges(name),
                                "title": name,
                                "sub": self.why(i),
                                "cls": "ea-slice-name",
                            }
                        )
                    elif column == "support":
                        size = int(r["size"])
                        row.append(
                            {
                                "text": f"{size:,} ({size / total:.1%})",
                                "title": f"{size:,} of {total:,} samples",
                            }
                        )
                    elif column == "accuracy":
                        bar = {"v": where(acc), "lo": where(low), "hi": where(high)}
                        if overall is not None:
                            bar["ref"] = where(overall)
                        row.append(
                            {
                                "text": f"{acc:.1%}",
                                "title": f"accuracy {acc:.1%}, 95% interval {low:.1%}–{high:.1%}"
                                + (f"; overall {overall:.1%}" if overall is not None else ""),
                                "bar": bar,
                            }
                        )
                    elif column == "gap (pts)":
                        if overall is None:
                            row.append("")
                        else:
                            gap = 100 * (overall - acc)
                            g_lo, g_hi = 100 * (overall - high), 100 * (overall - low)
                            row.append(
                                {
                                    "text": f"{gap:+.1f} [{g_lo:+.0f}, {g_hi:+.0f}]",
                                    "title": "overall accuracy − the slice's, in points, with"
                                    " the 95% interval of the slice's accuracy",
                                }
                            )
                    elif column == "q":
                        q = r.get("q_value", np.nan)
                        row.append("" if not np.isfinite(q) else f"{q:.2g}")
                rows.append(row)
        else:
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
            self.table.sort_by = self.sort_column if explained else ""
            self.table.sort_desc = self.descending
        self._render_summary(explained)

    def _render_summary(self, explained: bool) -> None:
        table, overall = self._ranked, self.overall_accuracy
        if not explained or not len(table) or overall is None:
            self.summary.value = ""
            return
        weak = int(table["weak"].sum()) if "weak" in table.columns else 0
        self.summary.value = (
            f'<div class="ea-muted ea-slices-explain">overall accuracy <b>{overall:.1%}</b> · '
            f"{len(table)} slices shown, {weak} weak (95% interval below overall) · ranked by how"
            " much worse each is at least (overall − the upper bound of its accuracy), each next"
            " on the samples the slices above leave out · bars: accuracy from"
            f" {html.escape(f'{self.axis_min:.0%}')} to 100%, whiskers its interval, tick the"
            " overall · click a header to sort, a row to select its samples</div>"
        )

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
        self.select_rows(positions, description=description)

    def _on_click(self, payload: dict) -> None:
        if not payload:
            return
        if payload.get("sort"):
            self.sort(str(payload["sort"]))
        elif "row" in payload:
            self.click_row(int(payload["row"]))
