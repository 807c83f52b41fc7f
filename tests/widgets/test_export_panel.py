"""The export panel: export the selection or the relabel candidates by clicking, errors as text."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import traitlets

from erroranalysis.widgets.export_panel import EXPORT_FORMATS, ExportPanel
from erroranalysis.widgets.selection import Selection


def _result_text(panel):
    return panel.result.value


@pytest.fixture(autouse=True)
def _working_folder(tmp_path, monkeypatch):
    """The panel's default path is the working folder: each test runs in its own."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_panel_has_css_classes_and_defaults(scanned_store):
    panel = ExportPanel(scanned_store, selection=Selection())
    assert "ea-export" in panel._dom_classes
    assert "ea-export-result" in panel.result._dom_classes
    assert "ea-export-button" in panel.button._dom_classes
    assert list(panel.format.options) == ["label-studio", "cvat", "csv", "imagenet-txt"]
    assert panel.what.value == "candidates"  # nothing selected yet
    default = Path(panel.path.value)
    assert default.parent == Path.cwd()  # the working folder, not inside the store
    assert default.suffix == ".json"
    panel.format.value = "csv"
    assert panel.path.value.endswith(".csv")
    panel.format.value = "imagenet-txt"
    assert Path(panel.path.value).suffix == ""


def test_export_selection_to_label_studio(scanned_store, tmp_path):
    selection = Selection()
    ids = [str(i) for i in scanned_store.sample_ids[[3, 7, 11, 20]]]
    selection.select(ids, source="test")
    panel = ExportPanel(scanned_store, selection=selection)
    assert panel.what.value == "selection"
    assert "4 samples selected" in panel.selection_info.value
    panel.path.value = str(tmp_path / "out" / "tasks.json")
    panel.button.click()
    assert panel.last_error is None, panel.last_error
    tasks = json.loads((tmp_path / "out" / "tasks.json").read_text())
    assert sorted(task["data"]["sample_id"] for task in tasks) == sorted(ids)
    assert (tmp_path / "out" / "tasks.label_config.xml").is_file()
    text = _result_text(panel)
    assert "Exported <b>4</b> samples" in text
    assert "of 4 selected" in text
    assert str(tmp_path / "out" / "tasks.json") in text
    assert "tasks.label_config.xml" in text
    assert panel.last_result.count == 4
    assert panel.last_result.export_id in text
    # the export is recorded in the store with the labels at export time
    record = Path(scanned_store.path) / "exports" / f"{panel.last_result.export_id}.json"
    assert record.is_file()


def test_export_selection_follows_the_selection(scanned_store, tmp_path):
    selection = Selection()
    panel = ExportPanel(scanned_store, selection=selection)
    panel.what.value = "selection"
    panel.format.value = "csv"
    panel.path.value = str(tmp_path / "a.csv")
    panel.button.click()
    assert "nothing is selected" in panel.last_error
    assert "ea-export-error" in _result_text(panel)
    assert not (tmp_path / "a.csv").exists()
    ids = [str(i) for i in scanned_store.sample_ids[:5]]
    selection.select(ids, source="test")
    assert "5 samples selected" in panel.selection_info.value
    panel.button.click()
    frame = pd.read_csv(tmp_path / "a.csv")
    assert sorted(frame["sample_id"].astype(str)) == sorted(ids)
    assert "Exported <b>5</b> samples" in _result_text(panel)


def test_export_candidates_to_cvat_with_limit(scanned_store, tmp_path):
    panel = ExportPanel(scanned_store, selection=Selection())
    panel.what.value = "candidates"
    panel.format.value = "cvat"
    panel.limit.value = 3
    panel.path.value = str(tmp_path / "cvat.xml")
    panel.button.click()
    assert panel.last_error is None, panel.last_error
    frame = scanned_store.frame()
    issues = frame[frame["is_label_issue"]].sort_values("label_quality", kind="stable")
    expected = issues["sample_id"].astype(str).tolist()[:3]
    assert len(expected) == 3
    assert panel.last_result.sample_ids == expected
    root = ET.parse(tmp_path / "cvat.xml").getroot()
    assert len(root.findall("image")) == 3
    assert "Exported <b>3</b> samples (relabel candidates)" in _result_text(panel)


