"""Integration tests against real external tools, each in its own virtual environment.

``scripts/install-integration-tools.sh`` creates ``.venv-labelstudio`` and ``.venv-datumaro``.
Without them the tests skip, unless the environment variable ``CI`` is set: then a missing tool
is a failure, so CI cannot pass by silently skipping the round trip.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import erroranalysis as ea

REPO = Path(__file__).resolve().parents[2]
CLASSES = ["cat", "dog", "bird"]


def tool_python(venv: str, probe: str) -> Path:
    """The python of a tool venv, or skip (fail under CI) when it is missing."""
    python = REPO / venv / "bin" / "python"
    if not python.exists() or not (REPO / venv / "bin" / probe).exists():
        message = (
            f"{venv} is missing: run scripts/install-integration-tools.sh "
            f"({'required because CI is set' if os.environ.get('CI') else 'skipping'})"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return python


def make_store(tmp_path: Path, n: int = 12, seed: int = 0) -> ea.Store:
    """A store of ``n`` PNGs (some under a folder with a space), one run, hand-made scan columns.

    s00, s03, s06 are label issues (quality 0.05, 0.10, 0.15) whose suggestion is the next class.
    """
    rng = np.random.default_rng(seed)
    root = tmp_path / "images"
    (root / "sub dir").mkdir(parents=True)
    rows = []
    for i in range(n):
        relative = f"sub dir/img {i:02d}.png" if i % 4 == 0 else f"img{i:02d}.png"
        Image.fromarray(rng.integers(0, 255, (20 + i, 30, 3), dtype=np.uint8)).save(root / relative)
        rows.append({"sample_id": f"s{i:02d}", "label": CLASSES[i % 3], "path": relative})
    store = ea.Store.create(
        tmp_path / "store", classes=CLASSES, samples=pd.DataFrame(rows), image_root=root
    )
    store.add_run("model", rng.dirichlet(np.ones(3), size=n).astype(np.float32))
    quality = np.linspace(0.2, 0.95, n)
    issue = np.zeros(n, dtype=bool)
    for position, value in zip([0, 3, 6], [0.05, 0.10, 0.15], strict=True):
        quality[position], issue[position] = value, True
    suggested = [CLASSES[(i % 3 + 1) % 3] if issue[i] else CLASSES[i % 3] for i in range(n)]
    store.run("model").save_result(
        "issues",
        pd.DataFrame(
            {"label_quality": quality, "is_label_issue": issue, "suggested_label": suggested}
        ),
    )
    return store
