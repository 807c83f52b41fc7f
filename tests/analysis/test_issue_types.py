"""The issue-type registry: one declaration per analysis, every spelling resolves to it."""

from __future__ import annotations

import pandas as pd
import pytest

from erroranalysis.analysis.issue_types import (
    IssueType,
    UnknownIssueTypeError,
    get_issue_type,
    issue_types,
)


def test_each_analysis_declares_its_issue_type():
    by_name = {t.name: t for t in issue_types()}
    assert list(by_name)[:3] == ["label_issue", "outlier", "near_duplicate"]
    assert by_name["label_issue"].analysis == "label_issues"
    assert by_name["outlier"].severe == "high" and not by_name["outlier"].ascending
    assert by_name["near_duplicate"].flag_column == "is_near_duplicate"


@pytest.mark.parametrize(
    "spelling",
    ["near_duplicate", "near-duplicate", "near-duplicates", "duplicate", "is_near_duplicate"],
)
def test_every_spelling_means_one_type(spelling):
    assert get_issue_type(spelling).name == "near_duplicate"


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownIssueTypeError, match="label_issue, outlier, near_duplicate"):
        get_issue_type("blurry-ish")


def test_severity_is_low_for_severe_everywhere():
    frame = pd.DataFrame({"outlier_score": [0.1, 0.9], "is_outlier": [False, True]})
    severity = get_issue_type("outlier").severity(frame)
    assert severity[1] < severity[0]
    assert get_issue_type("outlier").mask(frame).tolist() == [False, True]


def test_bad_declarations_are_refused():
    with pytest.raises(ValueError, match="severe"):
        IssueType("x", "x", "is_x", "s", severe="sideways")
