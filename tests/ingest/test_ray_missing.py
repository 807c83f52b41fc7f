"""engine="ray" without Ray installed: one clear error with the install line (no cluster)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import erroranalysis as ea
from erroranalysis.cli import main
from erroranalysis.errors import EngineError, ErrorAnalysisError

pytest.importorskip("torch")
pytest.importorskip("timm")

LINE = 'pip install "erroranalysis[ray]"'


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    rows = []
    for i in range(4):
        Image.fromarray(np.full((16, 16, 3), 40 * i, dtype=np.uint8)).save(root / f"{i}.png")
        rows.append({"sample_id": f"s{i}", "label": "ab"[i % 2], "path": f"{i}.png"})
    return ea.Store.create(
        tmp_path / "store", classes=["a", "b"], samples=pd.DataFrame(rows), image_root=root
    )


@pytest.fixture
def no_ray(monkeypatch):
    """Make ``import ray`` fail as it does where the extra is not installed."""
    for name in [name for name in sys.modules if name == "ray" or name.startswith("ray.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ray", None)


def test_predict_without_ray_names_the_extra(store, no_ray):
    with pytest.raises(EngineError) as caught:
        ea.predict(store, "test_resnet", engine="ray", progress=False)
    assert str(caught.value).splitlines()[-1] == LINE
    assert store.runs() == []


def test_cross_val_without_ray_names_the_extra(store, no_ray):
    with pytest.raises(EngineError) as caught:
        ea.cross_val_predict(store, "test_resnet", folds=2, epochs=1, engine="ray", progress=False)
    assert str(caught.value).splitlines()[-1] == LINE


def test_cli_without_ray_is_one_line(store, no_ray, capsys):
    assert main(["predict", str(store.path), "--model", "test_resnet", "--engine", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.endswith(LINE)


def test_unknown_engine_and_stray_address(store):
    with pytest.raises(ErrorAnalysisError, match="engine must be"):
        ea.predict(store, "test_resnet", engine="spark")
    with pytest.raises(ErrorAnalysisError, match="address only applies"):
        ea.predict(store, "test_resnet", address="ray://head:10001")


def test_dead_address_is_one_line_and_fast(store):
    pytest.importorskip("ray")
    import socket
    import time

    with socket.socket() as probe:  # a port on loopback that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(EngineError, match="no Ray cluster answers at") as caught:
        ea.predict(store, "test_resnet", engine="ray", address=f"127.0.0.1:{port}")
    assert time.monotonic() - started < 30 and "\n" not in str(caught.value)
    with pytest.raises(EngineError, match="not host:port"):
        ea.predict(store, "test_resnet", engine="ray", address="ray://head")
    assert store.runs() == []
