import json
import xml.etree.ElementTree as ET

import pytest

from erroranalysis.errors import ImportRefusedError
from erroranalysis.export import export_candidates, import_annotations, read_annotations
from erroranalysis.export.label_studio import labeling_config

from .helpers import label_studio_json, write_json


def test_tasks_carry_data_predictions_and_config(store, tmp_path):
    result = export_candidates(store, tmp_path / "tasks.json")
    tasks = json.loads(result.path.read_text())
    assert [task["data"]["sample_id"] for task in tasks] == ["s00", "s03", "s06"]
    first = tasks[0]
    assert first["data"]["export_id"] == result.export_id
    assert first["data"]["given_label"] == "cat"
    prediction = first["predictions"][0]
    assert prediction["score"] == pytest.approx(0.05)
    assert prediction["result"][0]["value"] == {"choices": ["dog"]}
    assert prediction["result"][0]["from_name"] == "label"
    config = ET.fromstring(result.files[1].read_text())
    assert config.find("Image").get("value") == "$image"
    choices = config.find("Choices")
    assert choices.get("toName") == "image"
    assert [c.get("value") for c in choices.findall("Choice")] == ["cat", "dog", "bird"]


def test_labeling_config_escapes_class_names():
    config = ET.fromstring(labeling_config(['a "quoted" <class>', "b & c"]))
    assert [c.get("value") for c in config.iter("Choice")] == ['a "quoted" <class>', "b & c"]


def test_json_round_trip(store, tmp_path):
    result = export_candidates(store, tmp_path / "tasks.json")
    exported = label_studio_json(result.path, {"s00": "dog", "s03": "cat"}, cancelled={"s06"})
    path = write_json(tmp_path / "export.json", exported)
    summary = import_annotations(store, path, format="label-studio")
    assert (summary.applied, summary.unchanged, summary.conflicts, summary.skipped) == (1, 1, 0, 1)
    assert store.labels()["s00"] == "dog"
    history = store.history("s00")
    relabel = history[history["kind"] == "relabel"].iloc[-1]
    assert relabel["source"] == f"import:label-studio:{result.export_id}"
    assert relabel["author"] == "ann@example.com"
    assert relabel["previous_label"] == "cat"
    assert str(summary).startswith("applied 1, unchanged 1, conflicts 0, skipped 1")


def test_json_min_and_csv_exports(store, tmp_path):
    result = export_candidates(store, tmp_path / "tasks.json")
    tasks = json.loads(result.path.read_text())
    minimal = [
        {**tasks[0]["data"], "id": 1, "label": "bird", "annotator": 3, "annotation_id": 9},
        {**tasks[1]["data"], "id": 2},  # no annotation: no label key
    ]
    path = write_json(tmp_path / "min.json", minimal)
    rows = read_annotations(path, "label-studio-min")
    assert rows[0].label == "bird" and rows[0].annotator == "label-studio-user:3"
    assert rows[1].label is None
    summary = import_annotations(store, path, format="label-studio-min")
    assert (summary.applied, summary.skipped) == (1, 1)
    assert store.labels()["s00"] == "bird"

    header = "annotation_id,annotator,created_at,export_id,given_label,id,image,label,sample_id\n"
    line = f'5,"1","2026-01-01",{result.export_id},cat,3,"{tasks[2]["data"]["image"]}",dog,s06\n'
    csv_path = tmp_path / "ls.csv"
    csv_path.write_text(header + line)
    summary = import_annotations(store, csv_path, format="label-studio-csv")
    assert summary.applied == 1 and store.labels()["s06"] == "dog"


def test_several_choices_refuse_the_import(store, tmp_path):
    result = export_candidates(store, tmp_path / "tasks.json")
    exported = label_studio_json(result.path, {"s00": "dog", "s03": "cat"})
    exported[1]["annotations"][0]["result"][0]["value"]["choices"] = ["cat", "dog"]
    path = write_json(tmp_path / "export.json", exported)
    before = store.last_event_id
    with pytest.raises(ImportRefusedError, match="2 labels chosen"):
        import_annotations(store, path)
    assert store.last_event_id == before


def test_wrong_shape_files_are_refused(store, tmp_path):
    path = write_json(tmp_path / "x.json", {"not": "tasks"})
    with pytest.raises(Exception, match="data"):
        import_annotations(store, path)
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(Exception, match="not valid JSON"):
        import_annotations(store, bad)
    full = write_json(tmp_path / "full.json", [{"data": {}, "annotations": []}])
    with pytest.raises(Exception, match="full Label Studio JSON"):
        import_annotations(store, full, format="label-studio-min")
