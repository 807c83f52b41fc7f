"""Image paths: relative paths resolved once at creation, escapes refused, one URL rule (issue 15.4)."""

from __future__ import annotations

import os

import pandas as pd
import pytest

import erroranalysis as ea
from erroranalysis import errors
from erroranalysis.export._common import absolute_image_path, image_references
from erroranalysis.store import validation
from tests.conftest import CLASSES, make_samples


def test_relative_paths_without_a_root_resolve_from_any_folder(tmp_path, monkeypatch):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "003.png").write_bytes(b"png")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path)
    ea.Store.create(tmp_path / "store", classes=CLASSES, samples=make_samples())
    monkeypatch.chdir(tmp_path / "notebooks")  # open it from another folder, as a notebook would
    reopened = ea.Store.open(tmp_path / "store")
    assert reopened.image_root == tmp_path.resolve()
    location = reopened.image_path("s003")
    assert location == (tmp_path / "images" / "003.png").resolve()
    assert os.path.exists(location)


@pytest.mark.parametrize("bad_path", ["../outside.png", "images/../../x.png"])
def test_escapes_are_refused_without_a_root_too(tmp_path, monkeypatch, bad_path):
    monkeypatch.chdir(tmp_path)
    samples = make_samples()
    samples.loc[2, "path"] = bad_path
    with pytest.raises(errors.PathOutsideRootError, match=r"s002.*image_root="):
        ea.Store.create(tmp_path / "s", classes=CLASSES, samples=samples)
    assert not (tmp_path / "s").exists()


def test_absolute_paths_and_urls_need_no_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    samples = make_samples(3)
    samples["path"] = [str(tmp_path / "a.png"), "https://host/b.png", "s3://bucket/c.png"]
    store = ea.Store.create(tmp_path / "s", classes=CLASSES, samples=samples)
    assert store.image_root is None
    assert store.image_path("s000") == tmp_path / "a.png"
    assert store.image_path("s001") == "https://host/b.png"


def test_a_legacy_store_with_relative_paths_and_no_root_never_reads_the_current_folder(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    store = ea.Store.create(tmp_path / "s", classes=CLASSES, samples=make_samples(3))
    store.image_root = None  # as a store written before roots were recorded
    with pytest.raises(errors.PathOutsideRootError, match="no image root"):
        store.image_path("s000")
    assert absolute_image_path(None, "images/000.png") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://h/x.png", True),
        ("https://h/x.png", True),
        ("s3://b/x.png", True),
        ("gs://b/x.png", True),
        ("ftp://h/x.png", True),
        ("data:image/png;base64,AAAA", True),
        ("/data/images/x.png", False),  # a POSIX path, not Label Studio's URL
        ("C:\\images\\x.png", False),
        ("images/x.png", False),
        ("images/a://b.png", False),
        ("", False),
        (None, False),
    ],
)
def test_one_url_rule_everywhere(value, expected):
    assert validation.is_url(value) is expected


def test_an_absolute_path_under_data_is_a_file_in_exports(tmp_path):
    samples = make_samples(3)
    samples["path"] = ["/data/images/a.png", "/data/images/b.png", "/data/images/c.png"]
    store = ea.Store.create(tmp_path / "s", classes=CLASSES, samples=samples)
    paths = pd.Series(samples["path"].to_numpy(), index=samples["sample_id"])
    references = image_references(
        store, ["s000"], paths, image_urls="https://host/img/", document_root="/data"
    )
    assert references == {"s000": "https://host/img/images/a.png"}
