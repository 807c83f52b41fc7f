"""Bad arguments and bad files end in one line and exit code 2 on every verb, never a traceback.

Issue 15.5: the CLI promises a one-line error (``error: …``) and exit code 2 for bad input. The
first part names cases found by hand (one per kind of bad input and verb); the second lets
hypothesis combine the verbs' options with bad values and bad files.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import traceback

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from erroranalysis.cli import build_parser, main

_counter = itertools.count()


def call(argv: list[str], cwd) -> tuple[object, list[str], str | None]:
    """Run the CLI in-process in ``cwd``: (exit code, stderr lines, escaped exception or None)."""
    out, err = io.StringIO(), io.StringIO()
    escaped = None
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: object = main(argv)
        except SystemExit as exit_:
            code = exit_.code
        except BaseException as error:
            code, escaped = None, "".join(traceback.format_exception(error))
    return code, [line for line in err.getvalue().splitlines() if line.strip()], escaped


def assert_one_line_error(argv, code, lines, escaped):
    assert escaped is None, f"{argv} escaped:\n{escaped}"
    assert not any("Traceback" in line for line in lines), (argv, lines)
    assert code == 2, (argv, code, lines)
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], (argv, lines)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A scanned store, a class-per-folder tree, a one-class tree and a set of bad files."""
    base = tmp_path_factory.mktemp("cli-bad-input")
    tree = base / "tree"
    for c, name in enumerate(["cat", "dog"]):
        (tree / name).mkdir(parents=True)
        for i in range(4):
            pixels = np.random.default_rng(10 * c + i).integers(0, 256, (16, 16, 3), np.uint8)
            Image.fromarray(pixels).save(tree / name / f"{i}.png")
    (base / "one" / "cat").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(base / "one" / "cat" / "a.png")
    np.save(base / "p.npy", np.random.default_rng(0).dirichlet([1, 1], 8).astype(np.float32))
    store = base / "store"
    argv = ["ingest", "--folder", str(tree), "--out", str(store), "--predictions"]
    assert main([*argv, str(base / "p.npy"), "--quiet"]) == 0
    assert main(["scan", str(store), "--projection", "pca", "--no-progress"]) == 0
    files = {
        "garbage": base / "garbage.bin",
        "empty": base / "empty.txt",
        "bad_json": base / "bad.json",
        "list_json": base / "list.json",
        "bad_csv": base / "bad.csv",
        "wrong_npy": base / "wrong.npy",
        "nan_npy": base / "nan.npy",
        "damaged_store": base / "damaged",
        "half_store": base / "half",
        "empty_dir": base / "empty-dir",
        "manifest": base / "m.csv",
    }
    files["garbage"].write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 200, np.uint8)))
    files["empty"].write_text("")
    files["bad_json"].write_text('{"a": [1, 2')
    files["list_json"].write_text('[{"id": 1}]')
    files["bad_csv"].write_text("x,y\n1,2\n")
    np.save(files["wrong_npy"], np.ones((3, 5)))
    np.save(files["nan_npy"], np.full((8, 2), np.nan))
    files["damaged_store"].mkdir()
    (files["damaged_store"] / "store.json").write_text("{not json")
    files["half_store"].mkdir()
    (files["half_store"] / "store.json").write_text('{"format_version": 1}')
    files["empty_dir"].mkdir()
    (base / "cwd").mkdir()  # relative outputs of the fuzzed commands land here
    pd.DataFrame({"path": ["cat/0.png", "../x.png"], "label": ["cat", "dog"]}).to_csv(
        files["manifest"], index=False
    )
    return {"base": base, "tree": tree, "store": store, **files}


# ---------------------------------------------------------------------- cases found by hand

