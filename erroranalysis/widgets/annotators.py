"""The annotators tab: each annotator's quality and agreement, and the doubtful consensus.

Everything comes from the run's cached ``annotators`` analysis
(:class:`~erroranalysis.analysis.consensus.AnnotatorAgreement`: CROWDLAB over every answer that
imports journaled), which an import of several annotators refreshes and ``erroranalysis scan``
recomputes; the tab computes nothing but masks:

- a line saying how many answers, annotators and samples the consensus rests on, and how many
  samples wait for a person (``low_consensus``: their annotators disagree and the consensus is
  doubtful, so the import did not apply it and they are back in the annotator queue);
- **annotators**, best first: quality, agreement with the consensus, answers, worst class; a row
  click selects the samples where that annotator's answer differs from the consensus;
- **low-consensus samples**, worst first: consensus label, its quality, the annotators'
  agreement and every answer; a row click selects all of them (the gallery shows them) and
  focuses the clicked one (the inspector shows it). The button selects them all.

>>> from erroranalysis.widgets.annotators import AnnotatorPanel
>>> panel = AnnotatorPanel(store)               # doctest: +SKIP
>>> panel.click_low_consensus(0)                # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from erroranalysis.widgets._base import View
from erroranalysis.widgets._data import Change
from erroranalysis.widgets._frontend import TableWidget, table_number
from erroranalysis.widgets.selection import Selection

__all__ = ["AnnotatorPanel"]

#: Low-consensus rows sent to the page at most (the button selects every one).
MAX_ROWS = 200


class AnnotatorPanel(View):
    """Annotator quality and agreement, and the low-consensus samples, clickable.

    Parameters
    ----------
    store : Store or ViewData
        The store (or the dashboard's shared data).
    run : str, optional
        Which run's cached analysis to read (default: the latest).
    selection : Selection, optional
        The shared selection a row click writes.

    Attributes
    ----------
    annotators, doubtful : TableWidget
        The annotator table and the low-consensus samples table.
    select_button : ipywidgets.Button
        Selects every low-consensus sample.
    summary : ipywidgets.HTML
        The headline (answers, annotators, method, samples waiting) or what to run.
    annotator_rows, low_ids : list of str
        The annotators in table order; every low-consensus sample id, worst first.
    """

    view_name = "annotators"
    css_class = "ea-annotators"

    def __init__(self, store: Any, run: Any = None, selection: Selection | None = None) -> None:
        super().__init__(store, run, selection)
        self.store = self.data.store
        self.summary = widgets.HTML()
        self.summary.add_class("ea-annotators-summary")
        self.annotators = TableWidget(empty_text="no annotators yet")
        self.annotators.add_class("ea-annotators-table")
        self.annotators.on_click(self.guard(self._on_annotator))
        self.doubtful = TableWidget(empty_text="no low-consensus samples")
        self.doubtful.add_class("ea-annotators-low")
        self.doubtful.on_click(self.guard(self._on_doubtful))
        self.select_button = widgets.Button(
            description="low-consensus → gallery", icon="images", disabled=True,
            layout=widgets.Layout(width="230px"),
        )  # fmt: skip
        self.select_button.add_class("ea-annotators-select-low")
        self.select_button.on_click(self.guard(lambda _: self.select_low_consensus()))
        self.children = [
            self.message,
            self.summary,
            widgets.HTML(
                "<b>Annotators</b> (CROWDLAB quality, best first; a row: the samples where that "
                "annotator differs from the consensus)"
            ),
            self.annotators,
            widgets.HBox(
                [
                    widgets.HTML(
                        "<b>Low-consensus samples</b> (waiting for a person, worst first; a row: "
                        "all of them in the gallery, that one in the inspector)"
                    ),
                    self.select_button,
                ]
            ),
            self.doubtful,
        ]
        self._version: Any = None
        self.refresh()

    # -- reading the cache ---------------------------------------------------------------------
    def _cache_version(self) -> Any:
        run = self.data.run
        info = run.artifact_info("_scan_annotators") if run is not None else None
        return (info or {}).get("created")

    def _hint(self) -> str:
        run = self.data.run
        run_part = f" --run {run.name}" if run is not None else ""
        return f"erroranalysis scan {self.store.path}{run_part} --analyses annotators"

    def refresh(self) -> None:
        """Re-read the run's cached annotator analysis and redraw both tables."""
        run = self.data.run
        self._version = self._cache_version()
        info = run.load_artifact("annotators_info") if run is not None else None
        table = run.load_artifact("annotators") if run is not None else None
        consensus = run.load_artifact("consensus") if run is not None else None
        answers = run.load_artifact("annotator_answers") if run is not None else None
        if not isinstance(info, dict) or not isinstance(table, pd.DataFrame):
            self.summary.value = (
                "<div class='ea-annotators-hint'>The annotator analysis was not run: "
                f"<code>{html.escape(self._hint())}</code> (an import of several annotators "
                "runs it too)</div>"
            )
            table = consensus = answers = None
        elif info.get("method") is None:
            self.summary.value = (
                "<div class='ea-annotators-hint'>No import of several annotators' answers yet "
                f"({int(info.get('num_answers', 0)):,} answers journaled). Export the queue, let "
                "two or more annotators answer, import their answers.</div>"
            )
        else:
            weight = info.get("model_weight")
            weight_text = f", model weight {weight:.2f}" if weight is not None else ""
            self.summary.value = (
                f"<div class='ea-annotators-headline'>{int(info['num_answers']):,} answers by "
                f"{int(info['num_annotators'])} annotators on {int(info['num_samples']):,} "
                f"samples answered more than once; consensus by "
                f"<b>{html.escape(str(info['method']))}</b>{weight_text}; "
                f"<b class='ea-annotators-low-count'>{int(info['num_low_consensus']):,}</b> "
                "low-consensus samples wait for a person (back in the annotator queue).</div>"
            )
        self._annotator_table(table)
        self._doubtful_table(consensus)
        self._answers = answers if isinstance(answers, pd.DataFrame) else None

    def _annotator_table(self, table: pd.DataFrame | None) -> None:
        if table is None or table.empty:
            self.annotator_rows: list[str] = []
            self.annotators.rows = []
            return
        self.annotator_rows = table["annotator"].astype(str).tolist()
        self.annotators.columns = [
            "annotator",
            "quality",
            "agrees with consensus",
            "answers",
            "worst class",
        ]
        self.annotators.rows = [
            [
                name,
                table_number(quality),
                table_number(agree, ".1%"),
                table_number(int(count)),
                str(worst or ""),
            ]
            for name, quality, agree, count, worst in zip(
                self.annotator_rows,
                table["quality"],
                table["agreement_with_consensus"],
                table["num_labeled"],
                table["worst_class"],
                strict=True,
            )
        ]

    def _doubtful_table(self, consensus: pd.DataFrame | None) -> None:
        if consensus is None or consensus.empty:
            self.low_ids: list[str] = []
        else:
            low = consensus[consensus["low_consensus"].astype(bool)]
            self.low_ids = low["sample_id"].astype(str).tolist()
        shown = [] if consensus is None else consensus[consensus["low_consensus"].astype(bool)]
        shown = shown[:MAX_ROWS] if len(shown) else shown
        self.select_button.disabled = not self.low_ids
        self.select_button.description = (
            f"{len(self.low_ids):,} low-consensus → gallery"
            if self.low_ids
            else "low-consensus → gallery"
        )
        self.doubtful.columns = ["sample", "consensus", "quality", "agreement", "answers"]
        if not len(shown):
            self.doubtful.rows, self.doubtful.row_ids = [], []
            return
        self.doubtful.row_ids = shown["sample_id"].astype(str).tolist()
        self.doubtful.rows = [
            [sid, str(label), table_number(quality), table_number(agree, ".0%"), str(answers)]
            for sid, label, quality, agree, answers in zip(
                self.doubtful.row_ids,
                shown["consensus_label"],
                shown["consensus_quality"],
                shown["annotator_agreement"],
                shown["answers"],
                strict=True,
            )
        ]

    # -- masks (indexing only) -----------------------------------------------------------------
    def disagreement_ids(self, annotator: str) -> list[str]:
        """Sample ids where ``annotator``'s answer differs from the consensus."""
        return self.data.ids_at(self._disagreement_positions(annotator))

    def _disagreement_positions(self, annotator: str) -> np.ndarray:
        answers = self._answers
        if answers is None or answers.empty:
            return np.zeros(0, dtype=np.int64)
        mine = answers[(answers["annotator"] == annotator) & ~answers["agrees"].astype(bool)]
        return self.data.positions(mine["sample_id"].astype(str).tolist())

    # -- interaction ---------------------------------------------------------------------------
    def select_low_consensus(self, focus: str | None = None) -> None:
        """Select every low-consensus sample (worst first); focus ``focus`` if given."""
        # worst first: the gallery shows them in this order when it is not sorted
        self.select_rows(self.data.positions(self.low_ids), description="low-consensus samples")
        if focus is not None:
            self.doubtful.focused = focus
            self.selection.focus(focus, source=self.view_name)

    def click_low_consensus(self, row: int) -> None:
        """Act as a click on row ``row`` of the low-consensus table."""
        ids = self.doubtful.row_ids
        if 0 <= int(row) < len(ids):
            self.select_low_consensus(focus=ids[int(row)])

    def click_annotator(self, name: str) -> None:
        """Select the samples where annotator ``name`` differs from the consensus."""
        self.select_rows(
            self._disagreement_positions(name), description=f"{name} differs from the consensus"
        )

    def _on_doubtful(self, payload: dict) -> None:
        if "row" in payload:
            self.click_low_consensus(int(payload["row"]))

    def _on_annotator(self, payload: dict) -> None:
        if "row" in payload and 0 <= int(payload["row"]) < len(self.annotator_rows):
            self.click_annotator(self.annotator_rows[int(payload["row"])])

    def check(self) -> bool:
        """Redraw if the cached analysis changed since the last read (an import refreshed it);
        ``True`` if it did. The dashboard's poller calls this."""
        if self._cache_version() == self._version:
            return False
        self.refresh()
        return True

    def on_change(self, change: Change) -> None:
        self.check()
