"""The one plotly configuration of every figure the package draws (report and widgets).

erroranalysis never needs the internet, so no figure offers plotly's cloud: plotly.js 4 adds a
"Share chart..." button (``sendChartToCloud``, which posts the figure to cloud.plotly.com) to the
mode bar unless ``showSendToCloud`` is off, and shows the plotly logo ("produced with plotly")
unless ``displaylogo`` is off. Every figure
goes through :func:`figure_html` (static HTML) or :func:`configure_widget` (a ``FigureWidget``),
and a test checks that no module draws a plotly figure another way.

>>> from erroranalysis.plotting import PLOTLY_CONFIG
>>> PLOTLY_CONFIG["showSendToCloud"], PLOTLY_CONFIG["displaylogo"]
(False, False)
"""

from __future__ import annotations

from typing import Any

__all__ = ["PLOTLY_CONFIG", "configure_widget", "figure_html", "plotly_config"]

#: The plotly.js config of every figure: no cloud / share button, no logo link.
PLOTLY_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "showSendToCloud": False,
    # the button's name in plotly.js 4 and in earlier versions, in case a config turns it on
    "modeBarButtonsToRemove": ["sendChartToCloud", "sendDataToCloud"],
    "responsive": True,
}


def plotly_config() -> dict[str, Any]:
    """A fresh copy of :data:`PLOTLY_CONFIG` (plotly may modify the dict it is given)."""
    return {
        key: list(value) if isinstance(value, list) else value
        for key, value in PLOTLY_CONFIG.items()
    }


def figure_html(figure: Any, include_plotlyjs: bool | str = True) -> str:
    """``figure`` as an HTML fragment with :data:`PLOTLY_CONFIG`.

    Parameters
    ----------
    figure : plotly.graph_objects.Figure
    include_plotlyjs : bool or str
        Passed to ``Figure.to_html``: True embeds plotly.js (once per page), False leaves it out.

    Returns
    -------
    str
    """
    return figure.to_html(
        full_html=False, include_plotlyjs=include_plotlyjs, config=plotly_config()
    )


def configure_widget(widget: Any) -> Any:
    """Give a ``plotly.graph_objects.FigureWidget`` :data:`PLOTLY_CONFIG`; returns it."""
    widget._config = {**(getattr(widget, "_config", None) or {}), **plotly_config()}
    return widget
