"""`erroranalysis pseudo-label`: prints the per-class plan; --dry-run writes nothing."""

from __future__ import annotations

import pytest

import erroranalysis as ea
from erroranalysis.cli import main
from tests.analysis.test_pseudo_label import make


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    store, _ = make(tmp_path, n=4000)
    assert main(["pseudo-label", str(store.path), "--target-precision", "0.95", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "threshold" in out and "ant" in out and "dry run" in out
    assert len(ea.Store.open(store.path).events()) == 0


def test_accepts_one_batch(tmp_path, capsys):
    store, _ = make(tmp_path, n=4000)
    assert main(["pseudo-label", str(store.path), "--run", "cv", "--target-precision", "0.95"]) == 0
    assert "pseudo-labelled" in capsys.readouterr().out
    events = ea.Store.open(store.path).events()
    assert len(events) and set(events["source"]) == {"pseudo"} and events["batch"].nunique() == 1


@pytest.mark.parametrize("target", ["1.0", "0", "2"])
def test_bad_target_is_a_one_line_error(tmp_path, capsys, target):
    store, _ = make(tmp_path, n=500)
    assert main(["pseudo-label", str(store.path), "--target-precision", target]) == 2
    err = capsys.readouterr().err
    assert "strictly between 0 and 1" in err and "Traceback" not in err


def test_in_sample_run_prints_a_warning(tmp_path, capsys):
    store, _ = make(tmp_path, n=500, out_of_sample=False)
    assert main(["pseudo-label", str(store.path), "--target-precision", "0.9", "--dry-run"]) == 0
    assert "warning:" in capsys.readouterr().err