def test_default_path_is_the_working_folder_and_never_overwrites(scanned_store, _working_folder):
    panel = ExportPanel(scanned_store)
    assert [value for _, value in panel.what.options] == [
        "candidates",
        "weak_spots",
        "look_alikes",
    ]
    panel.format.value = "csv"
    first = panel.export()
    assert first is not None, panel.last_error
    assert first.files[0].is_file()
    assert first.files[0].parent == _working_folder
    assert not (Path(scanned_store.path) / "exports" / "files").exists()
    assert panel.path.value != str(first.files[0])  # a fresh default for the next export
    second = panel.export()
    assert second.files[0] != first.files[0]
    assert first.files[0].is_file() and second.files[0].is_file()
    # the export records next to the files folder are still readable (import works)
    from erroranalysis.export._common import list_records

    assert {r.export_id for r in list_records(scanned_store)} == {
        first.export_id,
        second.export_id,
    }


def test_user_typed_path_is_kept(scanned_store, tmp_path):
    panel = ExportPanel(scanned_store)
    panel.path.value = str(tmp_path / "mine.json")
    panel.format.value = "csv"
    assert panel.path.value == str(tmp_path / "mine.json")


def test_imagenet_txt_writes_a_folder(scanned_store, tmp_path):
    panel = ExportPanel(scanned_store)
    panel.format.value = "imagenet-txt"
    panel.path.value = str(tmp_path / "imagenet")
    panel.button.click()
    assert panel.last_error is None, panel.last_error
    assert all(Path(path).parent == tmp_path / "imagenet" for path in panel.last_result.files)
    assert all(Path(path).is_file() for path in panel.last_result.files)


def test_missing_scan_is_a_message_not_a_traceback(unscanned_store, tmp_path):
    panel = ExportPanel(unscanned_store)
    panel.path.value = str(tmp_path / "x.json")
    panel.button.click()
    assert panel.last_result is None
    assert "ea.scan" in panel.last_error
    assert "Export failed" in _result_text(panel)
    assert "ea-export-error" in _result_text(panel)
    assert not (tmp_path / "x.json").exists()


def test_weak_spots_and_look_alikes(scanned_store, tmp_path):
    panel = ExportPanel(scanned_store)
    panel.what.value = "weak_spots"
    panel.format.value = "csv"
    panel.path.value = str(tmp_path / "weak.csv")
    panel.button.click()
    assert "no sample is flagged as a weak spot" in panel.last_error
    seed = str(scanned_store.sample_ids[4])
    scanned_store.flag(seed, "weak_spot", note="dark")
    panel.button.click()
    assert panel.last_error is None, panel.last_error
    assert pd.read_csv(tmp_path / "weak.csv")["sample_id"].astype(str).tolist() == [seed]
    panel.what.value = "look_alikes"
    panel.limit.value = 5
    panel.path.value = str(tmp_path / "alikes.csv")
    panel.button.click()
    assert panel.last_error is None, panel.last_error
    alikes = pd.read_csv(tmp_path / "alikes.csv")
    assert len(alikes) == 5
    assert seed not in alikes["sample_id"].astype(str).tolist()
    assert "Exported <b>5</b> samples (look-alikes of weak spots)" in _result_text(panel)


def test_any_hastraits_selection_works(scanned_store, tmp_path):
    class Picked(traitlets.HasTraits):
        sample_ids = traitlets.Tuple()

    picked = Picked()
    panel = ExportPanel(scanned_store, selection=picked)
    picked.sample_ids = tuple(str(i) for i in scanned_store.sample_ids[:2])
    panel.what.value = "selection"
    assert "2 samples selected" in panel.selection_info.value
    panel.format.value = "csv"
    panel.path.value = str(tmp_path / "two.csv")
    panel.button.click()
    assert len(pd.read_csv(tmp_path / "two.csv")) == 2
    panel.close()


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_every_format_is_a_registered_writer(fmt):
    from erroranalysis.export import writer_names

    assert fmt in writer_names()


