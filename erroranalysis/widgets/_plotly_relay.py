"""Deliver plotly clicks and selections to Python through a model of their own.

plotly's FigureWidget sends clicks, selections, hovers and unhovers through one synced trait. The
widget front-end keeps at most one message per model in flight and merges the rest (the last value
of each trait wins), so a click or box selection waiting behind a hover is overwritten by the next
hover as the mouse moves on — lost without an error. The browser test measured 2 of 10 clicks and
3 of 6 box selections arriving that way. This relay listens to the plot's own ``plotly_click``,
``plotly_selected`` and ``plotly_deselect`` events in the page and sends only those, so merging can
only ever replace an older click or selection by a newer one.
"""

from __future__ import annotations

import anywidget
import traitlets

__all__ = ["PlotlyEventRelay"]

_ESM = """
function render({ model, el }) {
  let count = 0;
  let attached = null;
  const send = (event) => {
    count += 1;
    model.set("event", { ...event, n: count, t: Date.now() });
    model.save_changes();
  };
  const points = (data) =>
    (data && data.points ? data.points : []).map((p) => [p.curveNumber, p.pointNumber]);
  let tries = 0;
  const attach = () => {
    tries += 1;
    // The view renders before it is inserted into the page: wait for it (and give up on a
    // view that never shows, after a minute).
    if (!el.isConnected) {
      if (attached || tries > 600) return;
      setTimeout(attach, 100);
      return;
    }
    const box = el.closest(".ea-scatter");
    const plot = box && box.querySelector(".js-plotly-plot");
    if (plot && plot.on && plot !== attached) {
      attached = plot;
      plot.on("plotly_click", (data) => send({ type: "click", points: points(data) }));
      plot.on("plotly_selected", (data) => {
        if (!data) return; // plotly fires an empty 'selected' when a drag ends on nothing
        send({
          type: "selected",
          points: points(data),
          range: data.range ? { x: data.range.x, y: data.range.y } : null,
          lasso: data.lassoPoints ? { x: data.lassoPoints.x, y: data.lassoPoints.y } : null,
        });
      });
      plot.on("plotly_deselect", () => send({ type: "deselect", points: [] }));
    }
    // keep watching: the plot may be drawn after us, or redrawn into a new element
    setTimeout(attach, attached ? 1000 : 100);
  };
  attach();
}
export default { render };
"""


class PlotlyEventRelay(anywidget.AnyWidget):
    """An invisible widget, placed inside a ``.ea-scatter`` box, that relays its plot's events.

    ``event`` is ``{"type": "click" | "selected" | "deselect", "points": [[trace, point], …],
    "range": {"x": [..], "y": [..]} | None, "lasso": {"x": [..], "y": [..]} | None, "n": int}``.
    """

    _esm = _ESM
    event = traitlets.Dict().tag(sync=True)
