"""The dataset tab: what is wrong with the dataset as a whole, each finding clickable.

Everything comes from the scan's cached results of the run (it computes nothing but masks); the
tab names that run. In a dashboard it is the dashboard's run, and *show it* on a newer run
rebuilds the tab on the newer run's scan.

- the **dataset health score** (cleanlab's ``overall_label_health_score``, artifact
  ``label_health`` of the ``label_issues`` analysis);
- **class balance**: support, precision and recall per class (artifact ``class_metrics``) with
  cleanlab's per-class label quality (``class_label_quality``); a row click selects the class's
  samples (current label);
- cleanlab's **overlapping class pairs** (``overlapping_classes``); a row click selects the
  samples of the pair that the model confuses (labelled one, predicted the other);
- **findings**: non-IID ordering and underperforming groups (``dataset_checks``), exact
  duplicates, grayscale, low-information and the other CleanVision image flags
  (``image_properties``); a row click selects the flagged samples.

An analysis that did not run is said so in the tab, with the ``erroranalysis scan`` line that
runs it.

>>> from erroranalysis.widgets.dataset_health import DatasetHealthPanel
>>> panel = DatasetHealthPanel(store)          # doctest: +SKIP
>>> panel.click_class("cat")                   # doctest: +SKIP
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

__all__ = ["DatasetHealthPanel"]

#: (finding, flag column or a rule name, analysis that makes it)
_FINDINGS = (
    ("non-IID samples", "is_non_iid", "dataset_checks"),
    ("underperforming group", "is_underperforming_group", "dataset_checks"),
    ("exact duplicates", "exact_duplicate_set", "image_properties"),
    ("grayscale", "is_grayscale", "image_properties"),
    ("low information", "is_low_information", "image_properties"),
    ("dark", "is_dark", "image_properties"),
    ("light", "is_light", "image_properties"),
    ("blurry", "is_blurry", "image_properties"),
    ("odd aspect ratio", "is_odd_aspect_ratio", "image_properties"),
    ("odd size", "is_odd_size", "image_properties"),
)
_CLEANVISION_FLAGS = {"is_grayscale", "is_low_information", "is_dark", "is_light", "is_blurry"}
_CLEANVISION_FLAGS |= {"is_odd_aspect_ratio", "is_odd_size"}


class DatasetHealthPanel(View):
    """Class balance, overlapping classes, health score and dataset findings, clickable.

    Parameters
    ----------
    store : Store or ViewData
        The store (or the dashboard's shared data).
    run : str, optional
        Which run's scan to read (default: the latest).
    selection : Selection, optional
        The shared selection a row click writes.

    Attributes
    ----------
    classes, pairs, findings : TableWidget
        The class-balance, overlapping-pairs and findings tables.
    hints : ipywidgets.HTML
        What was not run, with the ``erroranalysis scan`` line to run it.
    missing : dict
        Analysis name → the hint shown for it.
    """

    view_name = "dataset"
    css_class = "ea-dataset-health"

    def __init__(self, store: Any, run: Any = None, selection: Selection | None = None) -> None:
        super().__init__(store, run, selection)
        self.store = self.data.store
        self.run_line = widgets.HTML()
        self.run_line.add_class("ea-health-run")
        self.score = widgets.HTML()
        self.score.add_class("ea-health-score")
        self.hints = widgets.HTML()
        self.hints.add_class("ea-health-hints")
        self.classes = TableWidget(empty_text="no class metrics")
        self.classes.add_class("ea-health-classes")
        self.classes.on_click(self.guard(self._on_class))
        self.pairs = TableWidget(empty_text="no overlapping class pairs")
        self.pairs.add_class("ea-health-pairs")
        self.pairs.on_click(self.guard(self._on_pair))
        self.findings = TableWidget(empty_text="no findings")
        self.findings.add_class("ea-health-findings")
        self.findings.on_click(self.guard(self._on_finding))
        self.children = [
            self.message,
            self.run_line,
            self.score,
            self.hints,
            widgets.HTML("<b>Class balance</b> (a row: the class's samples)"),
            self.classes,
            widgets.HTML("<b>Overlapping class pairs</b> (cleanlab; a row: the confused samples)"),
            self.pairs,
            widgets.HTML("<b>Findings</b> (a row: the flagged samples)"),
            self.findings,
        ]
        self.refresh()

    # -- reading the scan ----------------------------------------------------------------------
    def _hint(self, analysis: str, extra: str = "") -> str:
        run = self.data.run
        run_part = f" --run {run.name}" if run is not None else ""
        return f"erroranalysis scan {self.store.path}{run_part} --analyses {analysis}{extra}"

    def refresh(self) -> None:
        """Re-read the run's cached results and redraw every table."""
        run = self.data.run
        self.missing: dict[str, str] = {}
        artifact = (lambda name: run.load_artifact(name)) if run is not None else (lambda _: None)
        if run is None:
            self.missing["scan"] = f"erroranalysis scan {self.store.path}"
            self.run_line.value = ""
        else:  # the dashboard's run: "show it" on a newer run rebuilds this tab on that run
            self.run_line.value = (
                f"<span class='ea-muted'>from the scan of run "
                f"<code class='ea-health-run-name'>{html.escape(run.name)}</code></span>"
            )
        health = artifact("label_health")
        if not isinstance(health, dict):
            self.missing.setdefault("label_issues", self._hint("label_issues"))
            self.score.value = ""
        else:
            score = float(health.get("overall_label_health_score", float("nan")))
            self.score.value = (
                f"<div>dataset health score <b class='ea-health-score-value'>{score:.3f}</b> "
                f"<span class='ea-muted'>(cleanlab overall label health: 1 − "
                f"{int(health.get('num_label_issues', 0)):,} suspected label errors / labelled "
                "samples)</span></div>"
            )
        self._class_table(artifact("class_metrics"), artifact("class_label_quality"))
        self._pair_table(artifact("overlapping_classes"))
        self._finding_table(artifact("dataset_checks"))
        if run is not None and any(
            run.is_stale(name, self.store)
            for name in ("label_health", "class_metrics", "dataset_checks")
            if run.artifact_info(name) is not None
        ):
            self.show_message("Labels changed since the scan; re-run the scan to update this tab.")
        else:
            self.show_message(None)
        lines = [
            f"<div class='ea-health-hint'>{html.escape(what)} was not run: "
            f"<code>{html.escape(line)}</code></div>"
            for what, line in self.missing.items()
        ]
        self.hints.value = "".join(lines)

    def _class_table(self, metrics: Any, quality: Any) -> None:
        if not isinstance(metrics, pd.DataFrame):
            self.missing.setdefault("confusion", self._hint("confusion"))
            codes = self.data.label_codes
            support = np.bincount(codes[codes >= 0], minlength=self.data.num_classes)
            metrics = pd.DataFrame({"class": self.data.classes, "support": support})
        table = metrics.copy()
        table["class"] = table["class"].astype(str)
        if isinstance(quality, pd.DataFrame) and "Class Name" in quality.columns:
            q = quality.set_index(quality["Class Name"].astype(str))
            table["label quality"] = table["class"].map(q["Label Quality Score"])
            if "Label Noise" in q.columns:
                table["label noise"] = table["class"].map(q["Label Noise"])
        elif "label_issues" not in self.missing:
            self.missing["label_issues"] = self._hint("label_issues")
        shown = [
            c
            for c in (
                "class",
                "support",
                "precision",
                "recall",
                "f1",
                "label quality",
                "label noise",
            )
            if c in table.columns
        ]
        self.class_rows = table["class"].tolist()
        self.classes.columns = shown
        self.classes.rows = [[table_number(v) if c != "class" else v for c, v in zip(shown, row, strict=True)]
                             for row in table[shown].itertuples(index=False)]  # fmt: skip

    def _pair_table(self, pairs: Any) -> None:
        if not isinstance(pairs, pd.DataFrame):
            self.missing.setdefault("label_issues", self._hint("label_issues"))
            self.pair_rows: list[tuple[str, str]] = []
            self.pairs.rows = []
            return
        if "Num Overlapping Examples" in pairs.columns:
            pairs = pairs[pairs["Num Overlapping Examples"] > 0]
        self.pair_rows = list(
            zip(pairs["Class Name A"].astype(str), pairs["Class Name B"].astype(str), strict=True)
        )
        self.pairs.columns = ["class A", "class B", "overlapping samples", "joint probability"]
        self.pairs.rows = [
            [a, b, table_number(int(n)), table_number(float(p), ".4f")]
            for (a, b), n, p in zip(
                self.pair_rows,
                pairs["Num Overlapping Examples"],
                pairs["Joint Probability"],
                strict=True,
            )
        ]

    def _finding_table(self, checks: Any) -> None:
        rows, self.finding_rows = [], []
        for name, column, analysis in _FINDINGS:
            if not self.data.has(column):
                # image_properties ran, but without CleanVision: its flags are missing
                if column in _CLEANVISION_FLAGS and self.data.has("exact_duplicate_set"):
                    self.missing.setdefault(
                        "CleanVision (image flags)",
                        "pip install 'erroranalysis[cleanvision]'; "
                        + self._hint("image_properties", " --force"),
                    )
                    continue
                self.missing.setdefault(analysis, self._hint(analysis))
                continue
            mask = self.mask(column)
            detail = ""
            if column == "is_non_iid" and isinstance(checks, dict):
                p_value = checks.get("non_iid_p_value")
                if p_value is not None:
                    verdict = "order is not i.i.d." if p_value < 0.05 else "no sign of non-i.i.d."
                    detail = f"p-value {float(p_value):.3g}: {verdict}"
            elif column == "exact_duplicate_set":
                sets = self.data.frame[column].to_numpy()
                detail = f"{len(np.unique(sets[sets >= 0])):,} sets"
            elif column in _CLEANVISION_FLAGS:
                detail = "CleanVision"
            rows.append([name, f"{int(mask.sum()):,}", detail])
            self.finding_rows.append(column)
        self.findings.columns = ["finding", "samples", "detail"]
        self.findings.rows = rows

    # -- masks (indexing only) -----------------------------------------------------------------
    def mask(self, column: str) -> np.ndarray:
        """Which samples a finding's column flags (a duplicate set id ≥ 0 counts as flagged)."""
        values = self.data.frame[column]
        if column.endswith("_set"):
            return (pd.to_numeric(values, errors="coerce").fillna(-1) >= 0).to_numpy(bool)
        return values.fillna(False).to_numpy(dtype=bool)

    def class_ids(self, name: str) -> list[str]:
        """Sample ids whose current label is class ``name``."""
        return self.data.ids_at(self._class_positions(name))

    def _class_positions(self, name: str) -> np.ndarray:
        code = self.data.classes.index(name)
        return np.flatnonzero(self.data.label_codes == code)

    def pair_ids(self, a: str, b: str) -> list[str]:
        """Sample ids labelled ``a`` and predicted ``b``, or labelled ``b`` and predicted ``a``."""
        return self.data.ids_at(self._pair_positions(a, b))

    def _pair_positions(self, a: str, b: str) -> np.ndarray:
        if self.data.pred_codes is None:
            return np.zeros(0, dtype=np.int64)
        ca, cb = self.data.classes.index(a), self.data.classes.index(b)
        labels, preds = self.data.label_codes, self.data.pred_codes
        mask = ((labels == ca) & (preds == cb)) | ((labels == cb) & (preds == ca))
        return np.flatnonzero(mask)

    def finding_ids(self, column: str) -> list[str]:
        """Sample ids a finding flags (``column`` as in the findings, e.g. ``is_grayscale``)."""
        return self.data.ids_at(np.flatnonzero(self.mask(column)))

    # -- interaction ---------------------------------------------------------------------------
    def click_class(self, name: str) -> None:
        """Select the samples of class ``name`` (as a row click does)."""
        self.classes.focused = ""
        self.select_rows(self._class_positions(name), description=f"class {name}")

    def _on_class(self, payload: dict) -> None:
        if "row" in payload and 0 <= int(payload["row"]) < len(self.class_rows):
            self.click_class(self.class_rows[int(payload["row"])])

    def _on_pair(self, payload: dict) -> None:
        if "row" in payload and 0 <= int(payload["row"]) < len(self.pair_rows):
            a, b = self.pair_rows[int(payload["row"])]
            self.select_rows(self._pair_positions(a, b), description=f"{a} ↔ {b} confused")

    def _on_finding(self, payload: dict) -> None:
        if "row" in payload and 0 <= int(payload["row"]) < len(self.finding_rows):
            column = self.finding_rows[int(payload["row"])]
            name = next(n for n, c, _ in _FINDINGS if c == column)
            self.select_rows(np.flatnonzero(self.mask(column)), description=name)

    def on_change(self, change: Change) -> None:
        if len(change.label_positions):
            self.show_message("Labels changed since the scan; re-run the scan to update this tab.")
