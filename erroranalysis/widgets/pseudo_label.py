"""The pseudo-label tab: per-class thresholds with sliders, spot checks and Accept.

The panel never computes: :func:`~erroranalysis.analysis.pseudo_label.pseudo_label` makes the
plan, including every class's curve (support, estimated precision and its Wilson interval, and
yield at each candidate threshold); a slider only moves an index along that curve. Accept calls
``plan.accept`` with the sliders' thresholds (one batch of journal events, ``source="pseudo"``)
and Undo undoes this panel's own latest batch.

>>> from erroranalysis.widgets.pseudo_label import PseudoLabelPanel
>>> panel = PseudoLabelPanel(store, target_precision=0.98)   # doctest: +SKIP
>>> panel.make_plan()                                        # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import numpy as np

from erroranalysis.store.identity import new_session_id

__all__ = ["PseudoLabelPanel"]


class PseudoLabelPanel(widgets.VBox):
    """Per-class pseudo-label thresholds, their live yield and precision, and Accept.

    Parameters
    ----------
    store : Store
    run : str, optional
        The run whose predictions to use (default: the latest).
    target_precision : float
        The plan's target (editable in the panel).
    author, session : str, optional
        Recorded on accepted events; Undo undoes only this session's work.
    thumbnails : ThumbnailCache, optional
        Shared thumbnail cache (the dashboard's); a new one by default.
    plan_now : bool
        Make the plan at once (default: on the first click of "make plan").

    Attributes
    ----------
    plan : PseudoLabeler or None
        The current plan.
    sliders : dict of str to IntSlider
        Per class, an index into the plan's curve for that class (``-1``: label none).
    """

    def __init__(
        self,
        store: Any,
        run: str | None = None,
        target_precision: float = 0.98,
        author: str | None = None,
        session: str | None = None,
        thumbnails: Any = None,
        plan_now: bool = False,
        thumb_size: int = 72,
    ) -> None:
        super().__init__()
        self.add_class("ea-pseudo-label")
        self.store = store
        self.run = run
        self.author = author
        self.session = session or new_session_id()
        self.thumb_size = thumb_size
        if thumbnails is None:
            from erroranalysis.widgets.thumbnails import ThumbnailCache

            thumbnails = ThumbnailCache(store)
        self.thumbnails = thumbnails
        self.plan = None
        self.sliders: dict[str, widgets.IntSlider] = {}
        self._readouts: dict[str, widgets.HTML] = {}
        self.target = widgets.BoundedFloatText(
            value=target_precision, min=0.5, max=0.9999, step=0.005, description="target",
            layout=widgets.Layout(width="180px"),
        )  # fmt: skip
        self.plan_button = widgets.Button(description="make plan", icon="calculator")
        self.plan_button.on_click(lambda _: self.make_plan())
        self.accept_button = widgets.Button(
            description="accept", icon="check", button_style="success", disabled=True
        )
        self.accept_button.on_click(lambda _: self.accept())
        self.undo_button = widgets.Button(description="undo", icon="undo")
        self.undo_button.on_click(lambda _: self.undo())
        self.total = widgets.HTML()
        self.status = widgets.HTML()
        for widget, css in (
            (self.plan_button, "ea-pseudo-plan"),
            (self.accept_button, "ea-pseudo-accept"),
            (self.undo_button, "ea-pseudo-undo"),
            (self.total, "ea-pseudo-total"),
            (self.status, "ea-pseudo-status"),
        ):
            widget.add_class(css)
        self.rows = widgets.VBox()
        self.spot_class = widgets.Dropdown(description="spot check", options=[])
        self.spot_class.observe(lambda _: self._render_spot(), names="value")
        self.spot = widgets.HTML()
        from erroranalysis.widgets._frontend import Stylesheet

        self.children = [
            Stylesheet(),
            widgets.HBox([self.target, self.plan_button, self.accept_button, self.undo_button]),
            self.total,
            self.rows,
            self.spot_class,
            self.spot,
            self.status,
        ]
        if plan_now:
            self.make_plan()

    # -- plan ---------------------------------------------------------------------------------

    def make_plan(self) -> None:
        """(Re)make the plan from the store's current labels."""
        import warnings

        from erroranalysis.analysis.pseudo_label import pseudo_label
        from erroranalysis.errors import ErrorAnalysisError

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.plan = pseudo_label(
                    self.store, run=self.run, target_precision=float(self.target.value)
                )
        except ErrorAnalysisError as error:
            self._say(str(error), error=True)
            return
        self._build_rows()
        self._say(" ".join(str(w.message) for w in caught), error=bool(caught))

    def _build_rows(self) -> None:
        plan = self.plan
        rows, self.sliders, self._readouts = [], {}, {}
        for record in plan.table_.to_dict("records"):
            name = record["class"]
            curve = plan.curves_[name]
            chosen = -1
            if not np.isnan(record["threshold"]):
                chosen = int(np.flatnonzero(curve["threshold"] == record["threshold"])[0])
            slider = widgets.IntSlider(
                value=chosen, min=-1, max=max(len(curve["threshold"]) - 1, -1),
                description=str(name), readout=False, continuous_update=True,
                layout=widgets.Layout(width="320px", min_width="320px"),
            )  # fmt: skip
            slider.add_class("ea-pseudo-slider")
            readout = widgets.HTML()
            slider.observe(lambda _, n=name: self._update(n), names="value")
            self.sliders[name], self._readouts[name] = slider, readout
            rows.append(widgets.HBox([slider, readout]))
        self.rows.children = rows
        for name in self.sliders:
            self._update(name, spot=False)
        previous = self.spot_class.value
        self.spot_class.options = list(self.sliders)
        names = list(self.sliders)
        self.spot_class.value = previous if previous in names else (names[0] if names else None)
        self.accept_button.disabled = False
        self._render_spot()

    def threshold(self, name: str) -> float | None:
        """The threshold the slider of class ``name`` sits at (``None``: label none)."""
        index = self.sliders[name].value
        return None if index < 0 else float(self.plan.curves_[name]["threshold"][index])

    def thresholds(self) -> dict[str, float | None]:
        """Every class's slider threshold."""
        return {name: self.threshold(name) for name in self.sliders}

    def yield_of(self, name: str) -> int:
        """Unlabelled samples the slider of ``name`` would label (read off the plan's curve)."""
        index = self.sliders[name].value
        return 0 if index < 0 else int(self.plan.curves_[name]["yield"][index])

    def _update(self, name: str, spot: bool = True) -> None:
        index = self.sliders[name].value
        curve = self.plan.curves_[name]
        if index < 0:
            reason = self.plan.table_.set_index("class").loc[name, "reason"]
            text = f"label none{' — ' + html.escape(reason) if reason else ''}"
        else:
            low, high = curve["lower"][index], curve["upper"][index]
            warn = " ea-warn" if low < float(self.plan.target_precision) else ""
            text = (
                f"threshold <b>{curve['threshold'][index]:.4f}</b> · yield "
                f"<b>{int(curve['yield'][index]):,}</b> · precision "
                f"<span class='ea-precision{warn}'>{curve['precision'][index]:.3f} "
                f"[{low:.3f}, {high:.3f}]</span> · support {int(curve['support'][index]):,}"
            )
        self._readouts[name].value = f"<span class='ea-muted'>{text}</span>"
        total = sum(self.yield_of(n) for n in self.sliders)
        self.total.value = (
            f"<b>{total:,}</b> of {int(self.plan.candidates_.sum()):,} unlabelled samples would "
            f"be pseudo-labelled (run <code>{html.escape(self.plan.run_name_)}</code>)"
        )
        if spot and self.spot_class.value == name:
            self._render_spot()

    def _render_spot(self) -> None:
        name = self.spot_class.value
        if self.plan is None or name is None:
            self.spot.value = ""
            return
        above, below = self.plan.near_threshold(name, self.threshold(name), count=8)
        self.spot.value = (
            f"<div>just above (would be labelled {html.escape(str(name))}):</div>"
            f"{self._strip(above)}<div>just below (left unlabelled):</div>{self._strip(below)}"
        )

    def _strip(self, table: Any) -> str:
        if not len(table):
            return "<div class='ea-muted'>none</div>"
        cells = []
        for sample_id, score in table.itertuples(index=False):
            url = self.thumbnails.data_url(sample_id, self.thumb_size)
            label = f"{html.escape(str(sample_id))} · {score:.3f}"
            image = (
                f"<img src='{url}' width='{self.thumb_size}' title='{label}'>"
                if url
                else "<div class='ea-placeholder'>no image</div>"
            )
            cells.append(
                f"<div class='ea-pseudo-thumb'>{image}"
                f"<div class='ea-pseudo-thumb-label'>{label}</div></div>"
            )
        return "<div>" + "".join(cells) + "</div>"

    # -- writing ------------------------------------------------------------------------------

    def accept(self) -> list[int]:
        """Write the sliders' pseudo-labels (one batch), then make a fresh plan."""
        from erroranalysis.errors import ErrorAnalysisError

        if self.plan is None:
            self._say("make a plan first", error=True)
            return []
        try:
            events = self.plan.accept(
                thresholds=self.thresholds(), author=self.author, session=self.session
            )
        except ErrorAnalysisError as error:
            self._say(str(error), error=True)
            return []
        self.make_plan()
        self._say(f"pseudo-labelled {len(events) // 2:,} samples (one batch; undo reverts it)")
        return events

    def undo(self) -> int | None:
        """Undo this panel's latest batch (its session's latest event)."""
        from erroranalysis.errors import ErrorAnalysisError

        try:
            event = self.store.undo(author=self.author, session=self.session, source="widget")
        except ErrorAnalysisError as error:
            self._say(str(error), error=True)
            return None
        if self.plan is not None:
            self.make_plan()
        self._say("undone")
        return event

    def _say(self, text: str, error: bool = False) -> None:
        css = "ea-error" if error else "ea-muted"
        self.status.value = f"<span class='{css}'>{html.escape(text)}</span>" if text else ""
