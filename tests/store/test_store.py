"""The store's API: create, open, runs, relabel/flag/undo, history, frame, and bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

import erroranalysis as ea
from erroranalysis import errors
from tests.conftest import CLASSES, make_probs, make_samples


def test_create_and_open_round_trip(store, tmp_path):
    reopened = ea.Store.open(tmp_path / "store")
    assert reopened.classes == CLASSES
    assert reopened.num_samples == 12
    assert list(reopened.sample_ids[:2]) == ["s000", "s001"]
    assert reopened.samples.columns.tolist() == ["sample_id", "given_label", "path", "source"]
    assert reopened.labels()["s001"] == "dog"
    np.testing.assert_array_equal(reopened.given_codes, np.arange(12) % 3)


def test_classes_default_to_sorted_labels(tmp_path):
    created = ea.Store.create(tmp_path / "s", samples=make_samples())
    assert created.classes == sorted(CLASSES)


def test_create_refuses_existing_store_unless_overwrite(store, tmp_path):
    with pytest.raises(errors.StoreExistsError, match="overwrite=True"):
        ea.Store.create(tmp_path / "store", classes=CLASSES, samples=make_samples())
    replaced = ea.Store.create(
        tmp_path / "store", classes=CLASSES, samples=make_samples(3), overwrite=True
    )
    assert replaced.num_samples == 3


def test_duplicate_sample_ids_are_refused_and_named(tmp_path):
    samples = make_samples()
    samples.loc[5, "sample_id"] = "s001"
    samples.loc[7, "sample_id"] = "s002"
    with pytest.raises(errors.DuplicateSampleIdError, match=r"'s001', 's002'"):
        ea.Store.create(tmp_path / "s", classes=CLASSES, samples=samples)
    assert not (tmp_path / "s").exists()


def test_unknown_labels_are_refused_and_named(tmp_path):
    samples = make_samples()
    samples.loc[4, "label"] = "wolf"
    with pytest.raises(errors.UnknownLabelError, match=r"'wolf'.*'s004'"):
        ea.Store.create(tmp_path / "s", classes=CLASSES, samples=samples)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("bad_path", ["../outside.png", "images/../../x.png", "/etc/passwd"])
def test_paths_escaping_the_image_root_are_refused(tmp_path, bad_path):
    samples = make_samples()
    samples.loc[2, "path"] = bad_path
    with pytest.raises(errors.PathOutsideRootError, match="s002"):
        ea.Store.create(tmp_path / "s", classes=CLASSES, samples=samples, image_root=tmp_path)


def test_symlink_escaping_the_root_is_refused_at_read(store, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside.png"
    outside.write_bytes(b"x")
    os.symlink(outside, tmp_path / "images" / "000.png")
    with pytest.raises(errors.PathOutsideRootError, match="outside the image root"):
        store.image_path("s000")
    assert store.image_path("s001") == (tmp_path / "images" / "001.png").resolve()


def test_format_version_mismatch_is_explained(store, tmp_path):
    meta_path = tmp_path / "store" / "store.json"
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(errors.StoreFormatError, match=r"newer.*pip install -U erroranalysis"):
        ea.Store.open(tmp_path / "store")
    meta["format_version"] = 0
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(errors.StoreFormatError, match="older"):
        ea.Store.open(tmp_path / "store")
    with pytest.raises(errors.StoreFormatError, match="not an erroranalysis store"):
        ea.Store.open(tmp_path)


def test_add_run_round_trip_memory_mapped(store):
    probs = make_probs()
    embeddings = np.random.default_rng(1).normal(size=(12, 5))
    run = store.add_run("m1", probs, embeddings=embeddings, model="resnet18", out_of_sample=False)
    assert isinstance(run.probs, np.memmap)
    np.testing.assert_array_equal(run.probs, probs)
    np.testing.assert_allclose(run.embeddings, embeddings.astype(np.float32))
    assert run.out_of_sample is False
    assert store.runs() == ["m1"]
    assert store.run().name == "m1"
    assert store.run("m1").info["model"] == "resnet18"


def test_float16_probs_stay_float16(store):
    run = store.add_run("half", make_probs().astype(np.float16))
    assert run.probs.dtype == np.float16


def test_add_run_reorders_rows_by_sample_ids(store):
    probs = make_probs()
    order = np.random.default_rng(3).permutation(12)
    shuffled_ids = [f"s{i:03d}" for i in order]
    run = store.add_run("shuffled", probs[order], sample_ids=shuffled_ids)
    np.testing.assert_array_equal(run.probs, probs)


def test_add_run_from_dataframe_keyed_by_sample_id(store):
    probs = make_probs()
    frame = pd.DataFrame(probs, columns=CLASSES, index=[f"s{i:03d}" for i in range(12)])
    frame = frame.iloc[::-1][["fox", "cat", "dog"]]
    run = store.add_run("frame", frame)
    np.testing.assert_allclose(run.probs, probs)


def test_bad_probabilities_get_helpful_errors(store):
    probs = make_probs()
    with_nan = probs.copy()
    with_nan[3, 1] = np.nan
    with pytest.raises(errors.InvalidProbabilitiesError, match=r"NaN or inf in row 3 \(s003\)"):
        store.add_run("nan", with_nan)
    with_inf = probs.copy()
    with_inf[4, 0] = np.inf
    with pytest.raises(errors.InvalidProbabilitiesError, match="row 4"):
        store.add_run("inf", with_inf)
    logits = np.log(probs) * 3
    with pytest.raises(errors.InvalidProbabilitiesError, match="normalize='softmax'"):
        store.add_run("logits", logits)
    unnormalised = probs * 2
    with pytest.raises(errors.InvalidProbabilitiesError, match="normalize=True"):
        store.add_run("sums", unnormalised)
    assert store.runs() == []
    np.testing.assert_allclose(
        store.add_run("fixed", unnormalised, normalize=True).probs, probs, rtol=1e-6
    )
    softmaxed = store.add_run("soft", logits, normalize="softmax").probs
    np.testing.assert_allclose(softmaxed.sum(axis=1), 1, rtol=1e-5)


def test_wrong_shapes_say_expected_and_got(store):
    with pytest.raises(errors.ShapeMismatchError, match="expected N = 12, got 11"):
        store.add_run("n", make_probs(11))
    with pytest.raises(errors.ShapeMismatchError, match="expected K = 3, got 4"):
        store.add_run("k", make_probs(12, 4))
    with pytest.raises(errors.ShapeMismatchError, match="embeddings"):
        store.add_run("e", make_probs(), embeddings=np.zeros((10, 3)))
    with pytest.raises(errors.UnknownSampleError, match="'nope'"):
        store.add_run("ids", make_probs(), sample_ids=[*store.sample_ids[:11], "nope"])
    with pytest.raises(errors.ShapeMismatchError, match="no rows for 's011'"):
        store.add_run("subset", make_probs(11), sample_ids=list(store.sample_ids[:11]))
    with pytest.raises(ValueError, match="run name"):
        store.add_run("../escape", make_probs())
    assert store.runs() == []


def test_run_names_are_unique_unless_overwritten(store):
    store.add_run("m", make_probs(seed=1))
    with pytest.raises(errors.StoreExistsError, match="overwrite=True"):
        store.add_run("m", make_probs(seed=2))
    store.add_run("m", make_probs(seed=2), overwrite=True)
    np.testing.assert_array_equal(store.run("m").probs, make_probs(seed=2))
    with pytest.raises(errors.RunNotFoundError, match=r"the store has runs \['m'\]"):
        store.run("other")


def test_run_by_name_sees_only_whole_runs(store):
    store.add_run("whole", make_probs())
    # a half-written run (no run.json yet), a hidden folder and a path outside runs/ are no runs
    (store.path / "runs" / "half").mkdir()
    (store.path / "runs" / ".tmp-x").mkdir()
    (store.path / "runs" / ".tmp-x" / "run.json").write_text("{}")
    for name in ("half", ".tmp-x", "../runs/whole", ""):
        with pytest.raises(errors.RunNotFoundError, match=r"the store has runs \['whole'\]"):
            store.run(name)
    assert store.run("whole").probs.shape == (12, 3)
    assert store.run().path.name == "whole"


def test_relabel_flag_note_undo_and_history(store):
    first = store.relabel("s000", "dog", author="ana", note="clearly a dog")
    assert store.labels()["s000"] == "dog"
    assert store.label_version == first
    flag = store.flag("s001", "weak_spot", note="dark")
    assert store.flags()[["sample_id", "flag", "note"]].values.tolist() == [
        ["s001", "weak_spot", "dark"]
    ]
    store.note("s000", "ask the vet")
    store.relabel("s000", "fox")
    history = store.history("s000")
    assert history["kind"].tolist() == ["relabel", "note", "relabel"]
    assert history["previous_label"].tolist()[::2] == ["cat", "dog"]
    assert history["author"].iloc[0] == "ana"

    undo = store.undo()  # the second relabel of s000
    assert store.labels()["s000"] == "dog"
    assert store.history("s000")["undone"].tolist() == [False, False, True, False]
    assert store.label_version == undo
    store.undo()  # the note
    store.undo()  # the flag
    assert store.flags().empty
    store.undo()  # the first relabel
    assert store.labels()["s000"] == "cat"
    assert (store.label_codes() == store.given_codes).all()
    assert flag < undo
    with pytest.raises(ValueError, match="nothing to undo"):
        store.undo()
    assert len(store.events()) == 8  # four changes and four undos: nothing is deleted


def test_unflag_and_undo_of_a_specific_event(store):
    store.flag("s002", "reviewed")
    relabel = store.relabel("s003", "fox")
    store.relabel("s004", "cat")
    store.unflag("s002", "reviewed")
    assert store.flags().empty
    store.undo(relabel)
    assert store.labels()["s003"] == "cat"  # its given label again
    assert store.labels()["s004"] == "cat"
    store.undo()  # the unflag
    assert store.flags()["flag"].tolist() == ["reviewed"]


def test_batch_is_all_or_nothing_and_undone_together(store):
    with pytest.raises(errors.UnknownLabelError):
        store.apply_events(
            [
                {"kind": "relabel", "sample_id": "s000", "label": "dog"},
                {"kind": "relabel", "sample_id": "s001", "label": "wolf"},
            ]
        )
    with pytest.raises(errors.UnknownSampleError, match="'ghost'"):
        store.apply_events([{"kind": "flag", "sample_id": "ghost", "flag": "reviewed"}])
    assert store.events().empty
    ids = store.apply_events(
        [
            {"kind": "relabel", "sample_id": "s000", "label": "dog"},
            {"kind": "relabel", "sample_id": "s001", "label": "fox", "author": "bob"},
        ],
        source="import:csv",
        author="annotators",
    )
    events = store.events()
    assert events["batch"].nunique() == 1 and events["source"].eq("import:csv").all()
    assert events["author"].tolist() == ["annotators", "bob"]
    assert len(ids) == 2
    store.undo()
    assert store.labels()[["s000", "s001"]].tolist() == ["cat", "dog"]


def test_relabel_to_unknown_label_or_sample_is_refused(store):
    with pytest.raises(errors.UnknownLabelError, match="'wolf'"):
        store.relabel("s000", "wolf")
    with pytest.raises(errors.UnknownSampleError, match="'nope'"):
        store.relabel("nope", "cat")
    assert store.events().empty


def test_second_handle_sees_changes_and_notifies_observers(store, tmp_path):
    seen = []
    store.observe(lambda changed_store, event_ids: seen.append(event_ids))
    store.relabel("s000", "dog")
    assert len(seen) == 1
    other = ea.Store.open(tmp_path / "store")
    assert other.labels()["s000"] == "dog"
    other.relabel("s005", "cat")
    assert store.labels()["s005"] != "cat"
    assert store.refresh() is True
    assert store.labels()["s005"] == "cat"
    assert len(seen) == 2
    assert store.refresh() is False


def test_frame_joins_labels_flags_and_cached_results(store):
    run = store.add_run("m", make_probs())
    run.save_result(
        "scores",
        pd.DataFrame({"self_confidence": np.linspace(0, 1, 12)}),
        label_dependent=True,
        label_version=store.label_version,
    )
    run.save_artifact("confusion", {"matrix": np.eye(3, dtype=int)})
    store.flag("s003", "weak_spot")
    store.flag("s003", "reviewed")
    frame = store.frame()
    assert frame.loc[3, "flags"] == ("weak_spot", "reviewed")
    assert frame.loc[4, "flags"] == ()
    assert frame["self_confidence"].iloc[-1] == 1.0
    assert frame["label"].tolist() == frame["given_label"].tolist()
    assert run.load_artifact("confusion")["matrix"][1] == [0, 1, 0]
    assert run.results() == ["scores"]
    assert not run.is_stale("scores", store)
    store.relabel("s000", "fox")
    assert run.is_stale("scores", store)
    assert store.frame()["label"].iloc[0] == "fox"
    with pytest.raises(ValueError, match="one row per sample"):
        run.save_result("short", pd.DataFrame({"a": [1.0]}))


def test_half_written_runs_are_invisible(store, tmp_path):
    staging = tmp_path / "store" / "runs" / ".tmp-deadbeef-ghost"
    staging.mkdir()
    np.save(staging / "probs.npy", make_probs())
    assert store.runs() == []
    assert ea.Store.open(tmp_path / "store").runs() == []


def test_journal_is_sqlite_wal_with_full_sync(store):
    connection = store.journal.connection
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.journal.integrity_check() == "ok"


def test_lowest_k_by_any_result_column(store):
    run = store.add_run("m", make_probs())
    scores = np.array([0.5, 0.1, np.nan, 0.9, 0.2, 0.3, 0.05, 0.7, 0.8, 0.6, 0.4, 0.95])
    run.save_result("scores", pd.DataFrame({"label_quality": scores}))
    lowest = store.lowest("label_quality", k=3)
    assert lowest["sample_id"].tolist() == ["s006", "s001", "s004"]
    highest = store.lowest("label_quality", k=2, ascending=False)
    assert highest["sample_id"].tolist() == ["s011", "s003"]
    assert store.lowest("label_quality", k=50)["sample_id"].iloc[-1] == "s002"  # NaN last
    with pytest.raises(KeyError, match="cached columns: label_quality"):
        store.lowest("loss")