CASES = [
    # the case: one class folder made the store raise a bare ValueError
    "ingest --folder {base}/one --out {base}/o1 --quiet",
    "ingest --folder {empty_dir} --out {base}/o2 --quiet",
    "ingest --folder {tree} --out {base}/o3 --quiet --classes cat,cat",
    "ingest --folder {tree} --out {base}/o3 --quiet --classes ,",
    "ingest --folder {tree} --out {base}/o3 --quiet --unlabelled-folder nowhere",
    "ingest --folder {tree} --out {base}/o3 --quiet --predictions {garbage}",
    "ingest --folder {tree} --out {base}/o3 --quiet --predictions {wrong_npy}",
    "ingest --folder {tree} --out {base}/o3 --quiet --predictions {nan_npy}",
    "ingest --folder {tree} --out {base}/o3 --quiet --predictions {base}/p.npy --run ../x",
    "ingest --manifest {manifest} --image-root {tree} --out {base}/o4 --quiet",
    "ingest --manifest {bad_json} --image-root {tree} --out {base}/o4 --quiet",
    "ingest --folder {tree} --manifest {manifest} --out {base}/o4",  # argparse: one line too
    "info {damaged_store}",
    "info {half_store}",
    "scan {damaged_store}",
    "scan {store} --analyses ,",
    "scan {store} --param scores.method=3 --force",
    "scan {store} --param label_issues.filter_by=no_such_method --force --analyses label_issues",
    "scan",  # argparse would print the usage before the error
    "import {store} {garbage}",
    "import {store} {garbage} --format imagenet-txt",
    "import {store} {empty_dir}",
    "report {store} -o /proc/no/such/report.html",
    "export {store}",
    "compare {store} p nope",
    "nope",
]


@pytest.mark.parametrize("template", CASES)
def test_bad_input_found_by_hand_ends_in_one_line(world, template):
    argv = template.format(**{key: str(value) for key, value in world.items()}).split()
    assert_one_line_error(argv, *call(argv, world["base"]))
    assert not (world["base"] / "o1").exists() and not (world["base"] / "o4").exists()


# ------------------------------------------------------------------------------- the fuzz

# verbs whose success is quick and local (demo trains a model; lab starts JupyterLab unless
# --write-only, which is always added)
POSITIONALS = {
    "info": 1,
    "scan": 1,
    "report": 1,
    "export": 1,
    "import": 2,
    "compare": 3,
    "pseudo-label": 1,
    "lab": 1,
    "ingest": 0,
}
ALWAYS = {"scan": ["--projection", "pca", "--no-progress"], "lab": ["--write-only"]}
NEVER = {"--projection", "--help", "-h", "--port", "--no-browser", "--model"}


def _options(verb: str) -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._subparsers._actions if a.choices and verb in a.choices)
    return [
        option
        for action in sub.choices[verb]._actions
        for option in action.option_strings
        if option not in NEVER
    ]


VALUES = ["-1", "0", "2", "nan", "1e309", "abc", "", ",", "../x", "a=b", "scores.method=3",
          "cat", "cat,dog", "p", "csv", "label-studio", "label_issues", "x.y=1"]  # fmt: skip
PATH_KEYS = ["store", "tree", "garbage", "empty", "bad_json", "list_json", "bad_csv",
             "wrong_npy", "nan_npy", "damaged_store", "half_store", "empty_dir", "manifest",
             "missing", "out"]  # fmt: skip


@st.composite
def argvs(draw, world):
    verb = draw(st.sampled_from(sorted(POSITIONALS)))

    def path() -> str:
        key = draw(st.sampled_from(PATH_KEYS))
        if key == "missing":
            return str(world["base"] / "no" / "such" / "thing")
        if key == "out":  # a new folder each time: a successful ingest or export writes there
            return str(world["base"] / f"out-{next(_counter)}")
        return str(world[key])

    def value() -> str:
        return draw(st.one_of(st.sampled_from(VALUES), st.builds(path), st.text(max_size=6)))

    argv = [verb] + [path() for _ in range(POSITIONALS[verb])]
    options = _options(verb)
    for _ in range(draw(st.integers(0, 4)) if options else 0):
        argv.append(draw(st.sampled_from(options)))
        if draw(st.booleans()):
            argv.append(value())
    return argv + ALWAYS.get(verb, [])


@settings(
    max_examples=int(os.environ.get("EA_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzzed_cli_input_never_ends_in_a_traceback(world, data):
    argv = data.draw(argvs(world))
    code, lines, escaped = call(argv, world["base"] / "cwd")
    assert escaped is None, f"{argv} escaped:\n{escaped}"
    assert not any("Traceback" in line for line in lines), (argv, lines)
    assert code in (0, 2), (argv, code, lines)
    if code == 2:
        errors = [line for line in lines if line.startswith("error:")]
        assert len(errors) == 1 and lines[-1] == errors[0], (argv, lines)
