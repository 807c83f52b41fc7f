"""Shared fixtures: small real stores on disk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import erroranalysis as ea

CLASSES = ["cat", "dog", "fox"]


def make_samples(count: int = 12, classes: list[str] = CLASSES) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample_id": [f"s{i:03d}" for i in range(count)],
            "label": [classes[i % len(classes)] for i in range(count)],
            "path": [f"images/{i:03d}.png" for i in range(count)],
            "source": ["a" if i % 4 else "b" for i in range(count)],
        }
    )


def make_probs(count: int = 12, num_classes: int = 3, seed: int = 0) -> np.ndarray:
    return (
        np.random.default_rng(seed).dirichlet(np.ones(num_classes), size=count).astype(np.float32)
    )


@pytest.fixture
def store(tmp_path) -> ea.Store:
    (tmp_path / "images").mkdir()
    return ea.Store.create(
        tmp_path / "store", classes=CLASSES, samples=make_samples(), image_root=tmp_path
    )


# -- the full demo store of the detection locks (tests/analysis/test_demo_problems_locked.py) ---
# Tests that take the `demo_store` fixture run last; when EA_DEMO_STORE is not set, a default
# `erroranalysis demo --no-lab` is built in a nice'd background process from the end of
# collection, so its ~3 CPU-minutes overlap the rest of the suite.
_DEMO_BUILD: dict = {}


def _wants_demo(items) -> bool:
    return any("demo_store" in getattr(item, "fixturenames", ()) for item in items)


def _start_demo_build() -> None:
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    import time
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="ea-test-demo-"))
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    log = open(folder / "build.log", "wb")  # noqa: SIM115 - closed at session end
    nice = [shutil.which("nice"), "-n", "10"] if shutil.which("nice") else []
    command = [*nice, sys.executable, "-m", "erroranalysis", "demo", "--no-lab", "--quiet"]
    process = subprocess.Popen(
        [*command, "--out", str(folder / "demo-store")],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    _DEMO_BUILD.update(folder=folder, process=process, log=log, started=time.monotonic())


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: "demo_store" in getattr(item, "fixturenames", ()))  # stable


def pytest_collection_finish(session):
    import os

    if (
        not os.environ.get("EA_DEMO_STORE")
        and not session.config.option.collectonly
        and _wants_demo(session.items)
    ):
        _start_demo_build()


def pytest_sessionfinish(session):
    import shutil

    process = _DEMO_BUILD.pop("process", None)
    if process is not None:
        import os
        import signal

        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        _DEMO_BUILD.pop("log").close()
        shutil.rmtree(_DEMO_BUILD.pop("folder"), ignore_errors=True)


@pytest.fixture(scope="session")
def demo_store():
    """The path of a full default demo store: EA_DEMO_STORE, or the one built in the background.

    Fails (never skips) when the build fails, with the tail of its log.
    """
    import os
    import time
    from pathlib import Path

    given = os.environ.get("EA_DEMO_STORE")
    if given:
        path = Path(given)
        if not (path / "data" / "truth.parquet").is_file():
            pytest.fail(f"EA_DEMO_STORE={given} is not a demo store (no data/truth.parquet)")
        return path
    if "process" not in _DEMO_BUILD:
        _start_demo_build()
    process = _DEMO_BUILD["process"]
    try:
        code = process.wait(timeout=1800)
    except Exception:  # subprocess.TimeoutExpired
        code = None
    path = _DEMO_BUILD["folder"] / "demo-store"
    if code != 0 or not (path / "data" / "truth.parquet").is_file():
        _DEMO_BUILD["log"].flush()
        tail = (_DEMO_BUILD["folder"] / "build.log").read_text(errors="replace")[-4000:]
        pytest.fail(
            f"the background `erroranalysis demo --no-lab` build failed (exit {code}, "
            f"{time.monotonic() - _DEMO_BUILD['started']:.0f} s); log tail:\n{tail}",
            pytrace=False,
        )
    return path
