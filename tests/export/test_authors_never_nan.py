"""The author of a journal event is never "nan" (issue 17 item 7), whatever the file says.

Annotator columns come from spreadsheets and pandas frames, where a missing name is NaN, and
``df.astype(str)`` or a CSV round trip turns it into the text "nan" (or "None", "<NA>").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import erroranalysis as ea
from erroranalysis.errors import ImportRefusedError
from erroranalysis.export.registry import AnnotationRow

NOBODY = ["nan", "NaN", "None", "<NA>", "", "  ", None, float("nan"), np.nan, pd.NA]


@pytest.mark.parametrize("nobody", NOBODY, ids=repr)
def test_an_annotation_row_never_names_nobody(nobody):
    assert AnnotationRow(row="line 2", sample_id="s00", annotator=nobody).annotator is None
    assert AnnotationRow(row="line 2", annotator=" ana ").annotator == "ana"


def _answers(store, tmp_path, annotators):
    exported = ea.export_candidates(store, tmp_path / "c.csv", format="csv", issue_types="all")
    frame = pd.read_csv(exported.path)
    frame = frame[frame["sample_id"].isin(["s00", "s03", "s06"])].copy()
    frame["label"] = ["dog", "bird", "dog"]
    frame["annotator"] = annotators
    frame = frame.astype(str)  # what many scripts do before writing: NaN becomes "nan"
    frame.to_csv(tmp_path / "answers.csv", index=False)
    return tmp_path / "answers.csv"


def _authors(store, since):
    return store.events(since=since)["author"].tolist()


def test_a_csv_whose_annotator_says_nan_journals_the_import_author(store, tmp_path):
    path = _answers(store, tmp_path, ["ana", np.nan, None])
    since = store.last_event_id
    summary = ea.import_annotations(store, path, format="csv", author="bob")
    assert summary.applied == 3
    authors = _authors(store, since)
    assert set(authors) == {"ana", "bob"}
    assert not {"nan", "None"} & set(summary.rows["annotator"].dropna().astype(str))


def test_without_an_import_author_nobody_becomes_annotator(store, tmp_path):
    path = _answers(store, tmp_path, ["nan", "nan", "nan"])
    since = store.last_event_id
    ea.import_annotations(store, path, format="csv", author=float("nan"))
    assert set(_authors(store, since)) == {"annotator"}


def test_several_answers_whose_annotator_is_nan_are_refused_not_journaled_as_nan(store, tmp_path):
    """Two answers per sample, one by "nan": nobody named, so the consensus cannot be built."""
    exported = ea.export_candidates(store, tmp_path / "c.csv", format="csv", issue_types="all")
    rows = pd.read_csv(exported.path)
    rows = rows[rows["sample_id"].isin(["s00", "s03"])]
    both = pd.concat([rows.assign(annotator="ana"), rows.assign(annotator=np.nan)])
    both["label"] = "dog"
    both.astype(str).to_csv(tmp_path / "two.csv", index=False)
    since = store.last_event_id
    with pytest.raises(ImportRefusedError, match="name no annotator"):
        ea.import_annotations(store, tmp_path / "two.csv", format="csv")
    assert _authors(store, since) == []


def test_a_login_name_of_nan_in_the_environment_is_not_an_author(monkeypatch):
    import os

    from erroranalysis.store.identity import default_author

    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "nan")
    author = default_author()
    assert not author.lower().startswith("nan")
    if hasattr(os, "getuid"):
        assert author.startswith(f"uid{os.getuid()}")
