import json

import pandas as pd
import pytest

from erroranalysis.errors import ErrorAnalysisError, UnknownLabelError
from erroranalysis.export import export_candidates, select_candidates
from erroranalysis.export._common import MissingScanError, list_records, load_record
from erroranalysis.export.registry import UnknownFormatError


def test_default_selection_is_unreviewed_label_issues_worst_first(store):
    selected = select_candidates(store)
    assert selected["sample_id"].tolist() == ["s00", "s03", "s06"]
    store.flag("s00", "not_an_issue")
    store.flag("s03", "reviewed")
    assert select_candidates(store)["sample_id"].tolist() == ["s06"]
    assert select_candidates(store, include_reviewed=True)["sample_id"].tolist() == [
        "s00",
        "s03",
        "s06",
    ]


def test_filters(store):
    assert select_candidates(store, issue_types="outlier")["sample_id"].tolist() == ["s09"]
    both = select_candidates(store, issue_types=["label_issue", "outlier"])
    assert both["sample_id"].tolist() == ["s00", "s03", "s06", "s09"]
    everything = select_candidates(store, issue_types="all")
    assert len(everything) == store.num_samples
    assert everything["label_quality"].is_monotonic_increasing
    assert select_candidates(store, max_quality=0.1)["sample_id"].tolist() == ["s00", "s03"]
    assert select_candidates(store, min_score=0.9)["sample_id"].tolist() == ["s00", "s03"]
    assert select_candidates(store, limit=1)["sample_id"].tolist() == ["s00"]
    # s00 and s06 are labelled cat, s03 cat too (i % 3 == 0): relabel one to filter by class
    store.relabel("s03", "bird")
    assert select_candidates(store, classes=["bird"])["sample_id"].tolist() == ["s03"]
    assert select_candidates(store, slice="source=common")["sample_id"].tolist() == ["s00", "s06"]
    assert select_candidates(store, slice={"source": ["rare"]})["sample_id"].tolist() == ["s03"]
    store.flag("s06", "weak_spot", note="dark")
    assert select_candidates(store, weak_spots=True)["sample_id"].tolist() == ["s06"]
    assert select_candidates(store, weak_spots=False)["sample_id"].tolist() == ["s00", "s03"]
    assert select_candidates(store, sample_ids=["s06", "s01"])["sample_id"].tolist() == ["s06"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"classes": ["cow"]}, UnknownLabelError, "cow"),
        ({"slice": "colour=red"}, ErrorAnalysisError, "colour"),
        ({"slice": "no-equals"}, ErrorAnalysisError, "column=value"),
        ({"issue_types": "typo"}, ErrorAnalysisError, "typo"),
        ({"limit": -1}, ErrorAnalysisError, "limit"),
    ],
)
def test_bad_filters_are_refused(store, kwargs, error, match):
    with pytest.raises(error, match=match):
        select_candidates(store, **kwargs)


def test_unscanned_run_says_run_scan_first(tmp_path):
    import numpy as np

    import erroranalysis as ea

    samples = pd.DataFrame({"sample_id": ["a", "b"], "label": ["x", "y"]})
    store = ea.Store.create(tmp_path / "s", classes=["x", "y"], samples=samples)
    store.add_run("r", np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32))
    with pytest.raises(MissingScanError, match="scan"):
        export_candidates(store, tmp_path / "out.json")


def test_unknown_format_refused_before_writing(store, tmp_path):
    with pytest.raises(UnknownFormatError, match="label-studio"):
        export_candidates(store, tmp_path / "x.out", format="yolo")
    assert list_records(store) == []
    assert not (tmp_path / "x.out").exists()


@pytest.mark.parametrize("fmt", ["label-studio", "cvat", "csv", "imagenet-txt"])
def test_every_export_records_labels_at_export_time(store, tmp_path, fmt):
    store.relabel("s03", "bird")
    result = export_candidates(store, tmp_path / f"out-{fmt}", format=fmt)
    record = load_record(store, result.export_id)
    assert record is not None and record.format == fmt
    assert record.labels == {"s00": "cat", "s03": "bird", "s06": "cat"}
    assert record.names["s00"] == "sub dir/img 00.png"
    assert result.sample_ids == ["s00", "s03", "s06"]
    assert all(path.exists() for path in result.files)
    text = result.path.read_text()
    if fmt != "imagenet-txt":  # the ImageNet text format has no room for it
        assert result.export_id in text
    assert str(result).startswith("exported 3 samples")


def test_label_studio_image_references(store, tmp_path):
    local = export_candidates(store, tmp_path / "a.json")
    tasks = json.loads(local.path.read_text())
    assert tasks[0]["data"]["image"] == "/data/local-files/?d=images/sub%20dir/img%2000.png"
    root = store.image_root
    own_root = export_candidates(store, tmp_path / "b.json", document_root=root)
    assert (
        json.loads(own_root.path.read_text())[1]["data"]["image"]
        == "/data/local-files/?d=img03.png"
    )
    prefixed = export_candidates(store, tmp_path / "c.json", image_urls="https://cdn.example/img")
    assert json.loads(prefixed.path.read_text())[0]["data"]["image"] == (
        "https://cdn.example/img/sub%20dir/img%2000.png"
    )
    absolute = export_candidates(store, tmp_path / "d.json", image_urls="absolute")
    assert json.loads(absolute.path.read_text())[1]["data"]["image"] == str(root / "img03.png")
    with pytest.raises(ErrorAnalysisError, match="document root"):
        export_candidates(store, tmp_path / "e.json", document_root=tmp_path / "elsewhere")
