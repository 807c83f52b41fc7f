import pandas as pd
import pytest

from erroranalysis.errors import ErrorAnalysisError, ImportRefusedError
from erroranalysis.export import export_candidates, import_annotations

from .helpers import label_studio_json, write_json


@pytest.fixture
def exported(store, tmp_path):
    return export_candidates(store, tmp_path / "tasks.json")


def answer(tmp_path, exported, answers, name="export.json", **kwargs):
    return write_json(tmp_path / name, label_studio_json(exported.path, answers, **kwargs))


def test_unknown_sample_refuses_whole_import(store, tmp_path, exported):
    payload = label_studio_json(exported.path, {"s00": "dog", "s03": "bird"})
    payload[1]["data"]["sample_id"] = "ghost"
    path = write_json(tmp_path / "x.json", payload)
    before = store.last_event_id
    with pytest.raises(ImportRefusedError, match="ghost") as info:
        import_annotations(store, path)
    assert "nothing applied" in str(info.value)
    assert store.last_event_id == before
    assert store.labels()["s00"] == "cat"


def test_unknown_label_refuses_whole_import(store, tmp_path, exported):
    path = answer(tmp_path, exported, {"s00": "dog", "s03": "zebra"})
    with pytest.raises(ImportRefusedError, match="zebra"):
        import_annotations(store, path)
    assert store.last_event_id == 0


def test_conflict_when_relabelled_since_export(store, tmp_path, exported):
    store.relabel("s03", "bird", author="me")
    path = answer(tmp_path, exported, {"s00": "dog", "s03": "dog"})
    summary = import_annotations(store, path)
    assert (summary.applied, summary.conflicts) == (1, 1)
    assert store.labels()["s03"] == "bird"  # not overwritten
    conflict = summary.conflict_rows.iloc[0]
    assert conflict["sample_id"] == "s03"
    assert conflict["label_at_export"] == "cat" and conflict["current_label"] == "bird"
    assert "relabelled in the store since the export" in conflict["reason"]
    assert "conflicts 1 (not applied" in str(summary) and "'s03'" in str(summary)
    # importing again: still a conflict, nothing new
    last = store.last_event_id
    again = import_annotations(store, path)
    assert (again.applied, again.conflicts, again.unchanged) == (0, 1, 1)
    assert store.last_event_id == last
    forced = import_annotations(store, path, force=True)
    assert (forced.applied, forced.conflicts) == (1, 1)
    assert store.labels()["s03"] == "dog"
    assert "(forced)" in str(forced)


def test_agreeing_with_the_store_since_export_is_unchanged(store, tmp_path, exported):
    store.relabel("s03", "dog")
    path = answer(tmp_path, exported, {"s03": "dog"})
    summary = import_annotations(store, path)
    assert (summary.applied, summary.unchanged, summary.conflicts) == (0, 1, 0)


def test_idempotent(store, tmp_path, exported):
    path = answer(tmp_path, exported, {"s00": "dog", "s03": "cat"}, cancelled={"s06"})
    first = import_annotations(store, path)
    events = store.events()
    assert first.applied == 1 and len(first.event_ids) == len(events)
    # the relabel plus a "reviewed" flag per answered sample, one batch
    assert sorted(events["kind"]) == ["flag", "flag", "relabel"]
    assert events["batch"].nunique() == 1
    second = import_annotations(store, path)
    assert (second.applied, second.unchanged, second.skipped) == (0, 2, 1)
    assert second.event_ids == []
    assert len(store.events()) == len(events)
    # a relabel after the import is not undone by re-importing the same file
    store.relabel("s00", "bird")
    third = import_annotations(store, path)
    assert third.applied == 0 and store.labels()["s00"] == "bird"
    assert len(store.events()) == len(events) + 1


def test_reviewed_samples_leave_the_candidates(store, tmp_path, exported):
    path = answer(tmp_path, exported, {"s03": "cat"})
    import_annotations(store, path)
    again = export_candidates(store, tmp_path / "next.json")
    assert again.sample_ids == ["s00", "s06"]
    import_annotations(
        store, answer(tmp_path, exported, {"s00": "dog"}, name="b.json"), mark_reviewed=False
    )
    assert "reviewed" not in store.frame()["flags"][0]


