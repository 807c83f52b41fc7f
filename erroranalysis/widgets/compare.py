"""The compare tab: two runs side by side on the same samples and current labels.

Pick run A and run B: a 2×2 table (both right / only A right / only B right / both wrong) whose
cell click puts exactly those samples into the shared :class:`Selection` (so the gallery holds
them), the per-class accuracy of each run and the change B − A (a row click selects the class's
samples on which the two runs disagree), and the ranking of every run of the store on all
samples, without the suspected label errors, with the suggested labels and without the labels
people corrected.

The panel never computes: :func:`~erroranalysis.analysis.evaluation.compare_two_runs` makes the
comparison (the ranking is cached in the store); a click only indexes its arrays. After a relabel
the comparison is out of date until *refresh* (recomputing the ranking may refit label issues).

In a dashboard, run B is the dashboard's run: *show it* on a newer run rebuilds this tab with the
newer run as B and the one shown before as A. A run that lands while the dashboard is open is
offered in the dropdowns at once (the dashboard's poller calls :meth:`RunComparePanel.update_runs`;
*refresh* does too), so it can be compared before switching.

>>> from erroranalysis.widgets.compare import RunComparePanel
>>> panel = RunComparePanel(store, run_a="resnet", run_b="vit")   # doctest: +SKIP
>>> panel.click_cell("only B right")                              # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import numpy as np

from erroranalysis.widgets._base import View
from erroranalysis.widgets._data import Change
from erroranalysis.widgets._frontend import HeatmapWidget, TableWidget
from erroranalysis.widgets.selection import Selection

__all__ = ["RunComparePanel"]

_RANK_COLUMNS = (
    ("accuracy_all", "all"),
    ("accuracy_clean", "without label issues"),
    ("accuracy_relabeled", "issues relabelled"),
    ("accuracy_uncorrected", "without corrected"),
)


def _percent(value: float) -> str:
    return "—" if value is None or np.isnan(value) else f"{value:.1%}"


class RunComparePanel(View):
    """Two runs compared: the clickable 2×2 table, per-class deltas and the ranking of all runs.

    Parameters
    ----------
    store : Store or ViewData
        The store (or the dashboard's shared data).
    run : str, optional
        The dashboard's run; it is run B by default.
    selection : Selection, optional
        The shared selection a cell click writes.
    run_a, run_b : str, optional
        The runs compared (default: B = ``run`` or the latest run, A = the latest other run).

    Attributes
    ----------
    comparison : RunComparison or None
        The comparison shown (``None`` with fewer than two runs).
    cells : HeatmapWidget
        The 2×2 table (rows: A right / A wrong; columns: B right / B wrong).
    per_class, ranking : TableWidget
    """

    view_name = "compare"
    css_class = "ea-compare"

    def __init__(
        self,
        store: Any,
        run: Any = None,
        selection: Selection | None = None,
        run_a: str | None = None,
        run_b: str | None = None,
    ) -> None:
        super().__init__(store, run, selection)
        self.store = self.data.store
        runs = list(self.store.runs())
        self.comparison = None
        default_b = run_b or (self.data.run.name if self.data.run is not None else None)
        if default_b is None and runs:
            default_b = runs[-1]
        others = [name for name in runs if name != default_b]
        default_a = run_a or (others[-1] if others else None)
        self.run_a = widgets.Dropdown(
            options=runs, value=default_a if default_a in runs else None, description="run A",
            layout=widgets.Layout(width="260px"),
        )  # fmt: skip
        self.run_b = widgets.Dropdown(
            options=runs, value=default_b if default_b in runs else None, description="run B",
            layout=widgets.Layout(width="260px"),
        )  # fmt: skip
        self.refresh_button = widgets.Button(description="refresh", icon="refresh")
        self.refresh_button.add_class("ea-compare-refresh")
        self.refresh_button.on_click(lambda _: self.guard(self.refresh)())
        self.cells = HeatmapWidget(row_title="A", col_title="B", diagonal=True)
        self.cells.add_class("ea-compare-cells")
        self.cells.on_click(self.guard(self._on_cell))
        self.per_class = TableWidget(empty_text="no classes")
        self.per_class.add_class("ea-compare-classes")
        self.per_class.on_click(self.guard(self._on_class))
        self.ranking = TableWidget(empty_text="no runs")
        self.ranking.add_class("ea-compare-ranking")
        self.ranking_note = widgets.HTML()
        self._updating_runs = False
        self.run_a.observe(self._on_run_choice, "value")
        self.run_b.observe(self._on_run_choice, "value")
        self.children = [
            self.message,
            widgets.HBox([self.run_a, self.run_b, self.refresh_button]),
            widgets.HTML("<b>Who is right where</b> (labelled samples, current labels)"),
            self.cells,
            widgets.HTML(
                "<b>Per-class accuracy</b> (a row: the class's samples the runs disagree on)"
            ),
            self.per_class,
            widgets.HTML("<b>Ranking of all runs</b>"),
            self.ranking_note,
            self.ranking,
        ]
        self.guard(self.compare, "comparing the runs failed")()

    def _on_run_choice(self, _change: Any) -> None:
        if not self._updating_runs:
            self.guard(self.compare)()

    def update_runs(self) -> bool:
        """Offer the runs added to the store since (a run that landed while the dashboard is open).

        The chosen runs stay chosen; where A was not set (the store had one run), the newest other
        run becomes A and the two are compared. Returns True when the list of runs changed.
        """
        runs = list(self.store.runs())
        if runs == list(self.run_a.options):
            return False
        a, b = self.run_a.value, self.run_b.value
        self._updating_runs = True
        try:
            self.run_a.options = runs
            self.run_b.options = runs
            if b not in runs:
                b = runs[-1] if runs else None
            others = [name for name in runs if name != b]
            if a not in runs or a == b:
                a = others[-1] if others else None
            self.run_a.value, self.run_b.value = a, b
        finally:
            self._updating_runs = False
        self.guard(self.compare, "comparing the runs failed")()
        return True

    def refresh(self) -> None:
        """Re-read the store's runs and compare again (the *refresh* button)."""
        if not self.update_runs():
            self.compare()

    # -- computing (in the analysis layer) ----------------------------------------------------
    def compare(self) -> None:
        """Compare the runs the dropdowns name (``compare_two_runs``) and show the result."""
        from erroranalysis.analysis.evaluation import compare_two_runs

        a, b = self.run_a.value, self.run_b.value
        if len(self.run_a.options) < 2:
            self.comparison = None
            self.show_message(
                "Comparing runs needs two runs of this store; add another with "
                "store.add_run(...) or ea.predict(...)."
            )
            self._render()
            return
        if a is None or b is None or a == b:
            self.comparison = None
            self.show_message("Pick two different runs as A and B.")
            self._render()
            return
        self.comparison = compare_two_runs(self.store, a, b)
        self.show_message(None)
        self._render()

    # -- rendering -----------------------------------------------------------------------------
    def _render(self) -> None:
        comparison = self.comparison
        if comparison is None:
            with self.cells.hold_sync():
                self.cells.row_labels, self.cells.col_labels = [], []
                self.cells.texts, self.cells.shades = [], []
            self.per_class.rows, self.ranking.rows = [], []
            self.ranking_note.value = ""
            return
        counts = comparison.counts()
        total = max(sum(counts.values()), 1)
        grid = [["both right", "only A right"], ["only B right", "both wrong"]]
        with self.cells.hold_sync():
            self.cells.row_labels = [f"{comparison.run_a} right", f"{comparison.run_a} wrong"]
            self.cells.col_labels = [f"{comparison.run_b} right", f"{comparison.run_b} wrong"]
            self.cells.texts = [[f"{counts[name]:,}" for name in row] for row in grid]
            self.cells.shades = [[counts[name] / total for name in row] for row in grid]
            self.cells.caption = f"{total:,} labelled samples"
            self.cells.selected_cell = []
        table = comparison.per_class
        with self.per_class.hold_sync():
            self.per_class.columns = [
                "class", "n", f"A: {comparison.run_a}", f"B: {comparison.run_b}", "B − A",
            ]  # fmt: skip
            self.per_class.rows = [
                [
                    str(row["class"]),
                    f"{int(row['n']):,}",
                    _percent(row["accuracy_a"]),
                    _percent(row["accuracy_b"]),
                    "—" if np.isnan(row["delta"]) else f"{row['delta']:+.1%}",
                ]
                for row in table.to_dict("records")
            ]
            self.per_class.row_ids = []
        ranking = comparison.ranking
        present = [(col, title) for col, title in _RANK_COLUMNS if col in ranking.columns]
        with self.ranking.hold_sync():
            self.ranking.columns = ["run", *[title for _, title in present]]
            self.ranking.rows = [
                [str(row["run"])]
                + [
                    f"{_percent(row[col])} (#{row[col.replace('accuracy_', 'rank_')]})"
                    for col, _ in present
                ]
                for row in ranking.to_dict("records")
            ]
            self.ranking.row_ids = []
        attrs = ranking.attrs
        notes = [
            f"label issues of run <code>{html.escape(str(attrs.get('reference')))}</code>",
            "<b>the ranking changes</b> once label issues are removed or relabelled"
            if attrs.get("ranking_changed")
            else "ranking unchanged without the label issues",
        ]
        if "num_corrected" in ranking.columns:
            corrected = int(ranking["num_corrected"].iloc[0]) if len(ranking) else 0
            changed = attrs.get("ranking_changed_uncorrected")
            notes.append(
                f"{corrected:,} labels corrected by people"
                + ("; <b>the ranking changes</b> without them" if changed else "")
            )
        self.ranking_note.value = f"<span class='ea-muted'>{' · '.join(notes)}</span>"

    # -- interaction ---------------------------------------------------------------------------
    def cell_ids(self, name: str) -> list[str]:
        """Sample ids in the 2×2 cell ``name`` (one of ``CELLS``)."""
        return self.data.ids_at(self._cell_positions(name))

    def _cell_positions(self, name: str) -> np.ndarray:
        from erroranalysis.analysis.evaluation import CELLS

        if self.comparison is None:
            return np.zeros(0, dtype=np.int64)
        if name not in CELLS:
            raise ValueError(f"unknown cell {name!r}; choose one of {list(CELLS)}")
        return np.asarray(self.comparison.cells[name], dtype=np.int64)

    def click_cell(self, name: str) -> None:
        """Select the samples of cell ``name`` (as a click on it does)."""
        from erroranalysis.analysis.evaluation import CELLS

        index = list(CELLS).index(name) if name in CELLS else -1
        if index < 0:
            raise ValueError(f"unknown cell {name!r}; choose one of {list(CELLS)}")
        positions = self._cell_positions(name)
        self.cells.selected_cell = [index // 2, index % 2]
        comparison = self.comparison
        self.select_rows(
            positions, description=f"{name} ({comparison.run_a} vs {comparison.run_b})"
        )

    def _on_cell(self, payload: dict) -> None:
        if self.comparison is None or "row" not in payload:
            return
        grid = [["both right", "only A right"], ["only B right", "both wrong"]]
        self.click_cell(grid[int(payload["row"])][int(payload["col"])])

    def class_ids(self, name: str) -> list[str]:
        """Sample ids of class ``name`` on which the two runs disagree (one right, one wrong)."""
        return self.data.ids_at(self._class_positions(name))

    def _class_positions(self, name: str) -> np.ndarray:
        if self.comparison is None:
            return np.zeros(0, dtype=np.int64)
        cells = self.comparison.cells
        positions = np.union1d(cells["only A right"], cells["only B right"])
        code = self.data.classes.index(name)
        return positions[self.data.label_codes[positions] == code]

    def _on_class(self, payload: dict) -> None:
        if self.comparison is None or "row" not in payload:
            return
        name = str(self.comparison.per_class["class"].iloc[int(payload["row"])])
        self.select_rows(
            self._class_positions(name),
            description=f"{name}: {self.comparison.run_a} and {self.comparison.run_b} disagree",
        )

    def on_change(self, change: Change) -> None:
        if self.comparison is not None and len(change.label_positions):
            self.show_message("Labels changed since this comparison; press refresh to update it.")
