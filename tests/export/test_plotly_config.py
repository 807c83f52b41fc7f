"""One plotly config for every figure: no cloud / share button, no plotly logo (issue 17 item 7)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

import erroranalysis
from erroranalysis.export import report
from erroranalysis.plotting import PLOTLY_CONFIG, configure_widget, figure_html

PACKAGE = Path(erroranalysis.__file__).parent


def _configs(html: str) -> list[dict]:
    """The config objects passed to Plotly.newPlot in ``html``."""
    return [
        json.loads(match)
        for match in re.findall(r"(\{\"displaylogo\"[^{}]*(?:\[[^\]]*\][^{}]*)?\})", html)
    ]


def test_the_config_turns_off_the_cloud_button_and_the_logo():
    assert PLOTLY_CONFIG["showSendToCloud"] is False  # plotly.js 4 defaults it to true
    assert PLOTLY_CONFIG["displaylogo"] is False
    assert "sendChartToCloud" in PLOTLY_CONFIG["modeBarButtonsToRemove"]


def test_report_figures_use_the_shared_config(store, tmp_path):
    run = store.run()
    predicted = np.asarray(store.classes)[np.asarray(run.probs).argmax(axis=1)]
    run.save_result("predicted", pd.DataFrame({"predicted_label": predicted}))
    text = report(store, tmp_path / "r.html").read_text()
    configs = _configs(text)
    assert len(configs) == text.count("Plotly.newPlot") >= 1
    for config in configs:
        assert config["showSendToCloud"] is False and config["displaylogo"] is False
        assert "sendChartToCloud" in config["modeBarButtonsToRemove"]
    assert "cloud.plotly.com" not in text.split("<script", 1)[0]  # no link outside plotly.js


def test_figure_html_and_widgets_get_the_config():
    import plotly.graph_objects as go

    figure = go.Figure(go.Bar(y=[1, 2]))
    (config,) = _configs(figure_html(figure, include_plotlyjs=False))
    assert config["showSendToCloud"] is False
    widget = configure_widget(go.FigureWidget(figure))
    assert widget._config["showSendToCloud"] is False and widget._config["displaylogo"] is False
    figure_html(figure, include_plotlyjs=False)
    assert PLOTLY_CONFIG["modeBarButtonsToRemove"] == ["sendChartToCloud", "sendDataToCloud"]


def test_no_module_draws_a_plotly_figure_without_the_shared_config():
    """Report and widget figures alike go through erroranalysis.plotting."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "plotting.py":
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in (r"\.to_html\(", r"FigureWidget\(", r"\.write_html\("):
            for match in re.finditer(pattern, text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(PACKAGE)}:{line}")
    assert offenders == []
