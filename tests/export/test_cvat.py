import xml.etree.ElementTree as ET

import pytest

from erroranalysis.errors import ImportRefusedError
from erroranalysis.export import export_candidates, import_annotations, read_annotations


def _retag(path, changes, out):
    tree = ET.parse(path)
    for image in tree.getroot().iter("image"):
        if image.get("name") in changes:
            labels = changes[image.get("name")]
            for tag in image.findall("tag"):
                image.remove(tag)
            for label in [labels] if isinstance(labels, str) else labels:
                ET.SubElement(image, "tag", label=label, source="manual")
    tree.write(out, encoding="utf-8", xml_declaration=True)
    return out


def test_cvat_xml_layout(store, tmp_path):
    result = export_candidates(store, tmp_path / "annotations.xml", format="cvat")
    root = ET.parse(result.path).getroot()
    assert root.findtext("version") == "1.1"
    assert root.findtext("meta/task/name") == f"erroranalysis:{result.export_id}"
    assert [label.findtext("name") for label in root.iter("label")] == ["cat", "dog", "bird"]
    images = root.findall("image")
    assert [i.get("name") for i in images] == ["sub dir/img 00.png", "img03.png", "img06.png"]
    assert images[1].get("width") == "30" and images[1].get("height") == "23"
    assert [i.find("tag").get("label") for i in images] == ["cat", "cat", "cat"]


def test_cvat_round_trip(store, tmp_path):
    result = export_candidates(store, tmp_path / "annotations.xml", format="cvat")
    rows = read_annotations(result.path, "cvat")
    assert next((r.name, r.label, r.export_id) for r in rows) == (
        "sub dir/img 00.png",
        "cat",
        result.export_id,
    )
    edited = _retag(result.path, {"sub dir/img 00.png": "dog"}, tmp_path / "edited.xml")
    summary = import_annotations(store, edited, format="cvat")
    assert (summary.applied, summary.unchanged) == (1, 2)
    assert store.labels()["s00"] == "dog"
    assert store.history("s00").iloc[0]["source"] == f"import:cvat:{result.export_id}"


def test_cvat_without_our_meta_maps_names_through_the_export(store, tmp_path):
    """Files written by CVAT or Datumaro keep the image names but not our task name."""
    result = export_candidates(store, tmp_path / "annotations.xml", format="cvat")
    edited = _retag(result.path, {"img03.png": "bird"}, tmp_path / "edited.xml")
    tree = ET.parse(edited)
    tree.getroot().find("meta/task/name").text = "default"
    tree.write(edited)
    store.relabel("s03", "dog")
    summary = import_annotations(store, edited, format="cvat")
    assert summary.conflicts == 1  # the latest export holding s03 recorded "cat"
    assert summary.conflict_rows.iloc[0]["export_id"] == result.export_id


def test_cvat_refusals(store, tmp_path):
    result = export_candidates(store, tmp_path / "annotations.xml", format="cvat")
    two = _retag(result.path, {"img03.png": ["dog", "bird"]}, tmp_path / "two.xml")
    with pytest.raises(ImportRefusedError, match="2 different tags"):
        import_annotations(store, two, format="cvat")
    ghost = tmp_path / "ghost.xml"
    ghost.write_text(result.path.read_text().replace("img06.png", "elsewhere/ghost.png"))
    with pytest.raises(ImportRefusedError, match="ghost"):
        import_annotations(store, ghost, format="cvat")
    unknown = _retag(result.path, {"img03.png": "cow"}, tmp_path / "cow.xml")
    with pytest.raises(ImportRefusedError, match="cow"):
        import_annotations(store, unknown, format="cvat")
    wrong = tmp_path / "wrong.xml"
    wrong.write_text("<View/>")
    with pytest.raises(Exception, match="not a CVAT"):
        import_annotations(store, wrong, format="cvat")
    assert store.last_event_id == 0


def test_image_without_tag_is_skipped(store, tmp_path):
    result = export_candidates(store, tmp_path / "annotations.xml", format="cvat")
    tree = ET.parse(result.path)
    image = tree.getroot().find("image")
    image.remove(image.find("tag"))
    tree.write(tmp_path / "untagged.xml")
    summary = import_annotations(store, tmp_path / "untagged.xml", format="cvat")
    assert (summary.skipped, summary.unchanged) == (1, 2)
