"""Package-level promises: a small lazy public API and a CLI that explains itself."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import erroranalysis as ea
from erroranalysis.cli import _verbs, main
from tests.conftest import make_probs

HEAVY = ["torch", "timm", "cleanlab", "umap", "plotly", "sklearn", "ipywidgets"]


def test_import_is_lazy():
    code = (
        "import sys, json, erroranalysis; "
        f"print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(output.stdout) == []


def test_public_names_resolve():
    assert {"Store", "Run", "scan", "show", "predict", "export_candidates"} <= set(ea.__all__)
    assert ea.Store.open.__doc__
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        _ = ea.nonsense


def test_every_verb_has_help(capsys):
    for verb in _verbs():
        with pytest.raises(SystemExit) as exit_info:
            main([verb, "--help"])
        assert exit_info.value.code == 0
        assert "usage: erroranalysis" in capsys.readouterr().out


def test_info_describes_a_store(store, capsys):
    store.add_run("m1", make_probs())
    store.relabel("s000", "dog")
    assert main(["info", str(store.path)]) == 0
    output = capsys.readouterr().out
    assert "samples:  12" in output
    assert "m1: model=None" in output
    assert "events:   1 (relabel 1)" in output
    assert "relabelled samples: 1" in output


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "erroranalysis", "info", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ") and "not an erroranalysis store" in result.stderr
    assert "Traceback" not in result.stderr