def test_image_urls_choice_and_unreachable_images_message(tmp_path):
    import numpy as np

    import erroranalysis as ea

    # absolute image paths and no image root: Label Studio local-files URLs cannot be made
    images = tmp_path / "pics"
    images.mkdir()
    from PIL import Image

    ids = [f"a{i}" for i in range(6)]
    for sample_id in ids:
        Image.new("RGB", (8, 8)).save(images / f"{sample_id}.png")
    samples = pd.DataFrame(
        {
            "sample_id": ids,
            "label": ["cat", "dog"] * 3,
            "path": [str(images / f"{sample_id}.png") for sample_id in ids],
        }
    )
    store = ea.Store.create(tmp_path / "store", classes=["cat", "dog"], samples=samples)
    probs = np.full((6, 2), 0.5, dtype=np.float32)
    probs[:, 0] = np.linspace(0.1, 0.9, 6)
    probs[:, 1] = 1 - probs[:, 0]
    run = store.add_run("r", probs, embeddings=np.eye(6, 2, dtype=np.float32))
    # the analyses that apply to 6 samples (the k-NN checks need more than 10)
    ea.scan(store, run=run.name, progress=False, analyses="scores,label_issues")

    selection = Selection()
    selection.select(ids[:3])
    panel = ExportPanel(store, selection=selection)
    panel.path.value = str(tmp_path / "t.json")
    panel.button.click()
    assert panel.last_result is None
    assert "image_urls='absolute'" in panel.last_error  # the export's own advice
    assert "Export failed" in panel.result.value
    assert not (tmp_path / "t.json").exists()
    assert not list((tmp_path / "store" / "exports").glob("*.json"))  # no record either
    panel.image_urls.value = "absolute"
    panel.button.click()
    assert panel.last_error is None, panel.last_error
    tasks = json.loads((tmp_path / "t.json").read_text())
    assert {task["data"]["image"] for task in tasks} == {
        str(images / f"{sample_id}.png") for sample_id in ids[:3]
    }


def test_accepts_the_dashboards_view_data(scanned_store, tmp_path):
    from erroranalysis.widgets._data import ViewData

    data = ViewData(scanned_store)
    panel = ExportPanel(data, selection=Selection())
    assert panel.store is scanned_store
    assert panel.run == data.run.name
    panel.format.value = "csv"
    panel.path.value = str(tmp_path / "c.csv")
    assert panel.export() is not None, panel.last_error
    assert (tmp_path / "c.csv").is_file()


def test_selected_count_shows_only_when_exporting_the_selection(scanned_store):
    selection = Selection()
    selection.select([str(i) for i in scanned_store.sample_ids[:3]], source="test")
    panel = ExportPanel(scanned_store, selection=selection)
    assert panel.what.value == "selection"
    assert "3 samples selected" in panel.selection_info.value
    panel.what.value = "candidates"  # the selection plays no part: no count
    assert panel.selection_info.value == ""
    selection.select([str(i) for i in scanned_store.sample_ids[:5]], source="test")
    assert panel.selection_info.value == ""
    panel.what.value = "selection"
    assert "5 samples selected" in panel.selection_info.value


def test_an_existing_file_asks_before_it_is_overwritten(scanned_store, tmp_path):
    from erroranalysis.export._common import list_records

    target = tmp_path / "mine.csv"
    target.write_text("my own spreadsheet\n")
    panel = ExportPanel(scanned_store)
    panel.format.value = "csv"
    panel.path.value = str(target)
    assert panel.confirm.layout.display == "none"
    panel.button.click()
    # refused: nothing written, no export record, the file named, Overwrite / Cancel offered
    assert panel.last_result is None and panel.last_error is None
    assert target.read_text() == "my own spreadsheet\n"
    assert list_records(scanned_store) == []
    assert panel.pending_overwrite == [target]
    assert str(target) in _result_text(panel) and "exists already" in _result_text(panel)
    assert panel.confirm.layout.display == "flex"
    assert "ea-export-overwrite" in panel.overwrite_button._dom_classes
    # Cancel leaves the file alone
    panel.cancel_button.click()
    assert panel.pending_overwrite == [] and panel.confirm.layout.display == "none"
    assert "nothing was written" in _result_text(panel)
    assert target.read_text() == "my own spreadsheet\n"
    # asking again, then Overwrite replaces it
    panel.button.click()
    assert panel.pending_overwrite == [target]
    panel.overwrite_button.click()
    assert panel.last_error is None, panel.last_error
    assert panel.last_result is not None and panel.last_result.files == [target]
    assert pd.read_csv(target)["sample_id"].astype(str).tolist() == panel.last_result.sample_ids
    assert panel.confirm.layout.display == "none" and panel.pending_overwrite == []


def test_changing_the_path_withdraws_the_overwrite_question(scanned_store, tmp_path):
    (tmp_path / "tasks.label_config.xml").write_text("<View/>")  # only the companion file
    panel = ExportPanel(scanned_store)
    panel.path.value = str(tmp_path / "tasks.json")
    panel.button.click()
    assert panel.pending_overwrite == [tmp_path / "tasks.label_config.xml"]
    panel.path.value = str(tmp_path / "other.json")
    assert panel.pending_overwrite == [] and panel.confirm.layout.display == "none"
    panel.button.click()
    assert panel.last_error is None, panel.last_error
    assert (tmp_path / "tasks.label_config.xml").read_text() == "<View/>"
