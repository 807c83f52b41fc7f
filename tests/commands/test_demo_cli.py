"""`erroranalysis demo`: builds (or reuses) the demo, prints findings, opens JupyterLab."""

from __future__ import annotations

from pathlib import Path

import pytest

import erroranalysis as ea
from erroranalysis.cli import main
from erroranalysis.commands import demo as demo_command

SMALL = ["--samples", "120", "--folds", "2", "--epochs", "1", "--image-size", "16", "--quiet"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "demo-store"
    code = main(["demo", "--out", str(out), "--no-lab", *SMALL])
    assert code == 0
    return out


@pytest.mark.slow
def test_no_lab_builds_and_prints_how_to_open(built, capsys):
    store = ea.Store.open(built)
    assert store.num_samples == 120 and store.runs() == ["demo"]  # --no-lab: the full run only
    assert (built / "demo.json").is_file()
    # run again: reused, not rebuilt, and the findings are printed again
    mtime = (built / "demo.json").stat().st_mtime
    assert main(["demo", "--out", str(built), "--no-lab", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "using the existing demo" in out
    assert "out-of-sample accuracy" in out
    assert f"ERRORANALYSIS_STORE={built.resolve()}" in out
    assert (built / "demo.json").stat().st_mtime == mtime


@pytest.mark.slow
def test_different_options_on_existing_demo_is_one_line_error(built, capsys):
    code = main(["demo", "--out", str(built), "--no-lab", "--samples", "300", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "--samples 300 (built with 120)" in err and "--overwrite" in err


@pytest.mark.slow
def test_lab_is_started_on_the_quickstart_with_the_store(built, monkeypatch, capsys):
    calls = []

    class FakeProcess:
        def __init__(self, command, cwd, env):
            calls.append((command, Path(cwd), env))

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(demo_command.subprocess, "Popen", FakeProcess)
    assert main(["demo", "--out", str(built), "--no-browser", "--port", "8899", *SMALL]) == 0
    (command, cwd, env), = calls  # fmt: skip
    assert env["ERRORANALYSIS_STORE"] == str(built.resolve())
    assert command[1:3] == ["-m", "jupyter"] and command[3] == "lab"
    assert "--no-browser" in command and "--port=8899" in command
    notebook = cwd / command[4]
    assert notebook.is_file()
    if (Path(ea.__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb").is_file():
        assert notebook.name == "quickstart.ipynb"


def test_not_a_demo_folder_is_refused(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["demo", "--out", str(tmp_path / "mine"), "--no-lab", *SMALL]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a demo" in err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@pytest.mark.slow
def test_lab_mode_publishes_the_quick_run_and_trains_the_full_one_in_the_background(
    tmp_path, monkeypatch, capsys
):
    out = tmp_path / "staged"
    started, labs = [], []

    class FakeLab:
        def __init__(self, command, cwd, env):
            # JupyterLab starts once the quick run is there, the full one still pending
            labs.append(ea.Store.open(out).runs())

        def wait(self, timeout=None):
            return 0

    class FakeFinisher:
        def __init__(self, store):
            started.append(store)
            self.terminated = False

        def poll(self):
            return None  # still training when JupyterLab stops

        def terminate(self):
            self.terminated = True

        def wait(self, timeout=None):
            return 0

    finishers = []
    monkeypatch.setattr(demo_command.subprocess, "Popen", FakeLab)
    monkeypatch.setattr(
        demo_command,
        "_start_finisher",
        lambda store: finishers.append(FakeFinisher(store)) or finishers[-1],
    )
    assert main(["demo", "--out", str(out), "--no-browser", *SMALL]) == 0
    assert labs == [["demo-quick"]] and started == [out.resolve()]
    printed = capsys.readouterr().out
    assert "training the full stage in the background" in printed and "full: pending" in printed
    assert finishers[0].terminated and "stopped training" in printed
    # what the background process runs: the pending stage, then nothing is pending
    assert main(["demo", "--out", str(out), "--finish", "--quiet"]) == 0
    assert ea.Store.open(out).runs() == ["demo-quick", "demo"]
    assert "full: run 'demo'" in capsys.readouterr().out


@pytest.mark.slow
def test_no_lab_on_a_demo_with_a_pending_stage_builds_it(tmp_path, capsys):
    from erroranalysis.datasets.demo import build_demo

    out = tmp_path / "half"
    build_demo(out, n_samples=120, folds=2, epochs=1, image_size=16, progress=False,
               until="quick", quick={"epochs": 1})  # fmt: skip
    assert main(["demo", "--out", str(out), "--no-lab", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "building its pending stage(s): full" in printed
    assert ea.Store.open(out).runs() == ["demo-quick", "demo"]


@pytest.mark.slow
def test_no_lab_builds_both_stages_when_asked(tmp_path, capsys):
    out = tmp_path / "both"
    assert main(["demo", "--out", str(out), "--no-lab", "--stages", "quick,full", *SMALL]) == 0
    assert ea.Store.open(out).runs() == ["demo-quick", "demo"]
    printed = capsys.readouterr().out
    assert "quick: run 'demo-quick'" in printed and "full: run 'demo'" in printed


@pytest.mark.parametrize(
    "argv",
    [
        ["--folds", "1"],
        ["--samples", "5"],
        ["--epochs", "0"],
        ["--port", "70000"],
        ["--stages", "quick,fancy"],
        ["--stages", ","],
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, argv):
    assert main(["demo", "--out", str(tmp_path / "d"), "--no-lab", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "d").exists()


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as info:
        main(["demo", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--out", "--no-lab", "--samples", "--epochs", "--folds", "--seed"):
        assert option in out
