"""Our CVAT XML and ImageNet text files, read and written back by the real Datumaro."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from erroranalysis.export import export_candidates, import_annotations
from erroranalysis.export._common import load_record

from .conftest import make_store, tool_python

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("datumaro_script.py")


def datumaro(args, cwd):
    python = tool_python(".venv-datumaro", "datum")
    done = subprocess.run(
        [str(python), str(SCRIPT), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_cvat_round_trip_through_datumaro(tmp_path):
    store = make_store(tmp_path)
    store.relabel("s01", "bird")  # the export carries current labels, not the given ones
    result = export_candidates(
        store, tmp_path / "cvat" / "annotations.xml", format="cvat", issue_types="all"
    )
    record = load_record(store, result.export_id)
    # Datumaro resolves image names against the working directory when there is no images/
    out = tmp_path / "datumaro-out"
    read = datumaro(
        [tmp_path / "cvat", "cvat", out, "cvat", "img03=bird", "sub dir/img 04=cat"],
        cwd=store.image_root,
    )
    expected = {
        os.path.splitext(record.names[sid])[0]: [label] for sid, label in record.labels.items()
    }
    assert read == expected
    assert read["img01"] == ["bird"]
    # the CVAT XML Datumaro wrote (our meta gone) maps back through the export record
    written = next(out.glob("*.xml"))
    assert "erroranalysis:" not in written.read_text()
    store.relabel("s03", "dog")  # planted conflict: Datumaro's file says bird
    store.relabel("s06", "dog")  # Datumaro's file keeps "cat", the label at export: ours stands
    summary = import_annotations(store, written, format="cvat")
    assert (summary.applied, summary.conflicts, summary.unchanged) == (1, 1, 10), summary.rows
    assert summary.conflict_rows["sample_id"].tolist() == ["s03"]
    assert store.labels()[["s03", "s04", "s06"]].tolist() == ["dog", "cat", "dog"]
    assert set(summary.rows["export_id"].dropna()) == {result.export_id}


def test_imagenet_txt_through_datumaro(tmp_path):
    store = make_store(tmp_path)
    result = export_candidates(store, tmp_path / "inet", format="imagenet-txt", issue_types="all")
    record = load_record(store, result.export_id)
    out = tmp_path / "datumaro-inet"
    read = datumaro(
        [tmp_path / "inet", "imagenet_txt", out, "imagenet_txt", "img05=cat"], cwd=tmp_path
    )
    expected = {
        os.path.splitext(record.names[sid])[0]: [label] for sid, label in record.labels.items()
    }
    assert read == expected
    summary = import_annotations(store, out, format="imagenet-txt")
    assert (summary.applied, summary.unchanged) == (1, 11)
    assert store.labels()["s05"] == "cat"