def test_dry_run_writes_nothing(store, tmp_path, exported):
    path = answer(tmp_path, exported, {"s00": "dog"})
    summary = import_annotations(store, path, dry_run=True)
    assert summary.applied == 1 and summary.event_ids == []
    assert str(summary).startswith("would apply 1")
    assert store.last_event_id == 0


def test_annotators_disagreeing_is_a_conflict(store, tmp_path, exported):
    path = answer(tmp_path, exported, {"s00": ["dog", "bird"], "s06": ["bird", "bird"]})
    summary = import_annotations(store, path)
    assert summary.conflicts == 1 and summary.applied == 1
    assert "annotators disagree" in summary.conflict_rows.iloc[0]["reason"]
    statuses = summary.rows.set_index("row")["status"].tolist()
    assert statuses.count("duplicate") == 1
    assert store.labels()["s00"] == "cat" and store.labels()["s06"] == "bird"


def test_undo_reverts_the_whole_import(store, tmp_path, exported):
    path = answer(tmp_path, exported, {"s00": "dog", "s06": "bird"})
    import_annotations(store, path)
    store.undo()
    assert store.labels()[["s00", "s06"]].tolist() == ["cat", "cat"]


def test_author_fallback_and_export_id_override(store, tmp_path, exported):
    payload = label_studio_json(exported.path, {"s00": "dog"})
    for task in payload:
        task["data"].pop("export_id")
        for annotation in task["annotations"]:
            annotation["completed_by"] = {}
    path = write_json(tmp_path / "x.json", payload)
    store.relabel("s00", "bird")
    # no export id in the file: the latest export holding the sample is the baseline
    summary = import_annotations(store, path, author="lead", dry_run=True)
    assert summary.conflicts == 1
    store.undo()
    summary = import_annotations(store, path, author="lead", export_id=exported.export_id)
    assert summary.applied == 1
    relabel = store.history("s00").iloc[-2]
    assert relabel["author"] == "lead"
    with pytest.raises(ErrorAnalysisError, match="no export"):
        import_annotations(store, path, export_id="ea-nope")


def test_missing_file(store, tmp_path):
    with pytest.raises(FileNotFoundError):
        import_annotations(store, tmp_path / "nope.json")


def test_rows_table(store, tmp_path, exported):
    path = answer(tmp_path, exported, {"s00": "dog"}, cancelled={"s03"})
    rows = import_annotations(store, path).rows
    assert isinstance(rows, pd.DataFrame)
    assert rows.set_index("sample_id")["status"].to_dict() == {"s00": "applied", "s03": "skipped"}


def test_answer_keeping_the_exported_label_leaves_a_later_relabel(store, tmp_path, exported):
    store.relabel("s00", "bird")
    path = answer(tmp_path, exported, {"s00": "cat"})
    summary = import_annotations(store, path, force=True)
    assert (summary.applied, summary.unchanged, summary.conflicts) == (0, 1, 0)
    assert store.labels()["s00"] == "bird"
    assert "relabelled to bird since" in summary.rows.iloc[0]["reason"]


def test_relabel_by_another_process_is_seen_as_a_conflict(store, tmp_path, exported):
    import erroranalysis as ea

    other = ea.Store.open(store.path)  # a second handle, as another notebook or the CLI would
    other.relabel("s00", "bird", author="colleague")
    path = answer(tmp_path, exported, {"s00": "dog"})
    summary = import_annotations(store, path)
    assert summary.conflicts == 1 and summary.applied == 0
    assert ea.Store.open(store.path).labels()["s00"] == "bird"


def test_foreign_json_in_the_exports_folder_is_ignored(tmp_path):
    """A user's own file saved into <store>/exports/ must not break later imports."""
    import numpy as np
    import pandas as pd

    import erroranalysis as ea
    from erroranalysis.export._common import exports_dir, list_records

    samples = pd.DataFrame({"sample_id": ["a", "b"], "label": ["x", "y"]})
    store = ea.Store.create(tmp_path / "s", classes=["x", "y"], samples=samples)
    store.add_run("m", np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32))
    folder = exports_dir(store)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "my-tasks.json").write_text('[{"data": {"image": "x.png"}}]')
    assert list_records(store) == []
